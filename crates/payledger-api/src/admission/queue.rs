//! The gate's queue of requests waiting for a slot, and the hand-off of a
//! freed slot to one of them.
//!
//! A burst is served first come first served: it drains within the
//! budget, and every request of it is admitted in turn. A queue that has
//! not been empty for a whole `queue_wait_ms_max` is a standing one: more
//! arrives than the slots let through, and first come first served would
//! only admit requests that have already waited about the whole budget,
//! while the ones behind them are refused anyway. Then the queue serves
//! the newest waiter first, and a newcomer that finds it full takes the
//! place of the oldest, which is refused at once (`REQUESTS_QUEUED_MAX`).
//! Under overload an admitted request then waits little, and a refused one
//! learns it early instead of at the end of the budget. (The practice of
//! "adaptive LIFO" described in Facebook's "Fail at Scale", ACM Queue,
//! 2015.)
//!
//! Slots are a semaphore's permits. Nobody waits on the semaphore itself:
//! a freed slot goes back to it only when nobody waits here, and otherwise
//! straight to a waiter ([`Held`]'s drop).

use std::collections::VecDeque;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::time::{Duration, Instant};

/// A request waiting for a slot.
#[derive(Debug)]
struct Waiter {
    id: u64,
    slot: oneshot::Sender<OwnedSemaphorePermit>,
}

/// The waiting requests, oldest first.
#[derive(Debug, Default)]
pub(super) struct Waiters {
    queue: VecDeque<Waiter>,
    next_id: u64,
    /// Since when the queue has not been empty.
    busy_since: Option<Instant>,
}

/// What joining the queue gave a request.
pub(super) enum Joined {
    /// A slot was free after all.
    Admitted(Held),
    /// It waits: the slot arrives on the receiver, which closes without one
    /// if a newcomer takes its place.
    Waiting(u64, oneshot::Receiver<OwnedSemaphorePermit>),
    /// The queue is full (first come first served).
    Full,
}

impl Waiters {
    /// Whether the queue has not been empty for `budget` by `now`.
    fn standing(&self, now: Instant, budget: Duration) -> bool {
        self.busy_since
            .is_some_and(|since| now.saturating_duration_since(since) >= budget)
    }

    fn pop(&mut self, now: Instant, budget: Duration) -> Option<Waiter> {
        let waiter = if self.standing(now, budget) {
            self.queue.pop_back()
        } else {
            self.queue.pop_front()
        };
        if self.queue.is_empty() {
            self.busy_since = None;
        }
        waiter
    }

    /// Forgets the waiters that went away (their request was dropped);
    /// how many.
    fn forget_gone(&mut self) -> usize {
        let before = self.queue.len();
        self.queue.retain(|waiter| !waiter.slot.is_closed());
        if self.queue.is_empty() {
            self.busy_since = None;
        }
        before - self.queue.len()
    }
}

/// The slots, the requests waiting for one, and the slots owed.
#[derive(Debug)]
pub(super) struct Slots {
    permits: Arc<Semaphore>,
    waiters: Mutex<Waiters>,
    /// Requests in the queue or joining it: a freed slot is handed to the
    /// queue while there are any.
    waiting: AtomicUsize,
    /// Slots cut while they were held: retired when their request ends.
    owed: AtomicUsize,
    /// `queue_wait_ms_max`.
    budget: Duration,
}

/// A held slot; freed (to a waiter, or back) or retired when dropped.
#[derive(Debug)]
pub(super) struct Held {
    permit: Option<OwnedSemaphorePermit>,
    slots: Arc<Slots>,
}

impl Drop for Held {
    fn drop(&mut self) {
        let Some(permit) = self.permit.take() else {
            return;
        };
        if self
            .slots
            .owed
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
        {
            permit.forget();
        } else {
            drop(permit);
            self.slots.hand_off_free();
        }
    }
}

impl Slots {
    pub(super) fn new(count: usize, budget: Duration) -> Arc<Self> {
        Arc::new(Self {
            permits: Arc::new(Semaphore::new(count)),
            waiters: Mutex::new(Waiters::default()),
            waiting: AtomicUsize::new(0),
            owed: AtomicUsize::new(0),
            budget,
        })
    }

    /// Slots free now.
    pub(super) fn free(&self) -> usize {
        self.permits.available_permits()
    }

