//! One writer thread for every partition: group commit.
//!
//! The thread blocks for one request, then drains whatever else is queued
//! (up to [`GROUP_COMMIT_REQUESTS_MAX`] requests or
//! [`GROUP_COMMIT_EVENTS_MAX`] events), checks each request's expected
//! version in queue order against the heads as this group leaves them
//! (read from the store once, then kept in the partition's
//! [`KnownHeads`]: no one else writes its heads),
//! stamps the accepted ones into one `WriteBatch`, each at the next
//! sequence of its partition's log, and writes it with `sync = true`.
//! Only then are the group's events added to their partitions'
//! [`LogTail`]s, those partitions notified on the [`LogSignal`] and callers
//! answered. A failed write answers
//! every accepted request with the error and forgets the group, so no
//! in-memory sequence ever runs ahead of what is durable.
//!
//! One thread, not one per partition: RocksDB groups concurrent writers
//! itself, but a member of its group spins before it sleeps, and on few
//! cores sixteen writers spent more in that than the group saved
//! (BENCHMARKS.md "HTTP API", ninth session).
//!
//! Each partition's queued appends are bounded
//! ([`APPEND_QUEUE_REQUESTS_MAX`] by default): one more is refused before
//! it is staged (nothing of it is written), counted as
//! `payledger_admission_refused_total{limit="APPEND_QUEUE_REQUESTS_MAX"}`.
//!
//! Each group is counted in the process metrics ([`payledger_metrics`]),
//! per partition it wrote to: its requests, its write time with the fsync,
//! and the queue left behind it; and the events it made durable by kind.
//! Each durable append records its time from the hand-over to the
//! writer: what a caller waited for the store, its queue included.

use crate::db::{cf, last_log_sequence, read_head, stage_table_write, write_synced};
use crate::keys::{self, CF_LOG};
use crate::known_heads::KnownHeads;
use crate::tail::LogTail;
use crossbeam_channel::{Receiver, Sender};
use payledger_domain::{EventEnvelope, StreamId};
use payledger_metrics::{KindLabels, Metrics, PartitionLabels, metrics};
use payledger_store::{
    AppendError, AppendRequest, Appended, Completion, LogSignal, PendingAppend, StoreError,
    StreamHead, completion, stamp,
};
use rocksdb::{DB, WriteBatch};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::Instant;

/// Bound of each partition's queued appends, in requests. One more is
/// refused with `Overloaded` instead of growing the queue.
pub const APPEND_QUEUE_REQUESTS_MAX: usize = 4_096;
/// Most requests committed in one group.
pub const GROUP_COMMIT_REQUESTS_MAX: usize = 1_024;
/// Most events committed in one group (a single larger request still
/// commits alone).
pub const GROUP_COMMIT_EVENTS_MAX: usize = 16_384;

struct Job {
    partition: u16,
    request: AppendRequest,
    done: Completion,
    /// When it was handed to the writer.
    submitted: Instant,
}

/// The queue and thread that write every partition.
#[derive(Debug)]
pub(crate) struct Writer {
    queue: Option<Sender<Job>>,
    /// Appends queued per partition, against `queue_requests_max`.
    queued: Arc<[AtomicUsize]>,
    queue_requests_max: usize,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Job {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Job")
            .field("partition", &self.partition)
            .field("stream", &self.request.stream)
            .finish()
    }
}

