//! Checking the stored history from its bytes: every stream's hash chain
//! and versions, every head against its stream's last event, every
//! partition log gap-free and pointing at events that say they are there,
//! and one root digest over all streams' heads.
//!
//! The events are read in key order (one stream after another, versions
//! in order) and the logs partition by partition, both sequentially. That
//! the logs and the events name the same positions is checked with a
//! multiset digest per partition (a wrapping sum of a hash per position),
//! so neither side is held in memory; only when a partition's digests
//! differ does a second pass with point reads name the first entry that
//! is wrong.

use crate::db::{cf, engine, read_options};
use crate::keys::{self, CF_LOG, EventKey};
use crate::rebuild::OnStream;
use crate::store::RocksStore;
use payledger_domain::{EventEnvelope, StreamId, StreamKind};
use payledger_store::{
    EventStore, GENESIS_HASH, StoreError, StreamHead, envelope_hash, partition_of,
};
use rocksdb::IteratorMode;
use sha2::{Digest, Sha256};
use std::fmt;

/// Where a check failed.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Link {
    /// Version `version` of a stream (its event, or its link to the
    /// version before).
    Event { stream: StreamId, version: u64 },
    /// A stream's head.
    Head { stream: StreamId },
    /// An entry of a partition's log.
    Log { partition: u16, sequence: u64 },
}

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Event { stream, version } => write!(f, "{stream} version {version}"),
            Self::Head { stream } => write!(f, "{stream} head"),
            Self::Log {
                partition,
                sequence,
            } => write!(f, "log of partition {partition} sequence {sequence}"),
        }
    }
}

/// The first broken link found: where, what was checked, and the two
/// sides that differ.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BrokenLink {
    pub link: Link,
    pub check: String,
    pub expected: String,
    pub found: String,
}

impl fmt::Display for BrokenLink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "broken link at {}: {}: expected {}, found {}",
            self.link, self.check, self.expected, self.found
        )
    }
}

impl BrokenLink {
    pub fn new(
        link: Link,
        check: impl Into<String>,
        expected: impl fmt::Display,
        found: impl fmt::Display,
    ) -> Self {
        Self {
            link,
            check: check.into(),
            expected: expected.to_string(),
            found: found.to_string(),
        }
    }
}

/// Why an audit stopped.
#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{0}")]
    Broken(BrokenLink),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<BrokenLink> for AuditError {
    fn from(broken: BrokenLink) -> Self {
        Self::Broken(broken)
    }
}

/// What a clean audit checked.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct AuditSummary {
    pub streams: u64,
    pub events: u64,
    pub log_entries: u64,
    pub partitions: u16,
    /// SHA-256 over every stream's kind, id, version and last hash, in
    /// kind then id order ([`root_digest_entry`]).
    pub root: [u8; 32],
}

/// The bytes one stream adds to the root digest: kind tag (payment 0,
/// order 1), id (16), version (u64 big-endian), last hash (32).
pub fn root_digest_entry(stream: StreamId, head: &StreamHead) -> [u8; 57] {
    let mut entry = [0u8; 57];
    entry[0] = kind_index(stream.kind);
    entry[1..17].copy_from_slice(stream.id_bytes());
    entry[17..25].copy_from_slice(&head.version.to_be_bytes());
    entry[25..57].copy_from_slice(&head.last_hash);
    entry
}

fn kind_index(kind: StreamKind) -> u8 {
    match kind {
        StreamKind::Payment => 0,
        StreamKind::Order => 1,
    }
}

/// The multiset digest of log positions of one partition.
#[derive(Clone, Copy, Default, PartialEq, Eq, Debug)]
struct PositionDigest {
    count: u64,
    sum: u128,
}

impl PositionDigest {
    fn add(&mut self, partition: u16, sequence: u64, event: &EventKey, kind: StreamKind) {
        let mut hasher = Sha256::new();
        hasher.update(partition.to_be_bytes());
        hasher.update(sequence.to_be_bytes());
        hasher.update([kind_index(kind)]);
        hasher.update(event);
        let hash = hasher.finalize();
        let mut low = [0u8; 16];
        low.copy_from_slice(&hash[..16]);
        self.count += 1;
        self.sum = self.sum.wrapping_add(u128::from_le_bytes(low));
    }
}

/// The stream being read and what its events established so far.
struct StreamScan {
    stream: StreamId,
    version: u64,
    last_hash: [u8; 32],
    partition: u16,
    events: Vec<EventEnvelope>,
}

