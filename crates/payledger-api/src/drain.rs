//! Stopping the HTTP API without leaving a request unanswered.
//!
//! When the shutdown signal comes:
//! 1. the listening socket takes the connections already waiting in its
//!    backlog and closes, so later connection attempts are refused at
//!    once (a refused connect has sent no request; clients can tell);
//! 2. every open connection goes on being served, and each response from
//!    then on says `Connection: close`: a client that reuses a keep-alive
//!    connection gets the answer to the request it just sent, then opens
//!    a new connection and is refused. This lasts until every connection
//!    closed or [`SHUTDOWN_IDLE_GRACE_MS`] passed;
//! 3. hyper's graceful shutdown closes the connections still idle and lets
//!    each request in flight finish.
//!
//! Without step 2, closing an idle keep-alive connection races with the
//! client's next request on it: its bytes may already be on the wire when
//! the connection closes, and it gets no answer. After the grace the same
//! race remains for a client that stayed idle throughout and sends just
//! as its connection closes; HTTP/1.1 leaves that to the client's retry.
//!
//! The whole is bounded by the caller's `bound`: past it, the connections
//! still open are abandoned and counted in [`Drained`].

use crate::connection_threads::{ConnectionThreads, OpenConnection};
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use std::future::Future;
use std::num::NonZeroUsize;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::time::Instant;

/// Longest time step 2 waits for open connections to close by
/// themselves before the idle ones are closed.
pub const SHUTDOWN_IDLE_GRACE_MS: u64 = 1_000;

/// How the drain of the API ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Drained {
    /// When the shutdown signal came.
    pub began: Instant,
    /// Connections still open when the bound passed (0: every request
    /// was answered and every connection closed).
    pub connections_cut: usize,
}

/// Serves `router` on `listener` with `threads` connection threads
/// ([`crate::connection_threads`]) until `shutdown` completes, then drains
/// as the module says, within `bound` from the signal.
pub async fn serve_draining(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()>,
    bound: Duration,
    threads: NonZeroUsize,
) -> std::io::Result<Drained> {
    let open = Arc::new(watch::Sender::new(0usize));
    let closed = Arc::new(watch::Sender::new(false));
    let closing = Arc::clone(&closed);
    // A plain map of the response (no boxed future per request).
    let router = router.layer(tower::util::MapResponseLayer::new(
        move |mut response: Response| {
            if *closing.borrow() {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            response
        },
    ));
    let mut threads = ConnectionThreads::start(threads, &router)?;
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        tokio::select! {
            (stream, counted) = accept(&listener, &open) => threads.serve(stream, counted),
            () = &mut shutdown => break,
        }
    }
    let began = Instant::now();
    let deadline = began + bound;
    // Step 1: the backlog is served, the listening socket closes.
    while let Poll::Ready(Ok((stream, _))) =
        std::future::poll_fn(|cx| Poll::Ready(listener.poll_accept(cx))).await
    {
        threads.serve(stream, OpenConnection::counted(&open));
    }
    drop(listener);
    closed.send_replace(true);
    tracing::info!("stopped accepting connections");
    // Step 2: connections close after their next answer.
    let grace = (began + Duration::from_millis(SHUTDOWN_IDLE_GRACE_MS)).min(deadline);
    let mut connections = open.subscribe();
    tokio::select! {
        () = tokio::time::sleep_until(grace) => {}
        _ = connections.wait_for(|count| *count == 0) => {}
    }
    // Step 3: idle connections close, requests in flight finish.
    threads.close_connections();
    let all_closed = tokio::select! {
        _ = connections.wait_for(|count| *count == 0) => true,
        () = tokio::time::sleep_until(deadline) => false,
    };
    let connections_cut = if all_closed { 0 } else { *open.borrow() };
    threads.stop(!all_closed).await;
    Ok(Drained {
        began,
        connections_cut,
    })
}

/// The next connection on `listener`, counted as open in `open`.
async fn accept(
    listener: &TcpListener,
    open: &Arc<watch::Sender<usize>>,
) -> (TcpStream, OpenConnection) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => return (stream, OpenConnection::counted(open)),
            Err(error) => {
                // As axum's own listener: a full file table or a reset
                // connection; wait a moment rather than spin.
                tracing::warn!(%error, "accept failed");
                tokio::time::sleep(Duration::from_millis(ACCEPT_RETRY_MS)).await;
            }
        }
    }
}

/// Wait after a failed accept before the next one.
const ACCEPT_RETRY_MS: u64 = 50;

#[cfg(test)]
mod tests;