    fn hold(self: &Arc<Self>, permit: OwnedSemaphorePermit) -> Held {
        Held {
            permit: Some(permit),
            slots: Arc::clone(self),
        }
    }

    /// A free slot, if there is one.
    pub(super) fn try_take(self: &Arc<Self>) -> Option<Held> {
        let permit = Arc::clone(&self.permits).try_acquire_owned().ok()?;
        Some(self.hold(permit))
    }

    /// Cuts `cut` slots: free ones at once, held ones when they are freed.
    pub(super) fn cut(&self, cut: usize) {
        let forgotten = self.permits.forget_permits(cut);
        self.owed.fetch_add(cut - forgotten, Ordering::AcqRel);
    }

    /// Adds `added` slots (first cancelling the ones still owed), and
    /// hands them to waiters.
    pub(super) fn add(&self, mut added: usize) {
        if let Ok(owed) = self
            .owed
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_sub(added))
            })
        {
            added -= owed.min(added);
        }
        self.permits.add_permits(added);
        self.hand_off_free();
    }

    fn lock_waiters(&self) -> std::sync::MutexGuard<'_, Waiters> {
        self.waiters
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Joins the queue of at most `queued_max` waiters, or takes a slot
    /// freed meanwhile.
    pub(super) fn join(self: &Arc<Self>, queued_max: usize) -> Joined {
        let now = Instant::now();
        // Counted before the last look at the slots, so that a slot freed
        // from now on is handed to the queue (see `hand_off_free`).
        self.waiting.fetch_add(1, Ordering::SeqCst);
        let mut waiters = self.lock_waiters();
        if let Some(held) = self.try_take() {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Joined::Admitted(held);
        }
        if waiters.queue.len() >= queued_max {
            let gone = waiters.forget_gone();
            self.waiting.fetch_sub(gone, Ordering::SeqCst);
        }
        if waiters.queue.len() >= queued_max {
            if queued_max == 0 || !waiters.standing(now, self.budget) {
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                return Joined::Full;
            }
            // The oldest is refused (its receiver closes) for the newcomer.
            waiters.queue.pop_front();
            self.waiting.fetch_sub(1, Ordering::SeqCst);
        }
        let (sender, receiver) = oneshot::channel();
        let id = waiters.next_id;
        waiters.next_id += 1;
        waiters.busy_since.get_or_insert(now);
        waiters.queue.push_back(Waiter { id, slot: sender });
        Joined::Waiting(id, receiver)
    }

    /// Leaves the queue after the wait ended without a slot (the budget
    /// ran out); a slot handed over meanwhile is passed on.
    pub(super) fn leave(
        self: &Arc<Self>,
        id: u64,
        mut slot: oneshot::Receiver<OwnedSemaphorePermit>,
    ) {
        {
            let mut waiters = self.lock_waiters();
            let before = waiters.queue.len();
            waiters.queue.retain(|waiter| waiter.id != id);
            self.waiting
                .fetch_sub(before - waiters.queue.len(), Ordering::SeqCst);
            if waiters.queue.is_empty() {
                waiters.busy_since = None;
            }
        }
        if let Ok(permit) = slot.try_recv() {
            drop(self.hold(permit));
        }
    }

    /// The slot a waiter received, held.
    pub(super) fn received(self: &Arc<Self>, permit: OwnedSemaphorePermit) -> Held {
        self.hold(permit)
    }

    /// Hands the free slots to waiters, as long as both are left.
    fn hand_off_free(&self) {
        if self.waiting.load(Ordering::SeqCst) == 0 {
            return;
        }
        let now = Instant::now();
        let mut waiters = self.lock_waiters();
        while !waiters.queue.is_empty() {
            let Ok(mut permit) = Arc::clone(&self.permits).try_acquire_owned() else {
                return;
            };
            loop {
                let Some(waiter) = waiters.pop(now, self.budget) else {
                    // Every one went away: the slot stays free.
                    drop(permit);
                    return;
                };
                self.waiting.fetch_sub(1, Ordering::SeqCst);
                match waiter.slot.send(permit) {
                    Ok(()) => break,
                    // Gone: the next one.
                    Err(returned) => permit = returned,
                }
            }
        }
    }
}
