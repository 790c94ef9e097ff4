//! Payment attempts of orders: retry payment (seed `000_…`).
//!
//! A retry makes a new attempt at the PSP for what the order owes, after
//! the domain's rule ([`decide_retry`]) allowed it. The steps, under the
//! order's lock so that concurrent retries of one order make one attempt:
//!
//! 1. read the order, its totals and its latest attempt;
//! 2. decide; an attempt in progress that is old enough is expired first
//!    ([`PspService::expire_payment`]: cancelled at the PSP, its
//!    transaction failed, as events);
//! 3. create the attempt: a payment for `totalOutstanding` with one Initial
//!    Charge, no token (the shopper supplies the method), executed at once
//!    by the PSP executor, which creates the PaymentIntent and leaves the
//!    Charge Pending while the shopper pays;
//! 4. link it to the order (`addPayment`), with the idempotency answer in
//!    the same append.
//!
//! A crash between 3 and 4 leaves an unlinked payment whose PaymentIntent
//! nobody will confirm; the request was not answered, so the caller
//! repeats it and gets a new attempt.

use crate::clock::Clock;
use crate::error::AppError;
use crate::idempotency::Answer;
use crate::orders::{OrderCommand, OrderRef, OrderView, Orders};
use crate::payments::{CommandMeta, Ledger, PaymentCommand};
use crate::psp::locks::OrderLocks;
use crate::psp::{PspFailure, PspService};
use payledger_domain::command::{MethodInfoInput, PaymentDraftInput, TransactionDraftInput};
use payledger_domain::order::attempts::{RetryPlan, decide_retry};
use payledger_domain::payment::TransactionType;
use payledger_domain::{Order, OrderAction, Payment, ProjectKey, Rejection, Timestamp};
use payledger_psp::Secret;
use payledger_psp::config::OrderSettings;
use payledger_store::EventStore;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The `action` of a retry that shows the shopper a payment page.
pub const ACTION_PAYMENT_PAGE: &str = "paymentPage";

/// Most times the link of a new attempt is retried after a concurrent
/// change of the order.
pub const LINK_CONFLICT_RETRIES_MAX: usize = 8;

/// The `payment_method` of a retry request (seed 000).
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct RetryRequest {
    /// The PSP: the payment interface the attempt is executed at.
    pub provider: String,
    /// How the shopper pays (`card`, …); recorded as the payment method.
    pub integration_type: Option<String>,
    pub return_url: Option<String>,
    /// `paymentPage`, or what the storefront SDK does.
    pub action: String,
    /// The merchant's reference at the gateway, kept with the attempt.
    pub gateway_reference_id: Option<String>,
}

/// A new attempt and what a storefront needs to let the shopper pay it.
#[derive(Clone, Debug)]
pub struct RetryOutcome {
    /// The order with the new attempt linked.
    pub order: OrderView,
    pub attempt: Payment,
    pub request: RetryRequest,
    /// The PaymentIntent the shopper confirms.
    pub intent_id: String,
    /// Lets the shopper's browser confirm the PaymentIntent.
    pub client_secret: Secret,
    /// The merchant's public key at the PSP.
    pub publishable_key: Option<String>,
    /// `test` or `live`.
    pub environment: &'static str,
    /// From then on a retry expires this attempt.
    pub expires_at: Timestamp,
}

/// Makes the payment attempts of orders.
#[derive(Clone, Debug)]
pub struct OrderAttempts {
    orders: Orders<dyn EventStore>,
    ledger: Ledger<dyn EventStore>,
    psp: PspService,
    locks: Arc<OrderLocks>,
    /// Per project; the defaults elsewhere.
    settings: Arc<BTreeMap<ProjectKey, OrderSettings>>,
}

impl OrderAttempts {
    pub fn new(
        orders: Orders<dyn EventStore>,
        ledger: Ledger<dyn EventStore>,
        psp: PspService,
    ) -> Self {
        Self {
            orders,
            ledger,
            psp,
            locks: Arc::new(OrderLocks::default()),
            settings: Arc::new(BTreeMap::new()),
        }
    }

