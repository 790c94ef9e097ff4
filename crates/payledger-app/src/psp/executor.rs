//! The executor's work on one payment: carry out its Initial transactions at
//! the PSP, and resume the ones left in doubt.
//!
//! For each executable transaction, in order: write a watchdog task, claim
//! the transaction (Initial → Pending with a `request` interaction), call
//! the PSP, and record the result (interface id, `response` interaction,
//! state, `paymentStatus.interfaceCode`). A final refusal (declined,
//! invalid request) is a Failure; an unknown outcome (network, PSP error)
//! is recorded as an `error` interaction and left to the watchdog, whose
//! [`super::tasks::Task::Resume`] finds the PSP object by the transaction
//! id before creating anything. A transaction left Pending (3-D Secure,
//! asynchronous methods) gets a refresh scheduled.

use super::interaction::{self, Interaction, Phase, Source};
use super::mapping::{self, Decision, Operation};
use super::pay::{PayRequest, pay};
use super::saved_methods;
use super::tasks::{self, Task};
use super::{AppendWrites, PspAccount, PspFailure, PspService, PspWrite, backoff_ms};
use payledger_domain::payment::{Transaction, TransactionState};
use payledger_domain::{Payment, PaymentId, ProjectKey, TransactionId, UpdateAction};
use payledger_psp::{
    CreateRefund, IntentStatus, METADATA_PAYMENT_ID, METADATA_PROJECT, METADATA_TRANSACTION_ID,
    PaymentIntent, PspError, Refund,
};
use payledger_store::KvWrite;
use std::collections::{BTreeMap, HashSet};

/// The actor of the executor's events.
pub const EXECUTOR_ACTOR: &str = "psp-executor";

/// Most transaction steps one pass over a payment takes.
pub const STEPS_PER_PAYMENT_MAX: usize = 64;

/// What one pass over a payment did.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct Progress {
    /// Transactions whose call had an unknown outcome, left in doubt.
    pub in_doubt: usize,
    /// The last unknown-outcome failure.
    pub last_error: Option<String>,
}

/// What a PSP operation came to.
#[derive(Clone, Debug)]
pub(super) struct PspResult {
    pub state: TransactionState,
    pub interface_id: Option<String>,
    /// The PSP status, for `paymentStatus.interfaceCode`.
    pub status: Option<String>,
    pub interaction: Interaction,
}

/// The result of an attempt at the PSP.
pub(super) enum Attempt {
    Done(PspResult),
    /// The outcome is unknown or the PSP is unavailable: try again later.
    Retry(PspError),
}

/// The next step on a payment.
enum NextStep {
    Fresh(Transaction, Operation, Option<String>),
    Resume(Transaction, Operation, Option<String>),
    Reject(Transaction, &'static str),
}

/// Whether a failure is the PSP's final word or worth another attempt.
fn is_final(error: &PspError) -> bool {
    match error {
        PspError::Declined { .. } | PspError::InvalidRequest { .. } => true,
        PspError::Authentication { .. }
        | PspError::RateLimited
        | PspError::Api { .. }
        | PspError::Network { .. } => false,
    }
}

/// The first PSP call of an operation, as its idempotency key names it.
pub const fn first_step(operation: Operation) -> &'static str {
    match operation {
        Operation::Authorize | Operation::Charge => "create",
        Operation::Capture => "capture",
        Operation::Refund => "refund",
        Operation::Cancel => "cancel",
    }
}

/// The idempotency key of one step of a transaction.
pub fn idempotency_key(transaction_id: TransactionId, step: &str) -> String {
    format!("payledger-{transaction_id}-{step}")
}

