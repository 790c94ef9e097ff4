//! A payment's transactions, as a list whose versions share what they did
//! not change.
//!
//! Deciding an update works on a copy of the payment, and the version
//! before it stays alive (in the caches, in the answer being written). With
//! a plain vector of shared transactions every copy touched every
//! transaction twice (a reference count up on the copy, down when the old
//! version went), so an update of a payment of 500 transactions cost
//! about 1,000 cache misses it did not need (BENCHMARKS.md "HTTP API",
//! twelfth session).
//!
//! Here the transactions sit in chunks of [`TRANSACTION_CHUNK_LEN`], each
//! shared between versions until one of them changes it: a copy of the
//! list copies one pointer per chunk, adding a transaction copies at most
//! the last chunk, changing one copies its chunk. Each entry keeps its
//! transaction's id beside the pointer, so finding a transaction by id
//! reads the chunks and not the transactions; searches start from the
//! end, where the transactions an update names usually are.
//! [`TransactionList::differs_from`] names the positions a version does
//! not share with an earlier one, passing over shared chunks whole: what
//! the view rows, the answer's text and the indexes rewrite.
//!
//! Equality is by value, as for a vector (two entries that share their
//! transaction compare equal without reading it).

use crate::ids::TransactionId;
use crate::payment::Transaction;
use std::fmt;
use std::sync::Arc;

/// Transactions per chunk. About the square root of a large payment's
/// count: a copy costs `len / TRANSACTION_CHUNK_LEN` pointers, a change at
/// most `TRANSACTION_CHUNK_LEN`.
pub const TRANSACTION_CHUNK_LEN: usize = 32;

#[derive(Clone, PartialEq, Eq, Debug)]
struct Entry {
    /// Always `item.id`: ids never change, and only this module writes.
    id: TransactionId,
    item: Arc<Transaction>,
}

type Chunk = Arc<Vec<Entry>>;

/// A payment's transactions in order (see the module doc).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct TransactionList {
    /// Every chunk but the last holds exactly [`TRANSACTION_CHUNK_LEN`]
    /// entries; the last holds at least one.
    chunks: Vec<Chunk>,
    len: usize,
}

impl TransactionList {
    pub const fn new() -> Self {
        Self {
            chunks: Vec::new(),
            len: 0,
        }
    }

    pub const fn len(&self) -> usize {
        self.len
    }

    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The transaction at `index`.
    pub fn get(&self, index: usize) -> Option<&Arc<Transaction>> {
        let chunk = self.chunks.get(index / TRANSACTION_CHUNK_LEN)?;
        chunk.get(index % TRANSACTION_CHUNK_LEN).map(|e| &e.item)
    }

    pub fn first(&self) -> Option<&Arc<Transaction>> {
        self.get(0)
    }

    pub fn last(&self) -> Option<&Arc<Transaction>> {
        self.len.checked_sub(1).and_then(|index| self.get(index))
    }

