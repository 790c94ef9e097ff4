//! One HTTP/1.1 exchange written and read by hand, for the tests of the
//! serving code (where a client library would hide what the server did to
//! the connection).

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Sends `GET path` on `stream`; returns the answer's head, lower-cased,
/// and its body.
pub(crate) async fn exchange(stream: &mut TcpStream, path: &str) -> (String, String) {
    let request = format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n");
    exchange_raw(stream, request.as_bytes()).await
}

/// Sends `request` (a whole HTTP/1.1 request) on `stream`; returns the
/// answer's head, lower-cased, and its body.
pub(crate) async fn exchange_raw(stream: &mut TcpStream, request: &[u8]) -> (String, String) {
    stream.write_all(request).await.expect("write");
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n\r\n") {
        let read = stream.read(&mut byte).await.expect("read");
        assert_eq!(read, 1, "the connection closed before the answer");
        answer.push(byte[0]);
    }
    let head = String::from_utf8(answer)
        .expect("UTF-8 head")
        .to_lowercase();
    let length: usize = head
        .lines()
        .find_map(|line| line.strip_prefix("content-length: "))
        .expect("content-length")
        .trim()
        .parse()
        .expect("length");
    let mut body = vec![0u8; length];
    stream.read_exact(&mut body).await.expect("body");
    (head, String::from_utf8(body).expect("UTF-8 body"))
}
