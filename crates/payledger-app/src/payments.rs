//! Payment use cases: create, update, delete and read.
//!
//! A command runs in two steps. [`Ledger::prepare`] (blocking: store reads
//! and pure deciding) loads the view (its header, and its rows unless the
//! view cache holds it at that version), checks the version and the
//! idempotency record, decides the events, folds them into the new view,
//! claims and checks every unique value it will index, and builds one
//! append carrying the events plus the inline writes: the view's header and
//! changed rows, the index changes, event-id lookups and the idempotency
//! record. [`Prepared::commit`] (async) submits that append and waits until
//! it is durable. The view therefore never lags its events, and a client
//! reads its own writes.

use crate::catalog::StoredCatalog;
use crate::error::AppError;
use crate::idempotency::{
    IDEMPOTENCY_KEY_BYTES_MAX, Idempotency, PaymentAnswer, PaymentAnswerKind,
};
use crate::snapshots::SnapshotRows;
use crate::table_keys;
use crate::unique_claims::{ClaimGuard, UniqueClaims, claimed_in, table_claim};
use crate::views::{self, StoredView, ViewCache};
pub(crate) use indexes::index_writes;
use indexes::{duplicate, unique_values};
use payledger_domain::command::PaymentDraftInput;
use payledger_domain::decide::{Context, IdSource};
use payledger_domain::{
    Actor, Catalog, Event, EventId, EventMeta, Payment, PaymentId, ProjectKey, Recorded, StreamId,
    Timestamp, TransactionId, UpdateAction, decide_create, decide_delete, decide_update_with_state,
    evolve_recorded, fold, stamp_decided,
};
use payledger_store::memory_only::memory_only;
use payledger_store::{
    AppendRequest, EventStore, KvWrite, NewEvent, StoreError, Table, VersionRange,
};
use std::convert::Infallible;
use std::sync::Arc;

/// Who asks, when, and under which correlation and idempotency key.
#[derive(Clone, Debug)]
pub struct CommandMeta {
    pub project: ProjectKey,
    pub actor: Actor,
    pub now: Timestamp,
    pub correlation_id: Option<String>,
    pub idempotency: Option<Idempotency>,
}

impl CommandMeta {
    /// The decided `events` with this command's metadata, ready to append.
    /// They are recorded no earlier than `not_before` (the stream's last
    /// event), so a stream's times never go back even when the clock does:
    /// as-of reads by time rely on it.
    pub(crate) fn new_events(
        &self,
        not_before: Option<Timestamp>,
        events: impl IntoIterator<Item = Event>,
    ) -> Vec<NewEvent> {
        let recorded_at = not_before.map_or(self.now, |last| self.now.max(last));
        events
            .into_iter()
            .map(|event| NewEvent {
                meta: EventMeta {
                    event_id: new_event_id(),
                    project: self.project.clone(),
                    recorded_at,
                    actor: self.actor.clone(),
                    correlation_id: self.correlation_id.clone(),
                    idempotency_key: self.idempotency.as_ref().map(|i| i.key.clone()),
                },
                event,
            })
            .collect()
    }
}

/// A payment named by id or by key.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum PaymentRef {
    Id(PaymentId),
    Key(String),
}

/// What a command asks for.
#[derive(Clone, Debug)]
pub enum PaymentCommand {
    Create(Box<PaymentDraftInput>),
    Update {
        target: PaymentRef,
        version: u64,
        actions: Vec<UpdateAction>,
    },
    Delete {
        target: PaymentRef,
        version: u64,
        data_erasure: bool,
    },
    /// An update of a payment the caller has just read (internal actors
    /// that decide their actions from the view, [`Ledger::stored_view`]):
    /// not read again; a change in between makes the append's expected
    /// version conflict.
    UpdateLoaded {
        view: StoredView,
        actions: Vec<UpdateAction>,
    },
}

