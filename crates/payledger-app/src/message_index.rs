//! The Message index: every event is a Message, and every Message has a
//! row in two index tables, written in the same atomic write as its event
//! (and rebuilt by `payledger replay` from [`crate::projections`]), so a
//! Message query narrowed by type or by `createdAt` reads only the
//! Messages it may return, and any other Message query only its own
//! project's, never every partition log.
//!
//! | table          | key | value |
//! |----------------|-----|-------|
//! | MessagesByType | project · message type · createdAt · 0 · kind (u8) · stream id (16) · version (u64 BE) | the stream's key at that version: 0, or 1 · UTF-8 |
//! | MessagesByTime | project · createdAt · 0 · kind · stream id · version | as above |
//!
//! Project and type are length-prefixed text (as in [`crate::table_keys`]);
//! kind is 0 for payments and 1 for orders. `createdAt` is the text the
//! Message shows (`YYYY-MM-DDTHH:MM:SS.sssZ`) ended by a 0 byte: the
//! predicate language compares it as text by code point, and the keys
//! compare the same way, so every `createdAt` condition is exactly a key
//! range ([`TextBound`]). The key the stream had at each version is
//! stored with the entry (what [`payledger_wire::json::MessageKeys`]
//! tracks), so a Message is rendered from one event read, without
//! folding the events before it.
//!
//! Reads are bounded: a selection holding more Messages than the caller's
//! maximum is refused whole ([`AppError::ScanLimit`]), never answered in
//! part.

use crate::error::AppError;
use crate::payments::{Ledger, corrupt_with};
use crate::table_keys::{prefix_end, project_prefix, push_text};
use payledger_domain::time::format_timestamp;
use payledger_domain::{Event, EventEnvelope, ProjectKey, StreamId, StreamKind, Timestamp};
use payledger_store::{EventStore, KeyValue, KvWrite, Table, VersionRange};
use payledger_wire::json::{message_key_after, message_type};
use std::collections::BTreeSet;

/// Most Messages one Message query reads (what its predicate's index
/// range holds, or the whole project's when nothing narrows it).
pub const MESSAGE_SCAN_EVENTS_MAX: usize = 1_000_000;

/// Bytes after the `createdAt` part of every key: kind, stream id, version.
const ENTRY_TAIL_BYTES: usize = 1 + 16 + 8;

/// Which Messages of a project a query can be narrowed to. Both parts
/// hold for every Message read; an empty selection is the whole project.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MessageSelection {
    /// Only Messages of these types (`None`: of every type).
    pub types: Option<BTreeSet<String>>,
    /// Conditions every Message's `createdAt` meets.
    pub created_at: Vec<TextBound>,
}

impl MessageSelection {
    /// Whether anything narrows the selection below the whole project.
    pub fn is_narrowed(&self) -> bool {
        self.types.is_some() || !self.created_at.is_empty()
    }

    /// Whether a Message of `message_type` created at `created_at` (the
    /// Message's text) is selected.
    pub fn holds(&self, message_type: &str, created_at: &str) -> bool {
        self.types.as_ref().is_none_or(|t| t.contains(message_type))
            && self.created_at.iter().all(|b| b.holds(created_at))
    }
}

/// A condition on text, compared by code point (as the predicate language
/// compares strings).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TextBound {
    /// `> text`
    Above(String),
    /// `>= text`
    AtLeast(String),
    /// `< text`
    Below(String),
    /// `<= text`
    AtMost(String),
}

impl TextBound {
    /// Whether `text` meets the condition.
    pub fn holds(&self, text: &str) -> bool {
        match self {
            Self::Above(bound) => text > bound.as_str(),
            Self::AtLeast(bound) => text >= bound.as_str(),
            Self::Below(bound) => text < bound.as_str(),
            Self::AtMost(bound) => text <= bound.as_str(),
        }
    }
}

/// A Message found in the index: its event and the key its stream had at
/// that version.
#[derive(Clone, Debug, PartialEq)]
pub struct IndexedMessage {
    pub envelope: EventEnvelope,
    pub key: Option<String>,
}

