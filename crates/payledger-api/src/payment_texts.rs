//! The JSON text of payments recently answered, by payment id.
//!
//! An update answers with the whole payment, and a payment of a few hundred
//! transactions is mostly transaction text that did not change. The answer
//! of an update or a create is kept here with where each transaction sits
//! in it; the next update's answer copies the transactions equal to the
//! ones at the same positions, and a read of the payment at that version
//! sends the kept text as it is.
//!
//! A live payment's view at one version is always the same value (it is
//! folded from immutable events), so an entry is sent again only at its
//! version; a copied transaction is compared with the one it replaces
//! first. A stale, missing or evicted entry costs a fresh rendering, never
//! a wrong answer. The one change to what a version reads as is an
//! erasure, and it comes only with the payment's deletion: a deletion
//! forgets the payment, deletions and replayed requests are not kept, and
//! reads of earlier versions are written afresh. (An update answered late,
//! after the deletion, may keep its text again, but no current view of a
//! deleted payment is read, so nothing sends it.)

use axum::body::Bytes;
use payledger_app::latest_cache::{LatestCache, Versioned};
use payledger_app::payments::Committed;
use payledger_domain::{Payment, PaymentId};
use payledger_wire::json::{
    EarlierText, TransactionSpans, payment_json_bytes, payment_json_reusing,
};
use std::sync::Arc;

/// Most bytes the kept texts count for, in all: each entry counts its text
/// twice (once for the text, once for the payment it keeps alive) and its
/// spans. Arbitrary entries of a full shard make room for a new one; a
/// text bigger than a shard's share is not kept.
pub const PAYMENT_TEXT_CACHE_BYTES_MAX: usize = 64 << 20;

/// Shards of the cache: answers on different payments rarely wait for one
/// another.
const PAYMENT_TEXT_CACHE_SHARDS: usize = 16;

/// One kept answer.
#[derive(Debug)]
struct Kept {
    payment: Arc<Payment>,
    text: Bytes,
    spans: TransactionSpans,
}

impl Versioned for Kept {
    fn payment_id(&self) -> PaymentId {
        self.payment.id
    }

    fn version(&self) -> u64 {
        self.payment.version
    }

    /// What this entry counts against [`PAYMENT_TEXT_CACHE_BYTES_MAX`].
    fn cost(&self) -> usize {
        2 * self.text.len() + self.spans.size_bytes()
    }
}

/// Texts of payments recently answered (see the module doc).
#[derive(Debug)]
pub struct PaymentTexts(LatestCache<Kept>);

impl Default for PaymentTexts {
    fn default() -> Self {
        Self(LatestCache::new(
            PAYMENT_TEXT_CACHE_SHARDS,
            PAYMENT_TEXT_CACHE_BYTES_MAX,
        ))
    }
}

impl PaymentTexts {
    /// The JSON of the payment a command left: written against the kept
    /// text of an earlier version, and kept for the next. The answer of a
    /// deletion or of a replayed request is written afresh and not kept,
    /// and a deletion forgets the payment: only live payments at their
    /// latest versions are kept, because an erasure changes what earlier
    /// versions read as.
    pub fn written(&self, committed: &Committed) -> Bytes {
        let payment = &committed.payment;
        if payment.deleted {
            self.0.forget(payment.id);
        }
        if payment.deleted || committed.replayed {
            return Bytes::from(payment_json_bytes(payment));
        }
        self.kept_text(payment)
    }

    /// The JSON of a payment's current view, as read from the store:
    /// the kept text when it is of this version, otherwise written against
    /// the kept one and kept. Not for earlier versions (see
    /// [`Self::written`]).
    pub fn current(&self, payment: &Arc<Payment>) -> Bytes {
        self.kept_text(payment)
    }

    /// The kept text of `payment`'s version, or one written now against
    /// the kept text of another version, and kept.
    fn kept_text(&self, payment: &Arc<Payment>) -> Bytes {
        let earlier = self.0.get(payment.id);
        if let Some(kept) = &earlier
            && kept.payment.version == payment.version
        {
            return kept.text.clone();
        }
        let (text, spans) = payment_json_reusing(
            payment,
            earlier.as_deref().map(|kept| EarlierText {
                payment: &kept.payment,
                text: &kept.text,
                spans: &kept.spans,
            }),
        );
        let kept = Arc::new(Kept {
            payment: Arc::clone(payment),
            text: Bytes::from(text),
            spans,
        });
        self.0.keep(&kept);
        kept.text.clone()
    }

    /// Like [`Self::current`] for a payment not shared behind an `Arc`:
    /// a fresh text when none is kept at its version, not kept.
    pub fn read(&self, payment: &Payment) -> Bytes {
        match self.0.get(payment.id) {
            Some(kept) if kept.payment.version == payment.version => kept.text.clone(),
            _ => Bytes::from(payment_json_bytes(payment)),
        }
    }
}

#[cfg(test)]
mod tests;
