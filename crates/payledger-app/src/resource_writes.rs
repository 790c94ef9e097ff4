//! The one lock under which Types, States and Subscriptions are written.
//!
//! These resources are table rows, not event streams, so no store writer
//! checks their versions, keys, per-project counts or idempotency rows
//! for them: each use case reads, checks and writes its one atomic batch
//! while holding [`lock`]. Writes of these resources are rare, so one
//! lock for all of them costs nothing measurable, and one process serves
//! a store (see [`crate::unique_claims`]), so an in-process lock is
//! enough.

use parking_lot::{Mutex, MutexGuard};

static RESOURCE_WRITES: Mutex<()> = Mutex::new(());

/// Holds the write lock of Types, States and Subscriptions until dropped.
pub fn lock() -> MutexGuard<'static, ()> {
    RESOURCE_WRITES.lock()
}
