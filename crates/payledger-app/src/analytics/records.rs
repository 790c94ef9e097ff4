//! The stored rows of the analytics projection.
//!
//! | table | key | value |
//! |---|---|---|
//! | AnalyticsFacts | project · payment (16) · 0 | the payment's PSP (text, empty: none) |
//! | AnalyticsFacts | project · payment (16) · 1 · transaction (16) | day (i32 BE) · type (u8) · state (u8) · cent amount (i64 BE) · currency (text) · PSP (text) |
//! | AnalyticsBuckets | project · day (u32 BE, i32 + 2^31) · currency (text) · PSP (text) · type (u8) · state (u8) · partition (u16 BE) | count (i64 BE) · cent amount (i64 BE) |
//!
//! Texts are length-prefixed ([`push_text`]); days count from
//! 1970-01-01 in UTC. Type and state codes are fixed here, never reused.

use crate::table_keys::{project_prefix, push_text, split_text};
use payledger_domain::payment::{TransactionState, TransactionType};
use payledger_domain::{PaymentId, ProjectKey, TransactionId};
use payledger_store::{KvWrite, Table};

/// What the projection knows of one transaction.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct TxnFact {
    /// The UTC day of the event that added it, in days since 1970-01-01.
    pub day: i32,
    pub kind: TransactionType,
    pub state: TransactionState,
    pub cent_amount: i64,
    pub currency: String,
    /// The payment's PSP (`paymentMethodInfo.paymentInterface`) when the
    /// transaction was added; empty when it had none.
    pub psp: String,
}

/// One group of transactions in one partition.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct BucketKey {
    pub project: ProjectKey,
    pub day: i32,
    pub currency: String,
    pub psp: String,
    pub kind: TransactionType,
    pub state: TransactionState,
    pub partition: u16,
}

/// How many transactions a bucket holds and what they amount to.
#[derive(Clone, Copy, PartialEq, Eq, Default, Debug)]
pub struct Totals {
    pub count: i64,
    pub cent_amount: i64,
}

impl Totals {
    pub fn add(&mut self, other: Self) {
        self.count += other.count;
        self.cent_amount += other.cent_amount;
    }

    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }
}

pub(crate) const fn kind_code(kind: TransactionType) -> u8 {
    match kind {
        TransactionType::Authorization => 1,
        TransactionType::CancelAuthorization => 2,
        TransactionType::Charge => 3,
        TransactionType::Refund => 4,
        TransactionType::Chargeback => 5,
    }
}

fn kind_of(code: u8) -> Option<TransactionType> {
    TransactionType::ALL
        .into_iter()
        .find(|k| kind_code(*k) == code)
}

pub(crate) const fn state_code(state: TransactionState) -> u8 {
    match state {
        TransactionState::Initial => 1,
        TransactionState::Pending => 2,
        TransactionState::Success => 3,
        TransactionState::Failure => 4,
    }
}

fn state_of(code: u8) -> Option<TransactionState> {
    TransactionState::ALL
        .into_iter()
        .find(|s| state_code(*s) == code)
}

fn payment_prefix(project: &ProjectKey, payment: PaymentId) -> Vec<u8> {
    let mut key = project_prefix(project);
    key.extend_from_slice(payment.as_bytes());
    key
}

pub fn psp_key(project: &ProjectKey, payment: PaymentId) -> Vec<u8> {
    let mut key = payment_prefix(project, payment);
    key.push(0);
    key
}

pub fn psp_write(project: &ProjectKey, payment: PaymentId, psp: &str) -> KvWrite {
    let mut value = Vec::with_capacity(2 + psp.len());
    push_text(&mut value, psp);
    KvWrite {
        table: Table::AnalyticsFacts,
        key: psp_key(project, payment),
        value: Some(value),
    }
}

pub fn decode_psp(value: &[u8]) -> Option<String> {
    let (text, rest) = split_text(value)?;
    rest.is_empty()
        .then(|| String::from_utf8(text.to_vec()).ok())
        .flatten()
}

pub fn txn_key(project: &ProjectKey, payment: PaymentId, txn: TransactionId) -> Vec<u8> {
    let mut key = payment_prefix(project, payment);
    key.push(1);
    key.extend_from_slice(txn.as_bytes());
    key
}

