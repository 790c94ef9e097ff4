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

use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use std::future::{Future, IntoFuture};
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
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

/// Serves `router` on `listener` until `shutdown` completes, then drains
/// as the module says, within `bound` from the signal.
pub async fn serve_draining(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
    bound: Duration,
) -> std::io::Result<Drained> {
    let (stop, stopping) = watch::channel(false);
    let open = Arc::new(watch::Sender::new(0usize));
    let closed = Arc::new(watch::Sender::new(false));
    let listener = DrainingListener {
        address: listener.local_addr()?,
        inner: Some(listener),
        stopping,
        open: Arc::clone(&open),
        closed: Arc::clone(&closed),
    };
    let mut listening = closed.subscribe();
    // A plain map of the response (no boxed future per request).
    let router = router.layer(tower::util::MapResponseLayer::new(
        move |mut response: Response| {
            if *closed.borrow() {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
            }
            response
        },
    ));
    let (graceful, graceful_signal) = watch::channel(false);
    let served = axum::serve(listener, router).with_graceful_shutdown(async move {
        let mut graceful_signal = graceful_signal;
        let _ = graceful_signal.wait_for(|go| *go).await;
    });
    let mut served = std::pin::pin!(served.into_future());
    tokio::select! {
        result = &mut served => return result.map(|()| Drained {
            began: Instant::now(),
            connections_cut: 0,
        }),
        () = shutdown => {}
    }
    let began = Instant::now();
    let deadline = began + bound;
    let _ = stop.send(true);
    // Step 2: connections close after their next answer.
    let grace = (began + Duration::from_millis(SHUTDOWN_IDLE_GRACE_MS)).min(deadline);
    let mut connections = open.subscribe();
    let all_closed = async move {
        let _ = listening.wait_for(|closed| *closed).await;
        let _ = connections.wait_for(|count| *count == 0).await;
    };
    tokio::select! {
        () = tokio::time::sleep_until(grace) => {}
        () = all_closed => {}
        result = &mut served => return result.map(|()| Drained { began, connections_cut: 0 }),
    }
    // Step 3: idle connections close, requests in flight finish.
    let _ = graceful.send(true);
    tokio::select! {
        result = &mut served => result.map(|()| Drained { began, connections_cut: 0 }),
        () = tokio::time::sleep_until(deadline) => Ok(Drained {
            began,
            connections_cut: *open.borrow(),
        }),
    }
}

/// The API's listener: counts open connections and, once stopping,
/// takes its backlog and closes.
struct DrainingListener {
    inner: Option<TcpListener>,
    address: SocketAddr,
    stopping: watch::Receiver<bool>,
    open: Arc<watch::Sender<usize>>,
    /// True once the listening socket is closed: responses then say
    /// `Connection: close`.
    closed: Arc<watch::Sender<bool>>,
}

impl DrainingListener {
    fn counted(&self, stream: TcpStream) -> Counted {
        self.open.send_modify(|count| *count += 1);
        Counted {
            stream,
            open: Arc::clone(&self.open),
        }
    }
}

impl axum::serve::Listener for DrainingListener {
    type Io = Counted;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Some(inner) = &self.inner else {
                // Closed: axum stops calling once its own signal comes.
                return std::future::pending().await;
            };
            if *self.stopping.borrow() {
                // Take what already waits in the backlog, then close.
                match std::future::poll_fn(|cx| Poll::Ready(inner.poll_accept(cx))).await {
                    Poll::Ready(Ok((stream, address))) => return (self.counted(stream), address),
                    Poll::Ready(Err(_)) | Poll::Pending => {
                        self.inner = None;
                        self.closed.send_replace(true);
                        tracing::info!("stopped accepting connections");
                        continue;
                    }
                }
            }
            tokio::select! {
                accepted = inner.accept() => match accepted {
                    Ok((stream, address)) => return (self.counted(stream), address),
                    Err(error) => {
                        // As axum's own listener: a full file table or a
                        // reset connection; wait a moment rather than spin.
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(ACCEPT_RETRY_MS)).await;
                    }
                },
                _ = self.stopping.changed() => {}
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.address)
    }
}

/// Wait after a failed accept before the next one.
const ACCEPT_RETRY_MS: u64 = 50;

/// A connection counted as open until dropped.
struct Counted {
    stream: TcpStream,
    open: Arc<watch::Sender<usize>>,
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.open.send_modify(|count| *count -= 1);
    }
}

impl AsyncRead for Counted {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for Counted {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }
}

#[cfg(test)]
mod tests;
