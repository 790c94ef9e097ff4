//! Payment views as stored: a header row in `Views` and a row per
//! transaction and per interface interaction in `ViewRows`, so a command
//! writes the header and the rows it changed, never the whole view; and the
//! cache of recent views, so a command reads the header and nothing else
//! when the view it needs is cached at that version.
//!
//! The stored version is the authority: a cached view is used only when its
//! version is the header's, or the version of the payment's stream head
//! that the store holds in memory ([`EventStore::known_head`]: never older
//! than an acknowledged append, so no header read at all), and a payment's
//! view at one version is always the same value (it is folded from
//! immutable events). A stale or missing entry therefore costs a read of
//! the rows, never a wrong answer, and the cache needs no invalidation.
//! Each entry keeps its project: a view is never served to another one.

use crate::error::AppError;
use crate::latest_cache::{LatestCache, Versioned};
use crate::payments::corrupt_with;
use crate::table_keys::{self, ViewList};
use payledger_domain::payment::{CustomFields, Transaction, TransactionList};
use payledger_domain::{Payment, PaymentId, ProjectKey, StreamId};
use payledger_store::{EventStore, KvWrite, Table};
use std::sync::Arc;

/// Most items the view cache holds: a payment counts 1 plus its
/// transactions and interface interactions (about 400 bytes each in
/// memory, so about 100 MiB in all). Arbitrary entries of a full shard
/// make room for a new one; a payment bigger than a shard's share is not
/// cached.
pub const VIEW_CACHE_ITEMS_MAX: usize = 262_144;

/// Shards of the view cache: commands on different payments rarely wait
/// for one another's lookups.
const VIEW_CACHE_SHARDS: usize = 16;

/// A payment's view as read from the store.
#[derive(Clone, Debug)]
pub struct StoredView {
    pub payment: Arc<Payment>,
    /// Stored whole (before views had rows): the next write of the
    /// payment writes every row.
    pub whole: bool,
}

/// A cached view and the project it belongs to.
#[derive(Debug)]
pub struct CachedView {
    project: ProjectKey,
    payment: Arc<Payment>,
}

/// A view counts 1 plus its transactions and interface interactions
/// against [`VIEW_CACHE_ITEMS_MAX`].
impl Versioned for CachedView {
    fn payment_id(&self) -> PaymentId {
        self.payment.id
    }

    fn version(&self) -> u64 {
        self.payment.version
    }

    fn cost(&self) -> usize {
        1 + self.payment.transactions.len() + self.payment.interface_interactions.len()
    }
}

/// Views recently read or written, by payment id.
#[derive(Debug)]
pub struct ViewCache(LatestCache<CachedView>);

impl Default for ViewCache {
    fn default() -> Self {
        Self(LatestCache::new(VIEW_CACHE_SHARDS, VIEW_CACHE_ITEMS_MAX))
    }
}

impl ViewCache {
    /// The cached view of `id` at exactly `version`.
    pub fn get(&self, id: PaymentId, version: u64) -> Option<Arc<Payment>> {
        (self.0.get(id))
            .filter(|cached| cached.payment.version == version)
            .map(|cached| Arc::clone(&cached.payment))
    }

    /// The cached view of `id` in `project` at exactly `version`.
    fn get_in(&self, project: &ProjectKey, id: PaymentId, version: u64) -> Option<Arc<Payment>> {
        (self.0.get(id))
            .filter(|cached| cached.payment.version == version && cached.project == *project)
            .map(|cached| Arc::clone(&cached.payment))
    }

    /// Keeps `payment` of `project` unless a later version of it is cached
    /// already; forgets a deleted one.
    pub fn put(&self, project: &ProjectKey, payment: &Arc<Payment>) {
        if payment.deleted {
            self.0.forget(payment.id);
        } else {
            self.0.keep(&Arc::new(CachedView {
                project: project.clone(),
                payment: Arc::clone(payment),
            }));
        }
    }