impl PspService {
    /// Executes the payment's Initial transactions; with `resume`, also
    /// resumes the ones left in doubt. Runs under the payment's lock.
    #[tracing::instrument(skip_all, fields(project = %project, payment_id = %payment_id, resume))]
    pub async fn process_payment(
        &self,
        project: &ProjectKey,
        payment_id: PaymentId,
        resume: bool,
    ) -> Result<Progress, PspFailure> {
        let _guard = self.inner.locks.lock(payment_id).await;
        let mut progress = Progress::default();
        let mut attempted = HashSet::new();
        for _ in 0..STEPS_PER_PAYMENT_MAX {
            let Some(payment) = self.load(project, payment_id).await? else {
                break;
            };
            let Some(account) = self.account(project, &payment) else {
                break;
            };
            let type_id = self.interaction_type(project).await?;
            let Some(step) = next_step(&payment, &account, &type_id, resume, &attempted) else {
                break;
            };
            match step {
                NextStep::Reject(txn, reason) => {
                    attempted.insert(txn.id);
                    self.reject(project, payment_id, &account, &txn, reason)
                        .await?;
                }
                NextStep::Fresh(txn, operation, target) => {
                    attempted.insert(txn.id);
                    let watchdog = Task::Resume {
                        project: project.clone(),
                        payment_id,
                        attempt: 1,
                    };
                    let due = self.inner.clock.now_ms() + self.inner.policy.retry_delay_ms;
                    // Written with the claim, in its batch: a claimed
                    // transaction always has its watchdog.
                    let (watchdog, schedule) = tasks::schedule(&watchdog, due);
                    if !self
                        .claim(project, &payment, &account, &txn, operation, schedule)
                        .await?
                    {
                        continue;
                    }
                    if due <= self.inner.clock.now_ms() {
                        self.inner.tasks_due.notify_one();
                    }
                    let attempt = self
                        .attempt(
                            project,
                            &account,
                            &payment,
                            &txn,
                            (operation, target),
                            false,
                        )
                        .await;
                    if self
                        .settle(
                            project,
                            &payment,
                            &account,
                            &txn,
                            operation,
                            attempt,
                            &mut progress,
                        )
                        .await?
                    {
                        self.unschedule(watchdog).await?;
                    }
                }
                NextStep::Resume(txn, operation, target) => {
                    attempted.insert(txn.id);
                    let attempt = self
                        .attempt(project, &account, &payment, &txn, (operation, target), true)
                        .await;
                    self.settle(
                        project,
                        &payment,
                        &account,
                        &txn,
                        operation,
                        attempt,
                        &mut progress,
                    )
                    .await?;
                }
            }
        }
        Ok(progress)
    }

    /// Claims an Initial transaction: Pending plus the `request`
    /// interaction, with `watchdog` (a task write) in the same batch.
    /// False when it is no longer Initial (nothing is written).
    async fn claim(
        &self,
        project: &ProjectKey,
        payment: &Payment,
        account: &PspAccount,
        txn: &Transaction,
        operation: Operation,
        watchdog: KvWrite,
    ) -> Result<bool, PspFailure> {
        let mut request = Interaction::new(&account.interface, Source::Executor, Phase::Request);
        request
            .set("operation", operation.as_str())
            .set("transactionId", txn.id.to_string())
            .set("amount", txn.amount.cent_amount.to_string())
            .set(
                "idempotencyKey",
                idempotency_key(txn.id, first_step(operation)),
            );
        let id = txn.id;
        let appended = self
            .append(
                project,
                payment.id,
                EXECUTOR_ACTOR,
                AppendWrites {
                    inline: vec![watchdog],
                    dedupe: None,
                },
                move |payment, type_id| {
                    let current = payment.transactions.iter().find(|t| t.id == id)?;
                    (current.state == TransactionState::Initial).then(|| {
                        vec![
                            UpdateAction::ChangeTransactionState {
                                transaction_id: id,
                                state: TransactionState::Pending,
                            },
                            request.action(type_id),
                        ]
                    })
                },
            )
            .await?;
        Ok(matches!(appended, PspWrite::Changed(_)))
    }

    /// Fails a transaction that cannot be executed.
    async fn reject(
        &self,
        project: &ProjectKey,
        payment_id: PaymentId,
        account: &PspAccount,
        txn: &Transaction,
        reason: &'static str,
    ) -> Result<(), PspFailure> {
        let mut interaction = Interaction::new(&account.interface, Source::Executor, Phase::Error);
        interaction
            .set("transactionId", txn.id.to_string())
            .set("code", "not_executable")
            .set("message", reason);
        let outcome = PspResult {
            state: TransactionState::Failure,
            interface_id: None,
            status: None,
            interaction,
        };
        self.record(project, payment_id, txn.id, outcome, EXECUTOR_ACTOR)
            .await
            .map(drop)
    }

