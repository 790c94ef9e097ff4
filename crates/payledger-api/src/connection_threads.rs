//! The threads that serve the API's connections.
//!
//! Each thread runs a single-threaded tokio runtime of its own. The
//! acceptor ([`crate::drain`]) hands every accepted connection to the next
//! thread in turn, and that thread reads the connection's requests, runs
//! their handlers and writes their answers for as long as it lasts. A
//! request crosses threads only where its handler hands work over (to a
//! partition writer, or to a blocking store read). On tokio's
//! work-stealing runtime, which served the API before, an answer's
//! wake-ups went through the shared scheduler and the cores stood idle
//! for a sixth of a GET run; served this way the same cores answered
//! about 5 % more GETs beside a one-thread load generator and 18 % more
//! beside a two-thread one (medians; BENCHMARKS.md, "HTTP API", eleventh
//! session).
//!
//! The price is that a connection stays on its thread: a request that
//! keeps its thread's CPU busy delays the other connections of that
//! thread. [`connection_threads_default`] runs one thread more than the
//! machine has cores, so the kernel shares the cores among them
//! preemptively and no single busy thread holds a core that others could
//! use.
//!
//! Blocking work a handler starts (`spawn_blocking`) runs on its thread's
//! runtime; the threads share [`crate::BLOCKING_THREADS_MAX`] between them.
//!
//! A thread runs the requests other threads woke (their append durable,
//! their blocking read done) before the connections its own sockets woke
//! ([`WOKEN_FROM_ELSEWHERE_FIRST`]), so that under a flood the admitted
//! answers do not wait behind the refusals.

use axum::Router;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use std::num::NonZeroUsize;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot, watch};

/// How many connection threads to run when none is configured: one more
/// than the cores this process may run on.
pub fn connection_threads_default() -> NonZeroUsize {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    NonZeroUsize::new(cores + 1).unwrap_or(NonZeroUsize::MIN)
}

/// How often a connection thread looks first at the tasks other threads
/// woke (tokio's `global_queue_interval`): every time. Those are requests
/// whose work elsewhere is done (a partition writer made their append
/// durable, a blocking read finished, a slot of the gate came free) and
/// whose answers wait for this thread; the connections its own sockets
/// woke come after. With tokio's default of one in 31, a thread flooded
/// with requests to read (and, past the gate, to refuse) took one finished
/// request per 31 others: under overload the admitted answers queued
/// behind the refusals while holding their slots. The tasks woken
/// elsewhere are bounded by the gate's slots and the blocking threads, so
/// they cannot keep a thread from its sockets for long. At five times the
/// sustainable update rate the same gate then admitted 5,040–5,562
/// updates a second in four runs of six (3,010–4,119 before) with the
/// same tail (BENCHMARKS.md "Overload", fourteenth session).
const WOKEN_FROM_ELSEWHERE_FIRST: u32 = 1;

/// Most connection threads `payledger serve` accepts
/// (`--connection-threads`).
pub const CONNECTION_THREADS_MAX: i64 = 256;

/// The runtime of one connection thread, with `blocking_threads` for the
/// blocking work of its handlers.
fn connection_runtime(blocking_threads: usize) -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .global_queue_interval(WOKEN_FROM_ELSEWHERE_FIRST)
        .max_blocking_threads(blocking_threads)
        .thread_keep_alive(crate::BLOCKING_THREAD_KEEP_ALIVE)
        .build()
}

/// A connection counted as open until dropped (see [`crate::drain`]).
pub(crate) struct OpenConnection(Arc<watch::Sender<usize>>);

impl OpenConnection {
    pub(crate) fn counted(open: &Arc<watch::Sender<usize>>) -> Self {
        open.send_modify(|count| *count += 1);
        Self(Arc::clone(open))
    }
}

impl Drop for OpenConnection {
    fn drop(&mut self) {
        self.0.send_modify(|count| *count -= 1);
    }
}

/// An accepted connection on its way to the thread that serves it.
struct Handoff {
    stream: std::net::TcpStream,
    open: OpenConnection,
}

/// The running connection threads.
pub(crate) struct ConnectionThreads {
    handoffs: Vec<mpsc::UnboundedSender<Handoff>>,
    next: usize,
    /// True: every connection finishes the request it is in and closes.
    graceful: watch::Sender<bool>,
    /// True: the threads stop at once, dropping the connections left.
    cut: watch::Sender<bool>,
    /// One per thread; each resolves (closed) when its thread has ended.
    ended: Vec<oneshot::Receiver<()>>,
}

