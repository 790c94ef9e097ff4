//! `payledger clients create|list|revoke`: API client management.
//!
//! With no server on the data directory these commands open the RocksDB
//! store themselves. While `payledger serve` holds it (RocksDB lets one
//! process open a store), they send the same command to the server over
//! the data directory's admin socket (`payledger_api::admin`), which only
//! the directory's owner and root may use; the change takes effect at
//! once either way. Secrets are taken from `--secret` or
//! `PAYLEDGER_CLIENT_SECRET` and never printed.

use crate::admin::through_server_or;
use crate::cli::{ClientsAction, ClientsArgs, CreateArgs, ListArgs, RevokeArgs, StoreArgs};
use anyhow::{Context, bail};
use hyper::http::Method;
use payledger_api::admin::{ClientEntry, Revocation};
use payledger_app::auth;
use payledger_rocksdb::{RocksConfig, RocksStore};
use payledger_store::StoreError;

pub fn run(args: &ClientsArgs) -> anyhow::Result<()> {
    match &args.action {
        ClientsAction::Create(create) => run_create(create),
        ClientsAction::List(list) => run_list(list),
        ClientsAction::Revoke(revoke) => run_revoke(revoke),
    }
}

fn run_create(args: &CreateArgs) -> anyhow::Result<()> {
    let data = &args.store.data;
    let scope = args.scopes.join(" ");
    let draft = serde_json::json!({
        "id": args.id, "secret": args.secret.expose(), "scope": scope,
    });
    let client: ClientEntry =
        through_server_or(data, Method::POST, "/clients", Some(&draft), || {
            std::fs::create_dir_all(data)
                .with_context(|| format!("cannot create data directory {}", data.display()))?;
            let store = open(&args.store, CLIENTS_PURPOSE)?;
            Ok(auth::create_client(&store, &args.id, &args.secret, &scope, now_ms())?.into())
        })
        .with_context(|| format!("cannot create client `{}`", args.id))?;
    println!("created client {}", client.id);
    println!("scope: {}", client.scope);
    Ok(())
}

fn run_list(args: &ListArgs) -> anyhow::Result<()> {
    let data = &args.store.data;
    let clients: Vec<ClientEntry> = through_server_or(data, Method::GET, "/clients", None, || {
        let store = open_existing(&args.store, CLIENTS_PURPOSE)?;
        Ok(auth::list_clients(&store)?
            .into_iter()
            .map(Into::into)
            .collect())
    })
    .context("cannot list clients")?;
    if clients.is_empty() {
        println!("no clients");
        return Ok(());
    }
    println!("ID\tCREATED\tSCOPE");
    for client in &clients {
        println!(
            "{}\t{}\t{}",
            client.id,
            utc_text(client.created_at_ms),
            client.scope
        );
    }
    if clients.len() == auth::CLIENTS_LISTED_MAX {
        println!("(listing stops at {} clients)", auth::CLIENTS_LISTED_MAX);
    }
    Ok(())
}

fn run_revoke(args: &RevokeArgs) -> anyhow::Result<()> {
    let data = &args.store.data;
    let path = format!("/clients/{}", args.id);
    let context = || format!("cannot revoke client `{}`", args.id);
    // A malformed id cannot name a client and must not reach the URL
    // unescaped.
    if !auth::client_id_ok(&args.id) {
        bail!("{}: no client with id `{}` exists", context(), args.id);
    }
    let revocation: Revocation = through_server_or(data, Method::DELETE, &path, None, || {
        let store = open_existing(&args.store, CLIENTS_PURPOSE)?;
        Ok(Revocation {
            tokens_removed: auth::revoke_client_and_purge(&store, &args.id, now_ms())?,
            id: args.id.clone(),
        })
    })
    .with_context(context)?;
    println!(
        "revoked client {} ({} stale tokens removed)",
        revocation.id, revocation.tokens_removed
    );
    Ok(())
}

/// What `clients` says when a process holds the store but answered on no
/// admin socket.
const CLIENTS_PURPOSE: &str = "no server answered on its admin socket (a data path longer than \
     ADMIN_SOCKET_PATH_BYTES_MAX gets none); stop the server first";

/// Opens the store, refusing to create one where none exists; `purpose`
/// completes the message when another process holds the store.
pub(crate) fn open_existing(args: &StoreArgs, purpose: &str) -> anyhow::Result<RocksStore> {
    // RocksDB's CURRENT file exists in every store it created.
    if !args.data.join("CURRENT").is_file() {
        bail!("no payledger store in {}", args.data.display());
    }
    open(args, purpose)
}

pub(crate) fn open(args: &StoreArgs, purpose: &str) -> anyhow::Result<RocksStore> {
    let config = RocksConfig {
        partitions_for_new_store: args.partitions,
        ..RocksConfig::default()
    };
    match RocksStore::open(&args.data, &config) {
        Ok(store) => Ok(store),
        Err(StoreError::Engine(message)) if is_lock_error(&message) => bail!(
            "the store in {} is in use by another process (is `payledger serve` running on it?): \
             {purpose}",
            args.data.display()
        ),
        Err(error) => {
            Err(error).with_context(|| format!("cannot open the store in {}", args.data.display()))
        }
    }
}

/// Whether RocksDB refused because another process holds the store's lock
/// (its message reads "IO error: While lock file: …/LOCK: Resource
/// temporarily unavailable").
pub(crate) fn is_lock_error(message: &str) -> bool {
    message.contains("lock file") || message.contains("/LOCK")
}

pub(crate) fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `YYYY-MM-DDTHH:MM:SSZ` for milliseconds since the epoch (UTC).
pub(crate) fn utc_text(ms: u64) -> String {
    let seconds = ms / 1_000;
    let days = i64::try_from(seconds / 86_400).unwrap_or(i64::MAX / 2);
    let rest = seconds % 86_400;
    let (year, month, day) = payledger_domain::time::civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3_600,
        rest / 60 % 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_text_formats_known_instants() {
        assert_eq!(utc_text(0), "1970-01-01T00:00:00Z");
        assert_eq!(utc_text(1_767_225_600_000), "2026-01-01T00:00:00Z");
        assert_eq!(
            utc_text(951_782_400_000 + 3_661_000),
            "2000-02-29T01:01:01Z"
        );
    }

    #[test]
    fn secrets_do_not_show_in_parsed_arguments() {
        use clap::Parser;
        let cli = crate::cli::Cli::try_parse_from([
            "payledger",
            "clients",
            "create",
            "--data",
            "/tmp/x",
            "--id",
            "a",
            "--secret",
            "hunter2-secret",
            "--scope",
            "manage_project:p",
        ])
        .unwrap();
        assert!(!format!("{cli:?}").contains("hunter2"));
    }
}
