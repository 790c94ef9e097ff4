//! The running server's token purge: every interval (and once at start,
//! for what expired while it was down) it deletes the stored tokens that
//! can no longer be used, expired or of a revoked client. They stop
//! working at their expiry or revocation either way; the purge only keeps
//! the Tokens table as small as the live tokens.
//!
//! A round reads at most [`TOKENS_SCANNED_PER_PURGE_MAX`] rows from the
//! start of the table; a round that stopped early says so in its report.

use super::{PurgeReport, purge_tokens};
use crate::clock::Clock;
use payledger_store::EventStore;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::JoinHandle;

/// Token rows one purge round reads at most.
pub const TOKENS_SCANNED_PER_PURGE_MAX: usize = 100_000;
/// The default time between purge rounds.
pub const TOKEN_PURGE_INTERVAL_S_DEFAULT: u64 = 3_600;

/// What the purge has done since it started.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct PurgeProgress {
    /// Rounds finished (a failed round counts too).
    pub rounds: u64,
    /// Tokens deleted by all rounds.
    pub deleted: u64,
    /// The last round's report; `None` when it failed.
    pub last: Option<PurgeReport>,
}

/// The running purge task.
#[derive(Debug)]
pub struct TokenPurger {
    stop: watch::Sender<bool>,
    progress: watch::Receiver<PurgeProgress>,
    task: JoinHandle<()>,
}

impl TokenPurger {
    /// Starts purging now and then every `interval`.
    pub fn start(store: Arc<dyn EventStore>, clock: Arc<dyn Clock>, interval: Duration) -> Self {
        let (stop, stopped) = watch::channel(false);
        let (report, progress) = watch::channel(PurgeProgress::default());
        let task = tokio::spawn(run(store, clock, interval, stopped, report));
        Self {
            stop,
            progress,
            task,
        }
    }

    /// Follows the rounds as they finish.
    pub fn progress(&self) -> watch::Receiver<PurgeProgress> {
        self.progress.clone()
    }

    /// Stops after the round under way, if any.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

async fn run(
    store: Arc<dyn EventStore>,
    clock: Arc<dyn Clock>,
    interval: Duration,
    mut stopped: watch::Receiver<bool>,
    report: watch::Sender<PurgeProgress>,
) {
    loop {
        let now_ms = u64::try_from(clock.now_ms()).unwrap_or(0);
        let store = Arc::clone(&store);
        let round = tokio::task::spawn_blocking(move || {
            purge_tokens(&*store, now_ms, TOKENS_SCANNED_PER_PURGE_MAX)
        })
        .await;
        let last = match round {
            Ok(Ok(done)) => {
                if done.deleted > 0 || !done.complete {
                    tracing::info!(
                        deleted = done.deleted,
                        scanned = done.scanned,
                        complete = done.complete,
                        "purged unusable tokens"
                    );
                }
                Some(done)
            }
            Ok(Err(error)) => {
                tracing::warn!(%error, "token purge failed; next round at the next interval");
                None
            }
            Err(error) => {
                tracing::error!(%error, "token purge panicked");
                None
            }
        };
        report.send_modify(|progress| {
            progress.rounds += 1;
            progress.deleted += last.map_or(0, |r| r.deleted as u64);
            progress.last = last;
        });
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            _ = stopped.changed() => return,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::auth::{Secret, authenticate, create_client, issue_token, revoke_client};
    use crate::clock::ManualClock;
    use payledger_store::Table;
    use payledger_store::memory::MemoryStore;

    const NOW_MS: u64 = 1_767_225_600_000;
    const INTERVAL: Duration = Duration::from_secs(600);

    fn token_rows(store: &MemoryStore) -> usize {
        store
            .scan(Table::Tokens, &[], &[u8::MAX; 33], 100)
            .unwrap()
            .len()
    }

    #[tokio::test(start_paused = true)]
    async fn each_round_deletes_what_expired_or_was_revoked_before_it() {
        let store = Arc::new(MemoryStore::new());
        let secret = Secret::from("s3cret");
        for client in ["shop", "gone"] {
            create_client(&*store, client, &secret, "manage_project:shop", NOW_MS).unwrap();
        }
        let issue = |client: &str, ttl_seconds| {
            issue_token(&*store, client, &secret, None, NOW_MS, ttl_seconds).unwrap()
        };
        let short = issue("shop", 60);
        let long = issue("shop", 3_600);
        issue("gone", 3_600);
        let clock = Arc::new(ManualClock::new(i64::try_from(NOW_MS).unwrap()));
        let purger = TokenPurger::start(
            Arc::clone(&store) as Arc<dyn EventStore>,
            Arc::clone(&clock) as Arc<dyn Clock>,
            INTERVAL,
        );
        let mut progress = purger.progress();

        // Time is paused: a round that never comes makes the timeout fire.
        let mut round = async |n: u64| {
            let reached = progress.wait_for(|p| p.rounds == n);
            *tokio::time::timeout(INTERVAL * 2, reached)
                .await
                .expect("the round runs within the interval")
                .unwrap()
        };
        let first = round(1).await;
        assert_eq!(first.deleted, 0, "nothing is unusable yet: {first:?}");
        assert_eq!(token_rows(&store), 3);

        // Between rounds: one token expires, one client is revoked.
        clock.advance(61_000);
        revoke_client(&*store, "gone").unwrap();
        let second = round(2).await;
        assert_eq!(second.deleted, 2, "{second:?}");
        assert!(second.last.unwrap().complete);
        assert_eq!(token_rows(&store), 1);
        let later = NOW_MS + 61_000;
        assert!(authenticate(&*store, long.access_token.expose(), later).is_ok());
        assert!(authenticate(&*store, short.access_token.expose(), later).is_err());

        purger.stop().await;
    }
}
