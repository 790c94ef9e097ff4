//! The audit reads of one stream: its events a page at a time, each with
//! its hash, and the events up to a version or a moment (what as-of reads
//! fold).
//!
//! A page's hashes come from the store itself, not from re-encoding: the
//! hash of version v is the previous hash stored in version v + 1, and the
//! head's hash for the last version (`payledger verify` checks that these
//! are the SHA-256 of the stored bytes). A page therefore reads one event
//! past its end.
//!
//! An as-of read starts from the latest snapshot at or before the moment
//! asked for ([`crate::snapshots`]) and folds the events after it: one
//! snapshot decode plus fewer than `SNAPSHOT_INTERVAL_EVENTS` event decodes
//! and fold steps, however long the stream (`BENCHMARKS.md` has the figures
//! for a 10,000-event stream). A read by time finds its snapshot by binary
//! search over the stream's snapshots, which is sound because a stream's
//! recording times never go back (commands record no earlier than the
//! stream's last event).

use crate::error::AppError;
use crate::payments::corrupt_with;
use crate::snapshots::{self, SNAPSHOT_INTERVAL_EVENTS, Snapshot};
use crate::{Ledger, OrderRef, OrderView, Orders, PaymentRef};
use payledger_domain::order::{Order, evolve_order_envelope, order_totals};
use payledger_domain::{
    EventEnvelope, Payment, PaymentId, ProjectKey, StreamId, Timestamp, evolve,
};
use payledger_store::{EventStore, VersionRange};

/// Most events one history page holds.
pub const HISTORY_PAGE_EVENTS_MAX: u64 = 500;
/// Events in a history page when the request names no limit.
pub const HISTORY_PAGE_EVENTS_DEFAULT: u64 = 20;
/// Events read per step while looking for the end of an as-of-time read
/// (its end is usually before the next snapshot).
const AS_OF_TIME_READ_EVENTS: u64 = SNAPSHOT_INTERVAL_EVENTS;

/// One page of a stream's history.
#[derive(Clone, Debug)]
pub struct HistoryPage {
    /// The stream's version now (its number of events).
    pub current_version: u64,
    /// The events of the page in version order, each with its hash.
    pub events: Vec<(EventEnvelope, [u8; 32])>,
}

/// Up to `limit` events of `stream` from `from_version` on, or `None` when
/// the stream does not exist in `project`.
pub fn history_page<S: EventStore + ?Sized>(
    store: &S,
    project: &ProjectKey,
    stream: StreamId,
    from_version: u64,
    limit: u64,
) -> Result<Option<HistoryPage>, AppError> {
    let Some(head) = store.stream_head(stream)? else {
        return Ok(None);
    };
    let from = from_version.max(1);
    let last = from
        .saturating_add(limit)
        .saturating_sub(1)
        .min(head.version);
    let count = if from > last { 0 } else { last - from + 1 };
    // One past the page: its previous hash is the hash of the page's last.
    let mut events = match count {
        0 => Vec::new(),
        _ => store.read_stream(stream, VersionRange::new(from, last.saturating_add(1)))?,
    };
    let owner = match events.first() {
        Some(first) => first.meta.project.clone(),
        None => first_event(store, stream)?.meta.project,
    };
    if &owner != project {
        return Ok(None);
    }
    let hashes: Vec<[u8; 32]> = (events.iter().skip(1))
        .map(|e| e.previous_hash)
        .chain(std::iter::once(head.last_hash))
        .collect();
    events.truncate(usize::try_from(count).unwrap_or(usize::MAX));
    Ok(Some(HistoryPage {
        current_version: head.version,
        events: events.into_iter().zip(hashes).collect(),
    }))
}

fn first_event<S: EventStore + ?Sized>(
    store: &S,
    stream: StreamId,
) -> Result<EventEnvelope, AppError> {
    store
        .read_stream(stream, VersionRange::new(1, 1))?
        .into_iter()
        .next()
        .ok_or_else(|| crate::payments::corrupt_with("stream", &"a head without version 1"))
}

