//! The analytics projection: counts and amounts of transactions by UTC
//! day, currency, PSP, transaction type and state, kept by a log consumer
//! with a durable cursor and read by `GET /{pk}/analytics/transactions`.
//!
//! Definitions (the README repeats them for analysts):
//! - a transaction belongs to the UTC day of the event that added it (a
//!   payment's create, or `addTransaction`), to its currency, and to the
//!   PSP its payment named (`paymentMethodInfo.paymentInterface`) then;
//! - it counts in the bucket of its current state: a state change moves
//!   it from one bucket to another;
//! - deleting a payment does not uncount its transactions: the figures
//!   say what happened.
//!
//! One pure step, [`Facts::apply`], turns an event into fact changes and
//! bucket deltas. The consumer runs it over each batch of a partition's
//! log, reading the facts it needs from [`Table::AnalyticsFacts`] (those
//! its earlier batches read or wrote it keeps in memory, [`KnownFacts`]),
//! and
//! writes facts, buckets and its cursor in one durable write, so nothing
//! is counted twice or lost across a crash. Buckets carry the partition
//! they were counted in, so the partitions' workers never write the same
//! row. `payledger replay` runs the same step over every stream
//! ([`replayed`]).

pub mod records;

use crate::backoff::Backoff;
use crate::consumer::{ConsumerConfig, Cursor, Handled, LogConsumer, LogHandler, Stop};
use crate::error::AppError;
use crate::payments::corrupt_with;
use payledger_domain::event::MethodInfoUpdate;
use payledger_domain::payment::Transaction;
use payledger_domain::{Event, EventEnvelope, PaymentId, ProjectKey, Timestamp, TransactionId};
use payledger_store::{EventStore, KvWrite, StoreError, Table};
use records::{BucketKey, Totals, TxnFact};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

/// The tables of the projection (cleared and rebuilt by a replay).
pub const TABLES: [Table; 2] = [Table::AnalyticsFacts, Table::AnalyticsBuckets];

/// The consumer's name (its cursors in `payledger status`).
pub const ANALYTICS_CONSUMER: &str = "analytics";
/// Waits between retries of a batch that could not be counted.
pub const ANALYTICS_BACKOFF: Backoff = Backoff {
    min_ms: 100,
    max_ms: 30_000,
};
/// Most events one batch of the consumer reads.
pub const ANALYTICS_BATCH_EVENTS_MAX: usize = 2_000;
/// How long a partition's worker waits after a commit woke it before it
/// reads, so that one batch (one read of the facts, one durable write)
/// counts the commits of that time instead of one each.
pub const ANALYTICS_LINGER_MS: u64 = 50;
/// Most bucket rows one query reads; a query that would read more is
/// refused, never answered in part.
pub const ANALYTICS_BUCKETS_SCANNED_MAX: usize = 1_000_000;
/// Most facts (PSPs and transactions) a partition's worker keeps in
/// memory from earlier batches ([`KnownFacts`]); past it they are
/// forgotten and read again from the store when needed.
pub const ANALYTICS_FACTS_KEPT_MAX: usize = 4_096;
/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;

/// The UTC day of a moment, in days since 1970-01-01.
pub fn day_of(at: Timestamp) -> i32 {
    i32::try_from(at.0.div_euclid(DAY_MS)).unwrap_or(i32::MAX)
}

/// Where [`Facts`] finds what earlier events established.
#[derive(Debug)]
enum Source<'a> {
    /// Nothing stored: every fact comes from the events applied (a replay
    /// of whole streams).
    Events,
    /// The facts the consumer stored, those it knows already first.
    Store(&'a dyn EventStore, &'a KnownFacts),
}

/// The facts a partition's worker read or wrote in its earlier batches,
/// as they are stored: the next batch reads from the store only the
/// others. Only the worker of the partition writes its payments' facts,
/// and it takes a batch's facts in only after their write succeeded.
#[derive(Debug, Default)]
pub struct KnownFacts {
    psp: HashMap<PaymentOf, String>,
    txns: HashMap<(PaymentOf, TransactionId), Option<TxnFact>>,
}

