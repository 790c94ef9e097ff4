//! The client side of the admin socket (`payledger_api::admin`): how
//! `payledger clients` reach a server that holds the data directory.
//!
//! One HTTP/1.1 request per command over `<data>/admin.sock`. No socket,
//! or one nobody listens on (a server killed with SIGKILL leaves its file
//! behind), means no server runs: the caller opens the store itself.

use anyhow::{Context, anyhow, bail};
use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::http::{Method, Request, header};
use hyper_util::rt::TokioIo;
use std::path::Path;
use std::time::Duration;
use tokio::net::UnixStream;

/// Longest wait for the server's answer to one admin request.
pub const ADMIN_REQUEST_TIMEOUT_MS: u64 = 30_000;

/// Sends `method path` with an optional JSON body to the server that holds
/// `data` and returns its successful answer's JSON body. `Ok(None)` when
/// no server listens there; an error when one does but refused (its error
/// body's message is the error's text).
pub fn request(
    data: &Path,
    method: Method,
    path: &str,
    body: Option<&serde_json::Value>,
) -> anyhow::Result<Option<serde_json::Value>> {
    request_within(
        data,
        method,
        path,
        body,
        (ADMIN_REQUEST_TIMEOUT_MS, "ADMIN_REQUEST_TIMEOUT_MS"),
    )
}

/// [`request`], waiting for the answer up to `timeout`: milliseconds and
/// the name of the caller's limit.
pub fn request_within(
    data: &Path,
    method: Method,
    path: &str,
    body: Option<&serde_json::Value>,
    (timeout_ms, limit): (u64, &str),
) -> anyhow::Result<Option<serde_json::Value>> {
    let socket = payledger_api::admin::socket_path(data);
    let body = match body {
        Some(value) => Bytes::from(serde_json::to_vec(value)?),
        None => Bytes::new(),
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let stream = match UnixStream::connect(&socket).await {
            Ok(stream) => stream,
            Err(error)
                if matches!(
                    error.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Ok(None);
            }
            Err(error) if error.kind() == std::io::ErrorKind::PermissionDenied => {
                bail!(
                    "cannot reach the server through {}: permission denied \
                     (run as the owner of {} or as root)",
                    socket.display(),
                    data.display()
                )
            }
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("cannot connect to {}", socket.display()));
            }
        };
        let exchange = send(stream, &socket, method, path, body);
        tokio::time::timeout(Duration::from_millis(timeout_ms), exchange)
            .await
            .map_err(|_| {
                anyhow!(
                    "the server on {} did not answer within {timeout_ms} ms ({limit})",
                    data.display()
                )
            })?
            .map(Some)
    })
}

async fn send(
    stream: UnixStream,
    socket: &Path,
    method: Method,
    path: &str,
    body: Bytes,
) -> anyhow::Result<serde_json::Value> {
    let refused = || {
        format!(
            "the server refused the connection on {} (only the owner of the data \
             directory and root may use it)",
            socket.display()
        )
    };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .with_context(refused)?;
    tokio::spawn(connection);
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::HOST, "localhost")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Full::new(body))?;
    let response = sender.send_request(request).await.with_context(refused)?;
    let status = response.status().as_u16();
    let bytes = response
        .into_body()
        .collect()
        .await
        .context("the server's answer broke off")?
        .to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    if !(200..300).contains(&status) {
        let message = body["message"].as_str().map_or_else(
            || String::from_utf8_lossy(&bytes).into_owned(),
            str::to_owned,
        );
        bail!("{message} (HTTP {status})");
    }
    Ok(body)
}

/// Runs an admin command where it can run: through the server that holds
/// `data` ([`request`], its answer read as `T`), or, when none listens,
/// by `locally` on the store this process opens.
pub fn through_server_or<T: serde::de::DeserializeOwned>(
    data: &Path,
    method: Method,
    path: &str,
    body: Option<&serde_json::Value>,
    locally: impl FnOnce() -> anyhow::Result<T>,
) -> anyhow::Result<T> {
    match request(data, method, path, body)? {
        Some(answer) => serde_json::from_value(answer).context("the server's answer"),
        None => locally(),
    }
}
