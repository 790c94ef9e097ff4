//! The gate as the router's outermost layer ([`ShedLayer`]): a gated
//! request is admitted or refused before the router, the tracing span, the
//! HTTP metrics or anything else runs, so that under overload a refusal
//! costs little more than reading the request and writing the answer.
//!
//! What can be decided without waiting is decided in the service's `call`
//! ([`Gate::enter`]): a request admitted at once runs the inner future
//! unboxed, a request refused at once answers from the limit's JSON made
//! once per gate ([`Gate::refusal_body`]). Only a request that waits in
//! the queue takes a boxed future. Why not `axum::middleware::from_fn`:
//! it clones the router and boxes a future for every request, and the
//! refusal built its error object through `serde_json::Value` every time;
//! with a thousand connections refused at five times the sustainable rate
//! (BENCHMARKS.md "Overload", thirteenth session) that was a fifth of the
//! connection threads' CPU.

use super::{Entry, Gate, Refused, gated};
use crate::ApiError;
use axum::body::{Body, Bytes, HttpBody};
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use pin_project_lite::pin_project;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use tokio::time::Instant;
use tower::{Layer, Service, ServiceExt};

/// Most bytes of a refused request's body read (and dropped) before the
/// refusal is answered, so the connection stays usable; past it the
/// connection is closed.
pub const REFUSED_BODY_DRAIN_BYTES_MAX: usize = 64 << 10;

/// Puts `gate` in front of a service (see the module).
#[derive(Clone, Debug)]
pub struct ShedLayer {
    gate: Arc<Gate>,
}

impl ShedLayer {
    pub fn new(gate: Arc<Gate>) -> Self {
        Self { gate }
    }
}

impl<S> Layer<S> for ShedLayer {
    type Service = Shed<S>;

    fn layer(&self, inner: S) -> Shed<S> {
        Shed {
            gate: Arc::clone(&self.gate),
            inner,
        }
    }
}

/// A service behind the gate.
#[derive(Clone, Debug)]
pub struct Shed<S> {
    gate: Arc<Gate>,
    inner: S,
}

impl<S> Service<Request> for Shed<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = ShedFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        if !gated(request.uri().path()) {
            return ShedFuture::Passed {
                future: self.inner.call(request),
            };
        }
        let arrived = Instant::now();
        match self.gate.enter(arrived) {
            Ok(Entry::Admitted(admitted)) => ShedFuture::Admitted {
                future: self.inner.call(request),
                admitted: Some(admitted),
                gate: Arc::clone(&self.gate),
                started: Instant::now(),
            },
            Ok(Entry::Queued(spot)) => {
                let (gate, inner) = (Arc::clone(&self.gate), self.inner.clone());
                ShedFuture::Waiting {
                    future: Box::pin(async move {
                        match gate.wait_queued(spot, arrived).await {
                            Ok(admitted) => {
                                let started = Instant::now();
                                let Ok(response) = inner.oneshot(request).await;
                                drop(admitted);
                                gate.served(started.elapsed());
                                response
                            }
                            Err(refused) => Refusing::new(&gate, request, refused).await,
                        }
                    }),
                }
            }
            Err(refused) => ShedFuture::Refusing {
                refusing: Refusing::new(&self.gate, request, refused),
            },
        }
    }
}

pin_project! {
    /// The answer of a [`Shed`] service.
    #[project = ShedProjection]
    pub enum ShedFuture<F> {
        /// Not gated.
        Passed { #[pin] future: F },
        /// Admitted at once: the slot is held until the answer.
        Admitted {
            #[pin]
            future: F,
            admitted: Option<super::Admitted>,
            gate: Arc<Gate>,
            started: Instant,
        },
        /// Refused at once.
        Refusing { refusing: Refusing },
        /// Queued: waits for a slot, then runs or is refused.
        Waiting { future: Pin<Box<dyn Future<Output = Response> + Send>> },
    }
}

impl<F> Future for ShedFuture<F>
where
    F: Future<Output = Result<Response, Infallible>>,
{
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            ShedProjection::Passed { future } => future.poll(cx),
            ShedProjection::Admitted {
                future,
                admitted,
                gate,
                started,
            } => {
                let answered = ready!(future.poll(cx));
                if admitted.take().is_some() {
                    gate.served(started.elapsed());
                }
                Poll::Ready(answered)
            }
            ShedProjection::Refusing { refusing } => Pin::new(refusing).poll(cx).map(Ok),
            ShedProjection::Waiting { future } => future.as_mut().poll(cx).map(Ok),
        }
    }
}

/// A refusal: reads what the client already sent of a small body, then
/// answers. hyper reuses a keep-alive connection only once the request was
/// read whole, and a new connection would cost the client and the server
/// more than the refusal itself.
#[derive(Debug)]
pub struct Refusing {
    body: Body,
    seen_bytes: usize,
    response: Option<Response>,
}

impl Refusing {
    fn new(gate: &Gate, request: Request, refused: Refused) -> Self {
        let correlation_id = crate::request::correlation_id_of(request.headers());
        let (status, body) = gate.refusal_body(refused);
        let mut response = Response::new(Body::from(body));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        headers.insert(
            header::RETRY_AFTER,
            HeaderValue::from(refused.retry_after_s),
        );
        if let Ok(value) = HeaderValue::from_str(&correlation_id) {
            headers.insert("x-correlation-id", value);
        }
        Self {
            body: request.into_body(),
            seen_bytes: 0,
            response: Some(response),
        }
    }
}

impl Future for Refusing {
    type Output = Response;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Response> {
        let this = &mut *self;
        while this.seen_bytes <= REFUSED_BODY_DRAIN_BYTES_MAX && !this.body.is_end_stream() {
            match ready!(Pin::new(&mut this.body).poll_frame(cx)) {
                Some(Ok(frame)) => this.seen_bytes += frame.data_ref().map_or(0, Bytes::len),
                Some(Err(_)) | None => break,
            }
        }
        Poll::Ready(this.response.take().expect("a refusal answers once"))
    }
}

impl Gate {
    /// The status and JSON of the answer to `refused`, as
    /// [`ApiError::from`] makes them: made once per limit, since a gate's
    /// limits keep their values (a refusal with other values than the
    /// first of its limit is made afresh).
    pub(crate) fn refusal_body(&self, refused: Refused) -> RefusalAnswer {
        let made =
            self.refusal_bodies[refused.limit.index()].get_or_init(|| (refused, made_for(refused)));
        match made {
            (first, answer) if *first == refused => answer.clone(),
            _ => made_for(refused),
        }
    }
}

/// The status and body of a refusal's answer.
pub(super) type RefusalAnswer = (StatusCode, Bytes);

fn made_for(refused: Refused) -> RefusalAnswer {
    let error = ApiError::from(refused);
    let body = serde_json::to_vec(&error.body()).expect("a JSON value serializes");
    (error.status, Bytes::from(body))
}
