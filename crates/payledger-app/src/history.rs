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
//! An as-of read folds the stream from version 1 to the version asked for:
//! its cost grows with that version, one event decode and fold step each
//! (about 1 µs; `BENCHMARKS.md` has the figure for a 10,000-event stream).

use crate::error::AppError;
use crate::{Ledger, OrderRef, OrderView, Orders, PaymentRef};
use payledger_domain::order::{fold_order, order_totals};
use payledger_domain::{EventEnvelope, Payment, PaymentId, ProjectKey, StreamId, Timestamp, fold};
use payledger_store::{EventStore, VersionRange};

/// Most events one history page holds.
pub const HISTORY_PAGE_EVENTS_MAX: u64 = 500;
/// Events in a history page when the request names no limit.
pub const HISTORY_PAGE_EVENTS_DEFAULT: u64 = 20;
/// Events read per step while looking for the end of an as-of-time read.
const AS_OF_TIME_READ_EVENTS: u64 = 256;

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
    /// The events up to the moment, in version order.
    Events(Vec<EventEnvelope>),
}

/// The events of `stream` up to `as_of`.
pub fn events_as_of<S: EventStore + ?Sized>(
    store: &S,
    project: &ProjectKey,
    stream: StreamId,
    as_of: AsOf,
) -> Result<AsOfEvents, AppError> {
    let Some(head) = store.stream_head(stream)? else {
        return Ok(AsOfEvents::None);
    };
    let events = match as_of {
        AsOf::Version(version) if version > head.version => {
            return Ok(AsOfEvents::PastCurrent {
                current_version: head.version,
            });
        }
        AsOf::Version(version) => store.read_stream(stream, VersionRange::new(1, version))?,
        AsOf::Time(at) => {
            let mut events = Vec::new();
            let mut from = 1;
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
            events
        }
    };
    match events.first() {
        Some(first) if &first.meta.project == project => Ok(AsOfEvents::Events(events)),
        _ => Ok(AsOfEvents::None),
    }
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
    Ok(
        match events_as_of(&**ledger.store(), project, StreamId::payment(id), as_of)? {
            AsOfEvents::None => AsOfAnswer::NotFound,
            AsOfEvents::PastCurrent { current_version } => {
                AsOfAnswer::PastCurrent { current_version }
            }
            AsOfEvents::Events(events) => match fold(&events) {
                Some(payment) if !payment.deleted => AsOfAnswer::Found(payment),
                _ => AsOfAnswer::NotFound,
            },
        },
    )
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
    let events = match events_as_of(
        &**orders.ledger().store(),
        project,
        StreamId::order(id),
        as_of,
    )? {
        AsOfEvents::None => return Ok(AsOfAnswer::NotFound),
        AsOfEvents::PastCurrent { current_version } => {
            return Ok(AsOfAnswer::PastCurrent { current_version });
        }
        AsOfEvents::Events(events) => events,
    };
    let Some(order) = fold_order(&events) else {
        return Ok(AsOfAnswer::NotFound);
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
