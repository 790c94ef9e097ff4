//! Outbound webhook Subscriptions: HTTP destinations that receive the
//! Messages of one project, signed with a secret, in order per payment.
//!
//! This module holds the stored records, the rules a draft must pass, and
//! the delivery state read back from the cursors; the worker that delivers
//! lives in `payledger-webhooks`. A subscription is a log consumer named
//! [`consumer_name`]: one durable cursor per partition.
//!
//! | table         | key                                 | value |
//! |---------------|-------------------------------------|-------|
//! | Subscriptions | project · subscription id           | [`SubscriptionRecord`] (JSON) |
//! | Cursors       | `subscription:{id}` · partition     | see [`crate::consumer`] |
//!
//! Decisions where commercetools leaves room or payledger differs:
//! - The only destination is `{type:"HTTP", url, secret}`; only `messages`
//!   of `resourceTypeId` `payment` are delivered (`changes` and `events`
//!   must be empty).
//! - A new subscription delivers the Messages committed after it was
//!   created: its cursors start at the log heads, written in the same batch
//!   as the record. Deleting it removes record and cursors together.
//! - Update actions `changeDestination`, `setKey` and `setMessages` keep
//!   the cursors: a URL or secret can change (or a refusing destination be
//!   fixed) without losing or repeating the Messages still to deliver.
//!   `format` cannot change (commercetools has no such action either).
//! - Destinations are `http://` or `https://` URLs; HTTPS certificates are
//!   verified (Mozilla roots, plus extra roots the server is given).
//! - No test notification is sent on creation; a destination that does not
//!   answer shows up in `status` instead.
//! - `status` is derived from the cursors: a delivery failure holding any
//!   partition back makes it `TemporaryError` or `ConfigurationError`
//!   (recorded as the first word of the cursor's error, see
//!   [`DeliveryFailure`]); a later success clears it (`Healthy`).

use crate::catalog::{KEY_BYTES_MAX, KEY_BYTES_MIN, ModifiedBy, is_identifier};
use crate::consumer::{Cursor, CursorError};
use crate::idempotency::{self, Answer, AnswerError, Answered};
use crate::table_keys::{prefix_end, project_prefix, push_text, split_text};
use payledger_domain::{ProjectKey, ResourceRef};
use payledger_store::{EventStore, KvWrite, StoreError, Table};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Most subscriptions one project may hold (commercetools allows 25).
pub const SUBSCRIPTIONS_PER_PROJECT_MAX: usize = 25;
/// Most subscriptions of all projects that [`list_all`] reads.
pub const SUBSCRIPTIONS_LISTED_MAX: usize = 100_000;
/// Longest destination URL, in bytes.
pub const URL_BYTES_MAX: usize = 2_048;
/// Shortest signing secret, in bytes (128 bits of ASCII entropy at best).
pub const SECRET_BYTES_MIN: usize = 16;
/// Longest signing secret, in bytes.
pub const SECRET_BYTES_MAX: usize = 256;
/// Most message types one subscription may name.
pub const MESSAGE_TYPES_MAX: usize = 100;
/// The `resourceTypeId` whose messages payledger delivers.
pub const PAYMENT_RESOURCE_TYPE_ID: &str = "payment";
/// The CloudEvents version of the CloudEvents format.
pub const CLOUD_EVENTS_VERSION: &str = "1.0";
/// Prefix of the log consumer name of every subscription.
pub const CONSUMER_PREFIX: &str = "subscription:";

/// The log consumer (cursor owner) of subscription `id`.
pub fn consumer_name(id: &str) -> String {
    format!("{CONSUMER_PREFIX}{id}")
}

// ---------------------------------------------------------------------------
// Records.

/// A stored subscription; also the body of the API's representation.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionRecord {
    pub id: String,
    pub version: u64,
    pub created_at: String,
    pub last_modified_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_by: Option<ModifiedBy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_by: Option<ModifiedBy>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub destination: Destination,
    pub messages: Vec<MessageFilter>,
    pub format: DeliveryFormat,
}