impl KnownFacts {
    /// Takes in the facts of a batch whose write succeeded; forgets
    /// everything first when they would pass [`ANALYTICS_FACTS_KEPT_MAX`].
    fn absorb_parts(
        &mut self,
        psp: HashMap<PaymentOf, String>,
        txns: HashMap<(PaymentOf, TransactionId), Option<TxnFact>>,
    ) {
        if self.psp.len() + self.txns.len() + psp.len() + txns.len() > ANALYTICS_FACTS_KEPT_MAX {
            self.psp.clear();
            self.txns.clear();
        }
        self.psp.extend(psp);
        self.txns.extend(txns);
    }
}

type PaymentOf = (ProjectKey, PaymentId);

/// The facts a run of [`Facts::apply`] read and changed.
#[derive(Debug)]
pub struct Facts<'a> {
    source: Source<'a>,
    psp: HashMap<PaymentOf, String>,
    txns: HashMap<(PaymentOf, TransactionId), Option<TxnFact>>,
    changed_psp: BTreeSet<PaymentOf>,
    changed_txns: BTreeSet<(PaymentOf, TransactionId)>,
}

impl<'a> Facts<'a> {
    /// Facts established by the events applied only.
    pub fn from_events() -> Self {
        Self::new(Source::Events)
    }

    /// Facts taken from `known`, or read from `store`, when first needed.
    pub fn stored(store: &'a dyn EventStore, known: &'a KnownFacts) -> Self {
        Self::new(Source::Store(store, known))
    }

    fn new(source: Source<'a>) -> Self {
        Self {
            source,
            psp: HashMap::new(),
            txns: HashMap::new(),
            changed_psp: BTreeSet::new(),
            changed_txns: BTreeSet::new(),
        }
    }

    fn psp(&mut self, payment: &PaymentOf) -> Result<String, AppError> {
        if let Some(psp) = self.psp.get(payment) {
            return Ok(psp.clone());
        }
        let psp = match &self.source {
            Source::Events => String::new(),
            Source::Store(_, known) if known.psp.contains_key(payment) => {
                known.psp[payment].clone()
            }
            Source::Store(store, _) => {
                match store.get(
                    Table::AnalyticsFacts,
                    &records::psp_key(&payment.0, payment.1),
                )? {
                    None => String::new(),
                    Some(bytes) => records::decode_psp(&bytes)
                        .ok_or_else(|| corrupt_with("analytics fact", &"malformed PSP row"))?,
                }
            }
        };
        self.psp.insert(payment.clone(), psp.clone());
        Ok(psp)
    }

    fn set_psp(&mut self, payment: &PaymentOf, psp: String) {
        self.psp.insert(payment.clone(), psp);
        self.changed_psp.insert(payment.clone());
    }

    fn txn(&mut self, payment: &PaymentOf, id: TransactionId) -> Result<Option<TxnFact>, AppError> {
        let key = (payment.clone(), id);
        if let Some(fact) = self.txns.get(&key) {
            return Ok(fact.clone());
        }
        let fact = match &self.source {
            Source::Events => None,
            Source::Store(_, known) if known.txns.contains_key(&key) => known.txns[&key].clone(),
            Source::Store(store, _) => store
                .get(
                    Table::AnalyticsFacts,
                    &records::txn_key(&payment.0, payment.1, id),
                )?
                .map(|bytes| {
                    records::decode_txn(&bytes)
                        .ok_or_else(|| corrupt_with("analytics fact", &"malformed transaction row"))
                })
                .transpose()?,
        };
        self.txns.insert(key, fact.clone());
        Ok(fact)
    }

    fn set_txn(&mut self, payment: &PaymentOf, id: TransactionId, fact: TxnFact) {
        self.txns.insert((payment.clone(), id), Some(fact));
        self.changed_txns.insert((payment.clone(), id));
    }

