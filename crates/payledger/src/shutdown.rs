//! The bound on `serve`'s graceful shutdown.
//!
//! On SIGTERM (or Ctrl-C) the API drains first (`payledger_api::drain`:
//! no new connections, every request in flight answered), then the admin
//! socket and the log consumers stop after the batch each is on, saving
//! their cursors (the Kafka relay also waits for the broker's
//! acknowledgements). All of it must end within [`SHUTDOWN_DRAIN_MS_MAX`]
//! of the signal; what has not ended by then is named in the log, left
//! behind, and the process exits with status 1 so a supervisor can tell a
//! cut drain from a clean one. Nothing acknowledged is lost either way
//! (appends are synced before they are answered; consumers resume from
//! their cursors), but the requests still running got no answer.

use std::future::Future;
use std::pin::Pin;
use tokio::time::Instant;

/// Longest time from the shutdown signal to the end of the drain: the
/// deployment manifests give 60 s of grace and keep 5 s for the load
/// balancer to stop sending.
pub const SHUTDOWN_DRAIN_MS_MAX: u64 = 30_000;

/// A part of the server that stops, with the name the log gives it.
pub type Stopping = (&'static str, Pin<Box<dyn Future<Output = ()> + Send>>);

/// Stops every part at once (each on a task of its own) and waits for
/// them until `deadline`; the names of those that had not stopped by then.
pub async fn stop_by(deadline: Instant, parts: Vec<Stopping>) -> Vec<&'static str> {
    let running: Vec<_> = parts
        .into_iter()
        .map(|(name, stopping)| (name, tokio::spawn(stopping)))
        .collect();
    let mut cut = Vec::new();
    for (name, task) in running {
        if tokio::time::timeout_at(deadline, task).await.is_err() {
            cut.push(name);
        }
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test(start_paused = true)]
    async fn parts_that_outlast_the_deadline_are_named_and_the_rest_finish() {
        let deadline = Instant::now() + Duration::from_secs(30);
        let parts: Vec<Stopping> = vec![
            ("quick", Box::pin(async {})),
            (
                "slow but in time",
                Box::pin(tokio::time::sleep(Duration::from_secs(29))),
            ),
            ("stuck", Box::pin(std::future::pending())),
            (
                "too slow",
                Box::pin(tokio::time::sleep(Duration::from_secs(31))),
            ),
        ];
        let started = Instant::now();
        assert_eq!(stop_by(deadline, parts).await, ["stuck", "too slow"]);
        assert_eq!(started.elapsed(), Duration::from_secs(30));
    }

    #[tokio::test(start_paused = true)]
    async fn parts_stop_at_once_not_one_after_another() {
        let deadline = Instant::now() + Duration::from_secs(30);
        let parts: Vec<Stopping> = (0..3)
            .map(|_| -> Stopping {
                (
                    "part",
                    Box::pin(tokio::time::sleep(Duration::from_secs(20))),
                )
            })
            .collect();
        let started = Instant::now();
        assert!(stop_by(deadline, parts).await.is_empty());
        assert_eq!(started.elapsed(), Duration::from_secs(20));
    }
}
