use super::{SHUTDOWN_IDLE_GRACE_MS, serve_draining};
use axum::Router;
use axum::routing::get;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, oneshot};

/// A server whose `/slow` answers once `release` is notified; the
/// address, the shutdown trigger and the drain's outcome.
async fn start(
    release: Arc<Notify>,
    bound: Duration,
) -> (
    std::net::SocketAddr,
    oneshot::Sender<()>,
    tokio::task::JoinHandle<std::io::Result<super::Drained>>,
) {
    let router = Router::new()
        .route("/fast", get(|| async { "fast" }))
        .route(
            "/slow",
            get(move || async move {
                release.notified().await;
                "slow"
            }),
        );
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let address = listener.local_addr().expect("address");
    let (trigger, shutdown) = oneshot::channel::<()>();
    let served = tokio::spawn(serve_draining(
        listener,
        router,
        async move {
            let _ = shutdown.await;
        },
        bound,
        std::num::NonZeroUsize::new(2).expect("two"),
    ));
    (address, trigger, served)
}

/// Sends `GET path` on `stream` and reads the answer's head and body.
async fn exchange(stream: &mut TcpStream, path: &str) -> String {
    let (head, body) = crate::test_http::exchange(stream, path).await;
    head + &body
}

/// Waits until connecting to `address` is refused.
async fn until_refused(address: std::net::SocketAddr) {
    for _ in 0..10_000 {
        if TcpStream::connect(address).await.is_err() {
            return;
        }
        tokio::task::yield_now().await;
    }
    panic!("the listener never closed");
}

#[tokio::test]
async fn a_keep_alive_request_sent_after_the_signal_is_answered_and_then_the_connection_closes() {
    let (address, trigger, served) = start(Arc::new(Notify::new()), Duration::from_secs(30)).await;
    let mut kept = TcpStream::connect(address).await.expect("connect");
    let before = exchange(&mut kept, "/fast").await;
    assert!(!before.contains("connection: close"), "{before}");

    trigger.send(()).expect("signal");
    until_refused(address).await;
    let after = exchange(&mut kept, "/fast").await;
    assert!(after.starts_with("http/1.1 200"), "{after}");
    assert!(after.contains("connection: close"), "{after}");
    let mut rest = Vec::new();
    kept.read_to_end(&mut rest).await.expect("read to the end");
    assert!(rest.is_empty(), "the server closed after its answer");

    let drained = served.await.expect("join").expect("served");
    assert_eq!(drained.connections_cut, 0);
    assert!(drained.began.elapsed() < Duration::from_millis(SHUTDOWN_IDLE_GRACE_MS));
}

#[tokio::test]
async fn a_request_in_flight_at_the_signal_is_answered() {
    let release = Arc::new(Notify::new());
    let (address, trigger, served) = start(Arc::clone(&release), Duration::from_secs(30)).await;
    let mut stream = TcpStream::connect(address).await.expect("connect");
    let slow = tokio::spawn(async move { exchange(&mut stream, "/slow").await });
    // The handler is waiting once the request has been read; a permit
    // stored before that is used as soon as it waits.
    trigger.send(()).expect("signal");
    until_refused(address).await;
    release.notify_one();
    let answer = slow.await.expect("join");
    assert!(answer.ends_with("slow"), "{answer}");
    let drained = served.await.expect("join").expect("served");
    assert_eq!(drained.connections_cut, 0);
}

#[tokio::test(start_paused = true)]
async fn past_the_bound_the_connections_left_are_counted_as_cut() {
    let (address, trigger, served) = start(Arc::new(Notify::new()), Duration::from_secs(5)).await;
    let mut stream = TcpStream::connect(address).await.expect("connect");
    stream
        .write_all(b"GET /slow HTTP/1.1\r\nhost: test\r\n\r\n")
        .await
        .expect("write");
    trigger.send(()).expect("signal");
    let drained = served.await.expect("join").expect("served");
    assert_eq!(drained.connections_cut, 1);
    assert!(drained.began.elapsed() >= Duration::from_secs(5));
}