pub fn txn_write(
    project: &ProjectKey,
    payment: PaymentId,
    txn: TransactionId,
    fact: &TxnFact,
) -> KvWrite {
    let mut value = Vec::with_capacity(20 + fact.currency.len() + fact.psp.len());
    value.extend_from_slice(&fact.day.to_be_bytes());
    value.push(kind_code(fact.kind));
    value.push(state_code(fact.state));
    value.extend_from_slice(&fact.cent_amount.to_be_bytes());
    push_text(&mut value, &fact.currency);
    push_text(&mut value, &fact.psp);
    KvWrite {
        table: Table::AnalyticsFacts,
        key: txn_key(project, payment, txn),
        value: Some(value),
    }
}

pub fn decode_txn(value: &[u8]) -> Option<TxnFact> {
    let (day, rest) = value.split_first_chunk::<4>()?;
    let ([kind, state], rest) = rest.split_first_chunk::<2>().map(|(a, r)| (*a, r))?;
    let (amount, rest) = rest.split_first_chunk::<8>()?;
    let (currency, rest) = split_text(rest)?;
    let (psp, rest) = split_text(rest)?;
    if !rest.is_empty() {
        return None;
    }
    Some(TxnFact {
        day: i32::from_be_bytes(*day),
        kind: kind_of(kind)?,
        state: state_of(state)?,
        cent_amount: i64::from_be_bytes(*amount),
        currency: String::from_utf8(currency.to_vec()).ok()?,
        psp: String::from_utf8(psp.to_vec()).ok()?,
    })
}

/// Days sort as unsigned big-endian numbers.
fn day_bytes(day: i32) -> [u8; 4] {
    (day as u32 ^ 0x8000_0000).to_be_bytes()
}

/// The first bucket key of `project` on `day` (scan bounds).
pub fn bucket_day_prefix(project: &ProjectKey, day: i32) -> Vec<u8> {
    let mut key = project_prefix(project);
    key.extend_from_slice(&day_bytes(day));
    key
}

pub fn bucket_key(bucket: &BucketKey) -> Vec<u8> {
    let mut key = bucket_day_prefix(&bucket.project, bucket.day);
    push_text(&mut key, &bucket.currency);
    push_text(&mut key, &bucket.psp);
    key.push(kind_code(bucket.kind));
    key.push(state_code(bucket.state));
    key.extend_from_slice(&bucket.partition.to_be_bytes());
    key
}

/// The bucket a key names, within `project`.
pub fn decode_bucket_key(project: &ProjectKey, key: &[u8]) -> Option<BucketKey> {
    let rest = key.strip_prefix(project_prefix(project).as_slice())?;
    let (day, rest) = rest.split_first_chunk::<4>()?;
    let (currency, rest) = split_text(rest)?;
    let (psp, rest) = split_text(rest)?;
    let ([kind, state], rest) = rest.split_first_chunk::<2>().map(|(a, r)| (*a, r))?;
    let partition: [u8; 2] = rest.try_into().ok()?;
    Some(BucketKey {
        project: project.clone(),
        day: (u32::from_be_bytes(*day) ^ 0x8000_0000) as i32,
        currency: String::from_utf8(currency.to_vec()).ok()?,
        psp: String::from_utf8(psp.to_vec()).ok()?,
        kind: kind_of(kind)?,
        state: state_of(state)?,
        partition: u16::from_be_bytes(partition),
    })
}

pub fn bucket_value(totals: Totals) -> Vec<u8> {
    let mut value = Vec::with_capacity(16);
    value.extend_from_slice(&totals.count.to_be_bytes());
    value.extend_from_slice(&totals.cent_amount.to_be_bytes());
    value
}

pub fn decode_bucket_value(value: &[u8]) -> Option<Totals> {
    let (count, rest) = value.split_first_chunk::<8>()?;
    let amount: [u8; 8] = rest.try_into().ok()?;
    Some(Totals {
        count: i64::from_be_bytes(*count),
        cent_amount: i64::from_be_bytes(amount),
    })
}
