//! The rows of the signed tokenization API, all JSON with unknown fields
//! ignored (golden file `tokenization_rows_v1.txt`):
//!
//! - [`Counters`] ([`Table::MerchantCounters`], merchant u64 BE): the next
//!   order, transaction and token number of a merchant and its trace
//!   number (`stan`) of the day. Written in the batch of the order's
//!   creation, so a number is used exactly when its order exists.
//! - [`RequestRecord`] ([`Table::MerchantReferences`], merchant ·
//!   reference): one per `merchantReference`, written with the order; the
//!   SHA-256 of the request text, the numbers it got and, once final, its
//!   [`Outcome`].
//! - [`TokenRecord`] ([`Table::PaymentTokens`], merchant · token): a PSP
//!   customer and payment method, the user and the sale that saved them.
//! - [`CallbackDue`] ([`Table::MerchantCallbacks`], due ms · merchant ·
//!   reference): work for the callback sender: settle an outcome that was
//!   pending, or send the notify callback.

use payledger_store::{EventStore, KvWrite, StoreError, Table};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

/// Milliseconds of a (UTC) day: trace numbers restart every day.
pub const DAY_MS: i64 = 86_400_000;

/// The numbering of one merchant.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    /// The last order number given (0: none yet).
    #[serde(default)]
    pub last_order: u64,
    #[serde(default)]
    pub last_transaction: u64,
    #[serde(default)]
    pub last_token: u64,
    /// The UTC day (days since the epoch) of `last_stan`.
    #[serde(default)]
    pub stan_day: i64,
    #[serde(default)]
    pub last_stan: u64,
}

/// The numbers one request gets.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Numbers {
    pub order: u64,
    pub transaction: u64,
    /// For a sale: the token it saves.
    pub token: Option<u64>,
    pub stan: u64,
}

impl Counters {
    /// Takes the next numbers at `now_ms` (a sale also takes a token).
    pub fn take(&mut self, now_ms: i64, sale: bool) -> Numbers {
        let day = now_ms.div_euclid(DAY_MS);
        if day != self.stan_day {
            self.stan_day = day;
            self.last_stan = 0;
        }
        self.last_order += 1;
        self.last_transaction += 1;
        self.last_stan += 1;
        let token = sale.then(|| {
            self.last_token += 1;
            self.last_token
        });
        Numbers {
            order: self.last_order,
            transaction: self.last_transaction,
            token,
            stan: self.last_stan,
        }
    }
}

/// Which endpoint a request came to.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RequestKind {
    Sale,
    Recurring,
}

/// Where an order stands, as the tokenization API says it.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OrderStatus {
    Success,
    Failed,
    Pending,
}

impl OrderStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Success => "SUCCESS",
            Self::Failed => "FAILED",
            Self::Pending => "PENDING",
        }
    }
}

/// The final result of a request.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    pub status: OrderStatus,
    /// The `responseCode` text.
    pub code: String,
    pub message: String,
    /// The PSP's decline code of a refused charge.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decline_code: Option<String>,
    /// Upper case (`VISA`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last4: Option<String>,
    pub settled_at_ms: i64,
}

/// One request of a merchant, by its `merchantReference`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestRecord {
    pub kind: RequestKind,
    pub merchant_id: u64,
    pub merchant_reference: String,
    /// SHA-256 of the exact request text, hex: the same text is the same
    /// request.
    pub request_sha256: String,
    pub project: String,
    /// The order's id in the Orders API.
    pub order: String,
    pub order_number: u64,
    pub transaction_number: u64,
    pub stan: u64,
    /// The token a sale saves or a recurring request charges.
    pub token: u64,
    /// Lower case.
    pub user_id: String,
    pub currency: String,
    /// In the currency's minor units.
    pub amount: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// A sale's PSP payment method (`pm_…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payment_method: Option<String>,
    /// A recurring request's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify_url: Option<String>,
    pub created_at_ms: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<Outcome>,
    /// The notify callback was answered with a 2xx.
    #[serde(default)]
    pub notified: bool,
}

/// A saved card of a user of a merchant.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRecord {
    pub merchant_id: u64,
    pub token: u64,
    pub project: String,
    /// Lower case.
    pub user_id: String,
    /// The payment interface (`stripe`).
    pub psp: String,
    /// `cus_…`
    pub customer: String,
    /// `pm_…`
    pub payment_method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last4: Option<String>,
    pub currency: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The order number of the sale that saved the card.
    pub sale_order: u64,
    pub created_at_ms: i64,
}

/// A callback that is due.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallbackDue {
    /// Attempts made so far (settling or sending).
    pub attempts: u32,
}

fn encode<T: Serialize>(row: &T) -> Vec<u8> {
    serde_json::to_vec(row).unwrap_or_else(|_| unreachable!("the row serializes"))
}

fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|e| StoreError::Corrupt(format!("{what} row: {e}")))
}

fn get<T: DeserializeOwned>(
    store: &(impl EventStore + ?Sized),
    table: Table,
    key: &[u8],
    what: &str,
) -> Result<Option<T>, StoreError> {
    store
        .get(table, key)?
        .map(|bytes| decode(what, &bytes))
        .transpose()
}