    /// The transactions in order; `.rev()` goes from the newest.
    pub fn iter(&self) -> Iter<'_> {
        Iter {
            chunks: self.chunks.iter(),
            front: [].iter(),
            back: [].iter(),
            left: self.len,
        }
    }

    /// The indexes, in order, whose transaction is not the very one (the
    /// same pointer) at that index of `before`: the ones a new version
    /// changed or added, and any that only compare equal. Chunks the two
    /// share are passed over whole.
    pub fn differs_from<'a>(&'a self, before: &'a Self) -> impl Iterator<Item = usize> + 'a {
        self.chunks.iter().enumerate().flat_map(move |(at, chunk)| {
            let earlier = before.chunks.get(at);
            let shared = earlier.is_some_and(|b| Arc::ptr_eq(b, chunk));
            let entries = if shared { &chunk[..0] } else { &chunk[..] };
            entries
                .iter()
                .enumerate()
                .filter_map(move |(within, entry)| {
                    let same = earlier
                        .and_then(|b| b.get(within))
                        .is_some_and(|b| Arc::ptr_eq(&b.item, &entry.item));
                    (!same).then_some(at * TRANSACTION_CHUNK_LEN + within)
                })
        })
    }

    /// The index of transaction `id`, searching from the newest.
    pub fn position(&self, id: TransactionId) -> Option<usize> {
        self.chunks
            .iter()
            .enumerate()
            .rev()
            .find_map(|(at, chunk)| {
                let within = chunk.iter().rposition(|e| e.id == id)?;
                Some(at * TRANSACTION_CHUNK_LEN + within)
            })
    }

    /// Transaction `id`, searching from the newest.
    pub fn find(&self, id: TransactionId) -> Option<&Arc<Transaction>> {
        self.position(id).and_then(|index| self.get(index))
    }

    /// Whether a transaction has this id.
    pub fn contains(&self, id: TransactionId) -> bool {
        self.position(id).is_some()
    }

    /// Adds `transaction` at the end.
    pub fn push(&mut self, transaction: Arc<Transaction>) {
        let entry = Entry {
            id: transaction.id,
            item: transaction,
        };
        match self.chunks.last_mut() {
            Some(last) if last.len() < TRANSACTION_CHUNK_LEN => own(last).push(entry),
            _ => {
                let mut chunk = Vec::with_capacity(TRANSACTION_CHUNK_LEN);
                chunk.push(entry);
                self.chunks.push(Arc::new(chunk));
            }
        }
        self.len += 1;
    }

    /// Changes transaction `id` with `change`, copying it (and its chunk)
    /// first when an earlier version shares them. `None` when no
    /// transaction has the id.
    ///
    /// # Panics
    /// When `change` changes the transaction's id.
    pub fn update<R>(
        &mut self,
        id: TransactionId,
        change: impl FnOnce(&mut Transaction) -> R,
    ) -> Option<R> {
        let index = self.position(id)?;
        let chunk = own(&mut self.chunks[index / TRANSACTION_CHUNK_LEN]);
        let transaction = Arc::make_mut(&mut chunk[index % TRANSACTION_CHUNK_LEN].item);
        let result = change(transaction);
        assert_eq!(transaction.id, id, "a transaction's id never changes");
        Some(result)
    }

    /// Removes and returns the transaction at `index` (the later ones move
    /// up); `None` past the end. Rebuilds the chunks from `index` on.
    pub fn remove(&mut self, index: usize) -> Option<Arc<Transaction>> {
        if index >= self.len {
            return None;
        }
        let kept = index / TRANSACTION_CHUNK_LEN;
        let tail: Vec<Entry> = self
            .chunks
            .drain(kept..)
            .flat_map(|chunk| chunk.as_ref().clone())
            .collect();
        self.len = kept * TRANSACTION_CHUNK_LEN;
        let mut removed = None;
        for (at, entry) in tail.into_iter().enumerate() {
            if kept * TRANSACTION_CHUNK_LEN + at == index {
                removed = Some(entry.item);
            } else {
                self.push(entry.item);
            }
        }
        removed
    }

    /// Whether the transaction at `index` is the very one (not only an
    /// equal one) at `index` in `other`.
    pub fn shares(&self, other: &Self, index: usize) -> bool {
        match (self.get(index), other.get(index)) {
            (Some(a), Some(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// `chunk` to change: copied first (with room to grow) when shared.
fn own(chunk: &mut Chunk) -> &mut Vec<Entry> {
    if Arc::get_mut(chunk).is_none() {
        let mut copy = Vec::with_capacity(TRANSACTION_CHUNK_LEN);
        copy.extend_from_slice(chunk);
        *chunk = Arc::new(copy);
    }
    Arc::make_mut(chunk)
}

impl fmt::Debug for TransactionList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl FromIterator<Arc<Transaction>> for TransactionList {
    fn from_iter<I: IntoIterator<Item = Arc<Transaction>>>(items: I) -> Self {
        let mut list = Self::new();
        items.into_iter().for_each(|item| list.push(item));
        list
    }
}

impl FromIterator<Transaction> for TransactionList {
    fn from_iter<I: IntoIterator<Item = Transaction>>(items: I) -> Self {
        items.into_iter().map(Arc::new).collect()
    }
}

impl From<Vec<Transaction>> for TransactionList {
    fn from(items: Vec<Transaction>) -> Self {
        items.into_iter().collect()
    }
}

impl Extend<Arc<Transaction>> for TransactionList {
    fn extend<I: IntoIterator<Item = Arc<Transaction>>>(&mut self, items: I) {
        items.into_iter().for_each(|item| self.push(item));
    }
}

/// The transaction at an index, as a vector's indexing.
///
/// # Panics
/// Past the end.
impl std::ops::Index<usize> for TransactionList {
    type Output = Arc<Transaction>;

    fn index(&self, index: usize) -> &Arc<Transaction> {
        match self.get(index) {
            Some(item) => item,
            None => panic!("index {index} past the {} transactions", self.len),
        }
    }
}

impl<'a> IntoIterator for &'a TransactionList {
    type Item = &'a Arc<Transaction>;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// The transactions of a [`TransactionList`] in order, from either end.
#[derive(Clone, Debug)]
pub struct Iter<'a> {
    /// The chunks neither end has started.
    chunks: std::slice::Iter<'a, Chunk>,
    /// What is left of the chunks each end is in.
    front: std::slice::Iter<'a, Entry>,
    back: std::slice::Iter<'a, Entry>,
    left: usize,
}

impl<'a> Iterator for Iter<'a> {
    type Item = &'a Arc<Transaction>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(entry) = self.front.next() {
                self.left -= 1;
                return Some(&entry.item);
            }
            match self.chunks.next() {
                Some(chunk) => self.front = chunk.iter(),
                None => {
                    let entry = self.back.next()?;
                    self.left -= 1;
                    return Some(&entry.item);
                }
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.left, Some(self.left))
    }
}

impl DoubleEndedIterator for Iter<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(entry) = self.back.next_back() {
                self.left -= 1;
                return Some(&entry.item);
            }
            match self.chunks.next_back() {
                Some(chunk) => self.back = chunk.iter(),
                None => {
                    let entry = self.front.next_back()?;
                    self.left -= 1;
                    return Some(&entry.item);
                }
            }
        }
    }
}

impl ExactSizeIterator for Iter<'_> {}

impl std::iter::FusedIterator for Iter<'_> {}

#[cfg(test)]
mod tests;