impl ConnectionThreads {
    /// Starts `threads` threads serving `router`.
    pub(crate) fn start(threads: NonZeroUsize, router: &Router) -> std::io::Result<Self> {
        let (graceful, _) = watch::channel(false);
        let (cut, _) = watch::channel(false);
        let blocking_per_thread = crate::BLOCKING_THREADS_MAX.div_ceil(threads.get());
        let mut started = Self {
            handoffs: Vec::with_capacity(threads.get()),
            next: 0,
            graceful,
            cut,
            ended: Vec::with_capacity(threads.get()),
        };
        for index in 0..threads.get() {
            let runtime = connection_runtime(blocking_per_thread)?;
            let (handoff, handed) = mpsc::unbounded_channel();
            let (ended, ended_signal) = oneshot::channel::<()>();
            let worker = Worker {
                handed,
                router: router.clone(),
                graceful: started.graceful.subscribe(),
                cut: started.cut.subscribe(),
            };
            std::thread::Builder::new()
                .name(format!("payledger-http-{index}"))
                .spawn(move || {
                    let cut = runtime.block_on(worker.run());
                    if cut {
                        // Blocking reads of the requests cut short may
                        // still run; nothing waits for their answers.
                        runtime.shutdown_background();
                    } else {
                        drop(runtime);
                    }
                    drop(ended);
                })?;
            started.handoffs.push(handoff);
            started.ended.push(ended_signal);
        }
        Ok(started)
    }

    /// Hands an accepted connection to the next thread in turn.
    pub(crate) fn serve(&mut self, stream: tokio::net::TcpStream, open: OpenConnection) {
        let stream = match stream.into_std() {
            Ok(stream) => stream,
            Err(error) => {
                tracing::warn!(%error, "could not hand an accepted connection over");
                return;
            }
        };
        let mut handoff = Handoff { stream, open };
        // A thread that has ended (it never should) is passed over.
        for _ in 0..self.handoffs.len() {
            let thread = self.next % self.handoffs.len();
            self.next = self.next.wrapping_add(1);
            match self.handoffs[thread].send(handoff) {
                Ok(()) => return,
                Err(refused) => {
                    tracing::error!(thread, "a connection thread has ended");
                    handoff = refused.0;
                }
            }
        }
        tracing::error!("every connection thread has ended; connection dropped");
    }

    /// Every connection finishes the request it is in (an idle one at
    /// once) and closes.
    pub(crate) fn close_connections(&self) {
        self.graceful.send_replace(true);
    }

    /// Stops the threads: `cut` drops the connections still open, without
    /// it the threads end once the connections they serve have closed.
    /// Returns when every thread has ended.
    pub(crate) async fn stop(self, cut: bool) {
        drop(self.handoffs);
        if cut {
            self.cut.send_replace(true);
        }
        for ended in self.ended {
            let _ = ended.await;
        }
    }
}

/// One connection thread's side.
struct Worker {
    handed: mpsc::UnboundedReceiver<Handoff>,
    router: Router,
    graceful: watch::Receiver<bool>,
    cut: watch::Receiver<bool>,
}

impl Worker {
    /// Serves what is handed over until the acceptor is gone and every
    /// connection of this thread closed (false), or until cut (true).
    async fn run(self) -> bool {
        let Self {
            mut handed,
            router,
            graceful,
            mut cut,
        } = self;
        let open_here = Arc::new(watch::Sender::new(0usize));
        loop {
            tokio::select! {
                handoff = handed.recv() => match handoff {
                    Some(handoff) => spawn(handoff, &open_here, &router, &graceful),
                    None => break,
                },
                _ = cut.wait_for(|cut| *cut) => return true,
            }
        }
        let mut open_here = open_here.subscribe();
        tokio::select! {
            _ = open_here.wait_for(|count| *count == 0) => false,
            _ = cut.wait_for(|cut| *cut) => true,
        }
    }
}

/// Serves a handed-over connection on this thread, counted in `open_here`.
fn spawn(
    handoff: Handoff,
    open_here: &Arc<watch::Sender<usize>>,
    router: &Router,
    graceful: &watch::Receiver<bool>,
) {
    let stream = match tokio::net::TcpStream::from_std(handoff.stream) {
        Ok(stream) => stream,
        Err(error) => {
            tracing::warn!(%error, "could not serve a handed-over connection");
            return;
        }
    };
    let counted = (OpenConnection::counted(open_here), handoff.open);
    let served = serve_connection(stream, router.clone(), graceful.clone());
    tokio::spawn(async move {
        served.await;
        drop(counted);
    });
}

/// Serves one connection's HTTP/1.1 requests until the client closes it,
/// or, once `graceful` turns true, until the request in progress (if any)
/// is answered.
async fn serve_connection(
    stream: tokio::net::TcpStream,
    router: Router,
    mut graceful: watch::Receiver<bool>,
) {
    let service = TowerToHyperService::new(router);
    let connection =
        hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    let mut closing = false;
    loop {
        tokio::select! {
            served = connection.as_mut() => {
                if let Err(error) = served {
                    tracing::debug!(%error, "connection ended with an error");
                }
                return;
            }
            _ = graceful.wait_for(|close| *close), if !closing => {
                closing = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

#[cfg(test)]
mod tests;