impl SubscriptionRecord {
    /// Whether a Message of `message_type` (about a payment) is delivered.
    pub fn wants(&self, message_type: &str) -> bool {
        self.messages.iter().any(|filter| {
            filter.resource_type_id == PAYMENT_RESOURCE_TYPE_ID
                && (filter.types.is_empty() || filter.types.iter().any(|t| t == message_type))
        })
    }
}

/// Where deliveries go.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum Destination {
    /// `POST url` with the delivery as body, signed with `secret`.
    #[serde(rename = "HTTP")]
    Http { url: String, secret: String },
}

impl Destination {
    pub fn url(&self) -> &str {
        match self {
            Self::Http { url, .. } => url,
        }
    }

    pub fn secret(&self) -> &str {
        match self {
            Self::Http { secret, .. } => secret,
        }
    }
}

/// Which Messages a subscription receives: of `resourceTypeId`, all types
/// when `types` is empty.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageFilter {
    pub resource_type_id: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<String>,
}

/// The body of a delivery.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum DeliveryFormat {
    /// The Message JSON with `notificationType` and `projectKey`.
    Platform,
    /// A CloudEvents 1.0 JSON envelope whose `data` is the Platform body.
    CloudEvents {
        #[serde(rename = "cloudEventsVersion")]
        cloud_events_version: String,
    },
}

// ---------------------------------------------------------------------------
// Drafts and rules.

/// A validated-shape `SubscriptionDraft` (the API parsed the JSON).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct SubscriptionDraft {
    pub key: Option<String>,
    pub destination: Destination,
    pub messages: Vec<MessageFilter>,
    pub format: DeliveryFormat,
}

impl SubscriptionDraft {
    /// What of `record` a draft describes (to check an update against the
    /// rules of a new subscription).
    fn of(record: &SubscriptionRecord) -> Self {
        Self {
            key: record.key.clone(),
            destination: record.destination.clone(),
            messages: record.messages.clone(),
            format: record.format.clone(),
        }
    }
}

/// A commercetools `SubscriptionUpdateAction` that payledger supports.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum SubscriptionAction {
    /// `changeDestination`: a new URL and/or secret.
    ChangeDestination(Destination),
    /// `setKey`; `None` removes the key.
    SetKey(Option<String>),
    /// `setMessages`.
    SetMessages(Vec<MessageFilter>),
}

/// Who creates the subscription, and when (as for the catalog).
pub type SubscriptionMeta = crate::catalog::CatalogMeta;

/// One variant per rule that can refuse a subscription.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum SubscriptionRejection {
    InvalidKey {
        key: String,
    },
    DuplicateKey {
        key: String,
    },
    InvalidUrl {
        url: String,
        reason: String,
    },
    InvalidSecret {
        length_bytes: usize,
    },
    /// Neither a `messages` entry nor anything else to deliver.
    NoMessages,
    UnsupportedResourceTypeId {
        value: String,
    },
    UnknownMessageType {
        value: String,
    },
    TooManyMessageTypes {
        max: usize,
    },
    TooManySubscriptions {
        max: usize,
    },
    UnsupportedFormatVersion {
        value: String,
    },
}

impl SubscriptionRejection {
    /// A message for the client.
    pub fn message(&self) -> String {
        match self {
            Self::InvalidKey { key } => format!(
                "The key '{key}' must be {KEY_BYTES_MIN} to {KEY_BYTES_MAX} characters of A-Z, a-z, 0-9, '_' and '-'."
            ),
            Self::DuplicateKey { key } => {
                format!("A Subscription with the key '{key}' already exists.")
            }
            Self::InvalidUrl { url, reason } => format!(
                "The destination URL '{url}' is not usable: {reason}. Use an absolute http:// or https:// URL of at most {URL_BYTES_MAX} bytes."
            ),
            Self::InvalidSecret { length_bytes } => format!(
                "The destination secret must be {SECRET_BYTES_MIN} to {SECRET_BYTES_MAX} bytes; it has {length_bytes}."
            ),
            Self::NoMessages => format!(
                "A Subscription needs at least one messages entry (resourceTypeId '{PAYMENT_RESOURCE_TYPE_ID}')."
            ),
            Self::UnsupportedResourceTypeId { value } => format!(
                "The resourceTypeId '{value}' is not supported; payledger delivers messages of '{PAYMENT_RESOURCE_TYPE_ID}'."
            ),
            Self::UnknownMessageType { value } => {
                format!("The message type '{value}' is not a payment message type.")
            }
            Self::TooManyMessageTypes { max } => {
                format!("A Subscription names at most {max} message types.")
            }
            Self::TooManySubscriptions { max } => {
                format!("A project holds at most {max} Subscriptions.")
            }
            Self::UnsupportedFormatVersion { value } => format!(
                "The cloudEventsVersion '{value}' is not supported; use '{CLOUD_EVENTS_VERSION}'."
            ),
        }
    }
}