    /// Number of cached views.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Items the cached views hold (see [`VIEW_CACHE_ITEMS_MAX`]).
    pub fn items(&self) -> usize {
        self.0.cost()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Reads the view of a payment: nothing when `cache` holds it at the
/// version of the stream head the store knows in memory, else its header,
/// then its rows unless `cache` holds the view at the header's version
/// (`None`: read the rows, cache nothing, as a scan of many views does).
pub fn read_view<S: EventStore + ?Sized>(
    store: &S,
    cache: Option<&ViewCache>,
    project: &ProjectKey,
    id: PaymentId,
) -> Result<Option<StoredView>, AppError> {
    if let Some(cache) = cache
        && let Some(head) = store.known_head(StreamId::payment(id))
        && let Some(payment) = cache.get_in(project, id, head.version)
    {
        return Ok(Some(StoredView {
            payment,
            whole: false,
        }));
    }
    let key = table_keys::view_key(project, id);
    let Some(bytes) = store.get(Table::Views, &key)? else {
        return Ok(None);
    };
    view_from_header(store, project, cache, &key, &bytes).map(Some)
}

/// Most times a view read starts again because a write changed the header
/// while its rows were read.
pub const VIEW_READ_ATTEMPTS_MAX: usize = 16;

/// The view whose header `bytes` is stored under `key`, a view of
/// `project`.
pub fn view_from_header<S: EventStore + ?Sized>(
    store: &S,
    project: &ProjectKey,
    cache: Option<&ViewCache>,
    key: &[u8],
    bytes: &[u8],
) -> Result<StoredView, AppError> {
    view_from_header_within(store, project, cache, key, bytes, VIEW_READ_ATTEMPTS_MAX)
}

fn view_from_header_within<S: EventStore + ?Sized>(
    store: &S,
    project: &ProjectKey,
    cache: Option<&ViewCache>,
    key: &[u8],
    bytes: &[u8],
    attempts_left: usize,
) -> Result<StoredView, AppError> {
    // A cached payment at the header's version needs no more of the
    // header than its id and version (and that it has rows).
    let peek = payledger_codec::peek_payment_header(bytes).map_err(|e| corrupt_with("view", &e))?;
    if !peek.whole
        && let Some(payment) = cache.and_then(|c| c.get(peek.id, peek.version))
    {
        return Ok(StoredView {
            payment,
            whole: false,
        });
    }
    let header =
        payledger_codec::decode_payment_header(bytes).map_err(|e| corrupt_with("view", &e))?;
    if header.is_whole() {
        return Ok(StoredView {
            payment: Arc::new(header.payment),
            whole: true,
        });
    }
    let row_count = header.transaction_rows as usize + header.interaction_rows as usize;
    let rows = store.scan(
        Table::ViewRows,
        key,
        &table_keys::prefix_end(key),
        row_count + 1,
    )?;
    // The header and the rows are two reads: a write committed between
    // them (its header and rows go in one batch) changed the header, so
    // the rows may be newer than it. Read again from the new header.
    let now = store.get(Table::Views, key)?;
    if now.as_deref() != Some(bytes) {
        return match now {
            Some(newer) if attempts_left > 0 => {
                view_from_header_within(store, project, cache, key, &newer, attempts_left - 1)
            }
            _ => Err(AppError::Store(payledger_store::StoreError::Corrupt(
                "a payment view changed under every read of its rows".into(),
            ))),
        };
    }
    let (transactions, interactions) = decode_rows(&rows)?;
    let payment = header
        .with_rows(transactions, interactions)
        .map_err(|e| corrupt_with("view rows", &e))?;
    let payment = Arc::new(payment);
    if let Some(cache) = cache {
        cache.put(project, &payment);
    }
    Ok(StoredView {
        payment,
        whole: false,
    })
}

/// The transactions and interactions of a view's rows, each list in index
/// order with no gap.
fn decode_rows(
    rows: &[(Vec<u8>, Vec<u8>)],
) -> Result<(TransactionList, Vec<CustomFields>), AppError> {
    let mut transactions = TransactionList::new();
    let mut interactions = Vec::new();
    for (key, value) in rows {
        let corrupt = |what: &str| corrupt_with("view row", &what);
        let (list, index) =
            table_keys::decode_view_row_key(key).ok_or_else(|| corrupt("unknown key"))?;
        let expected = match list {
            ViewList::Transactions => transactions.len(),
            ViewList::Interactions => interactions.len(),
        };
        if usize::try_from(index).ok() != Some(expected) {
            return Err(corrupt("a gap in the rows"));
        }
        match list {
            ViewList::Transactions => transactions.push(Arc::new(
                payledger_codec::decode_transaction_row(value)
                    .map_err(|e| corrupt_with("transaction row", &e))?,
            )),
            ViewList::Interactions => interactions.push(
                payledger_codec::decode_interaction_row(value)
                    .map_err(|e| corrupt_with("interaction row", &e))?,
            ),
        }
    }
    Ok((transactions, interactions))
}

/// The writes that take a payment's stored view from `before` to `after`:
/// the header, and the rows of items that are new or changed; a deleted
/// payment's header and rows are removed.
pub fn view_writes(
    project: &ProjectKey,
    before: Option<&StoredView>,
    after: &Payment,
) -> Vec<KvWrite> {
    let id = after.id;
    let mut writes = vec![KvWrite {
        table: Table::Views,
        key: table_keys::view_key(project, id),
        value: (!after.deleted).then(|| payledger_codec::encode_payment_header(after)),
    }];
    // Rows a whole view never had are not there to compare with.
    let stored = before.filter(|b| !b.whole).map(|b| &*b.payment);
    list_writes(
        &mut writes,
        (project, id, ViewList::Transactions),
        stored.map(|b| &b.transactions),
        &after.transactions,
        after.deleted,
        |t| payledger_codec::encode_transaction_row(t),
    );
    list_writes(
        &mut writes,
        (project, id, ViewList::Interactions),
        stored.map(|b| &b.interface_interactions[..]),
        &after.interface_interactions[..],
        after.deleted,
        payledger_codec::encode_interaction_row,
    );
    writes
}

/// A list of a Payment view, stored a row per item.
trait Rows {
    type Item: PartialEq;
    fn len(&self) -> usize;
    fn get(&self, index: usize) -> Option<&Self::Item>;
    /// The indexes, in order, whose item may differ from `before`'s.
    fn maybe_changed<'a>(
        &'a self,
        before: Option<&'a Self>,
    ) -> Box<dyn Iterator<Item = usize> + 'a>;
}

impl<T: PartialEq> Rows for [T] {
    type Item = T;

