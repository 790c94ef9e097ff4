//! Where a Subscription's deliveries stand, read back from its cursors:
//! lag, the failure holding a cursor back, and the health status decoded
//! from it.

use super::*;

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
