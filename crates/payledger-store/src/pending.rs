//! The handle an appender waits on until its append is durable.
//!
//! Writers answer through a one-shot channel, so the same handle serves
//! blocking callers ([`PendingAppend::wait`]) and async ones (`.await`).

use crate::{AppendError, Appended, StoreError};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::sync::oneshot;

/// Resolves to the outcome of one append.
#[derive(Debug)]
pub struct PendingAppend {
    state: State,
}

#[derive(Debug)]
enum State {
    Ready(Option<Result<Appended, AppendError>>),
    Waiting(oneshot::Receiver<Result<Appended, AppendError>>),
}

/// The writer's side of a [`PendingAppend`].
pub type Completion = oneshot::Sender<Result<Appended, AppendError>>;

/// A connected completion / pending pair.
pub fn completion() -> (Completion, PendingAppend) {
    let (tx, rx) = oneshot::channel();
    (
        tx,
        PendingAppend {
            state: State::Waiting(rx),
        },
    )
}

impl PendingAppend {
    /// A handle that is already resolved.
    pub fn ready(outcome: Result<Appended, AppendError>) -> Self {
        Self {
            state: State::Ready(Some(outcome)),
        }
    }

    /// Blocks the current thread until the outcome is known. Must not be
    /// called from inside an async runtime.
    pub fn wait(self) -> Result<Appended, AppendError> {
        match self.state {
            State::Ready(outcome) => outcome.unwrap_or(Err(StoreError::ShuttingDown.into())),
            State::Waiting(rx) => rx
                .blocking_recv()
                .unwrap_or(Err(StoreError::ShuttingDown.into())),
        }
    }
}

impl Future for PendingAppend {
    type Output = Result<Appended, AppendError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match &mut self.state {
            State::Ready(outcome) => Poll::Ready(
                outcome
                    .take()
                    .unwrap_or(Err(StoreError::ShuttingDown.into())),
            ),
            State::Waiting(rx) => Pin::new(rx)
                .poll(cx)
                .map(|received| received.unwrap_or(Err(StoreError::ShuttingDown.into()))),
        }
    }
}