impl Writer {
    /// Starts the thread for partitions `0..known.len()`, each with its
    /// known heads; returns the writer and each partition's log tail.
    pub(crate) fn start(
        db: Arc<DB>,
        known: &[Arc<KnownHeads>],
        queue_requests_max: usize,
        signal: Arc<LogSignal>,
    ) -> Result<(Self, Vec<Arc<LogTail>>), StoreError> {
        let partitions = (0..)
            .zip(known)
            .map(|(partition, known)| {
                let last_sequence = last_log_sequence(&db, partition)?;
                Ok(PartitionState {
                    partition,
                    last_sequence,
                    tail: Arc::new(LogTail::after(last_sequence)),
                    known: Arc::clone(known),
                    staged: Vec::new(),
                    requests: 0,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        let tails = partitions.iter().map(|p| Arc::clone(&p.tail)).collect();
        let queued: Arc<[AtomicUsize]> = partitions.iter().map(|_| AtomicUsize::new(0)).collect();
        let (queue, jobs) = crossbeam_channel::unbounded();
        let mut state = WriterState {
            db,
            signal,
            partitions,
            queued: Arc::clone(&queued),
            kinds: Vec::new(),
        };
        let thread = std::thread::Builder::new()
            .name("writer".to_owned())
            .spawn(move || state.run(&jobs))
            .map_err(|e| StoreError::Engine(format!("cannot start the writer thread: {e}")))?;
        let writer = Self {
            queue: Some(queue),
            queued,
            queue_requests_max,
            thread: Some(thread),
        };
        Ok((writer, tails))
    }

    pub(crate) fn submit(&self, partition: u16, request: AppendRequest) -> PendingAppend {
        let (done, pending) = completion();
        let (Some(queue), Some(queued)) = (&self.queue, self.queued.get(usize::from(partition)))
        else {
            return PendingAppend::ready(Err(StoreError::ShuttingDown.into()));
        };
        if queued.fetch_add(1, Ordering::AcqRel) >= self.queue_requests_max {
            queued.fetch_sub(1, Ordering::AcqRel);
            metrics().refused("APPEND_QUEUE_REQUESTS_MAX");
            return PendingAppend::ready(Err(AppendError::Overloaded { partition }));
        }
        let job = Job {
            partition,
            request,
            done,
            submitted: Instant::now(),
        };
        match queue.send(job) {
            Ok(()) => pending,
            Err(_) => {
                queued.fetch_sub(1, Ordering::AcqRel);
                PendingAppend::ready(Err(StoreError::ShuttingDown.into()))
            }
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        // Closing the queue lets the thread finish what is queued and exit.
        self.queue = None;
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the writer keeps of one partition.
struct PartitionState {
    partition: u16,
    last_sequence: u64,
    tail: Arc<LogTail>,
    known: Arc<KnownHeads>,
    /// The events staged in the current group, for the tail.
    staged: Vec<EventEnvelope>,
    /// The requests accepted in the current group.
    requests: usize,
}

struct WriterState {
    db: Arc<DB>,
    signal: Arc<LogSignal>,
    partitions: Vec<PartitionState>,
    queued: Arc<[AtomicUsize]>,
    /// The kinds of the events staged in the current group.
    kinds: Vec<&'static str>,
}

/// A request accepted into the current group.
struct Accepted {
    appended: Appended,
    done: Completion,
    partition: u16,
    submitted: Instant,
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
            for job in &group {
                if let Some(queued) = self.queued.get(usize::from(job.partition)) {
                    queued.fetch_sub(1, Ordering::AcqRel);
                }
            }
            self.commit(group);
        }
    }

    fn commit(&mut self, group: Vec<Job>) {
        let mut batch = WriteBatch::default();
        let mut heads: HashMap<StreamId, StreamHead> = HashMap::new();
        let mut accepted = Vec::with_capacity(group.len());
        let sequences_before: Vec<u64> = self.partitions.iter().map(|p| p.last_sequence).collect();
        self.kinds.clear();
        for partition in &mut self.partitions {
            partition.staged.clear();
            partition.requests = 0;
        }
        for Job {
            partition,
            request,
            done,
            submitted,
        } in group
        {
            match self.stage(&mut batch, &mut heads, partition, request) {
                Ok(appended) => accepted.push(Accepted {
                    appended,
                    done,
                    partition,
                    submitted,
                }),
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
                for (stream, head) in heads {
                    if let Some(partition) = self.partitions.get(usize::from(head.partition)) {
                        partition.known.keep_all([(stream, head)]);
                    }
                }
                self.count(started);
                // Readable now: consumers may look before callers hear back.
                for partition in &mut self.partitions {
                    if !partition.staged.is_empty() {
                        partition.tail.extend(partition.staged.drain(..));
                        self.signal.notify(partition.partition);
                    }
                }
                let durable = Instant::now();
                let m = metrics();
                for Accepted {
                    appended,
                    done,
                    partition,
                    submitted,
                } in accepted
                {
                    let _ = done.send(Ok(appended));
                    m.append_durable(partition, (durable - submitted).as_secs_f64());
                }
            }
            Err(error) => {
                tracing::error!(%error, "group commit failed");
                for (partition, before) in self.partitions.iter_mut().zip(sequences_before) {
                    partition.last_sequence = before;
                }
                let message = error.to_string();
                for Accepted { done, .. } in accepted {
                    let _ = done.send(Err(StoreError::Engine(message.clone()).into()));
                }
            }
        }
    }

    /// Checks one request against the heads as the group leaves them and, if
    /// its expected version matches, adds its events to the batch at the
    /// next sequences of `partition`'s log.
    fn stage(
        &mut self,
        batch: &mut WriteBatch,
        heads: &mut HashMap<StreamId, StreamHead>,
        partition: u16,
        request: AppendRequest,
    ) -> Result<Appended, AppendError> {
        let Some(state) = self.partitions.get_mut(usize::from(partition)) else {
            return Err(StoreError::Engine(format!("no partition {partition}")).into());
        };
        let head = match heads.get(&request.stream) {
            Some(head) => Some(*head),
            None => match state.known.get(request.stream) {
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
            partition,
            state.last_sequence,
            request.events,
        );
        state.last_sequence = stamped.head_sequence();
        state.requests += 1;
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
                keys::log_key(partition, envelope.partition_sequence),
                keys::log_value(request.stream, envelope.version),
            );
            state.staged.push(envelope);
        }
        for (table_cf, write) in table_cfs.into_iter().zip(request.inline) {
            stage_table_write(batch, table_cf, write);
        }
        heads.insert(request.stream, stamped.head);
        Ok(stamped.appended)
    }

    /// Records a durable group written since `started`, per partition it
    /// wrote to.
    fn count(&mut self, started: Instant) {
        let m = metrics();
        let seconds = started.elapsed().as_secs_f64();
        for state in self.partitions.iter().filter(|p| p.requests > 0) {
            let partition = PartitionLabels {
                partition: state.partition,
            };
            m.append_groups.get_or_create(&partition).inc();
            (m.append_group_requests.get_or_create(&partition)).observe(state.requests as f64);
            (m.append_commit_duration.get_or_create(&partition)).observe(seconds);
            let queued = self
                .queued
                .get(usize::from(state.partition))
                .map_or(0, |q| q.load(Ordering::Acquire));
            Metrics::set_partition(&m.append_queue_depth, state.partition, queued as u64);
        }
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