impl fmt::Display for SubscriptionRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message())
    }
}

/// Why a subscription use case did not complete; nothing was written.
#[derive(Debug, thiserror::Error)]
pub enum SubscriptionError {
    #[error("rejected: {0}")]
    Rejected(SubscriptionRejection),
    #[error("the Subscription was not found")]
    NotFound,
    #[error(
        "object {id} has a different version than expected (expected {expected}, actual {current_version})"
    )]
    Conflict {
        id: String,
        expected: u64,
        current_version: u64,
    },
    /// A request with the same `Idempotency-Key` was answered meanwhile.
    #[error("a request with this Idempotency-Key was answered meanwhile")]
    AnswerRecorded,
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<AnswerError> for SubscriptionError {
    fn from(error: AnswerError) -> Self {
        match error {
            AnswerError::Recorded => Self::AnswerRecorded,
            AnswerError::Store(failure) => Self::Store(failure),
        }
    }
}

/// `writes` plus the answer to record for `record` (see
/// [`crate::idempotency::with_answer`]; call under [`crate::resource_writes::lock`]).
fn with_answer(
    store: &(impl EventStore + ?Sized),
    answer: Option<&Answer>,
    record: &SubscriptionRecord,
    writes: Vec<KvWrite>,
) -> Result<Vec<KvWrite>, SubscriptionError> {
    let answered = Answered::Subscription(record);
    Ok(idempotency::with_answer(store, answer, answered, writes)?)
}

impl From<SubscriptionRejection> for SubscriptionError {
    fn from(rejection: SubscriptionRejection) -> Self {
        Self::Rejected(rejection)
    }
}

/// Checks a draft against every rule that needs no store; `message_types`
/// lists the known payment message types.
pub fn check_draft(
    draft: &SubscriptionDraft,
    message_types: &[&str],
) -> Result<(), SubscriptionRejection> {
    if let Some(key) = &draft.key
        && !is_identifier(key, KEY_BYTES_MIN, KEY_BYTES_MAX)
    {
        return Err(SubscriptionRejection::InvalidKey { key: key.clone() });
    }
    let Destination::Http { url, secret } = &draft.destination;
    check_url(url)?;
    if !(SECRET_BYTES_MIN..=SECRET_BYTES_MAX).contains(&secret.len()) {
        return Err(SubscriptionRejection::InvalidSecret {
            length_bytes: secret.len(),
        });
    }
    if draft.messages.is_empty() {
        return Err(SubscriptionRejection::NoMessages);
    }
    let mut types = 0;
    for filter in &draft.messages {
        if filter.resource_type_id != PAYMENT_RESOURCE_TYPE_ID {
            return Err(SubscriptionRejection::UnsupportedResourceTypeId {
                value: filter.resource_type_id.clone(),
            });
        }
        types += filter.types.len();
        if types > MESSAGE_TYPES_MAX {
            return Err(SubscriptionRejection::TooManyMessageTypes {
                max: MESSAGE_TYPES_MAX,
            });
        }
        if let Some(unknown) = filter
            .types
            .iter()
            .find(|t| !message_types.contains(&t.as_str()))
        {
            return Err(SubscriptionRejection::UnknownMessageType {
                value: unknown.clone(),
            });
        }
    }
    if let DeliveryFormat::CloudEvents {
        cloud_events_version,
    } = &draft.format
        && cloud_events_version != CLOUD_EVENTS_VERSION
    {
        return Err(SubscriptionRejection::UnsupportedFormatVersion {
            value: cloud_events_version.clone(),
        });
    }
    Ok(())
}