impl RocksStore {
    /// Checks the whole stored history. `on_stream` sees every stream's
    /// events once its chain checked out, with the number of events read so
    /// far (for progress, and for checks of what the events derive); its
    /// error stops the audit.
    pub fn audit(
        &self,
        on_stream: &mut OnStream<'_, AuditError>,
    ) -> Result<AuditSummary, AuditError> {
        let partitions = self.partition_count();
        let mut digests = vec![PositionDigest::default(); usize::from(partitions)];
        let mut root = Sha256::new();
        let (mut streams, mut events) = (0u64, 0u64);
        for kind in StreamKind::ALL {
            let mut heads = self.heads(kind)?.into_iter().peekable();
            self.each_raw_stream(kind, &mut |stream, raw| -> Result<(), AuditError> {
                // Heads sort like streams: one before this stream has no events.
                if let Some((id, _)) = heads.next_if(|(id, _)| id < stream.id_bytes()) {
                    return Err(headless(kind, id).into());
                }
                let mut scan = StreamScan {
                    stream,
                    version: 0,
                    last_hash: GENESIS_HASH,
                    partition: partition_of(stream, partitions),
                    events: Vec::with_capacity(raw.len()),
                };
                for (version, bytes) in &raw {
                    let envelope = check_event(&scan, *version, bytes)?;
                    digests[usize::from(scan.partition)].add(
                        envelope.partition,
                        envelope.partition_sequence,
                        &keys::event_key(stream, *version),
                        kind,
                    );
                    scan.version = *version;
                    scan.last_hash = envelope_hash(bytes);
                    scan.events.push(envelope);
                }
                events += raw.len() as u64;
                let expected = StreamHead {
                    version: scan.version,
                    last_hash: scan.last_hash,
                    partition: scan.partition,
                };
                let link = Link::Head { stream };
                match heads.next_if(|(id, _)| id == stream.id_bytes()) {
                    None => {
                        return Err(BrokenLink::new(
                            link,
                            "every stream has a head",
                            describe_head(&expected),
                            "no head",
                        )
                        .into());
                    }
                    Some((_, head)) if head != expected => {
                        return Err(BrokenLink::new(
                            link,
                            "the head is the last event",
                            describe_head(&expected),
                            describe_head(&head),
                        )
                        .into());
                    }
                    Some(_) => {}
                }
                root.update(root_digest_entry(stream, &expected));
                streams += 1;
                on_stream(stream, &mut scan.events, events)
            })?;
            if let Some((id, _)) = heads.next() {
                return Err(headless(kind, id).into());
            }
        }
        let mut log_entries = 0;
        for partition in 0..partitions {
            let (digest, entries) = self.log_digest(partition)?;
            if digest != digests[usize::from(partition)] {
                return Err(self.name_log_mismatch(partition)?.into());
            }
            log_entries += entries;
        }
        Ok(AuditSummary {
            streams,
            events,
            log_entries,
            partitions,
            root: root.finalize().into(),
        })
    }

    /// Every head of `kind`, in id order.
    fn heads(&self, kind: StreamKind) -> Result<Vec<([u8; 16], StreamHead)>, StoreError> {
        let iter = self.db().iterator_cf_opt(
            cf(self.db(), keys::heads_cf(kind))?,
            read_options(),
            IteratorMode::Start,
        );
        iter.map(|entry| {
            let (key, value) = entry.map_err(engine)?;
            let id: [u8; 16] = key
                .as_ref()
                .try_into()
                .map_err(|_| StoreError::Corrupt("malformed head key".into()))?;
            let head = keys::decode_head(&value)
                .ok_or_else(|| StoreError::Corrupt("malformed stream head".into()))?;
            Ok((id, head))
        })
        .collect()
    }

    /// The digest of one partition's log, checking its sequences are
    /// 1, 2, 3, … with no gap.
    fn log_digest(&self, partition: u16) -> Result<(PositionDigest, u64), AuditError> {
        let mut digest = PositionDigest::default();
        for entry in self.log_entries(partition)? {
            let (sequence, kind, event) = entry?;
            let expected = digest.count + 1;
            if sequence != expected {
                return Err(BrokenLink::new(
                    Link::Log {
                        partition,
                        sequence: expected,
                    },
                    "log sequences have no gap",
                    format!("sequence {expected}"),
                    format!("sequence {sequence} next"),
                )
                .into());
            }
            digest.add(partition, sequence, &event, kind);
        }
        Ok((digest, digest.count))
    }

    /// The entries of a partition's log: sequence, kind and event key.
    fn log_entries(
        &self,
        partition: u16,
    ) -> Result<
        impl Iterator<Item = Result<(u64, StreamKind, EventKey), AuditError>> + '_,
        StoreError,
    > {
        let mut read = read_options();
        read.set_iterate_lower_bound(keys::log_key(partition, 0));
        read.set_iterate_upper_bound(keys::log_key(partition, u64::MAX));
        let iter = self
            .db()
            .iterator_cf_opt(cf(self.db(), CF_LOG)?, read, IteratorMode::Start);
        Ok(iter.map(|entry| {
            let (key, value) = entry.map_err(engine)?;
            let sequence = keys::log_key_sequence(&key)
                .ok_or_else(|| StoreError::Corrupt("malformed log key".into()))?;
            let (kind, event) = keys::log_value_event_key(&value)
                .ok_or_else(|| StoreError::Corrupt("malformed log value".into()))?;
            Ok((sequence, kind, event))
        }))
    }