/// The counters of `merchant` (zero before its first request).
pub fn counters(store: &(impl EventStore + ?Sized), merchant: u64) -> Result<Counters, StoreError> {
    Ok(get(
        store,
        Table::MerchantCounters,
        &merchant.to_be_bytes(),
        "merchant counters",
    )?
    .unwrap_or_default())
}

pub fn counters_write(merchant: u64, counters: &Counters) -> KvWrite {
    KvWrite {
        table: Table::MerchantCounters,
        key: merchant.to_be_bytes().to_vec(),
        value: Some(encode(counters)),
    }
}

fn reference_key(merchant: u64, reference: &str) -> Vec<u8> {
    let mut key = merchant.to_be_bytes().to_vec();
    key.extend_from_slice(reference.as_bytes());
    key
}

/// The request `merchant` made with `reference`, if any.
pub fn request(
    store: &(impl EventStore + ?Sized),
    merchant: u64,
    reference: &str,
) -> Result<Option<RequestRecord>, StoreError> {
    get(
        store,
        Table::MerchantReferences,
        &reference_key(merchant, reference),
        "merchant reference",
    )
}

pub fn request_write(record: &RequestRecord) -> KvWrite {
    KvWrite {
        table: Table::MerchantReferences,
        key: reference_key(record.merchant_id, &record.merchant_reference),
        value: Some(encode(record)),
    }
}

fn token_key(merchant: u64, token: u64) -> Vec<u8> {
    let mut key = merchant.to_be_bytes().to_vec();
    key.extend_from_slice(&token.to_be_bytes());
    key
}

/// Token `token` of `merchant`, if any.
pub fn token(
    store: &(impl EventStore + ?Sized),
    merchant: u64,
    token: u64,
) -> Result<Option<TokenRecord>, StoreError> {
    get(
        store,
        Table::PaymentTokens,
        &token_key(merchant, token),
        "payment token",
    )
}

pub fn token_write(record: &TokenRecord) -> KvWrite {
    KvWrite {
        table: Table::PaymentTokens,
        key: token_key(record.merchant_id, record.token),
        value: Some(encode(record)),
    }
}

/// The key of a callback of `merchant`'s request `reference` due at
/// `due_ms`.
pub fn callback_key(due_ms: i64, merchant: u64, reference: &str) -> Vec<u8> {
    let mut key = u64::try_from(due_ms.max(0))
        .unwrap_or(0)
        .to_be_bytes()
        .to_vec();
    key.extend_from_slice(&reference_key(merchant, reference));
    key
}

/// Schedules a callback.
pub fn callback_write(key: Vec<u8>, due: &CallbackDue) -> KvWrite {
    KvWrite {
        table: Table::MerchantCallbacks,
        key,
        value: Some(encode(due)),
    }
}

/// Removes a callback.
pub fn callback_remove(key: Vec<u8>) -> KvWrite {
    KvWrite {
        table: Table::MerchantCallbacks,
        key,
        value: None,
    }
}

/// A scheduled callback as read back.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ScheduledCallback {
    pub key: Vec<u8>,
    pub due_ms: i64,
    pub merchant: u64,
    pub reference: String,
    pub due: CallbackDue,
}

/// Up to `max` callbacks due at `now_ms`, earliest first.
pub fn callbacks_due(
    store: &(impl EventStore + ?Sized),
    now_ms: i64,
    max: usize,
) -> Result<Vec<ScheduledCallback>, StoreError> {
    let end = u64::try_from(now_ms.max(0))
        .unwrap_or(0)
        .saturating_add(1)
        .to_be_bytes();
    store
        .scan(Table::MerchantCallbacks, &[], &end, max)?
        .into_iter()
        .map(|(key, value)| {
            let corrupt = || StoreError::Corrupt("merchant callback key".into());
            if key.len() < 16 {
                return Err(corrupt());
            }
            let (due, rest) = key.split_at(8);
            let (merchant, reference) = rest.split_at(8);
            Ok(ScheduledCallback {
                due_ms: i64::try_from(u64::from_be_bytes(due.try_into().map_err(|_| corrupt())?))
                    .map_err(|_| corrupt())?,
                merchant: u64::from_be_bytes(merchant.try_into().map_err(|_| corrupt())?),
                reference: String::from_utf8(reference.to_vec()).map_err(|_| corrupt())?,
                due: decode("merchant callback", &value)?,
                key,
            })
        })
        .collect()
}

/// When the earliest callback is due, if any is scheduled.
pub fn next_callback_ms(store: &(impl EventStore + ?Sized)) -> Result<Option<i64>, StoreError> {
    Ok(store
        .scan(Table::MerchantCallbacks, &[], &[0xff; 9], 1)?
        .first()
        .and_then(|(key, _)| key.get(..8))
        .and_then(|due| due.try_into().ok())
        .map(u64::from_be_bytes)
        .and_then(|due| i64::try_from(due).ok()))
}

#[cfg(test)]
mod tests;