/// A moment of a stream's history.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AsOf {
    /// Right after the event of this version.
    Version(u64),
    /// After every event recorded at or before this time (events are read
    /// in version order up to the first one recorded later).
    Time(Timestamp),
}

/// What an as-of read found.
#[derive(Clone, Debug)]
pub enum AsOfEvents {
    /// The stream does not exist in the project, or had no event yet then.
    None,
    /// The version asked for is past the stream's current version.
    PastCurrent { current_version: u64 },
    /// The stream up to the moment: a snapshot (none: from the start) and
    /// the events after it, in version order.
    Events {
        snapshot: Option<Snapshot>,
        events: Vec<EventEnvelope>,
    },
}

impl AsOfEvents {
    /// The view at the moment, folded by `step` from the snapshot's view
    /// (decoded by `decode`) through the events after it.
    fn fold<T>(
        self,
        decode: impl Fn(&[u8]) -> Result<T, payledger_codec::CodecError>,
        step: impl Fn(Option<T>, &EventEnvelope) -> T,
    ) -> Result<AsOfAnswer<T>, AppError> {
        Ok(match self {
            Self::None => AsOfAnswer::NotFound,
            Self::PastCurrent { current_version } => AsOfAnswer::PastCurrent { current_version },
            Self::Events { snapshot, events } => {
                let start = snapshot
                    .map(|s| decode(&s.state))
                    .transpose()
                    .map_err(|e| corrupt_with("snapshot", &e))?;
                match events.iter().fold(start, |state, e| Some(step(state, e))) {
                    Some(view) => AsOfAnswer::Found(view),
                    None => AsOfAnswer::NotFound,
                }
            }
        })
    }
}

/// The events of `stream` up to `as_of`, after the latest snapshot before.
pub fn events_as_of<S: EventStore + ?Sized>(
    store: &S,
    project: &ProjectKey,
    stream: StreamId,
    as_of: AsOf,
) -> Result<AsOfEvents, AppError> {
    let Some(head) = store.stream_head(stream)? else {
        return Ok(AsOfEvents::None);
    };
    let (snapshot, events) = match as_of {
        AsOf::Version(version) if version > head.version => {
            return Ok(AsOfEvents::PastCurrent {
                current_version: head.version,
            });
        }
        AsOf::Version(version) => {
            let snapshot = match snapshots::due_at_or_before(version) {
                0 => None,
                due => snapshots::read(store, stream, due)?,
            };
            let from = snapshot.as_ref().map_or(1, |s| s.version + 1);
            let events = match from <= version {
                true => store.read_stream(stream, VersionRange::new(from, version))?,
                false => Vec::new(),
            };
            (snapshot, events)
        }
        AsOf::Time(at) => {
            let snapshot = snapshot_by_time(store, stream, head.version, at)?;
            let mut events = Vec::new();
            let mut from = snapshot.as_ref().map_or(1, |s| s.version + 1);
            'read: while from <= head.version {
                let to = from.saturating_add(AS_OF_TIME_READ_EVENTS - 1);
                let chunk = store.read_stream(stream, VersionRange::new(from, to))?;
                if chunk.is_empty() {
                    break;
                }
                for event in chunk {
                    if event.meta.recorded_at > at {
                        break 'read;
                    }
                    events.push(event);
                }
                from = to.saturating_add(1);
            }
            (snapshot, events)
        }
    };
    let owner = match (&snapshot, events.first()) {
        (None, None) => return Ok(AsOfEvents::None),
        (None, Some(first)) => first.meta.project.clone(),
        (Some(_), _) => first_event(store, stream)?.meta.project,
    };
    match &owner == project {
        true => Ok(AsOfEvents::Events { snapshot, events }),
        false => Ok(AsOfEvents::None),
    }
}