    /// Applies one event: the facts it changes, and what it adds to or
    /// takes from the buckets of its partition.
    pub fn apply(
        &mut self,
        event: &EventEnvelope,
        deltas: &mut BTreeMap<BucketKey, Totals>,
    ) -> Result<(), AppError> {
        let Some(payment_id) = event.stream.payment_id() else {
            return Ok(());
        };
        let payment = (event.meta.project.clone(), payment_id);
        let day = day_of(event.meta.recorded_at);
        let mut add = |facts: &mut Self, t: &Transaction, psp: &str| {
            let fact = TxnFact {
                day,
                kind: t.kind,
                state: t.state,
                cent_amount: t.amount.cent_amount,
                currency: t.amount.currency.as_str().to_owned(),
                psp: psp.to_owned(),
            };
            count(deltas, &payment.0, event.partition, &fact, 1);
            facts.set_txn(&payment, t.id, fact);
        };
        match &event.event {
            Event::Created(draft) => {
                let psp = draft
                    .payment_method_info
                    .payment_interface
                    .clone()
                    .unwrap_or_default();
                self.set_psp(&payment, psp.clone());
                for t in &draft.transactions {
                    add(self, t, &psp);
                }
            }
            Event::TransactionAdded(t) => {
                let psp = self.psp(&payment)?;
                add(self, t, &psp);
            }
            Event::TransactionStateChanged {
                transaction_id,
                state,
            } => {
                if let Some(mut fact) = self.txn(&payment, *transaction_id)?
                    && fact.state != *state
                {
                    count(deltas, &payment.0, event.partition, &fact, -1);
                    fact.state = *state;
                    count(deltas, &payment.0, event.partition, &fact, 1);
                    self.set_txn(&payment, *transaction_id, fact);
                }
            }
            Event::MethodInfoInterfaceSet(psp)
            | Event::MethodInfoSet(MethodInfoUpdate {
                payment_interface: Some(psp),
                ..
            }) => self.set_psp(&payment, psp.clone()),
            _ => {}
        }
        Ok(())
    }

    /// The rows of the facts changed since this run began.
    pub fn writes(&self) -> Vec<KvWrite> {
        let psp = self
            .changed_psp
            .iter()
            .map(|payment| records::psp_write(&payment.0, payment.1, &self.psp[payment]));
        let txns = self.changed_txns.iter().filter_map(|(payment, id)| {
            let fact = self.txns.get(&(payment.clone(), *id))?.as_ref()?;
            Some(records::txn_write(&payment.0, payment.1, *id, fact))
        });
        psp.chain(txns).collect()
    }
}

fn count(
    deltas: &mut BTreeMap<BucketKey, Totals>,
    project: &ProjectKey,
    partition: u16,
    fact: &TxnFact,
    sign: i64,
) {
    let key = BucketKey {
        project: project.clone(),
        day: fact.day,
        currency: fact.currency.clone(),
        psp: fact.psp.clone(),
        kind: fact.kind,
        state: fact.state,
        partition,
    };
    deltas.entry(key).or_default().add(Totals {
        count: sign,
        cent_amount: sign * fact.cent_amount,
    });
}

/// The bucket rows after adding `deltas` to what `store` holds (a bucket
/// back at zero is removed).
fn bucket_writes(
    store: &dyn EventStore,
    deltas: &BTreeMap<BucketKey, Totals>,
) -> Result<Vec<KvWrite>, AppError> {
    let mut writes = Vec::with_capacity(deltas.len());
    for (bucket, delta) in deltas {
        if delta.is_zero() {
            continue;
        }
        let key = records::bucket_key(bucket);
        let mut totals = match store.get(Table::AnalyticsBuckets, &key)? {
            None => Totals::default(),
            Some(bytes) => records::decode_bucket_value(&bytes)
                .ok_or_else(|| corrupt_with("analytics bucket", &"malformed totals"))?,
        };
        totals.add(*delta);
        writes.push(KvWrite {
            table: Table::AnalyticsBuckets,
            key,
            value: (!totals.is_zero()).then(|| records::bucket_value(totals)),
        });
    }
    Ok(writes)
}

