//! Executing payments at PSPs and keeping their status current.
//!
//! A payment whose `paymentMethodInfo.paymentInterface` names a PSP
//! configured for its project is executed by payledger: the [`executor`]
//! tails the log and carries out Initial transactions, the [`refresh`]
//! fetches the PSP status of Pending ones and, through [`reconcile`], of
//! an open authorization the PSP may have cancelled on its own, the
//! [`webhooks`] intake turns
//! verified PSP notifications into interactions and immediate refreshes,
//! and the [`tasks`] table drives everything that happens later. Every
//! result is an ordinary update event appended through the [`Ledger`].
//!
//! Exactly-once effect at the PSP under at-least-once processing:
//! - all PSP work on one payment runs under an in-process per-payment lock
//!   ([`locks`]), and re-reads the payment before acting;
//! - before a call, the executor claims the transaction (Initial →
//!   Pending plus a `request` interaction) with a watchdog task in the
//!   same batch, so a crash leaves a claimed transaction without interface
//!   id, "in doubt", that its watchdog resumes;
//! - an in-doubt transaction is resumed by finding the PSP object by the
//!   transaction id in its metadata, and only created when none exists;
//!   every call carries an idempotency key derived from the transaction id.
//!
//! Webhooks are hints (architecture invariant 8): they are recorded and
//! trigger a refresh; only statuses fetched from the PSP change states, and
//! a final state (Success, Failure) never changes.

pub mod card_payment;
pub mod executor;
pub mod expire;
pub mod interaction;
pub mod locks;
pub mod mapping;
pub mod notifications;
mod pay;
pub mod reconcile;
pub mod refresh;
pub mod runner;
pub mod saved_methods;
pub mod tasks;

use crate::clock::Clock;

use crate::catalog::CatalogError;
use crate::error::AppError;
use crate::payments::{CommandMeta, Ledger, PaymentCommand, Planned};
use parking_lot::Mutex;
use payledger_domain::{Actor, Payment, PaymentId, ProjectKey, Rejection, UpdateAction};
use payledger_psp::{PspConnector, PspError, Secret};
use payledger_store::{EventStore, KvWrite, StoreError, Table};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use tokio::sync::Notify;

/// Most times an append is retried after a concurrent change.
pub const APPEND_CONFLICT_RETRIES_MAX: usize = 16;

/// One PSP account of a project.
#[derive(Debug)]
pub struct PspAccount {
    /// The `paymentInterface` value that selects it (`stripe`).
    pub interface: String,
    pub connector: Arc<dyn PspConnector>,
    /// Secrets a webhook may be signed with (several during a rotation).
    pub webhook_secrets: Vec<Secret>,
    /// The key a storefront or payment page identifies the merchant with
    /// (`pk_…` at Stripe); public.
    pub publishable_key: Option<String>,
    /// The PSP's browser library the hosted payment page loads.
    pub js_url: Option<String>,
}

impl PspAccount {
    /// `live` for a live publishable key, `test` otherwise.
    pub fn environment(&self) -> &'static str {
        match &self.publishable_key {
            Some(key) if key.starts_with("pk_live_") => "live",
            _ => "test",
        }
    }
}

/// The PSP accounts by project and interface name.
#[derive(Debug, Default)]
pub struct PspRegistry {
    /// project key → payment interface → account; looked up by `&str`
    /// without building a key.
    accounts: BTreeMap<String, BTreeMap<String, Arc<PspAccount>>>,
}

impl PspRegistry {
    pub fn insert(&mut self, project: &ProjectKey, account: PspAccount) {
        self.accounts
            .entry(project.as_str().to_owned())
            .or_default()
            .insert(account.interface.clone(), Arc::new(account));
    }

    /// The account a payment of `project` with `interface` uses.
    pub fn get(&self, project: &ProjectKey, interface: &str) -> Option<Arc<PspAccount>> {
        self.accounts.get(project.as_str())?.get(interface).cloned()
    }

    /// Whether any PSP is configured for `project`.
    pub fn has_project(&self, project: &ProjectKey) -> bool {
        self.accounts.contains_key(project.as_str())
    }

    pub fn is_empty(&self) -> bool {
        self.accounts.is_empty()
    }
}

/// Timing and limits of the PSP flows, in milliseconds and counts.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct PspPolicy {
    /// First refresh of a Pending transaction, after it became Pending.
    pub refresh_first_delay_ms: i64,
    pub refresh_backoff_max_ms: i64,
    /// Scheduled refreshes of a payment before payledger gives up and says
    /// so in `paymentStatus.interfaceText`.
    pub refresh_attempts_max: u32,
    /// First retry of an execution whose outcome is unknown (also the
    /// watchdog delay after a claim).
    pub retry_delay_ms: i64,
    pub retry_delay_max_ms: i64,
    pub execute_attempts_max: u32,
    /// First retry of an orphan webhook.
    pub orphan_delay_ms: i64,
    pub orphan_attempts_max: u32,
}