    fn len(&self) -> usize {
        self.len()
    }

    fn get(&self, index: usize) -> Option<&T> {
        self.get(index)
    }

    fn maybe_changed<'a>(&'a self, _: Option<&'a Self>) -> Box<dyn Iterator<Item = usize> + 'a> {
        Box::new(0..self.len())
    }
}

/// Only the transactions a version does not share with the one before
/// are compared: the rest are the same pointers.
impl Rows for TransactionList {
    type Item = Arc<Transaction>;

    fn len(&self) -> usize {
        self.len()
    }

    fn get(&self, index: usize) -> Option<&Arc<Transaction>> {
        self.get(index)
    }

    fn maybe_changed<'a>(
        &'a self,
        before: Option<&'a Self>,
    ) -> Box<dyn Iterator<Item = usize> + 'a> {
        match before {
            Some(before) => Box::new(self.differs_from(before)),
            None => Box::new(0..self.len()),
        }
    }
}

/// Puts the rows of `after` that differ from `before`, and deletes the
/// rows past its end (every row when the payment is deleted).
fn list_writes<L: Rows + ?Sized>(
    writes: &mut Vec<KvWrite>,
    (project, id, list): (&ProjectKey, PaymentId, ViewList),
    before: Option<&L>,
    after: &L,
    deleted: bool,
    encode: fn(&L::Item) -> Vec<u8>,
) {
    let after_len = if deleted { 0 } else { after.len() };
    let before_len = before.map_or(0, Rows::len);
    let row = |index: usize| KvWrite {
        table: Table::ViewRows,
        key: table_keys::view_row_key(
            project,
            id,
            list,
            u32::try_from(index).expect("a payment holds fewer than 2^32 items, one event each"),
        ),
        value: None,
    };
    let changed = after
        .maybe_changed(before)
        .take_while(|index| *index < after_len);
    for index in changed {
        let item = after.get(index);
        if before.and_then(|b| b.get(index)) != item {
            writes.extend(item.map(|item| KvWrite {
                value: Some(encode(item)),
                ..row(index)
            }));
        }
    }
    writes.extend((after_len..before_len).map(row));
}

#[cfg(test)]
mod tests;