fn check_url(text: &str) -> Result<(), SubscriptionRejection> {
    let invalid = |reason: &str| SubscriptionRejection::InvalidUrl {
        url: text.chars().take(URL_BYTES_MAX).collect(),
        reason: reason.to_owned(),
    };
    if text.len() > URL_BYTES_MAX {
        return Err(invalid("it is too long"));
    }
    let url = url::Url::parse(text).map_err(|e| invalid(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(invalid("it names no host"));
    }
    if url.fragment().is_some() {
        return Err(invalid("a fragment is never sent"));
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Storage.

fn record_key(project: &ProjectKey, id: &str) -> Vec<u8> {
    let mut key = project_prefix(project);
    push_text(&mut key, id);
    key
}

fn corrupt(what: impl fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("subscription: {what}"))
}

fn decode(bytes: &[u8]) -> Result<SubscriptionRecord, StoreError> {
    serde_json::from_slice(bytes).map_err(corrupt)
}

fn encode(record: &SubscriptionRecord) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(record).map_err(corrupt)
}

/// Every subscription of `project`, oldest first.
pub fn list(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
) -> Result<Vec<SubscriptionRecord>, StoreError> {
    let prefix = project_prefix(project);
    let rows = store.scan(
        Table::Subscriptions,
        &prefix,
        &prefix_end(&prefix),
        SUBSCRIPTIONS_PER_PROJECT_MAX + 1,
    )?;
    let mut records = rows
        .iter()
        .map(|(_, value)| decode(value))
        .collect::<Result<Vec<_>, _>>()?;
    records.sort_by(|a, b| (&a.created_at, &a.id).cmp(&(&b.created_at, &b.id)));
    Ok(records)
}

/// Every subscription of every project (what the delivery workers serve).
pub fn list_all(
    store: &(impl EventStore + ?Sized),
) -> Result<Vec<(ProjectKey, SubscriptionRecord)>, StoreError> {
    // Keys start with the project's u16 length, far below 0xFFFF.
    let rows = store.scan(
        Table::Subscriptions,
        &[],
        &[u8::MAX; 3],
        SUBSCRIPTIONS_LISTED_MAX,
    )?;
    rows.iter()
        .map(|(key, value)| {
            let project = project_of_key(key)?;
            Ok((project, decode(value)?))
        })
        .collect()
}

fn project_of_key(key: &[u8]) -> Result<ProjectKey, StoreError> {
    split_text(key)
        .and_then(|(text, _)| std::str::from_utf8(text).ok())
        .and_then(ProjectKey::parse)
        .ok_or_else(|| corrupt(format!("key {}", hex::encode(key))))
}

/// The subscription named by id or key.
pub fn get(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    by: &ResourceRef,
) -> Result<SubscriptionRecord, SubscriptionError> {
    let found = match by {
        ResourceRef::Id(id) => store
            .get(Table::Subscriptions, &record_key(project, id))?
            .map(|bytes| decode(&bytes))
            .transpose()?,
        ResourceRef::Key(key) => list(store, project)?
            .into_iter()
            .find(|r| r.key.as_deref() == Some(key.as_str())),
    };
    found.ok_or(SubscriptionError::NotFound)
}

/// Creates a subscription whose cursors start at the current log heads.
#[tracing::instrument(skip_all, fields(project = %project))]
pub fn create(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    draft: SubscriptionDraft,
    message_types: &[&str],
    meta: &SubscriptionMeta,
) -> Result<SubscriptionRecord, SubscriptionError> {
    check_draft(&draft, message_types)?;
    let now = meta.now_text();
    let record = SubscriptionRecord {
        id: uuid::Uuid::new_v4().to_string(),
        version: 1,
        created_at: now.clone(),
        last_modified_at: now,
        created_by: meta.modified_by(),
        last_modified_by: meta.modified_by(),
        key: draft.key,
        destination: draft.destination,
        messages: draft.messages,
        format: draft.format,
    };
    let _writes = crate::resource_writes::lock();
    let existing = list(store, project)?;
    if existing.len() >= SUBSCRIPTIONS_PER_PROJECT_MAX {
        return Err(SubscriptionRejection::TooManySubscriptions {
            max: SUBSCRIPTIONS_PER_PROJECT_MAX,
        }
        .into());
    }
    if let Some(key) = &record.key
        && existing.iter().any(|r| r.key.as_ref() == Some(key))
    {
        return Err(SubscriptionRejection::DuplicateKey { key: key.clone() }.into());
    }
    let consumer = consumer_name(&record.id);
    let mut writes = vec![KvWrite {
        table: Table::Subscriptions,
        key: record_key(project, &record.id),
        value: Some(encode(&record)?),
    }];
    for partition in 0..store.partition_count() {
        let head = store.log_head(partition)?;
        writes.push(Cursor::write_at(&consumer, partition, head));
    }
    store.write(with_answer(store, meta.answer.as_ref(), &record, writes)?)?;
    Ok(record)
}

/// The subscription `by` names, if it is at `version`.
fn current(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    by: &ResourceRef,
    version: u64,
) -> Result<SubscriptionRecord, SubscriptionError> {
    let record = get(store, project, by)?;
    if record.version != version {
        return Err(SubscriptionError::Conflict {
            id: record.id,
            expected: version,
            current_version: record.version,
        });
    }
    Ok(record)
}

/// Applies update actions to the subscription at `version`, all or
/// nothing; the result must pass the rules of a new subscription. The
/// cursors stay where they are: deliveries go on from there with the new
/// destination and filters, so a Message held back by a failing
/// destination is retried at the new one and nothing is skipped. An update
/// that changes nothing keeps the version.
#[tracing::instrument(skip_all, fields(project = %project, version))]
pub fn update(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    by: &ResourceRef,
    version: u64,
    actions: Vec<SubscriptionAction>,
    message_types: &[&str],
    meta: &SubscriptionMeta,
) -> Result<SubscriptionRecord, SubscriptionError> {
    let _writes = crate::resource_writes::lock();
    let before = current(store, project, by, version)?;
    let unchanged = SubscriptionDraft::of(&before);
    let mut draft = unchanged.clone();
    for action in actions {
        match action {
            SubscriptionAction::ChangeDestination(destination) => draft.destination = destination,
            SubscriptionAction::SetKey(key) => draft.key = key,
            SubscriptionAction::SetMessages(messages) => draft.messages = messages,
        }
    }
    if draft == unchanged {
        // Nothing changes; the answer is still recorded.
        let writes = with_answer(store, meta.answer.as_ref(), &before, Vec::new())?;
        if !writes.is_empty() {
            store.write(writes)?;
        }
        return Ok(before);
    }
    check_draft(&draft, message_types)?;
    if let Some(key) = &draft.key
        && draft.key != before.key
        && list(store, project)?
            .iter()
            .any(|r| r.id != before.id && r.key.as_ref() == Some(key))
    {
        return Err(SubscriptionRejection::DuplicateKey { key: key.clone() }.into());
    }
    let after = SubscriptionRecord {
        version: before.version + 1,
        last_modified_at: meta.now_text(),
        last_modified_by: meta.modified_by(),
        key: draft.key,
        destination: draft.destination,
        messages: draft.messages,
        format: draft.format,
        ..before
    };
    let writes = vec![KvWrite {
        table: Table::Subscriptions,
        key: record_key(project, &after.id),
        value: Some(encode(&after)?),
    }];
    store.write(with_answer(store, meta.answer.as_ref(), &after, writes)?)?;
    Ok(after)
}

/// Deletes the subscription at `version`, with its cursors (and records
/// `answer` for it in the same write).
#[tracing::instrument(skip_all, fields(project = %project, version))]
pub fn delete(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    by: &ResourceRef,
    version: u64,
    answer: Option<&Answer>,
) -> Result<SubscriptionRecord, SubscriptionError> {
    let _writes = crate::resource_writes::lock();
    let record = current(store, project, by, version)?;
    let mut writes = vec![KvWrite {
        table: Table::Subscriptions,
        key: record_key(project, &record.id),
        value: None,
    }];
    writes.extend(remove_cursors(store, &record.id));
    store.write(with_answer(store, answer, &record, writes)?)?;
    Ok(record)
}

/// The writes that remove every cursor of subscription `id`.
pub fn remove_cursors(store: &(impl EventStore + ?Sized), id: &str) -> Vec<KvWrite> {
    let consumer = consumer_name(id);
    (0..store.partition_count())
        .map(|partition| Cursor::removal(&consumer, partition))
        .collect()
}

// ---------------------------------------------------------------------------
// Delivery state.

/// `status` of a subscription.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HealthStatus {
    Healthy,
    /// The destination failed in a way that may pass (5xx, 408, 429,
    /// timeouts, refused connections).
    TemporaryError,
    /// The destination refuses the deliveries (other 4xx, redirects): the
    /// configuration on one side must change.
    ConfigurationError,
}