/// The index rows of events appended to `stream` of `project`, given in
/// version order as (version, recorded at, event), when its Messages
/// named `key_before` until the first of them.
pub fn index_rows<'a>(
    project: &ProjectKey,
    stream: StreamId,
    key_before: Option<&'a str>,
    events: impl IntoIterator<Item = (u64, Timestamp, &'a Event)>,
) -> Vec<KvWrite> {
    let mut key = key_before;
    let mut rows = Vec::new();
    for (version, recorded_at, event) in events {
        key = message_key_after(event, key);
        let value = stored_key(key);
        let mut at = created_at_part(&format_timestamp(recorded_at));
        at.extend_from_slice(&entry_tail(stream, version));
        rows.push(KvWrite {
            table: Table::MessagesByType,
            key: [type_prefix(project, message_type(event)), at.clone()].concat(),
            value: Some(value.clone()),
        });
        rows.push(KvWrite {
            table: Table::MessagesByTime,
            key: [project_prefix(project), at].concat(),
            value: Some(value),
        });
    }
    rows
}

fn type_prefix(project: &ProjectKey, message_type: &str) -> Vec<u8> {
    let mut prefix = project_prefix(project);
    push_text(&mut prefix, message_type);
    prefix
}

/// `createdAt` as keys hold it: its text, then a 0 byte (never in a
/// timestamp), so the keys of one text sort together.
fn created_at_part(created_at: &str) -> Vec<u8> {
    let mut part = created_at.as_bytes().to_vec();
    part.push(0);
    part
}

const fn kind_byte(kind: StreamKind) -> u8 {
    match kind {
        StreamKind::Payment => 0,
        StreamKind::Order => 1,
    }
}

fn entry_tail(stream: StreamId, version: u64) -> [u8; ENTRY_TAIL_BYTES] {
    let mut tail = [0; ENTRY_TAIL_BYTES];
    tail[0] = kind_byte(stream.kind);
    tail[1..17].copy_from_slice(stream.id.as_bytes());
    tail[17..].copy_from_slice(&version.to_be_bytes());
    tail
}

fn stored_key(key: Option<&str>) -> Vec<u8> {
    match key {
        None => vec![0],
        Some(key) => [&[1][..], key.as_bytes()].concat(),
    }
}

/// The stream and version an index key ends with, and the key its value
/// holds.
fn decode_entry(key: &[u8], value: &[u8]) -> Option<(StreamId, u64, Option<String>)> {
    let tail = key.get(key.len().checked_sub(ENTRY_TAIL_BYTES)?..)?;
    let kind = StreamKind::ALL
        .into_iter()
        .find(|kind| kind_byte(*kind) == tail[0])?;
    let id: [u8; 16] = tail[1..17].try_into().ok()?;
    let version = u64::from_be_bytes(tail[17..].try_into().ok()?);
    let stored = match value.split_first()? {
        (0, []) => None,
        (1, text) => Some(String::from_utf8(text.to_vec()).ok()?),
        _ => return None,
    };
    Some((StreamId::from_bytes(kind, id), version, stored))
}

/// `bound` on text that holds no 0 byte, meeting the same texts as long
/// as they hold none either (as timestamps do). A bound text with a 0 at
/// `i` sorts above its first `i` bytes `p` and below everything else that
/// starts with `p`, so `>= t` and `> t` are `> p`, `<= t` and `< t` are
/// `<= p`.
fn without_zero(bound: &TextBound) -> TextBound {
    let (TextBound::Above(text)
    | TextBound::AtLeast(text)
    | TextBound::Below(text)
    | TextBound::AtMost(text)) = bound;
    let Some(zero) = text.find('\0') else {
        return bound.clone();
    };
    let before = text[..zero].to_owned();
    match bound {
        TextBound::Above(_) | TextBound::AtLeast(_) => TextBound::Above(before),
        TextBound::Below(_) | TextBound::AtMost(_) => TextBound::AtMost(before),
    }
}