    /// Records an attempt's result. True when the transaction is settled
    /// at least as far as the PSP said (the watchdog is no longer needed).
    #[allow(clippy::too_many_arguments)]
    async fn settle(
        &self,
        project: &ProjectKey,
        payment: &Payment,
        account: &PspAccount,
        txn: &Transaction,
        operation: Operation,
        attempt: Attempt,
        progress: &mut Progress,
    ) -> Result<bool, PspFailure> {
        match attempt {
            Attempt::Done(outcome) => {
                let pending = outcome.state == TransactionState::Pending;
                self.record(project, payment.id, txn.id, outcome, EXECUTOR_ACTOR)
                    .await?;
                if pending {
                    self.schedule_refresh(project, payment.id).await?;
                }
                Ok(true)
            }
            Attempt::Retry(error) => {
                tracing::warn!(%error, operation = operation.as_str(), "PSP call failed; will retry");
                let mut interaction =
                    Interaction::new(&account.interface, Source::Executor, Phase::Error);
                interaction
                    .set("operation", operation.as_str())
                    .set("transactionId", txn.id.to_string())
                    .set("code", error.code())
                    .set("message", error.to_string());
                let id = txn.id;
                self.append(
                    project,
                    payment.id,
                    EXECUTOR_ACTOR,
                    AppendWrites::default(),
                    move |payment, type_id| {
                        let current = payment.transactions.iter().find(|t| t.id == id)?;
                        (current.state == TransactionState::Pending)
                            .then(|| vec![interaction.action(type_id)])
                    },
                )
                .await?;
                progress.in_doubt += 1;
                progress.last_error = Some(error.to_string());
                Ok(false)
            }
        }
    }

    /// Appends an outcome to a transaction that is still Pending (or
    /// Initial, for rejections): interface id, interaction, state, code.
    pub(super) async fn record(
        &self,
        project: &ProjectKey,
        payment_id: PaymentId,
        transaction_id: TransactionId,
        outcome: PspResult,
        actor: &str,
    ) -> Result<PspWrite, PspFailure> {
        self.append(
            project,
            payment_id,
            actor,
            AppendWrites::default(),
            move |payment, type_id| outcome_actions(payment, transaction_id, &outcome, type_id),
        )
        .await
    }

    /// Schedules the first follow-up refresh of a payment.
    pub(super) async fn schedule_refresh(
        &self,
        project: &ProjectKey,
        payment_id: PaymentId,
    ) -> Result<(), PspFailure> {
        let policy = self.inner.policy;
        let delay = backoff_ms(
            policy.refresh_first_delay_ms,
            policy.refresh_backoff_max_ms,
            1,
        );
        let task = Task::Refresh {
            project: project.clone(),
            payment_id,
            attempt: 1,
            follow_up: true,
        };
        let due = self.inner.clock.now_ms() + delay;
        self.schedule(task, due, Vec::new()).await.map(drop)
    }

    /// One attempt at the PSP.
    async fn attempt(
        &self,
        project: &ProjectKey,
        account: &PspAccount,
        payment: &Payment,
        txn: &Transaction,
        (operation, target): (Operation, Option<String>),
        resume: bool,
    ) -> Attempt {
        let target = target.unwrap_or_default();
        let metadata = metadata(project, payment, txn);
        match operation {
            Operation::Authorize | Operation::Charge => {
                let (project_key, id) = (project.clone(), payment.id);
                let saved = self
                    .blocking(move |s| Ok(saved_methods::read(s.store(), &project_key, id)?))
                    .await;
                let off_session = match saved {
                    Ok(saved) => saved.filter(|s| s.off_session),
                    Err(error) => {
                        return Attempt::Retry(PspError::Api {
                            status: None,
                            message: format!("cannot read the saved method: {error}"),
                            retryable: true,
                        });
                    }
                };
                let request = PayRequest {
                    operation,
                    metadata,
                    off_session,
                };
                pay(account, payment, txn, request, resume).await
            }
            Operation::Capture | Operation::Cancel => {
                settle_intent(account, txn, operation, &target, resume).await
            }
            Operation::Refund => refund(account, txn, &target, metadata, resume).await,
        }
    }
}

/// The next transaction step of a payment, skipping those already
/// attempted in this pass.
fn next_step(
    payment: &Payment,
    account: &PspAccount,
    type_id: &str,
    resume: bool,
    attempted: &HashSet<TransactionId>,
) -> Option<NextStep> {
    let kind_of = |id: &str| account.connector.object_kind(id);
    payment.transactions.iter().find_map(|txn| {
        if attempted.contains(&txn.id) {
            return None;
        }
        let in_doubt = resume
            && txn.state == TransactionState::Pending
            && txn.interface_id.is_none()
            && interaction::claimed(&payment.interface_interactions, type_id, txn.id);
        if txn.state != TransactionState::Initial && !in_doubt {
            return None;
        }
        match mapping::decide(payment, txn, kind_of) {
            Decision::Execute { operation, target } if in_doubt => {
                Some(NextStep::Resume(Transaction::clone(txn), operation, target))
            }
            Decision::Execute { operation, target } => {
                Some(NextStep::Fresh(Transaction::clone(txn), operation, target))
            }
            Decision::Reject(reason) => Some(NextStep::Reject(Transaction::clone(txn), reason)),
            Decision::Wait | Decision::Skip => None,
        }
    })
}