impl HealthStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "Healthy",
            Self::TemporaryError => "TemporaryError",
            Self::ConfigurationError => "ConfigurationError",
        }
    }

    /// The status named `text` (as [`HealthStatus::as_str`] writes it).
    pub fn parse(text: &str) -> Option<Self> {
        [
            Self::Healthy,
            Self::TemporaryError,
            Self::ConfigurationError,
        ]
        .into_iter()
        .find(|status| status.as_str() == text)
    }
}

impl fmt::Display for HealthStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failed delivery attempt, as recorded on the cursor it holds back:
/// `{status}: attempt {n} of message {id}: {detail}` (its `Display`), read
/// back by its `FromStr`; a subscription's status is the `status` of the
/// failure decoded from its cursors.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DeliveryFailure {
    pub status: HealthStatus,
    pub attempt: u32,
    pub message_id: String,
    pub detail: String,
}

impl fmt::Display for DeliveryFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: attempt {} of message {}: {}",
            self.status, self.attempt, self.message_id, self.detail
        )
    }
}

impl std::str::FromStr for DeliveryFailure {
    type Err = UnreadableFailure;

    fn from_str(text: &str) -> Result<Self, UnreadableFailure> {
        let (status, rest) = text.split_once(": ").ok_or(UnreadableFailure)?;
        let status = HealthStatus::parse(status).ok_or(UnreadableFailure)?;
        let rest = rest.strip_prefix("attempt ").ok_or(UnreadableFailure)?;
        let (attempt, rest) = rest.split_once(" of message ").ok_or(UnreadableFailure)?;
        let attempt = attempt.parse().map_err(|_| UnreadableFailure)?;
        let (message_id, detail) = rest.split_once(": ").ok_or(UnreadableFailure)?;
        Ok(Self {
            status,
            attempt,
            message_id: message_id.to_owned(),
            detail: detail.to_owned(),
        })
    }
}

