//! The load generators' HTTP/1.1 client: one keep-alive connection,
//! requests written and answers read by hand (`load`, `http` and the open
//! loop of `overload`).
//!
//! A general-purpose client (a pool, a connection task, channels between
//! them) cost the generator 40–65 µs of CPU per request, so from one core
//! it could not offer five times what the server sustains, and in the
//! closed loop of `load` it took CPU from the server it measured on the
//! same two cores. Here a request is one write and, most of the time, one
//! read. It speaks only what `payledger serve` and the commercetools mock
//! answer: a status line, headers and a `Content-Length` body; anything
//! else is an error of the exchange.

use anyhow::Context;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Most bytes of one answer's head.
const HEAD_BYTES_MAX: usize = 64 << 10;

/// Bytes the read buffer grows by when an answer does not fit.
const READ_CHUNK_BYTES: usize = 16 << 10;

/// The bytes of one request: `method path`, the `host`, a bearer `token`
/// when there is one, and a JSON `body` when there is one.
pub(super) fn request(
    method: &str,
    path: &str,
    host: &str,
    token: Option<&str>,
    body: Option<&[u8]>,
) -> Vec<u8> {
    use std::io::Write;
    let mut bytes = Vec::with_capacity(256 + body.map_or(0, <[u8]>::len));
    // Writing into a Vec cannot fail.
    let _ = write!(bytes, "{method} {path} HTTP/1.1\r\nhost: {host}\r\n");
    if let Some(token) = token {
        let _ = write!(bytes, "authorization: Bearer {token}\r\n");
    }
    match body {
        Some(body) => {
            let _ = write!(
                bytes,
                "content-type: application/json\r\ncontent-length: {}\r\n\r\n",
                body.len()
            );
            bytes.extend_from_slice(body);
        }
        None => bytes.extend_from_slice(b"\r\n"),
    }
    bytes
}

/// One connection to the server, opened when first needed and again
/// after a failed exchange.
pub(super) struct Wire {
    address: String,
    stream: Option<TcpStream>,
    buffer: Vec<u8>,
}

/// The parts of a URL `http://host:port/path` a request needs.
pub(super) fn split_url(url: &str) -> anyhow::Result<(&str, &str)> {
    let rest = url
        .strip_prefix("http://")
        .context("the open loop speaks plain http only")?;
    let slash = rest.find('/').context("a URL without a path")?;
    Ok((&rest[..slash], &rest[slash..]))
}

impl Wire {
    pub(super) fn new(address: &str) -> Self {
        Self {
            address: address.to_owned(),
            stream: None,
            buffer: Vec::with_capacity(16 << 10),
        }
    }

    /// Closes the connection (after an exchange given up on): the next
    /// exchange opens a new one.
    pub(super) fn close(&mut self) {
        self.stream = None;
    }

    /// Sends `request` (head and body, as bytes) and reads the answer:
    /// its status and body. A failed exchange closes the connection.
    pub(super) async fn exchange(&mut self, request: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
        let outcome = self.try_exchange(request).await;
        if outcome.is_err() {
            self.stream = None;
        }
        outcome
    }

    async fn try_exchange(&mut self, request: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
        if self.stream.is_none() {
            let stream = TcpStream::connect(&self.address).await?;
            stream.set_nodelay(true)?;
            self.stream = Some(stream);
            self.buffer.clear();
        }
        let stream = self.stream.as_mut().context("connected")?;
        stream.write_all(request).await?;
        let head_end = loop {
            if let Some(at) = find(&self.buffer, b"\r\n\r\n") {
                break at + 4;
            }
            anyhow::ensure!(
                self.buffer.len() < HEAD_BYTES_MAX,
                "an answer's head too long"
            );
            read_more(stream, &mut self.buffer).await?;
        };
        let (status, length) = parse_head(&self.buffer[..head_end])?;
        while self.buffer.len() < head_end + length {
            read_more(stream, &mut self.buffer).await?;
        }
        let body = self.buffer[head_end..head_end + length].to_vec();
        self.buffer.drain(..head_end + length);
        Ok((status, body))
    }
}

/// Reads what the socket holds into the spare room of `buffer`.
async fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> anyhow::Result<()> {
    buffer.reserve(READ_CHUNK_BYTES);
    let read = stream.read_buf(buffer).await?;
    anyhow::ensure!(read > 0, "the server closed the connection");
    Ok(())
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack
        .windows(needle.len())
        .position(|window| window == needle)
}

/// The status and `Content-Length` of an answer's head.
fn parse_head(head: &[u8]) -> anyhow::Result<(u16, usize)> {
    let head = std::str::from_utf8(head).context("an answer's head is not text")?;
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|line| line.strip_prefix("HTTP/1.1 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|code| code.parse().ok())
        .context("no HTTP/1.1 status line")?;
    let mut length = None;
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        if name.eq_ignore_ascii_case("content-length") {
            length = Some(value.trim().parse().context("a bad Content-Length")?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            anyhow::bail!("a chunked answer");
        }
    }
    Ok((status, length.context("an answer without Content-Length")?))
}

#[cfg(test)]
mod tests {
    use super::{parse_head, request, split_url};

    #[test]
    fn a_request_carries_its_token_and_body_length_only_when_it_has_them() {
        assert_eq!(
            request("GET", "/bench/payments/1", "127.0.0.1:80", None, None),
            b"GET /bench/payments/1 HTTP/1.1\r\nhost: 127.0.0.1:80\r\n\r\n"
        );
        assert_eq!(
            request("POST", "/p", "h", Some("t0k"), Some(b"{}")),
            b"POST /p HTTP/1.1\r\nhost: h\r\nauthorization: Bearer t0k\r\n\
              content-type: application/json\r\ncontent-length: 2\r\n\r\n{}"
        );
    }

    #[test]
    fn a_head_gives_its_status_and_body_length_whatever_the_case_of_the_names() {
        let head =
            b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\nCONTENT-LENGTH: 42\r\n\r\n";
        assert_eq!(parse_head(head).unwrap(), (503, 42));
    }

    #[test]
    fn a_chunked_or_unsized_answer_is_an_error_not_a_guess() {
        let chunked = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n";
        assert!(parse_head(chunked).is_err());
        let unsized_answer = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\n\r\n";
        assert!(parse_head(unsized_answer).is_err());
        assert!(parse_head(b"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n").is_err());
    }

    #[test]
    fn a_url_splits_into_its_address_and_path() {
        assert_eq!(
            split_url("http://127.0.0.1:8080/bench/payments/abc").unwrap(),
            ("127.0.0.1:8080", "/bench/payments/abc")
        );
        assert!(split_url("https://example.com/x").is_err());
        assert!(split_url("http://127.0.0.1:8080").is_err());
    }
}
