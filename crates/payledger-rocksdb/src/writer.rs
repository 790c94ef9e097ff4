//! One writer thread per partition: group commit.
//!
//! The thread blocks for one request, then drains whatever else is queued
//! (up to [`GROUP_COMMIT_REQUESTS_MAX`] requests or
//! [`GROUP_COMMIT_EVENTS_MAX`] events), checks each request's expected
//! version in queue order against the heads as this group leaves them
//! (read from the store once, then kept in the partition's
//! [`KnownHeads`]: no one else writes its heads),
//! stamps the accepted ones into one `WriteBatch` and writes it with
//! `sync = true`. Only then are the group's events added to the
//! partition's [`LogTail`], its [`LogSignal`] notified and callers
//! answered. A failed write answers
//! every accepted request with the error and forgets the group, so the
//! in-memory sequence never runs ahead of what is durable.
//!
//! A full queue refuses an append before it is staged (nothing of it is
//! written), counted as `payledger_admission_refused_total{limit=
//! "APPEND_QUEUE_REQUESTS_MAX"}`.
//!
//! Each group is counted in the process metrics ([`payledger_metrics`]):
//! its requests, its write time with the fsync, the events it made durable
//! by kind, and the queue left behind it.

use crate::db::{cf, last_log_sequence, read_head, stage_table_write, write_synced};
use crate::keys::{self, CF_LOG};
use crate::known_heads::KnownHeads;
use crate::tail::LogTail;
use crossbeam_channel::{Receiver, Sender, TrySendError};
use payledger_domain::{EventEnvelope, StreamId};
use payledger_metrics::{KindLabels, Metrics, PartitionLabels, metrics};
use payledger_store::{
    AppendError, AppendRequest, Appended, Completion, LogSignal, PendingAppend, StoreError,
    StreamHead, completion, stamp,
};
use rocksdb::{DB, WriteBatch};
use std::collections::HashMap;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

/// Bound of each partition's append queue, in requests. A full queue
/// refuses new appends with `Overloaded` instead of growing.
pub const APPEND_QUEUE_REQUESTS_MAX: usize = 4_096;
/// Most requests committed in one group.
pub const GROUP_COMMIT_REQUESTS_MAX: usize = 1_024;
/// Most events committed in one group (a single larger request still
/// commits alone).
pub const GROUP_COMMIT_EVENTS_MAX: usize = 16_384;
struct Job {
    request: AppendRequest,
    done: Completion,
}

/// The queue and thread of one partition.
#[derive(Debug)]
pub(crate) struct PartitionWriter {
    partition: u16,
    queue: Option<Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("stream", &self.request.stream)
            .finish()
    }
}

impl PartitionWriter {
    pub(crate) fn start(
        db: Arc<DB>,
        partition: u16,
        queue_requests_max: usize,
        signal: Arc<LogSignal>,
        known: Arc<KnownHeads>,
    ) -> Result<(Self, Arc<LogTail>), StoreError> {
        let last_sequence = last_log_sequence(&db, partition)?;
        let tail = Arc::new(LogTail::after(last_sequence));
        let (queue, jobs) = crossbeam_channel::bounded(queue_requests_max);
        let mut state = WriterState {
            db,
            partition,
            last_sequence,
            signal,
            tail: Arc::clone(&tail),
            known,
            kinds: Vec::new(),
            staged: Vec::new(),
        };
        let thread = std::thread::Builder::new()
            .name(format!("writer-{partition}"))
            .spawn(move || state.run(&jobs))
            .map_err(|e| StoreError::Engine(format!("cannot start writer thread: {e}")))?;
        let writer = Self {
            partition,
            queue: Some(queue),
            thread: Some(thread),
        };
        Ok((writer, tail))
    }

    pub(crate) fn submit(&self, request: AppendRequest) -> PendingAppend {
        let (done, pending) = completion();
        let Some(queue) = &self.queue else {
            return PendingAppend::ready(Err(StoreError::ShuttingDown.into()));
        };
        match queue.try_send(Job { request, done }) {
            Ok(()) => pending,
            Err(TrySendError::Full(_)) => {
                metrics().refused("APPEND_QUEUE_REQUESTS_MAX");
                PendingAppend::ready(Err(AppendError::Overloaded {
                    partition: self.partition,
                }))
            }
            Err(TrySendError::Disconnected(_)) => {
                PendingAppend::ready(Err(StoreError::ShuttingDown.into()))
            }
        }
    }
}