    /// The settings of each project that does not use the defaults.
    #[must_use]
    pub fn with_settings(mut self, settings: BTreeMap<ProjectKey, OrderSettings>) -> Self {
        self.settings = Arc::new(settings);
        self
    }

    /// How long an unfinished attempt of `project` blocks a retry.
    fn retry_after_ms(&self, project: &ProjectKey) -> i64 {
        let settings = self.settings.get(project).copied().unwrap_or_default();
        i64::try_from(settings.retry_after_ms).unwrap_or(i64::MAX)
    }

    fn clock(&self) -> &Arc<dyn Clock> {
        self.psp.clock()
    }

    /// Retries the payment of the order `target` (seed 000). `answer` is
    /// recorded with the link of the new attempt.
    pub async fn retry(
        &self,
        meta: CommandMeta,
        answer: Option<Answer>,
        target: OrderRef,
        request: RetryRequest,
    ) -> Result<RetryOutcome, PspFailure> {
        // The attempt's requested time is read by the clock that decides
        // when it expires.
        let meta = CommandMeta {
            now: self.clock().now(),
            ..meta
        };
        let project = meta.project.clone();
        let account = self
            .psp
            .account_named(&project, &request.provider)
            .ok_or_else(|| {
                AppError::Rejected(Rejection::UnknownPaymentProvider {
                    slug: request.provider.clone(),
                })
            })?;
        if request.action == ACTION_PAYMENT_PAGE && request.return_url.is_none() {
            return Err(AppError::Rejected(Rejection::ReturnUrlRequired).into());
        }
        let current = self
            .read_order(&project, &target)
            .await?
            .ok_or(AppError::NotFound)?;
        let _guard = self.locks.lock(current.order.id).await;
        // Read again under the lock: a retry that held it may have linked
        // an attempt.
        let current = self
            .read_order(&project, &OrderRef::Id(current.order.id))
            .await?
            .ok_or(AppError::NotFound)?;
        let latest = match current.order.payments.last() {
            Some(id) => self.psp.load(&project, *id).await?,
            None => None,
        };
        let now = self.clock().now();
        let retry_after_ms = self.retry_after_ms(&project);
        let plan = decide_retry(
            &current.order,
            &current.totals,
            latest.as_ref(),
            now,
            retry_after_ms,
        )
        .map_err(AppError::Rejected)?;
        let current = match (plan, latest) {
            (RetryPlan::ExpireLatest, Some(latest)) => {
                let reason = format!(
                    "expired by a retry of order {}: unfinished {} ms after it was requested",
                    current.order.order_number,
                    now.0 - latest.created_at.0
                );
                self.psp
                    .expire_payment(&project, latest.id, &reason)
                    .await?;
                // The expiry may have found the attempt paid: decide again.
                let after = self
                    .read_order(&project, &OrderRef::Id(current.order.id))
                    .await?
                    .ok_or(AppError::NotFound)?;
                let latest = self.psp.load(&project, latest.id).await?;
                decide_retry(
                    &after.order,
                    &after.totals,
                    latest.as_ref(),
                    self.clock().now(),
                    retry_after_ms,
                )
                .map_err(AppError::Rejected)?;
                after
            }
            _ => current,
        };
        let attempt = self
            .create_attempt(
                &meta,
                &current.order,
                &current.totals.total_outstanding,
                &request,
            )
            .await?;
        self.psp
            .process_payment(&project, attempt.id, false)
            .await?;
        let attempt = self
            .psp
            .load(&project, attempt.id)
            .await?
            .ok_or(AppError::NotFound)?;
        let intent_id = attempt
            .transactions
            .last()
            .and_then(|t| t.interface_id.clone())
            .ok_or_else(|| unreachable_psp("the PSP did not take the attempt; it is retried"))?;
        let intent = account
            .connector
            .retrieve_payment_intent(&intent_id)
            .await?;
        let client_secret = intent
            .client_secret
            .ok_or_else(|| unreachable_psp("the PSP answered no client secret"))?;
        let outcome = RetryOutcome {
            order: current.clone(),
            attempt,
            request,
            intent_id,
            client_secret,
            publishable_key: account.publishable_key.clone(),
            environment: account.environment(),
            expires_at: Timestamp(now.0.saturating_add(retry_after_ms)),
        };
        let order = self.link(meta, answer, current.order, &outcome).await?;
        Ok(RetryOutcome { order, ..outcome })
    }