/// The `createdAt · 0 · …` part of the keys within `bounds`: from
/// (inclusive) and to (exclusive; `None`: no end).
fn created_at_range(bounds: &[TextBound]) -> (Vec<u8>, Option<Vec<u8>>) {
    let mut from: Vec<u8> = Vec::new();
    let mut to: Option<Vec<u8>> = None;
    for bound in bounds.iter().map(without_zero) {
        // With a 0 after every stored text, `s >= t` is `key >= t` and
        // `s > t` is `key >= t · 1` (the least byte after 0).
        let past = |text: &str| [text.as_bytes(), &[1]].concat();
        match &bound {
            TextBound::AtLeast(text) => from = from.max(text.as_bytes().to_vec()),
            TextBound::Above(text) => from = from.max(past(text)),
            TextBound::Below(text) => to = Some(min_end(to, text.as_bytes().to_vec())),
            TextBound::AtMost(text) => to = Some(min_end(to, past(text))),
        }
    }
    (from, to)
}

fn min_end(current: Option<Vec<u8>>, end: Vec<u8>) -> Vec<u8> {
    match current {
        None => end,
        Some(current) => current.min(end),
    }
}

/// The key ranges (table, from, to) holding exactly the Messages of
/// `selection`, in the order they are read.
fn ranges(project: &ProjectKey, selection: &MessageSelection) -> Vec<(Table, Vec<u8>, Vec<u8>)> {
    let (from, to) = created_at_range(&selection.created_at);
    let within = |table: Table, prefix: Vec<u8>| {
        let start = [prefix.as_slice(), &from].concat();
        let end = to.as_ref().map_or_else(
            || prefix_end(&prefix),
            |to| [prefix.as_slice(), to].concat(),
        );
        (start < end).then_some((table, start, end))
    };
    match &selection.types {
        None => within(Table::MessagesByTime, project_prefix(project))
            .into_iter()
            .collect(),
        Some(types) => types
            .iter()
            .filter_map(|t| within(Table::MessagesByType, type_prefix(project, t)))
            .collect(),
    }
}

fn too_many(selection: &MessageSelection, max: usize) -> AppError {
    if selection.is_narrowed() {
        AppError::ScanLimit {
            what: "a Message query by type or createdAt",
            limit: "MESSAGE_SCAN_EVENTS_MAX",
            max,
            narrow: "narrow its createdAt range or its types, or pin one payment or order with resource(id = \"…\")",
        }
    } else {
        AppError::ScanLimit {
            what: "a Message query narrowed by neither type, createdAt nor resource(id = \"…\")",
            limit: "MESSAGE_SCAN_EVENTS_MAX",
            max,
            narrow: "narrow it by type or createdAt, or pin one payment or order with resource(id = \"…\")",
        }
    }
}

impl<S: EventStore + ?Sized> Ledger<S> {
    /// The Messages of `project` that `selection` holds, each with the key
    /// its stream had then, in index order; refused
    /// ([`AppError::ScanLimit`]) when there are more than `events_max`.
    pub fn messages(
        &self,
        project: &ProjectKey,
        selection: &MessageSelection,
        events_max: usize,
    ) -> Result<Vec<IndexedMessage>, AppError> {
        let mut rows: Vec<KeyValue> = Vec::new();
        for (table, from, to) in ranges(project, selection) {
            let room = events_max.saturating_sub(rows.len());
            let found = self
                .store()
                .scan(table, &from, &to, room.saturating_add(1))?;
            if found.len() > room {
                return Err(too_many(selection, events_max));
            }
            rows.extend(found);
        }
        rows.iter()
            .map(|(key, value)| self.indexed_message(key, value))
            .collect()
    }

    fn indexed_message(&self, key: &[u8], value: &[u8]) -> Result<IndexedMessage, AppError> {
        let (stream, version, stored_key) = decode_entry(key, value)
            .ok_or_else(|| corrupt_with("Message index row", &hex::encode(key)))?;
        let envelope = self
            .store()
            .read_stream(stream, VersionRange::new(version, version))?
            .pop()
            .filter(|e| e.version == version)
            .ok_or_else(|| corrupt_with("Message index row names no event", &stream))?;
        Ok(IndexedMessage {
            envelope,
            key: stored_key,
        })
    }
}

#[cfg(test)]
mod tests;