/// The consumer of one partition.
#[derive(Debug, Default)]
pub struct AnalyticsHandler {
    known: KnownFacts,
}

impl LogHandler for AnalyticsHandler {
    type Work = ();
    type Error = AppError;

    fn batch_events_max(&self) -> usize {
        ANALYTICS_BATCH_EVENTS_MAX
    }

    /// The whole effect of a batch and the cursor past it, in one write
    /// ([`Handled::Committed`]).
    fn prepare(
        &mut self,
        store: &dyn EventStore,
        events: Vec<EventEnvelope>,
    ) -> Result<(), AppError> {
        let Some(last) = events.last() else {
            return Ok(());
        };
        let (partition, through) = (last.partition, last.partition_sequence);
        let known = std::mem::take(&mut self.known);
        let mut facts = Facts::stored(store, &known);
        let mut deltas = BTreeMap::new();
        for event in &events {
            facts.apply(event, &mut deltas)?;
        }
        let mut writes = facts.writes();
        writes.extend(bucket_writes(store, &deltas)?);
        writes.push(Cursor::write_at(ANALYTICS_CONSUMER, partition, through));
        // A failure leaves `self.known` empty: the next try reads the store.
        // Progress (see `EventStore::write_progress`): the counts and the
        // cursor are lost together or not at all, and counted again.
        store.write_progress(writes)?;
        let (psp, txns) = (facts.psp, facts.txns);
        self.known = known;
        self.known.absorb_parts(psp, txns);
        Ok(())
    }

    async fn handle(&mut self, _work: &mut (), _stop: &Stop) -> Handled<AppError> {
        Handled::Committed
    }
}

/// Starts the consumer: one worker per partition of the store.
pub fn spawn(store: Arc<dyn EventStore>) -> LogConsumer {
    LogConsumer::spawn(
        store,
        ConsumerConfig::new(ANALYTICS_CONSUMER, ANALYTICS_BACKOFF)
            .with_linger(std::time::Duration::from_millis(ANALYTICS_LINGER_MS)),
        |_partition| AnalyticsHandler::default(),
    )
}

/// What a replay of whole streams builds: the facts rows of each stream
/// as it goes, and every bucket at the end.
#[derive(Debug, Default)]
pub struct Replayed {
    buckets: BTreeMap<BucketKey, Totals>,
}

impl Replayed {
    /// The facts rows of one stream; its counts join the buckets.
    pub fn stream(&mut self, events: &[EventEnvelope]) -> Result<Vec<KvWrite>, AppError> {
        let mut facts = Facts::from_events();
        for event in events {
            facts.apply(event, &mut self.buckets)?;
        }
        Ok(facts.writes())
    }

    /// The bucket rows, and the consumer's cursors at `log_heads` (one
    /// per partition): the projection as the consumer would leave it.
    pub fn finish(self, log_heads: &[u64]) -> Vec<KvWrite> {
        let buckets = self
            .buckets
            .into_iter()
            .filter(|(_, totals)| !totals.is_zero())
            .map(|(bucket, totals)| KvWrite {
                table: Table::AnalyticsBuckets,
                key: records::bucket_key(&bucket),
                value: Some(records::bucket_value(totals)),
            });
        let cursors = (0u16..)
            .zip(log_heads)
            .map(|(partition, head)| Cursor::write_at(ANALYTICS_CONSUMER, partition, *head));
        buckets.chain(cursors).collect()
    }
}

/// Events of the log the consumer has not counted yet, over all
/// partitions: what an answer may be missing.
pub fn pending_events(store: &dyn EventStore) -> Result<u64, StoreError> {
    let mut pending = 0;
    for partition in 0..store.partition_count() {
        let cursor = Cursor::load(store, ANALYTICS_CONSUMER, partition)?;
        pending += store.log_head(partition)?.saturating_sub(cursor.sequence);
    }
    Ok(pending)
}

