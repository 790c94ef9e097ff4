//! The notify callbacks of the signed tokenization API: POSTs of a
//! request's final answer to its `callbackUrl.notify`, signed with
//! payledger's own key ([`payledger_app::signing`]).
//!
//! The work is the due rows of [`payledger_app::tokenization`]: one task
//! takes the callbacks due, settles an outcome that was pending, sends the
//! answer with the header `Payledger-Signature: t=…,key=…,v1=…`, and
//! records the result: a 2xx ends it, anything else (or no answer) makes it
//! due again after the backoff, up to
//! [`CALLBACK_ATTEMPTS_MAX`](payledger_app::tokenization::CALLBACK_ATTEMPTS_MAX)
//! attempts. Rows live in the store, so a restart goes on where it
//! stopped; a callback may thus arrive twice (receivers dedupe by the
//! order and transaction ids). Between rounds the task sleeps until the
//! next row is due or a request schedules one.

use crate::send;
use crate::worker::DeliveryConfig;
use payledger_app::signing::{CallbackSigner, SIGNATURE_HEADER};
use payledger_app::tokenization::{CallbackWork, Tokenization};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The longest sleep between rounds (a safety net beside the wake-ups).
pub const CALLBACK_IDLE_MS_MAX: u64 = 30_000;

/// The running callback sender.
#[derive(Debug)]
pub struct MerchantCallbacks {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl MerchantCallbacks {
    /// Starts sending the callbacks of `flows`, signed with the key pair
    /// of the data directory `data` (made on first use).
    pub fn start(
        flows: Tokenization,
        data: PathBuf,
        config: &DeliveryConfig,
    ) -> Result<Self, reqwest::Error> {
        let client = config.client()?;
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(run(flows, data, client, stopped));
        Ok(Self { stop, task })
    }

    /// Stops after the callback in flight, if any.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn run(
    flows: Tokenization,
    data: PathBuf,
    client: reqwest::Client,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let wake = flows.callback_wake();
    let mut signer = LazySigner { data, loaded: None };
    loop {
        if *stopped.borrow() {
            return;
        }
        let idle_ms = match round(&flows, &client, &mut signer).await {
            Ok(Some(0)) => continue,
            Ok(Some(ms)) => ms.min(CALLBACK_IDLE_MS_MAX),
            Ok(None) => CALLBACK_IDLE_MS_MAX,
            Err(error) => {
                tracing::warn!(%error, "merchant callbacks: a round failed");
                1_000
            }
        };
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(Duration::from_millis(idle_ms)) => {}
            _ = stopped.changed() => return,
        }
    }
}

/// payledger's key pair, read (or made) when the first callback is sent.
struct LazySigner {
    data: PathBuf,
    loaded: Option<Arc<CallbackSigner>>,
}

impl LazySigner {
    async fn get(&mut self) -> Result<Arc<CallbackSigner>, String> {
        if let Some(signer) = &self.loaded {
            return Ok(Arc::clone(signer));
        }
        let dir = self.data.clone();
        let signer = tokio::task::spawn_blocking(move || CallbackSigner::load_or_create(&dir))
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| e.to_string())?;
        Ok(Arc::clone(self.loaded.insert(Arc::new(signer))))
    }
}

/// One round over the callbacks due: the wait until the next one is due
/// (`Some(0)`: look again at once), `None` when none is scheduled.
async fn round(
    flows: &Tokenization,
    client: &reqwest::Client,
    signer: &mut LazySigner,
) -> Result<Option<u64>, String> {
    let (due, next) = flows.due_callbacks().await.map_err(|e| e.to_string())?;
    if due.is_empty() {
        return Ok(next.map(|at| flows.ms_until(at)));
    }
    for callback in &due {
        let work = flows
            .prepare_callback(callback)
            .await
            .map_err(|e| e.to_string())?;
        let delivered = match &work {
            CallbackWork::Send { url, body } => {
                send(client, &*signer.get().await?, url, body, callback.merchant).await
            }
            CallbackWork::NotSettled => false,
            CallbackWork::Done => true,
        };
        flows
            .callback_done(callback, &work, delivered)
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(Some(0))
}

/// One signed POST; whether the merchant answered 2xx.
async fn send(
    client: &reqwest::Client,
    signer: &CallbackSigner,
    url: &str,
    body: &[u8],
    merchant: u64,
) -> bool {
    let now_s = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    let sent = client
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .header(SIGNATURE_HEADER, signer.header(now_s, body))
        .body(body.to_vec())
        .send()
        .await;
    // Read as a webhook delivery is: the status class, or why nothing came
    // back (refused, reset, no answer in time).
    match sent
        .map_err(send::transport_failure)
        .and_then(|r| send::classify(r.status()))
    {
        Ok(()) => {
            tracing::info!(merchant_id = merchant, "merchant callback delivered");
            true
        }
        Err(failure) => {
            tracing::info!(merchant_id = merchant, detail = %failure.detail, "merchant callback not delivered; retried later");
            false
        }
    }
}