/// What a committed (or replayed) command left: the payment.
#[derive(Clone, Debug)]
pub struct Committed {
    pub payment: Arc<Payment>,
    /// True when the answer is the replay of an earlier identical request.
    pub replayed: bool,
}

/// A command to run, named by the reading half of
/// [`Ledger::execute_planned`], with table writes for its append.
#[derive(Debug)]
pub struct Planned {
    pub meta: CommandMeta,
    pub command: PaymentCommand,
    pub inline: Vec<KvWrite>,
}

/// A decided command, ready to commit.
#[derive(Debug)]
pub struct Prepared {
    /// The project of the payment (the view cache keeps it).
    project: ProjectKey,
    append: Option<AppendRequest>,
    /// Written outside any stream when the command changed nothing.
    standalone: Vec<KvWrite>,
    outcome: Committed,
    _claims: Option<ClaimGuard>,
}

/// The payment use cases over one store.
#[derive(Debug)]
pub struct Ledger<S: ?Sized> {
    store: Arc<S>,
    claims: UniqueClaims,
    views: Arc<ViewCache>,
}

impl<S: ?Sized> Clone for Ledger<S> {
    fn clone(&self) -> Self {
        Self {
            store: Arc::clone(&self.store),
            claims: self.claims.clone(),
            views: Arc::clone(&self.views),
        }
    }
}

/// Random transaction ids for production commands.
mod indexes;

struct RandomIds;

/// What a command decided: its events, the view it was decided against
/// (none for a create) and, for an update, the payment after the events
/// (without version and stamps) that decide worked on.
struct Decided {
    kind: PaymentAnswerKind,
    stored: Option<StoredView>,
    events: Vec<Event>,
    working: Option<Payment>,
}

impl Decided {
    fn new(kind: PaymentAnswerKind, stored: Option<StoredView>, events: Vec<Event>) -> Self {
        Self {
            kind,
            stored,
            events,
            working: None,
        }
    }
}

impl IdSource for RandomIds {
    fn next_transaction_id(&mut self) -> TransactionId {
        TransactionId::from_uuid(uuid::Uuid::new_v4())
    }
}

impl<S: EventStore + ?Sized> Ledger<S> {
    pub fn new(store: Arc<S>) -> Self {
        Self {
            store,
            claims: UniqueClaims::default(),
            views: Arc::default(),
        }
    }

    /// The cache of recent views (read and written by every command).
    pub fn view_cache(&self) -> &ViewCache {
        &self.views
    }

    /// The store underneath.
    pub fn store(&self) -> &Arc<S> {
        &self.store
    }

    /// The one command path: every writer (API routes, the PSP flows,
    /// tools) runs a command through here. It reads what the command
    /// needs, decides it against the stored Types and States and stamps
    /// the append once ([`Ledger::prepare_stored`]) — right here with
    /// memory-only reads when memory holds all it reads, else off the
    /// async workers; then it awaits the durable commit, which wakes the
    /// log consumers.
    pub async fn execute(
        &self,
        meta: CommandMeta,
        command: PaymentCommand,
    ) -> Result<Committed, AppError> {
        self.execute_with(meta, command, Vec::new()).await
    }

    /// [`Ledger::execute`] with table writes committed atomically with the
    /// command's events (a dedupe record of the input that caused them;
    /// nothing is written when the command appends no event).
    pub async fn execute_with(
        &self,
        meta: CommandMeta,
        command: PaymentCommand,
        inline: Vec<KvWrite>,
    ) -> Result<Committed, AppError> {
        // Most commands read only what memory holds (the view's header in
        // the memtable or block cache, its rows in the view cache): they
        // are prepared right here, with no hand-off to a blocking thread.
        match memory_only(|| self.prepare_stored(&meta, command.clone())) {
            Ok(mut prepared) if prepared.standalone.is_empty() => {
                prepared.add_inline(inline);
                return self.commit(prepared).await;
            }
            // A read needed the disk, or a command that appends nothing
            // must write its idempotency record: off the async workers.
            Ok(_) | Err(AppError::Store(StoreError::WouldBlock)) => {}
            Err(refused) => return Err(refused),
        }
        let planned = self
            .execute_planned(move |_| {
                Ok(Ok::<_, Infallible>(Planned {
                    meta,
                    command,
                    inline,
                }))
            })
            .await?;
        Ok(planned.unwrap_or_else(|never| match never {}))
    }

