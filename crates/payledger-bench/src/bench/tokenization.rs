//! `payledger-bench tokenization`: the signed tokenization API under load.
//!
//! 1. Verification alone: RSA-SHA256 verifications/s of a recurring
//!    request text with a 2048-bit and a 4096-bit merchant key, one thread
//!    (what every request pays before anything else), against SHA-256 of
//!    the same text as the baseline of the same run.
//! 2. Recurring requests: the server runs in this process on a fresh
//!    RocksDB store with the PSP at `--stripe-url` (localstripe, e.g.
//!    `.venv/bin/python tests/stripe/localstripe_server.py 8420`); one sale
//!    saves a token, then N clients post signed recurring requests (each
//!    with a new `merchantReference`) in a closed loop: verify, order,
//!    payment, off-session charge at the emulator, answer. Prints req/s and
//!    p50/p99, and verification's share of the median request.

use super::psp::project;
use super::{latency_histogram, micros, ms};
use anyhow::Context;
use base64::Engine;
use clap::Args;
use hdrhistogram::Histogram;
use payledger_app::merchants::{self, Merchant};
use payledger_app::order_attempts::OrderAttempts;
use payledger_app::tokenization::Tokenization;
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::{EncodePublicKey, LineEnding};
use rsa::signature::{SignatureEncoding, Signer};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};

const MERCHANT: u64 = 3;

#[derive(Debug, Args)]
pub struct BenchTokenizationArgs {
    /// Directory to benchmark in; a fresh sub-directory is created and
    /// removed afterwards.
    #[arg(long)]
    pub data: std::path::PathBuf,
    /// Seconds of the recurring load.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Concurrent merchants' clients.
    #[arg(long, default_value_t = 16)]
    pub clients: usize,
    /// Base URL of the Stripe emulator (localstripe).
    #[arg(long)]
    pub stripe_url: String,
    /// Signed requests prepared per client (the run ends early when they
    /// are used up).
    #[arg(long, default_value_t = 300)]
    pub requests_per_client: u32,
    /// Verifications timed per key size.
    #[arg(long, default_value_t = 2_000)]
    pub verifications: u32,
}

pub fn run(args: &BenchTokenizationArgs) -> anyhow::Result<()> {
    let text = recurring_text(1, 1, "bench-ref-0000000000");
    println!("| operation (one thread) | per second | µs each | ratio to SHA-256 |");
    println!("|---|---:|---:|---:|");
    let hashed = time_each(args.verifications * 50, || {
        std::hint::black_box(Sha256::digest(text.as_bytes()));
    });
    println!(
        "| SHA-256 of the request text (baseline) | {:.0} | {:.2} | 1.0× |",
        1e6 / hashed,
        hashed
    );
    let mut verify_2048 = 0.0;
    for bits in [2048, 4096] {
        let (merchant, key) = merchant_with_key(bits)?;
        let signature = sign(&key, &text);
        let each = time_each(args.verifications, || {
            assert!(merchant.verifies(text.as_bytes(), &signature));
        });
        if bits == 2048 {
            verify_2048 = each;
        }
        println!(
            "| RSA-SHA256 verify, {bits}-bit key | {:.0} | {:.1} | {:.0}× |",
            1e6 / each,
            each,
            each / hashed
        );
    }
    let root = args
        .data
        .join(format!("bench-tokenization-{}", std::process::id()));
    std::fs::create_dir_all(&root).with_context(|| format!("create {}", root.display()))?;
    let runtime = payledger_api::server_runtime().context("start runtime")?;
    let row = runtime.block_on(recurring_load(&root, args));
    drop(runtime);
    let _ = std::fs::remove_dir_all(&root);
    let (count, errors, elapsed, latency) = row?;
    let p50 = latency.value_at_quantile(0.5);
    println!();
    println!(
        "| workload | clients | req/s | p50 ms | p99 ms | errors | verification share of p50 |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|");
    #[allow(clippy::cast_precision_loss)]
    let share = verify_2048 / p50.max(1) as f64 * 100.0;
    println!(
        "| recurring (2048-bit key, charge at the emulator) | {} | {:.0} | {} | {} | {errors} | {share:.1}% |",
        args.clients,
        count as f64 / elapsed.as_secs_f64(),
        ms(p50),
        ms(latency.value_at_quantile(0.99)),
    );
    Ok(())
}

/// Microseconds per call of `work`, over `n` calls.
fn time_each(n: u32, mut work: impl FnMut()) -> f64 {
    let started = Instant::now();
    for _ in 0..n {
        work();
    }
    started.elapsed().as_secs_f64() * 1e6 / f64::from(n.max(1))
}