    /// The order and its totals, read off the async workers.
    async fn read_order(
        &self,
        project: &ProjectKey,
        target: &OrderRef,
    ) -> Result<Option<OrderView>, PspFailure> {
        let (orders, project, target) = (self.orders.clone(), project.clone(), target.clone());
        tokio::task::spawn_blocking(move || orders.get(&project, &target))
            .await
            .map_err(|_| PspFailure::Join)?
            .map_err(PspFailure::from)
    }

    /// Creates the attempt's payment: `amount` with one Initial Charge and
    /// no token, at the request's PSP.
    async fn create_attempt(
        &self,
        meta: &CommandMeta,
        order: &Order,
        amount: &payledger_domain::Money,
        request: &RetryRequest,
    ) -> Result<Payment, PspFailure> {
        let mut draft = PaymentDraftInput::new(amount.clone());
        draft.customer_id = order.customer_id.clone();
        draft.external_id = request.gateway_reference_id.clone();
        draft.payment_method_info = MethodInfoInput {
            payment_interface: Some(request.provider.clone()),
            method: request.integration_type.clone(),
            ..MethodInfoInput::default()
        };
        draft.transactions = vec![TransactionDraftInput::new(
            TransactionType::Charge,
            amount.clone(),
        )];
        let meta = CommandMeta {
            idempotency: None,
            ..meta.clone()
        };
        let committed = self
            .ledger
            .execute(meta, PaymentCommand::Create(Box::new(draft)))
            .await?;
        Ok(Arc::unwrap_or_clone(committed.payment))
    }

    /// Links the attempt to the order, recording `answer` with it; retries
    /// on a concurrent change of the order.
    async fn link(
        &self,
        meta: CommandMeta,
        answer: Option<Answer>,
        mut order: Order,
        outcome: &RetryOutcome,
    ) -> Result<OrderView, PspFailure> {
        for _ in 0..LINK_CONFLICT_RETRIES_MAX {
            let command = OrderCommand::Update {
                target: OrderRef::Id(order.id),
                version: order.version,
                actions: vec![OrderAction::AddPayment(outcome.attempt.id)],
            };
            let answer = answer.clone().map(|a| answer_with(a, outcome));
            match self.orders.execute(meta.clone(), answer, command).await {
                Err(AppError::Conflict { .. }) => {
                    order = self
                        .read_order(&meta.project, &OrderRef::Id(order.id))
                        .await?
                        .ok_or(AppError::NotFound)?
                        .order;
                }
                other => return Ok(other?),
            }
        }
        Err(AppError::Overloaded.into())
    }
}

/// `answer`, rendering the retry's outcome with the order it is given
/// (the order after the link) instead of the order alone.
fn answer_with(answer: Answer, outcome: &RetryOutcome) -> Answer {
    let outcome = outcome.clone();
    let render = answer.render;
    Answer {
        key: answer.key,
        render: Arc::new(move |answered| {
            let mut full = outcome.clone();
            if let Some(order) = answered.downcast_ref::<OrderView>() {
                full.order = order.clone();
            }
            render(&full)
        }),
    }
}

/// A PSP step that did not complete; the attempt stays and is resumed.
fn unreachable_psp(message: &str) -> PspFailure {
    PspFailure::Psp(payledger_psp::PspError::Network {
        message: message.to_owned(),
    })
}
