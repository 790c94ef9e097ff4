//! Where a Subscription's deliveries stand, read back from its cursors
//! and its record: lag, the failure holding a cursor back, the health
//! status decoded from it, and whether the deliveries were stopped.

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
    /// A Message failed for longer than the retry bound allows
    /// (`webhooks.attempts_max`, `webhooks.retry_age_max_s`): nothing is
    /// attempted until an update resumes the deliveries, from where they
    /// stopped.
    ConfigurationErrorDeliveryStopped,
}

impl HealthStatus {
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Healthy => "Healthy",
            Self::TemporaryError => "TemporaryError",
            Self::ConfigurationError => "ConfigurationError",
            Self::ConfigurationErrorDeliveryStopped => "ConfigurationErrorDeliveryStopped",
        }
    }

    /// Every status, in the order monitors list them.
    pub const ALL: [Self; 4] = [
        Self::Healthy,
        Self::TemporaryError,
        Self::ConfigurationError,
        Self::ConfigurationErrorDeliveryStopped,
    ];

    /// The status named `text` (as [`HealthStatus::as_str`] writes it).
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == text)
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
    /// Why and when the deliveries were stopped, while they are.
    pub stopped: Option<DeliveryStop>,
}

impl DeliveryState {
    /// The state of a subscription that nothing holds back (a new one).
    pub fn healthy() -> Self {
        Self {
            lag: 0,
            last_error: None,
            status: HealthStatus::Healthy,
            stopped: None,
        }
    }

    /// The same cursors under a record whose deliveries are stopped by
    /// `stop` (or not stopped: `None`); the status follows.
    #[must_use]
    pub fn with_stop(mut self, stop: Option<&DeliveryStop>) -> Self {
        self.stopped = stop.cloned();
        self.status = match stop {
            Some(_) => HealthStatus::ConfigurationErrorDeliveryStopped,
            None => status_of(self.last_error.as_ref()),
        };
        self
    }
}

/// The delivery state of subscription `record`: its cursors, and the stop
/// its record holds, if any.
pub fn state_of(
    store: &(impl EventStore + ?Sized),
    record: &SubscriptionRecord,
) -> Result<DeliveryState, StoreError> {
    Ok(delivery_state(store, &consumer_name(&record.id))?.with_stop(record.delivery_stop.as_ref()))
}

/// The status the failure holding a cursor back means.
fn status_of(last_error: Option<&CursorError>) -> HealthStatus {
    last_error.map_or(HealthStatus::Healthy, |error| {
        error
            .message
            .parse::<DeliveryFailure>()
            .map_or(HealthStatus::TemporaryError, |failure| failure.status)
    })
}

/// The delivery state of the log consumer `consumer` (a subscription's
/// [`consumer_name`], or the Kafka relay's name), from its cursors alone.
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
    Ok(DeliveryState {
        lag,
        status: status_of(last_error.as_ref()),
        last_error,
        stopped: None,
    })
}