    /// The one command path with its reading done in the same trip off
    /// the async workers: `plan` reads what it needs (a view, a dedupe row)
    /// and names the command, or answers without one (`Err`). The command
    /// is then decided against the stored Types and States and stamped
    /// once; a command that appends nothing writes its idempotency record
    /// there too; only the durable append is awaited back on the async side.
    pub async fn execute_planned<T: Send + 'static>(
        &self,
        plan: impl FnOnce(&Self) -> Result<Result<Planned, T>, AppError> + Send + 'static,
    ) -> Result<Result<Committed, T>, AppError> {
        let ledger = self.clone();
        let prepared = tokio::task::spawn_blocking(move || {
            let Planned {
                meta,
                command,
                inline,
            } = match plan(&ledger)? {
                Ok(planned) => planned,
                Err(answer) => return Ok(Err(answer)),
            };
            let mut prepared = ledger.prepare_stored(&meta, command)?;
            prepared.add_inline(inline);
            if prepared.append.is_none() && !prepared.standalone.is_empty() {
                ledger
                    .store
                    .write(std::mem::take(&mut prepared.standalone))?;
            }
            Ok::<_, AppError>(Ok(prepared))
        })
        .await
        .map_err(|_| AppError::Store(StoreError::Engine("a command task panicked".into())))??;
        match prepared {
            Ok(prepared) => self.commit(prepared).await.map(Ok),
            Err(answer) => Ok(Err(answer)),
        }
    }

    /// Awaits the durable append of a prepared command and keeps the new
    /// view in the cache.
    async fn commit(&self, prepared: Prepared) -> Result<Committed, AppError> {
        let project = prepared.project.clone();
        let committed = prepared.commit(&*self.store).await?;
        if !committed.replayed {
            self.views.put(&project, &committed.payment);
        }
        Ok(committed)
    }

    /// Prepares a command against the project's Types and States as stored.
    /// A store failure met while resolving one is the answer
    /// ([`AppError::Store`]), not the rejection the missing Type or State
    /// would have caused.
    pub fn prepare_stored(
        &self,
        meta: &CommandMeta,
        command: PaymentCommand,
    ) -> Result<Prepared, AppError> {
        let catalog = StoredCatalog::new(Arc::clone(&self.store), meta.project.clone());
        let prepared = self.prepare(meta, command, &catalog);
        match catalog.take_failure() {
            Some(failure) => Err(AppError::Store(failure)),
            None => prepared,
        }
    }

    /// Reads the current view of a payment.
    pub fn get(
        &self,
        project: &ProjectKey,
        target: &PaymentRef,
    ) -> Result<Option<Payment>, AppError> {
        Ok(self.get_shared(project, target)?.map(Arc::unwrap_or_clone))
    }

    /// Reads the current view of a payment, shared with the view cache
    /// (no copy of its transactions).
    pub fn get_shared(
        &self,
        project: &ProjectKey,
        target: &PaymentRef,
    ) -> Result<Option<Arc<Payment>>, AppError> {
        Ok(self.stored(project, target)?.map(|view| view.payment))
    }

    /// The stored view of a payment named by id or key.
    fn stored(
        &self,
        project: &ProjectKey,
        target: &PaymentRef,
    ) -> Result<Option<StoredView>, AppError> {
        let id = match target {
            PaymentRef::Id(id) => *id,
            PaymentRef::Key(key) => match self
                .store
                .get(Table::KeyIndex, &table_keys::key_index_key(project, key))?
            {
                None => return Ok(None),
                Some(bytes) => {
                    table_keys::decode_payment_id(&bytes).ok_or_else(corrupt("key index"))?
                }
            },
        };
        views::read_view(&*self.store, Some(&self.views), project, id)
    }

    /// The stored view of a payment by id, as a command that updates it
    /// takes it ([`PaymentCommand::UpdateLoaded`]).
    pub fn stored_view(
        &self,
        project: &ProjectKey,
        id: PaymentId,
    ) -> Result<Option<StoredView>, AppError> {
        views::read_view(&*self.store, Some(&self.views), project, id)
    }

    /// Reads the view of a payment by id.
    pub fn view(&self, project: &ProjectKey, id: PaymentId) -> Result<Option<Payment>, AppError> {
        Ok(
            views::read_view(&*self.store, Some(&self.views), project, id)?
                .map(|view| Arc::unwrap_or_clone(view.payment)),
        )
    }

    /// The payment as it was at `version`, folded from its events.
    pub fn at_version(
        &self,
        project: &ProjectKey,
        id: PaymentId,
        version: u64,
    ) -> Result<Option<Payment>, AppError> {
        let events = self
            .store
            .read_stream(StreamId::payment(id), VersionRange::new(1, version))?;
        if events.first().is_some_and(|e| &e.meta.project != project) {
            return Ok(None);
        }
        Ok(fold(&events))
    }

    /// Decides a command and builds its append (blocking: reads the store).
    fn prepare(
        &self,
        meta: &CommandMeta,
        command: PaymentCommand,
        catalog: &dyn Catalog,
    ) -> Result<Prepared, AppError> {
        let mut claims = Vec::new();
        if let Some(idempotency) = &meta.idempotency {
            if idempotency.key.len() > IDEMPOTENCY_KEY_BYTES_MAX {
                return Err(AppError::IdempotencyKeyTooLong {
                    max: IDEMPOTENCY_KEY_BYTES_MAX,
                });
            }
            let key = table_keys::idempotency_key(&meta.project, &idempotency.key);
            if let Some(replayed) = self.replay(meta, idempotency, &key)? {
                return Ok(replayed);
            }
            claims.push(table_claim(Table::Idempotency, &key));
        }
        let Decided {
            kind,
            stored,
            events,
            working,
        } = self.decide(meta, command, catalog)?;
        let before = stored.as_ref().map(|s| &*s.payment);
        let payment_id =
            before.map_or_else(|| PaymentId::from_uuid(uuid::Uuid::new_v4()), |p| p.id);
        let expected = before.map_or(0, |p| p.version);
        // Versions follow the expected one; the store stamps log positions
        // and hashes once, when it appends.
        let events = meta.new_events(before.map(|p| p.last_modified_at), events);
        let versioned = || events.iter().zip(expected + 1..);
        let mut snapshots = SnapshotRows::new(StreamId::payment(payment_id));
        let last = expected + events.len() as u64;
        let after = match (working, events.last()) {
            // The payment decide worked on is the payment after the events,
            // unless a snapshot is due at a version before the last.
            (Some(working), Some(newest))
                if !(expected + 1..last).any(crate::snapshots::is_due) =>
            {
                let payment = stamp_decided(working, last, &newest.meta);
                snapshots.after(last, newest.meta.recorded_at, || {
                    payledger_codec::encode_payment(&payment)
                });
                payment
            }
            _ => versioned()
                .fold(before.cloned(), |state, (e, version)| {
                    let recorded = Recorded {
                        payment_id,
                        version,
                        meta: &e.meta,
                        event: &e.event,
                    };
                    let payment = evolve_recorded(state, recorded);
                    snapshots.after(version, e.meta.recorded_at, || {
                        payledger_codec::encode_payment(&payment)
                    });
                    Some(payment)
                })
                .ok_or_else(corrupt("a create decided no event"))?,
        };
        let idempotency_write = meta.idempotency.as_ref().map(|idempotency| KvWrite {
            table: Table::Idempotency,
            key: table_keys::idempotency_key(&meta.project, &idempotency.key),
            value: Some(
                PaymentAnswer {
                    request_hash: idempotency.request_hash,
                    kind,
                    payment_id,
                    version: after.version,
                }
                .encode(),
            ),
        });
        let outcome = Committed {
            payment: Arc::new(after),
            replayed: false,
        };
        if events.is_empty() {
            return Ok(Prepared {
                project: meta.project.clone(),
                append: None,
                standalone: idempotency_write.into_iter().collect(),
                outcome,
                _claims: self.claim(claims)?,
            });
        }
        let mut inline = index_writes(&meta.project, before, &outcome.payment);
        claims.extend(unique_values(&inline).map(|(table, key)| table_claim(table, key)));
        let guard = self.claim(claims)?;
        self.check_unique(&inline, payment_id)?;
        inline.extend(versioned().map(|(e, version)| KvWrite {
            table: Table::EventIds,
            key: e.meta.event_id.as_bytes().to_vec(),
            value: Some(table_keys::event_id_value(payment_id, version)),
        }));
        inline.extend(crate::message_index::index_rows(
            &meta.project,
            StreamId::payment(payment_id),
            before.and_then(|p| p.key.as_deref()),
            versioned().map(|(e, version)| (version, e.meta.recorded_at, &e.event)),
        ));
        inline.extend(views::view_writes(
            &meta.project,
            stored.as_ref(),
            &outcome.payment,
        ));
        let erased = events.iter().any(|e| e.event.erases_data());
        inline.extend(snapshots.finish(erased.then_some(outcome.payment.version)));
        inline.extend(idempotency_write);
        Ok(Prepared {
            project: meta.project.clone(),
            append: Some(AppendRequest {
                stream: StreamId::payment(payment_id),
                expected_version: expected,
                events,
                inline,
            }),
            standalone: Vec::new(),
            outcome,
            _claims: guard,
        })
    }

    fn claim(&self, values: Vec<Vec<u8>>) -> Result<Option<ClaimGuard>, AppError> {
        if values.is_empty() {
            return Ok(None);
        }
        self.claims
            .claim(values)
            .map(Some)
            .map_err(|taken| match claimed_in(&taken) {
                (Some(Table::Idempotency) | None, _) => AppError::IdempotencyKeyInFlight,
                (Some(table), key) => duplicate(table, key),
            })
    }

    /// Decides the events of a command against the current view.
    fn decide(
        &self,
        meta: &CommandMeta,
        command: PaymentCommand,
        catalog: &dyn Catalog,
    ) -> Result<Decided, AppError> {
        let mut ids = RandomIds;
        let mut ctx = Context {
            catalog,
            ids: &mut ids,
        };
        match command {
            PaymentCommand::Create(draft) => {
                let event = decide_create(&draft, &mut ctx)?;
                Ok(Decided::new(PaymentAnswerKind::Create, None, vec![event]))
            }
            PaymentCommand::Update {
                target,
                version,
                actions,
            } => {
                let stored = self.current(meta, &target, version)?;
                let (events, working) =
                    decide_update_with_state(&stored.payment, &actions, &mut ctx)?;
                Ok(Decided {
                    working: Some(working),
                    ..Decided::new(PaymentAnswerKind::Update, Some(stored), events)
                })
            }
            PaymentCommand::Delete {
                target,
                version,
                data_erasure,
            } => {
                let stored = self.current(meta, &target, version)?;
                let event = decide_delete(&stored.payment, data_erasure)?;
                Ok(Decided::new(
                    PaymentAnswerKind::Delete,
                    Some(stored),
                    vec![event],
                ))
            }
            PaymentCommand::UpdateLoaded { view, actions } => {
                // The view as the caller read it: its rows decide what this
                // write changes.
                let (events, working) =
                    decide_update_with_state(&view.payment, &actions, &mut ctx)?;
                Ok(Decided {
                    working: Some(working),
                    ..Decided::new(PaymentAnswerKind::Update, Some(view), events)
                })
            }
        }
    }

    /// The live payment a command targets, at the version it expects.
    fn current(
        &self,
        meta: &CommandMeta,
        target: &PaymentRef,
        version: u64,
    ) -> Result<StoredView, AppError> {
        let stored = self
            .stored(&meta.project, target)?
            .ok_or(AppError::NotFound)?;
        if stored.payment.version != version {
            return Err(AppError::Conflict {
                stream: StreamId::payment(stored.payment.id),
                expected: version,
                current_version: stored.payment.version,
            });
        }
        Ok(stored)
    }

    /// Answers a repeated request from its record, or refuses a reused key.
    fn replay(
        &self,
        meta: &CommandMeta,
        idempotency: &Idempotency,
        key: &[u8],
    ) -> Result<Option<Prepared>, AppError> {
        let Some(bytes) = self.store.get(Table::Idempotency, key)? else {
            return Ok(None);
        };
        let record = PaymentAnswer::decode(&bytes).ok_or_else(corrupt("idempotency record"))?;
        if record.request_hash != idempotency.request_hash {
            return Err(AppError::IdempotencyKeyReused);
        }
        let payment = self
            .at_version(&meta.project, record.payment_id, record.version)?
            .ok_or_else(corrupt("idempotency record points at a missing stream"))?;
        Ok(Some(Prepared {
            project: meta.project.clone(),
            append: None,
            standalone: Vec::new(),
            outcome: Committed {
                payment: Arc::new(payment),
                replayed: true,
            },
            _claims: None,
        }))
    }

    fn check_unique(&self, writes: &[KvWrite], payment_id: PaymentId) -> Result<(), AppError> {
        for (table, key) in unique_values(writes) {
            let Some(owner) = self.store.get(table, key)? else {
                continue;
            };
            if table_keys::decode_payment_id(&owner) == Some(payment_id) {
                continue;
            }
            return Err(duplicate(table, key));
        }
        Ok(())
    }
}