impl Default for PspPolicy {
    fn default() -> Self {
        Self {
            refresh_first_delay_ms: 60_000,
            refresh_backoff_max_ms: 3_600_000,
            refresh_attempts_max: 10,
            retry_delay_ms: 1_000,
            retry_delay_max_ms: 300_000,
            execute_attempts_max: 8,
            orphan_delay_ms: 5_000,
            orphan_attempts_max: 8,
        }
    }
}

/// `first · 2^(attempt-1)`, at most `max` (attempt counts from 1): the
/// [`Backoff`](crate::backoff::Backoff) ceiling, without jitter, since PSP
/// retries are stored as due times.
pub fn backoff_ms(first: i64, max: i64, attempt: u32) -> i64 {
    let schedule = crate::backoff::Backoff {
        min_ms: u64::try_from(first).unwrap_or(0),
        max_ms: u64::try_from(max).unwrap_or(0),
    };
    i64::try_from(schedule.ceiling(attempt)).unwrap_or(i64::MAX)
}

/// Why a PSP flow did not complete. PSP failures are recorded on the
/// payment and retried by tasks; what reaches a caller is infrastructure.
#[derive(Debug, thiserror::Error)]
pub enum PspFailure {
    #[error(transparent)]
    App(#[from] AppError),
    #[error("catalog: {0}")]
    Catalog(String),
    #[error(transparent)]
    Psp(#[from] PspError),
    #[error("no PSP is configured for this payment")]
    NotConfigured,
    #[error("a blocking task failed")]
    Join,
}

impl From<StoreError> for PspFailure {
    fn from(error: StoreError) -> Self {
        Self::App(AppError::Store(error))
    }
}

impl From<CatalogError> for PspFailure {
    fn from(error: CatalogError) -> Self {
        match error {
            CatalogError::Store(store) => store.into(),
            other => Self::Catalog(other.to_string()),
        }
    }
}

/// Extra writes of an append.
#[derive(Clone, Debug, Default)]
struct AppendWrites {
    /// Committed in the same batch as the events.
    inline: Vec<KvWrite>,
    /// A [`Table::WebhookEvents`] key whose presence means "already done".
    dedupe: Option<Vec<u8>>,
}

/// What an append came to.
#[derive(Clone, Debug)]
pub enum PspWrite {
    /// Events were appended; the payment after them.
    Changed(Payment),
    /// Nothing to append; the payment as it is.
    Unchanged(Payment),
    /// The dedupe key exists: the input was recorded before.
    Duplicate,
    /// The payment does not exist (or was deleted).
    Missing,
}

impl PspWrite {
    /// The payment, if it exists.
    pub fn payment(self) -> Option<Payment> {
        match self {
            Self::Changed(p) | Self::Unchanged(p) => Some(p),
            Self::Duplicate | Self::Missing => None,
        }
    }
}

/// The PSP flows of one server: executor steps, refreshes, webhook intake
/// and tasks. Cheap to clone.
#[derive(Clone, Debug)]
pub struct PspService {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    ledger: Ledger<dyn EventStore>,
    registry: PspRegistry,
    clock: Arc<dyn Clock>,
    policy: PspPolicy,
    /// Wakes the task runner when a task is due now.
    tasks_due: Notify,
    locks: locks::PaymentLocks,
    /// Interaction Type id per project.
    interaction_types: Mutex<HashMap<ProjectKey, String>>,
}

impl PspService {
    pub fn new(
        ledger: Ledger<dyn EventStore>,
        registry: PspRegistry,
        clock: Arc<dyn Clock>,
        policy: PspPolicy,
    ) -> Self {
        Self {
            inner: Arc::new(Inner {
                ledger,
                registry,
                clock,
                policy,
                tasks_due: Notify::new(),
                locks: locks::PaymentLocks::default(),
                interaction_types: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The ledger's store.
    fn store(&self) -> &dyn EventStore {
        &**self.inner.ledger.store()
    }

    /// Runs blocking store work off the async workers.
    async fn blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce(&PspService) -> Result<T, PspFailure> + Send + 'static,
    ) -> Result<T, PspFailure> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || work(&this))
            .await
            .map_err(|_| PspFailure::Join)?
    }

    /// The current view of a payment (`None` if missing or deleted).
    pub async fn load(
        &self,
        project: &ProjectKey,
        payment_id: PaymentId,
    ) -> Result<Option<Payment>, PspFailure> {
        let project = project.clone();
        self.blocking(move |s| Ok(s.inner.ledger.view(&project, payment_id)?))
            .await
    }

    /// The account `project` has at the PSP named `interface`, if any.
    pub fn account_named(&self, project: &ProjectKey, interface: &str) -> Option<Arc<PspAccount>> {
        self.inner.registry.get(project, interface)
    }

    /// The clock the PSP flows read.
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.inner.clock
    }

    /// The account of a payment, if its interface is configured.
    /// The account a payment is executed at (its `paymentInterface`).
    pub(crate) fn account(
        &self,
        project: &ProjectKey,
        payment: &Payment,
    ) -> Option<Arc<PspAccount>> {
        let interface = payment.payment_method_info.payment_interface.as_deref()?;
        self.inner.registry.get(project, interface)
    }

    /// The interaction Type id of a project, created on first use.
    async fn interaction_type(&self, project: &ProjectKey) -> Result<String, PspFailure> {
        if let Some(id) = self.inner.interaction_types.lock().get(project) {
            return Ok(id.clone());
        }
        let now = self.inner.clock.now_ms();
        let key = project.clone();
        let id = self
            .blocking(move |s| Ok(interaction::ensure_type(s.store(), &key, now)?))
            .await?;
        self.inner
            .interaction_types
            .lock()
            .insert(project.clone(), id.clone());
        Ok(id)
    }

    /// Appends the actions `build` derives from the current payment (none:
    /// nothing to do), with `inline` writes in the same batch. When `dedupe`
    /// names a key of [`Table::WebhookEvents`] that exists, nothing is
    /// appended. Retries on a concurrent change, re-deriving the actions.
    async fn append(
        &self,
        project: &ProjectKey,
        payment_id: PaymentId,
        actor: &str,
        write: AppendWrites,
        build: impl Fn(&Payment, &str) -> Option<Vec<UpdateAction>> + Send + Sync + 'static,
    ) -> Result<PspWrite, PspFailure> {
        let build = Arc::new(build);
        for _ in 0..APPEND_CONFLICT_RETRIES_MAX {
            let type_id = self.interaction_type(project).await?;
            let meta = CommandMeta {
                project: project.clone(),
                actor: Actor::Internal(actor.to_owned()),
                now: self.inner.clock.now(),
                correlation_id: None,
                idempotency: None,
            };
            let (build, write) = (Arc::clone(&build), write.clone());
            let executed = self
                .inner
                .ledger
                .execute_planned(move |ledger| {
                    plan_append(ledger, meta, payment_id, &type_id, write, &*build)
                })
                .await;
            match executed {
                Ok(Ok(committed)) => {
                    return Ok(PspWrite::Changed(Arc::unwrap_or_clone(committed.payment)));
                }
                Ok(Err(done)) => return Ok(done),
                Err(AppError::Conflict { .. }) => continue,
                Err(AppError::Rejected(Rejection::TypeNotFound { .. })) => {
                    // The interaction Type was deleted: create it again.
                    self.inner.interaction_types.lock().remove(project);
                    continue;
                }
                Err(other) => return Err(other.into()),
            }
        }
        Err(PspFailure::App(AppError::Overloaded))
    }

    /// Schedules a task at `due_ms` (plus extra writes in the same batch);
    /// returns its key.
    async fn schedule(
        &self,
        task: tasks::Task,
        due_ms: i64,
        mut extra: Vec<KvWrite>,
    ) -> Result<Vec<u8>, PspFailure> {
        let (key, write) = tasks::schedule(&task, due_ms);
        extra.push(write);
        self.blocking(move |s| Ok(s.store().write(extra)?)).await?;
        if due_ms <= self.inner.clock.now_ms() {
            self.inner.tasks_due.notify_one();
        }
        Ok(key)
    }

    /// Removes a task that is no longer needed.
    async fn unschedule(&self, key: Vec<u8>) -> Result<(), PspFailure> {
        self.blocking(move |s| Ok(s.store().write(vec![tasks::remove(&key)])?))
            .await
    }
}

/// The reading half of [`PspService::append`], on the ledger's trip off
/// the async workers: the command to run, or (`Err`) an answer that needs
/// no append.
fn plan_append(
    ledger: &Ledger<dyn EventStore>,
    meta: CommandMeta,
    payment_id: PaymentId,
    type_id: &str,
    write: AppendWrites,
    build: &dyn Fn(&Payment, &str) -> Option<Vec<UpdateAction>>,
) -> Result<Result<Planned, PspWrite>, AppError> {
    if let Some(key) = &write.dedupe
        && ledger.store().get(Table::WebhookEvents, key)?.is_some()
    {
        return Ok(Err(PspWrite::Duplicate));
    }
    let Some(view) = ledger.stored_view(&meta.project, payment_id)? else {
        return Ok(Err(PspWrite::Missing));
    };
    let Some(actions) = build(&view.payment, type_id).filter(|a| !a.is_empty()) else {
        return Ok(Err(PspWrite::Unchanged(Arc::unwrap_or_clone(view.payment))));
    };
    let command = PaymentCommand::UpdateLoaded { view, actions };
    Ok(Ok(Planned {
        meta,
        command,
        inline: write.inline,
    }))
}