/// The actions that record an outcome on a transaction still awaiting it.
pub(super) fn outcome_actions(
    payment: &Payment,
    transaction_id: TransactionId,
    outcome: &PspResult,
    type_id: &str,
) -> Option<Vec<UpdateAction>> {
    let current = payment
        .transactions
        .iter()
        .find(|t| t.id == transaction_id)?;
    if current.state.is_final() {
        return None;
    }
    let mut actions = Vec::new();
    if let Some(interface_id) = &outcome.interface_id {
        let taken = payment
            .transactions
            .iter()
            .any(|t| t.id != transaction_id && t.interface_id.as_ref() == Some(interface_id));
        if current.interface_id.as_ref() != Some(interface_id) && !taken {
            actions.push(UpdateAction::SetTransactionInterfaceId {
                transaction_id,
                interface_id: Some(interface_id.clone()),
            });
        }
    }
    actions.push(outcome.interaction.action(type_id));
    let state = mapping::next_state(current.state, outcome.state);
    if state != current.state {
        actions.push(UpdateAction::ChangeTransactionState {
            transaction_id,
            state,
        });
    }
    if outcome.status.is_some() && payment.payment_status.interface_code != outcome.status {
        actions.push(UpdateAction::SetStatusInterfaceCode(outcome.status.clone()));
    }
    Some(actions)
}

fn metadata(
    project: &ProjectKey,
    payment: &Payment,
    txn: &Transaction,
) -> BTreeMap<String, String> {
    BTreeMap::from([
        (METADATA_TRANSACTION_ID.to_owned(), txn.id.to_string()),
        (METADATA_PAYMENT_ID.to_owned(), payment.id.to_string()),
        (METADATA_PROJECT.to_owned(), project.as_str().to_owned()),
    ])
}

/// The outcome a PaymentIntent answer means for an operation.
pub(super) fn intent_outcome(
    account: &PspAccount,
    txn: &Transaction,
    operation: Operation,
    intent: &PaymentIntent,
    source: Source,
) -> PspResult {
    let state = if mapping::awaits_customer(operation, intent) {
        TransactionState::Pending
    } else {
        mapping::intent_state(operation, intent.status)
    };
    let mut interaction = Interaction::new(&account.interface, source, Phase::Response);
    interaction
        .set("operation", operation.as_str())
        .set("transactionId", txn.id.to_string())
        .set("interfaceId", intent.id.clone())
        .set("status", intent.status.as_str());
    if intent.status == IntentStatus::RequiresAction {
        interaction.set_some(
            "clientSecret",
            intent.client_secret.as_ref().map(|s| s.expose().to_owned()),
        );
    }
    if state == TransactionState::Failure
        && let Some(error) = &intent.last_payment_error
    {
        interaction
            .set_some("code", error.code.clone())
            .set_some("declineCode", error.decline_code.clone())
            .set_some("message", error.message.clone());
    }
    let interface_id = match operation {
        Operation::Authorize | Operation::Charge => Some(intent.id.clone()),
        Operation::Capture => intent.latest_charge.clone(),
        Operation::Cancel | Operation::Refund => None,
    };
    PspResult {
        state,
        interface_id,
        status: Some(intent.status.as_str().to_owned()),
        interaction,
    }
}

/// The outcome a refund answer means.
pub(super) fn refund_outcome(
    account: &PspAccount,
    txn: &Transaction,
    refund: &Refund,
    source: Source,
) -> PspResult {
    let mut interaction = Interaction::new(&account.interface, source, Phase::Response);
    interaction
        .set("operation", Operation::Refund.as_str())
        .set("transactionId", txn.id.to_string())
        .set("interfaceId", refund.id.clone())
        .set("status", refund.status.as_str())
        .set("amount", refund.amount.to_string())
        .set_some("code", refund.failure_reason.clone());
    PspResult {
        state: mapping::refund_state(refund.status),
        interface_id: Some(refund.id.clone()),
        status: Some(refund.status.as_str().to_owned()),
        interaction,
    }
}

