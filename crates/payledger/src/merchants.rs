//! `payledger merchants create|list|add-key|revoke-key`: merchants of the
//! signed tokenization API and their RSA public keys.
//!
//! Like `clients`: with no server on the data directory these commands
//! open the store themselves; while `payledger serve` holds it, they send
//! the same command over the admin socket, and it takes effect at once.

use crate::admin::through_server_or;
use crate::cli::{
    ListArgs, MerchantCreateArgs, MerchantKeyArgs, MerchantRevokeArgs, MerchantsAction,
    MerchantsArgs,
};
use crate::clients::{now_ms, open, open_existing, utc_text};
use anyhow::Context;
use hyper::http::Method;
use payledger_api::admin::merchants::MerchantEntry;
use payledger_app::merchants;
use payledger_domain::ProjectKey;

/// What `merchants` says when a process holds the store but answered on
/// no admin socket.
const MERCHANTS_PURPOSE: &str = "no server answered on its admin socket; stop the server first";

pub fn run(args: &MerchantsArgs) -> anyhow::Result<()> {
    let merchant = match &args.action {
        MerchantsAction::Create(create) => run_create(create)?,
        MerchantsAction::List(list) => return run_list(list),
        MerchantsAction::AddKey(add) => run_add_key(add)?,
        MerchantsAction::RevokeKey(revoke) => run_revoke(revoke)?,
    };
    print(&merchant);
    Ok(())
}

fn read_pem(path: &std::path::Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the public key {}", path.display()))
}

fn now() -> i64 {
    i64::try_from(now_ms()).unwrap_or(i64::MAX)
}

fn run_create(args: &MerchantCreateArgs) -> anyhow::Result<MerchantEntry> {
    let pem = read_pem(&args.public_key)?;
    let project = ProjectKey::parse(&args.project)
        .with_context(|| format!("{:?} is not a valid project key", args.project))?;
    let context = || format!("cannot create merchant {}", args.merchant_id);
    let draft = serde_json::json!({
        "merchantId": args.merchant_id, "project": project.as_str(), "publicKey": pem,
    });
    through_server_or(
        &args.store.data,
        Method::POST,
        "/merchants",
        Some(&draft),
        || {
            std::fs::create_dir_all(&args.store.data).with_context(|| {
                format!("cannot create data directory {}", args.store.data.display())
            })?;
            let store = open(&args.store, MERCHANTS_PURPOSE)?;
            Ok(merchants::create(&store, &project, args.merchant_id, &pem, now())?.into())
        },
    )
    .with_context(context)
}

fn run_add_key(args: &MerchantKeyArgs) -> anyhow::Result<MerchantEntry> {
    let pem = read_pem(&args.public_key)?;
    let context = || format!("cannot add a key to merchant {}", args.merchant_id);
    let path = format!("/merchants/{}/keys", args.merchant_id);
    let draft = serde_json::json!({"publicKey": pem});
    through_server_or(&args.store.data, Method::POST, &path, Some(&draft), || {
        let store = open_existing(&args.store, MERCHANTS_PURPOSE)?;
        Ok(merchants::add_key(&store, args.merchant_id, &pem, now())?.into())
    })
    .with_context(context)
}

fn run_revoke(args: &MerchantRevokeArgs) -> anyhow::Result<MerchantEntry> {
    let context = || {
        format!(
            "cannot revoke key {} of merchant {}",
            args.key, args.merchant_id
        )
    };
    // Key ids are hex: anything else names no key and must not reach the
    // URL unescaped.
    anyhow::ensure!(
        !args.key.is_empty() && args.key.bytes().all(|b| b.is_ascii_hexdigit()),
        "{}: key ids are hex digits, as `merchants list` shows them",
        context()
    );
    let path = format!("/merchants/{}/keys/{}", args.merchant_id, args.key);
    through_server_or(&args.store.data, Method::DELETE, &path, None, || {
        let store = open_existing(&args.store, MERCHANTS_PURPOSE)?;
        Ok(merchants::revoke_key(&store, args.merchant_id, &args.key, now())?.into())
    })
    .with_context(context)
}

fn run_list(args: &ListArgs) -> anyhow::Result<()> {
    let listed: Vec<MerchantEntry> =
        through_server_or(&args.store.data, Method::GET, "/merchants", None, || {
            let store = open_existing(&args.store, MERCHANTS_PURPOSE)?;
            Ok(merchants::list(&store)?
                .into_iter()
                .map(Into::into)
                .collect())
        })
        .context("cannot list merchants")?;
    if listed.is_empty() {
        println!("no merchants");
    }
    for merchant in &listed {
        print(merchant);
    }
    Ok(())
}

fn print(merchant: &MerchantEntry) {
    println!(
        "merchant {} (project {}, created {})",
        merchant.merchant_id,
        merchant.project,
        utc_text(u64::try_from(merchant.created_at_ms).unwrap_or(0))
    );
    for key in &merchant.keys {
        let state = key.revoked_at_ms.map_or_else(
            || "active".to_owned(),
            |at| format!("revoked {}", utc_text(u64::try_from(at).unwrap_or(0))),
        );
        println!(
            "  key {}  added {}  {state}",
            key.id,
            utc_text(u64::try_from(key.added_at_ms).unwrap_or(0))
        );
    }
}