impl Drop for PartitionWriter {
    fn drop(&mut self) {
        // Closing the queue lets the thread finish what is queued and exit.
        self.queue = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct WriterState {
    db: Arc<DB>,
    partition: u16,
    last_sequence: u64,
    signal: Arc<LogSignal>,
    tail: Arc<LogTail>,
    known: Arc<KnownHeads>,
    /// The kinds of the events staged in the current group.
    kinds: Vec<&'static str>,
    /// The events staged in the current group, for the tail.
    staged: Vec<EventEnvelope>,
}

/// A request accepted into the current group.
struct Accepted {
    appended: Appended,
    done: Completion,
}

impl WriterState {
    fn run(&mut self, jobs: &Receiver<Job>) {
        while let Ok(first) = jobs.recv() {
            let mut events = first.request.events.len();
            let mut group = vec![first];
            while group.len() < GROUP_COMMIT_REQUESTS_MAX && events < GROUP_COMMIT_EVENTS_MAX {
                match jobs.try_recv() {
                    Ok(job) => {
                        events += job.request.events.len();
                        group.push(job);
                    }
                    Err(_) => break,
                }
            }
            Metrics::set_partition(
                &metrics().append_queue_depth,
                self.partition,
                jobs.len() as u64,
            );
            self.commit(group);
        }
    }

    fn commit(&mut self, group: Vec<Job>) {
        let mut batch = WriteBatch::default();
        let mut heads: HashMap<StreamId, StreamHead> = HashMap::new();
        let mut accepted = Vec::with_capacity(group.len());
        let sequence_before = self.last_sequence;
        self.kinds.clear();
        self.staged.clear();
        for Job { request, done } in group {
            match self.stage(&mut batch, &mut heads, request) {
                Ok(appended) => accepted.push(Accepted { appended, done }),
                Err(refused) => {
                    let _ = done.send(Err(refused));
                }
            }
        }
        if accepted.is_empty() {
            return;
        }
        let started = Instant::now();
        let outcome = self.write(batch, &heads);
        match outcome {
            Ok(()) => {
                // Known before any caller hears back, so a reader that
                // trusts the known head never misses an acknowledged write.
                self.known.keep_all(heads);
                self.count(accepted.len(), started);
                // Readable now: consumers may look before callers hear back.
                self.tail.extend(self.staged.drain(..));
                self.signal.notify(self.partition);
                for Accepted { appended, done } in accepted {
                    let _ = done.send(Ok(appended));
                }
            }
            Err(error) => {
                tracing::error!(partition = self.partition, %error, "group commit failed");
                self.last_sequence = sequence_before;
                let message = error.to_string();
                for Accepted { done, .. } in accepted {
                    let _ = done.send(Err(StoreError::Engine(message.clone()).into()));
                }
            }
        }
    }

    /// Checks one request against the heads as the group leaves them and, if
    /// its expected version matches, adds its events to the batch.
    fn stage(
        &mut self,
        batch: &mut WriteBatch,
        heads: &mut HashMap<StreamId, StreamHead>,
        request: AppendRequest,
    ) -> Result<Appended, AppendError> {
        let head = match heads.get(&request.stream) {
            Some(head) => Some(*head),
            None => match self.known.get(request.stream) {
                Some(head) => Some(head),
                None => read_head(&self.db, request.stream)?,
            },
        };
        let current_version = head.map_or(0, |h| h.version);
        if current_version != request.expected_version {
            return Err(AppendError::Conflict { current_version });
        }
        // Everything that can fail happens before the batch is touched, so a
        // refused request never leaves part of itself in the group's batch.
        let events_cf = cf(&self.db, keys::events_cf(request.stream.kind))?;
        let log_cf = cf(&self.db, CF_LOG)?;
        let table_cfs = request
            .inline
            .iter()
            .map(|write| cf(&self.db, keys::table_cf(write.table)))
            .collect::<Result<Vec<_>, _>>()?;
        let stamped = stamp(
            request.stream,
            head,
            self.partition,
            self.last_sequence,
            request.events,
        );
        self.last_sequence = stamped.head_sequence();
        for event in stamped.events {
            let envelope = event.envelope;
            self.kinds.push(envelope.event.kind());
            batch.put_cf(
                events_cf,
                keys::event_key(request.stream, envelope.version),
                &event.encoded,
            );
            batch.put_cf(
                log_cf,
                keys::log_key(self.partition, envelope.partition_sequence),
                keys::log_value(request.stream, envelope.version),
            );
            self.staged.push(envelope);
        }
        for (table_cf, write) in table_cfs.into_iter().zip(request.inline) {
            stage_table_write(batch, table_cf, write);
        }
        heads.insert(request.stream, stamped.head);
        Ok(stamped.appended)
    }

    /// Records a durable group of `requests` written since `started`.
    fn count(&mut self, requests: usize, started: Instant) {
        let m = metrics();
        let partition = PartitionLabels {
            partition: self.partition,
        };
        m.append_groups.get_or_create(&partition).inc();
        (m.append_group_requests.get_or_create(&partition)).observe(requests as f64);
        (m.append_commit_duration.get_or_create(&partition))
            .observe(started.elapsed().as_secs_f64());
        self.kinds.sort_unstable();
        for run in self.kinds.chunk_by(|a, b| a == b) {
            let kind = KindLabels {
                kind: run[0].to_owned(),
            };
            m.events_appended
                .get_or_create(&kind)
                .inc_by(run.len() as u64);
        }
    }

    fn write(
        &self,
        mut batch: WriteBatch,
        heads: &HashMap<StreamId, StreamHead>,
    ) -> Result<(), StoreError> {
        for (stream, head) in heads {
            let heads_cf = cf(&self.db, keys::heads_cf(stream.kind))?;
            batch.put_cf(heads_cf, stream.id_bytes(), keys::encode_head(head));
        }
        // Durability is the contract: never answer before the fsync.
        write_synced(&self.db, batch)
    }
}