/// A failed call: a final refusal fails the transaction; anything else is
/// retried later.
pub(super) async fn failed(
    account: &PspAccount,
    txn: &Transaction,
    operation: Operation,
    intent_id: Option<&str>,
    error: PspError,
) -> Attempt {
    if !is_final(&error) {
        return Attempt::Retry(error);
    }
    let intent_id = intent_id.map(str::to_owned).or_else(|| match &error {
        PspError::Declined { payment_intent, .. } => payment_intent.clone(),
        _ => None,
    });
    // The intent's status after a refusal, when there is an intent.
    let status = match &intent_id {
        Some(id) => match account.connector.retrieve_payment_intent(id).await {
            Ok(intent) => intent.status.as_str().to_owned(),
            Err(_) => error.code().to_owned(),
        },
        None => error.code().to_owned(),
    };
    let mut interaction = Interaction::new(&account.interface, Source::Executor, Phase::Response);
    interaction
        .set("operation", operation.as_str())
        .set("transactionId", txn.id.to_string())
        .set_some("interfaceId", intent_id.clone())
        .set("status", status.clone())
        .set("code", error.code());
    match &error {
        PspError::Declined {
            decline_code,
            message,
            ..
        } => {
            interaction
                .set(
                    "declineCode",
                    decline_code
                        .clone()
                        .unwrap_or_else(|| error.code().to_owned()),
                )
                .set_some("message", message.clone());
        }
        PspError::InvalidRequest { message, .. } => {
            interaction.set_some("message", message.clone());
        }
        PspError::Authentication { .. }
        | PspError::RateLimited
        | PspError::Api { .. }
        | PspError::Network { .. } => {}
    }
    let interface_id = match operation {
        Operation::Authorize | Operation::Charge => intent_id,
        Operation::Capture | Operation::Cancel | Operation::Refund => None,
    };
    Attempt::Done(PspResult {
        state: TransactionState::Failure,
        interface_id,
        status: Some(status),
        interaction,
    })
}

/// Captures or cancels an authorized intent. Resuming after a crash, the
/// intent is read first: a step that already happened is taken from it and
/// not sent again (the idempotency key covers the rest).
async fn settle_intent(
    account: &PspAccount,
    txn: &Transaction,
    operation: Operation,
    intent: &str,
    resume: bool,
) -> Attempt {
    let connector = &*account.connector;
    let already_done = |status: IntentStatus| match operation {
        Operation::Capture => status != IntentStatus::RequiresCapture,
        _ => status == IntentStatus::Canceled,
    };
    let current = if resume {
        match connector.retrieve_payment_intent(intent).await {
            Ok(current) => Some(current),
            Err(error) => return failed(account, txn, operation, None, error).await,
        }
    } else {
        None
    };
    let answer = match current {
        Some(current) if already_done(current.status) => Ok(current),
        _ => {
            let key = idempotency_key(txn.id, first_step(operation));
            if operation == Operation::Capture {
                connector
                    .capture_payment_intent(intent, Some(txn.amount.cent_amount), &key)
                    .await
            } else {
                connector.cancel_payment_intent(intent, &key).await
            }
        }
    };
    match answer {
        Ok(intent) => Attempt::Done(intent_outcome(
            account,
            txn,
            operation,
            &intent,
            Source::Executor,
        )),
        Err(error) => failed(account, txn, operation, None, error).await,
    }
}

async fn refund(
    account: &PspAccount,
    txn: &Transaction,
    charged: &str,
    metadata: BTreeMap<String, String>,
    resume: bool,
) -> Attempt {
    let connector = &*account.connector;
    let txn_id = txn.id.to_string();
    let found = if resume {
        match connector.find_refund(charged, &txn_id).await {
            Ok(found) => found,
            Err(error) => return Attempt::Retry(error),
        }
    } else {
        None
    };
    let answer = match found {
        Some(refund) => Ok(refund),
        None => {
            let request = CreateRefund {
                charged: charged.to_owned(),
                amount: Some(txn.amount.cent_amount),
                metadata,
                idempotency_key: idempotency_key(txn.id, first_step(Operation::Refund)),
            };
            connector.create_refund(&request).await
        }
    };
    match answer {
        Ok(refund) => Attempt::Done(refund_outcome(account, txn, &refund, Source::Executor)),
        Err(error) => failed(account, txn, Operation::Refund, None, error).await,
    }
}