/// A merchant with a new key of `bits`.
fn merchant_with_key(bits: usize) -> anyhow::Result<(Merchant, RsaPrivateKey)> {
    let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, bits)?;
    let pem = key.to_public_key().to_public_key_pem(LineEnding::LF)?;
    let merchant = Merchant {
        merchant_id: MERCHANT,
        project: project().as_str().to_owned(),
        created_at_ms: 0,
        keys: vec![merchants::parse_public_key(&pem, 0)?],
    };
    Ok((merchant, key))
}

fn sign(key: &RsaPrivateKey, text: &str) -> Vec<u8> {
    SigningKey::<Sha256>::new(key.clone())
        .sign(text.as_bytes())
        .to_vec()
}

fn envelope(key: &RsaPrivateKey, text: &str) -> String {
    serde_json::json!({
        "request": text,
        "signature": base64::engine::general_purpose::STANDARD.encode(sign(key, text)),
    })
    .to_string()
}

fn recurring_text(token: u64, parent: u64, reference: &str) -> String {
    format!(
        r#"{{"merchantId":{MERCHANT},"userId":"user1","tokenId":{token},"merchantReference":"{reference}","reason":"bench","amount":30,"parentOrderId":{parent}}}"#
    )
}

async fn recurring_load(
    root: &std::path::Path,
    args: &BenchTokenizationArgs,
) -> anyhow::Result<(u64, u64, Duration, Histogram<u64>)> {
    let (state, psp) = super::psp::service(root, &args.stripe_url)?;
    let attempts = OrderAttempts::new(state.orders.clone(), state.ledger.clone(), psp.clone());
    let tokenization = Tokenization::new(attempts);
    let key = RsaPrivateKey::new(&mut rsa::rand_core::OsRng, 2048)?;
    let pem = key.to_public_key().to_public_key_pem(LineEnding::LF)?;
    merchants::create(&*state.store, &project(), MERCHANT, &pem, 0)?;
    let (executor, tasks) = psp.clone().spawn();
    let router = payledger_api::router(state)
        .layer(axum::Extension(psp))
        .layer(axum::Extension(tokenization));
    let server = super::LocalServer::start(router).await?;
    let base = format!("{}/tokenization", server.base);
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(1_024)
        .build()?;
    // The sale that saves the token.
    let method: serde_json::Value = http
        .post(format!("{}/v1/payment_methods", args.stripe_url))
        .basic_auth("sk_test_bench", Some(""))
        .form(&[
            ("type", "card"),
            ("card[number]", "4242424242424242"),
            ("card[exp_month]", "12"),
            ("card[exp_year]", "2030"),
            ("card[cvc]", "123"),
        ])
        .send()
        .await?
        .json()
        .await?;
    let sale_text = serde_json::json!({
        "merchantId": MERCHANT, "userId": "user1", "merchantReference": "bench-sale",
        "amount": 30, "currency": "USD", "paymentMethod": method["id"],
    })
    .to_string();
    let sale: serde_json::Value = http
        .post(format!("{base}/sale"))
        .header("content-type", "application/json")
        .body(envelope(&key, &sale_text))
        .send()
        .await?
        .json()
        .await?;
    anyhow::ensure!(sale["responseCode"] == "0000", "the sale failed: {sale}");
    let token = sale["token"]["id"].as_u64().context("token id")?;
    let parent = sale["order"]["id"].as_u64().context("order id")?;
    // Signed before the clock starts: signing is the merchant's cost, and
    // would take the server's cores.
    let signed: Vec<Vec<String>> = (0..args.clients.max(1))
        .map(|client| {
            (0..args.requests_per_client)
                .map(|n| {
                    envelope(
                        &key,
                        &recurring_text(token, parent, &format!("r-{client}-{n}")),
                    )
                })
                .collect()
        })
        .collect();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(args.seconds.max(1));
    let clients: Vec<_> = signed
        .into_iter()
        .map(|bodies| {
            let (http, url) = (http.clone(), format!("{base}/recurring"));
            tokio::spawn(async move {
                let mut latency = latency_histogram();
                let (mut count, mut errors) = (0_u64, 0_u64);
                for body in bodies {
                    if Instant::now() >= deadline {
                        break;
                    }
                    let sent = Instant::now();
                    let reply = http
                        .post(&url)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await;
                    let ok = match reply {
                        Ok(reply) => reply
                            .json::<serde_json::Value>()
                            .await
                            .is_ok_and(|v| v["responseCode"] == "0000"),
                        Err(_) => false,
                    };
                    latency.record(micros(sent.elapsed()))?;
                    count += 1;
                    if !ok {
                        errors += 1;
                    }
                }
                anyhow::Ok((count, errors, latency))
            })
        })
        .collect();
    let mut total = latency_histogram();
    let (mut count, mut errors) = (0, 0);
    for client in clients {
        let (c, e, latency) = client.await??;
        count += c;
        errors += e;
        total.add(latency)?;
    }
    let elapsed = started.elapsed();
    server.stop().await?;
    executor.stop().await;
    tasks.abort();
    Ok((count, errors, elapsed, total))
}