/// A cursor error that is not a [`DeliveryFailure`] (a store failure of
/// the worker): the subscription counts as `TemporaryError`.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct UnreadableFailure;

/// Where a subscription's deliveries stand.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct DeliveryState {
    /// Events of all partitions after the cursors (log head − cursor).
    pub lag: u64,
    /// The most recent failure holding a cursor back.
    pub last_error: Option<CursorError>,
    pub status: HealthStatus,
}

/// The delivery state of subscription `record`.
pub fn state_of(
    store: &(impl EventStore + ?Sized),
    record: &SubscriptionRecord,
) -> Result<DeliveryState, StoreError> {
    delivery_state(store, &consumer_name(&record.id))
}

/// The delivery state of the log consumer `consumer` (a subscription's
/// [`consumer_name`], or the Kafka relay's name).
pub fn delivery_state(
    store: &(impl EventStore + ?Sized),
    consumer: &str,
) -> Result<DeliveryState, StoreError> {
    let mut lag = 0;
    let mut last_error: Option<CursorError> = None;
    for partition in 0..store.partition_count() {
        let cursor = Cursor::load(store, consumer, partition)?;
        lag += cursor.lag(store)?;
        if let Some(error) = cursor.last_error
            && last_error
                .as_ref()
                .is_none_or(|e| e.at_unix_ms < error.at_unix_ms)
        {
            last_error = Some(error);
        }
    }
    let status = last_error.as_ref().map_or(HealthStatus::Healthy, |error| {
        error
            .message
            .parse::<DeliveryFailure>()
            .map_or(HealthStatus::TemporaryError, |failure| failure.status)
    });
    Ok(DeliveryState {
        lag,
        last_error,
        status,
    })
}

#[cfg(test)]
mod tests;