/// A dimension of an analytics query.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Dimension {
    Day,
    Currency,
    Psp,
    Type,
    State,
}

impl Dimension {
    pub const ALL: [Self; 5] = [
        Self::Day,
        Self::Currency,
        Self::Psp,
        Self::Type,
        Self::State,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Currency => "currency",
            Self::Psp => "psp",
            Self::Type => "type",
            Self::State => "state",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|d| d.name() == name)
    }
}

/// One group of a query's answer: the bucket fields of the dimensions
/// grouped by (the others are `None`), and its totals.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Group {
    pub day: Option<i32>,
    pub currency: Option<String>,
    pub psp: Option<String>,
    pub kind: Option<payledger_domain::payment::TransactionType>,
    pub state: Option<payledger_domain::payment::TransactionState>,
    pub totals: Totals,
}

/// Why a query was not answered.
#[derive(Debug, thiserror::Error)]
pub enum AnalyticsError {
    #[error("the range holds more than {limit} analytics buckets; ask for fewer days")]
    TooManyBuckets { limit: usize },
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<StoreError> for AnalyticsError {
    fn from(error: StoreError) -> Self {
        Self::App(AppError::Store(error))
    }
}

/// The totals of `project`'s transactions of days `from..=to`, grouped
/// by `dimensions`, in group order.
pub fn transaction_totals(
    store: &dyn EventStore,
    project: &ProjectKey,
    from: i32,
    to: i32,
    dimensions: &[Dimension],
) -> Result<Vec<Group>, AnalyticsError> {
    let start = records::bucket_day_prefix(project, from);
    let end = records::bucket_day_prefix(project, to.saturating_add(1));
    let rows = store.scan(
        Table::AnalyticsBuckets,
        &start,
        &end,
        ANALYTICS_BUCKETS_SCANNED_MAX + 1,
    )?;
    if rows.len() > ANALYTICS_BUCKETS_SCANNED_MAX {
        return Err(AnalyticsError::TooManyBuckets {
            limit: ANALYTICS_BUCKETS_SCANNED_MAX,
        });
    }
    let has = |d| dimensions.contains(&d);
    let mut groups: BTreeMap<GroupKey, Totals> = BTreeMap::new();
    for (key, value) in rows {
        let bucket = records::decode_bucket_key(project, &key)
            .ok_or_else(|| corrupt_with("analytics bucket", &"malformed key"))?;
        let totals = records::decode_bucket_value(&value)
            .ok_or_else(|| corrupt_with("analytics bucket", &"malformed totals"))?;
        let group = (
            has(Dimension::Day).then_some(bucket.day),
            has(Dimension::Currency).then_some(bucket.currency),
            has(Dimension::Psp).then_some(bucket.psp),
            has(Dimension::Type).then_some(records::kind_code(bucket.kind)),
            has(Dimension::State).then_some(records::state_code(bucket.state)),
        );
        groups.entry(group).or_default().add(totals);
    }
    Ok(groups
        .into_iter()
        .filter(|(_, totals)| !totals.is_zero())
        .map(|((day, currency, psp, kind, state), totals)| Group {
            day,
            currency,
            psp,
            kind: kind.and_then(|code| {
                payledger_domain::payment::TransactionType::ALL
                    .into_iter()
                    .find(|k| records::kind_code(*k) == code)
            }),
            state: state.and_then(|code| {
                payledger_domain::payment::TransactionState::ALL
                    .into_iter()
                    .find(|s| records::state_code(*s) == code)
            }),
            totals,
        })
        .collect())
}

type GroupKey = (
    Option<i32>,
    Option<String>,
    Option<String>,
    Option<u8>,
    Option<u8>,
);

#[cfg(test)]
mod tests;