/// The latest snapshot of `stream` recorded at or before `at`, by binary
/// search over its snapshots; `None` when there is none, or when one the
/// search needs is missing (a stream written before snapshots existed is
/// then read from its start).
fn snapshot_by_time<S: EventStore + ?Sized>(
    store: &S,
    stream: StreamId,
    head_version: u64,
    at: Timestamp,
) -> Result<Option<Snapshot>, AppError> {
    // The answer is the k-th snapshot for some k in [0, high] (0: none);
    // recorded in time is true up to it and false after.
    let (mut low, mut high) = (0, head_version / SNAPSHOT_INTERVAL_EVENTS);
    let mut found = None;
    while low < high {
        let middle = low + (high - low).div_ceil(2);
        let Some(snapshot) = snapshots::read(store, stream, middle * SNAPSHOT_INTERVAL_EVENTS)?
        else {
            return Ok(None);
        };
        if snapshot.recorded_at <= at {
            low = middle;
            found = Some(snapshot);
        } else {
            high = middle - 1;
        }
    }
    // `low` only ever moves to a snapshot recorded in time: `found` is it.
    Ok(found)
}

/// The answer of an as-of read of a payment or an order.
#[derive(Clone, Debug, PartialEq)]
pub enum AsOfAnswer<T> {
    /// Not found then (not created yet, or deleted by then), or not in the
    /// project.
    NotFound,
    /// The version asked for is past the current one.
    PastCurrent {
        current_version: u64,
    },
    Found(T),
}

/// The payment `target` names as it was at `as_of`. A key names the
/// payment that holds it now.
pub fn payment_as_of<S: EventStore + ?Sized>(
    ledger: &Ledger<S>,
    project: &ProjectKey,
    target: &PaymentRef,
    as_of: AsOf,
) -> Result<AsOfAnswer<Payment>, AppError> {
    let id = match target {
        PaymentRef::Id(id) => *id,
        PaymentRef::Key(_) => match ledger.get(project, target)? {
            Some(payment) => payment.id,
            None => return Ok(AsOfAnswer::NotFound),
        },
    };
    payment_id_as_of(ledger, project, id, as_of)
}

fn payment_id_as_of<S: EventStore + ?Sized>(
    ledger: &Ledger<S>,
    project: &ProjectKey,
    id: PaymentId,
    as_of: AsOf,
) -> Result<AsOfAnswer<Payment>, AppError> {
    let read = events_as_of(&**ledger.store(), project, StreamId::payment(id), as_of)?;
    Ok(match read.fold(payledger_codec::decode_payment, evolve)? {
        AsOfAnswer::Found(payment) if payment.deleted => AsOfAnswer::NotFound,
        answer => answer,
    })
}

/// The order `target` names as it was at `as_of`, with totals from its
/// payments as they were at the order's `lastModifiedAt` then.
pub fn order_as_of<S: EventStore + ?Sized>(
    orders: &Orders<S>,
    project: &ProjectKey,
    target: &OrderRef,
    as_of: AsOf,
) -> Result<AsOfAnswer<OrderView>, AppError> {
    let id = match target {
        OrderRef::Id(id) => *id,
        _ => match orders.get(project, target)? {
            Some(view) => view.order.id,
            None => return Ok(AsOfAnswer::NotFound),
        },
    };
    let read = events_as_of(
        &**orders.ledger().store(),
        project,
        StreamId::order(id),
        as_of,
    )?;
    let order: Order = match read.fold(payledger_codec::decode_order, evolve_order_envelope)? {
        AsOfAnswer::Found(order) => order,
        AsOfAnswer::NotFound => return Ok(AsOfAnswer::NotFound),
        AsOfAnswer::PastCurrent { current_version } => {
            return Ok(AsOfAnswer::PastCurrent { current_version });
        }
    };
    let then = AsOf::Time(order.last_modified_at);
    let mut payments = Vec::new();
    for payment in &order.payments {
        if let AsOfAnswer::Found(p) = payment_id_as_of(orders.ledger(), project, *payment, then)? {
            payments.push(p);
        }
    }
    let totals = order_totals(&order, &payments.iter().collect::<Vec<_>>());
    Ok(AsOfAnswer::Found(OrderView { order, totals }))
}

#[cfg(test)]
mod tests;
