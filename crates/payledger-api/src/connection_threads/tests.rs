use super::{ConnectionThreads, OpenConnection, connection_runtime, connection_threads_default};
use axum::Router;
use axum::routing::get;
use std::num::NonZeroUsize;
use std::sync::Arc;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

/// A router that answers with the name of the thread the handler ran on,
/// from the async handler and from its blocking work.
fn thread_names() -> Router {
    Router::new()
        .route(
            "/thread",
            get(|| async { std::thread::current().name().unwrap_or("").to_owned() }),
        )
        .route(
            "/blocking",
            get(|| async {
                tokio::task::spawn_blocking(|| "blocking work ran".to_owned())
                    .await
                    .expect("blocking work")
            }),
        )
}

/// Sends `GET path` on `stream` and returns the body of its 200 answer.
async fn body_of(stream: &mut TcpStream, path: &str) -> String {
    let (head, body) = crate::test_http::exchange(stream, path).await;
    assert!(head.starts_with("http/1.1 200"), "{head}");
    body
}

/// Accepts `count` connections on `listener` and hands each to `threads`.
async fn hand_over(
    listener: &TcpListener,
    threads: &mut ConnectionThreads,
    open: &Arc<watch::Sender<usize>>,
    count: usize,
) -> Vec<TcpStream> {
    let mut clients = Vec::new();
    for _ in 0..count {
        let client = TcpStream::connect(listener.local_addr().expect("address"))
            .await
            .expect("connect");
        let (accepted, _) = listener.accept().await.expect("accept");
        threads.serve(accepted, OpenConnection::counted(open));
        clients.push(client);
    }
    clients
}

#[tokio::test]
async fn connections_go_to_the_threads_in_turn_and_stay_on_theirs() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let open = Arc::new(watch::Sender::new(0usize));
    let two = NonZeroUsize::new(2).expect("two");
    let mut threads = ConnectionThreads::start(two, &thread_names()).expect("start");
    let mut clients = hand_over(&listener, &mut threads, &open, 4).await;
    let mut names = Vec::new();
    for client in &mut clients {
        names.push(body_of(client, "/thread").await);
    }
    assert_eq!(
        names,
        [
            "payledger-http-0",
            "payledger-http-1",
            "payledger-http-0",
            "payledger-http-1"
        ]
    );
    // Keep-alive requests of one connection are served where it went.
    for (client, name) in clients.iter_mut().zip(&names) {
        for _ in 0..3 {
            assert_eq!(&body_of(client, "/thread").await, name);
        }
    }
    assert_eq!(*open.borrow(), 4, "four connections open");
    drop(clients);
    let mut counted = open.subscribe();
    let _ = counted.wait_for(|count| *count == 0).await;
    threads.stop(false).await;
}

/// One connection thread serving one handed-over connection: the
/// threads, the count of open connections and the client's end.
async fn one_connection_on_one_thread() -> (ConnectionThreads, Arc<watch::Sender<usize>>, TcpStream)
{
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let open = Arc::new(watch::Sender::new(0usize));
    let mut threads = ConnectionThreads::start(NonZeroUsize::MIN, &thread_names()).expect("start");
    let client = hand_over(&listener, &mut threads, &open, 1)
        .await
        .pop()
        .expect("one client");
    (threads, open, client)
}

#[tokio::test]
async fn a_handler_can_run_blocking_work_on_its_connection_thread() {
    let (threads, _, mut client) = one_connection_on_one_thread().await;
    assert_eq!(body_of(&mut client, "/blocking").await, "blocking work ran");
    drop(client);
    threads.stop(false).await;
}

#[tokio::test]
async fn stopping_with_a_cut_closes_the_connections_left_open() {
    let (threads, open, mut client) = one_connection_on_one_thread().await;
    assert_eq!(body_of(&mut client, "/thread").await, "payledger-http-0");
    threads.stop(true).await;
    assert_eq!(*open.borrow(), 0, "the cut connection is no longer counted");
    let mut rest = Vec::new();
    client
        .read_to_end(&mut rest)
        .await
        .expect("the server closed the connection");
    assert!(rest.is_empty());
}

#[test]
fn the_default_is_one_thread_more_than_the_cores() {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    assert_eq!(connection_threads_default().get(), cores + 1);
}

#[test]
fn a_request_woken_by_another_thread_runs_before_the_connections_queued_on_this_one() {
    // Each round: a task waits for another thread (as a handler waits for
    // the partition writer), the connection thread gets `QUEUED` tasks of
    // its own (as sockets that became readable), then the other thread
    // wakes the first. Over the rounds the runtime's tick takes every
    // value: with tokio's default the woken task would wait for up to 30
    // of the queued ones in most rounds.
    const ROUNDS: usize = 64;
    const QUEUED: usize = 64;
    const WOKEN: usize = usize::MAX;
    let runtime = connection_runtime(1).expect("runtime");
    runtime.block_on(async {
        for round in 0..ROUNDS {
            let order = Arc::new(std::sync::Mutex::new(Vec::new()));
            let (waiting, waits) = tokio::sync::oneshot::channel::<()>();
            let (wake, woken) = tokio::sync::oneshot::channel::<()>();
            let handler = tokio::spawn({
                let order = Arc::clone(&order);
                async move {
                    let _ = waiting.send(());
                    let _ = woken.await;
                    order.lock().expect("order").push(WOKEN);
                }
            });
            waits.await.expect("the handler runs and waits");
            let queued: Vec<_> = (0..QUEUED)
                .map(|n| {
                    let order = Arc::clone(&order);
                    tokio::spawn(async move { order.lock().expect("order").push(n) })
                })
                .collect();
            std::thread::spawn(move || wake.send(()).expect("the handler waits"))
                .join()
                .expect("waking thread");
            handler.await.expect("handler");
            for task in queued {
                task.await.expect("queued task");
            }
            let order = order.lock().expect("order");
            assert_eq!(order.len(), QUEUED + 1);
            assert_eq!(order[0], WOKEN, "round {round}: ran {order:?}");
        }
    });
}