    /// Names the first entry of `partition` on which its log and its
    /// events disagree: a log entry pointing at a missing event or at one
    /// that says another position, else an event whose position has no
    /// log entry.
    fn name_log_mismatch(&self, partition: u16) -> Result<BrokenLink, AuditError> {
        for entry in self.log_entries(partition)? {
            let (sequence, kind, event) = entry?;
            let (id, version) = keys::parse_event_key(&event)
                .ok_or_else(|| StoreError::Corrupt("malformed log value".into()))?;
            let stream = StreamId::from_bytes(kind, id);
            let link = Link::Log {
                partition,
                sequence,
            };
            let pointed = format!("{stream} version {version}");
            let Some(bytes) = self
                .db()
                .get_cf_opt(
                    cf(self.db(), keys::events_cf(kind))?,
                    event,
                    &read_options(),
                )
                .map_err(engine)?
            else {
                return Ok(BrokenLink::new(
                    link,
                    "the log points at a stored event",
                    pointed,
                    "no such event",
                ));
            };
            let envelope = payledger_codec::decode_envelope(&bytes)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            if (envelope.partition, envelope.partition_sequence) != (partition, sequence) {
                return Ok(BrokenLink::new(
                    link,
                    "the event the log points at says this position",
                    format!("{pointed} at partition {partition} sequence {sequence}"),
                    format!(
                        "partition {} sequence {}",
                        envelope.partition, envelope.partition_sequence
                    ),
                ));
            }
        }
        for kind in StreamKind::ALL {
            let iter = self.db().iterator_cf_opt(
                cf(self.db(), keys::events_cf(kind))?,
                read_options(),
                IteratorMode::Start,
            );
            for entry in iter {
                let (key, value) = entry.map_err(engine)?;
                let envelope = payledger_codec::decode_envelope(&value)
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                if envelope.partition != partition {
                    continue;
                }
                let logged = self
                    .db()
                    .get_cf_opt(
                        cf(self.db(), CF_LOG)?,
                        keys::log_key(partition, envelope.partition_sequence),
                        &read_options(),
                    )
                    .map_err(engine)?;
                let expected = keys::log_value(envelope.stream, envelope.version);
                if logged.as_deref() != Some(expected.as_ref()) {
                    let (_, version) = keys::parse_event_key(&key).unwrap_or_default();
                    return Ok(BrokenLink::new(
                        Link::Event {
                            stream: envelope.stream,
                            version,
                        },
                        "the log holds the event at its position",
                        format!(
                            "partition {partition} sequence {} pointing here",
                            envelope.partition_sequence
                        ),
                        match logged {
                            None => "no log entry".to_owned(),
                            Some(_) => "an entry pointing elsewhere".to_owned(),
                        },
                    ));
                }
            }
        }
        Err(StoreError::Corrupt(format!(
            "the log of partition {partition} and its events differ, but no single entry was found"
        ))
        .into())
    }
}

/// A head of `kind` whose stream has no events.
fn headless(kind: StreamKind, id: [u8; 16]) -> BrokenLink {
    BrokenLink::new(
        Link::Head {
            stream: StreamId::from_bytes(kind, id),
        },
        "a head needs events",
        "at least version 1",
        "no events",
    )
}

fn describe_head(head: &StreamHead) -> String {
    format!(
        "version {} hash {} partition {}",
        head.version,
        hex::encode(head.last_hash),
        head.partition
    )
}

/// Checks one stored event against the stream as read so far and decodes
/// it.
fn check_event(scan: &StreamScan, version: u64, bytes: &[u8]) -> Result<EventEnvelope, BrokenLink> {
    let stream = scan.stream;
    let expected_version = scan.version + 1;
    if version != expected_version {
        return Err(BrokenLink::new(
            Link::Event {
                stream,
                version: expected_version,
            },
            "versions have no gap",
            format!("version {expected_version}"),
            format!("version {version} next"),
        ));
    }
    let link = Link::Event { stream, version };
    let envelope = payledger_codec::decode_envelope(bytes).map_err(|error| {
        BrokenLink::new(
            link.clone(),
            "the event decodes",
            "a stored event envelope",
            error,
        )
    })?;
    if (envelope.stream, envelope.version) != (stream, version) {
        return Err(BrokenLink::new(
            link,
            "the event names its place",
            format!("{stream} version {version}"),
            format!("{} version {}", envelope.stream, envelope.version),
        ));
    }
    if envelope.previous_hash != scan.last_hash {
        return Err(BrokenLink::new(
            link,
            "the previous hash is the hash of the version before",
            hex::encode(scan.last_hash),
            hex::encode(envelope.previous_hash),
        ));
    }
    if envelope.partition != scan.partition {
        return Err(BrokenLink::new(
            link,
            "the event is in its stream's partition",
            format!("partition {}", scan.partition),
            format!("partition {}", envelope.partition),
        ));
    }
    Ok(envelope)
}

#[cfg(test)]
mod tests;