impl Prepared {
    /// Awaits the durable append (the standalone writes of a command that
    /// appends nothing were made off the async workers already).
    async fn commit<S: EventStore + ?Sized>(self, store: &S) -> Result<Committed, AppError> {
        if let Some(append) = self.append {
            let (stream, expected) = (append.stream, append.expected_version);
            store
                .submit(append)
                .await
                .map_err(|e| AppError::from_append(e, stream, expected))?;
        }
        Ok(self.outcome)
    }

    /// Adds table writes to the command's append, committed atomically with
    /// its events (a dedupe record of the input that caused them); nothing
    /// when the command appends no event.
    fn add_inline(&mut self, writes: Vec<KvWrite>) {
        if let Some(append) = &mut self.append {
            append.inline.extend(writes);
        }
    }
}

/// A new event's id: a time-ordered UUID (version 7: the millisecond, then
/// random bits; unique and unguessable like version 4). Event ids key the
/// `EventIds` table, written with every event: ids that follow each other
/// land next to the previous insert in RocksDB's memtable, where random
/// ones each search it from the top (BENCHMARKS.md "HTTP API", eighth
/// session). Message ids are these ids.
fn new_event_id() -> EventId {
    EventId::from_uuid(uuid::Uuid::now_v7())
}

fn corrupt(what: &'static str) -> impl Fn() -> AppError {
    move || AppError::Store(payledger_store::StoreError::Corrupt(what.into()))
}

pub(crate) fn corrupt_with(what: &str, error: &dyn std::fmt::Display) -> AppError {
    AppError::Store(payledger_store::StoreError::Corrupt(format!(
        "{what}: {error}"
    )))
}

#[cfg(test)]
mod tests;
