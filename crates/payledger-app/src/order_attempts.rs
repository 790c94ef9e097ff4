//! Payment attempts of orders: retry payment (seed `000_…`), the hosted
//! payment page, and collect payment (seed `002_…`).
//!
//! Both flows make a new attempt the same way, under the order's lock so
//! that concurrent requests for one order make one attempt:
//!
//! 1. read the order, its totals and its attempts, and ask the domain
//!    ([`decide_retry`], [`decide_collect`]);
//! 2. (retry) an unfinished attempt that is old enough is expired first
//!    ([`PspService::expire_payment`]: cancelled at the PSP, its
//!    transaction failed, as events);
//! 3. create the attempt's payment for `totalOutstanding`, with no
//!    transaction yet, and link it to the order (`addPayment`): the order
//!    knows the attempt before anything reaches the PSP;
//! 4. add its Charge and execute it at once with the PSP executor. A retry
//!    creates a PaymentIntent without payment method, which the shopper
//!    pays on the hosted page (or a storefront SDK with the client secret);
//!    a collect charges the saved card off-session and waits, bounded, for
//!    the outcome;
//! 5. record the answer (and, for a retry, the page's link) in one write.
//!
//! A crash between the steps leaves at worst an attempt without a Charge
//! (never executed) or a Charge the executor resumes from the log; the
//! request was not answered, so the caller repeats it.

pub mod records;

use crate::clock::Clock;
use crate::error::AppError;
use crate::idempotency::{Answer, write_answered};
use crate::orders::{OrderRef, OrderView, Orders};
use crate::payments::{CommandMeta, Ledger, PaymentCommand, PaymentRef};
use crate::psp::card_payment::{CardOptions, CardPayment};
use crate::psp::locks::OrderLocks;
use crate::psp::saved_methods::{self, SavedMethod};
use crate::psp::{PspAccount, PspFailure, PspService};
use payledger_domain::command::{MethodInfoInput, PaymentDraftInput, TransactionDraftInput};
use payledger_domain::order::attempt_status;
use payledger_domain::order::attempts::{RetryPlan, decide_collect, decide_retry};
use payledger_domain::payment::TransactionType;
use payledger_domain::{
    Money, Order, OrderAction, OrderId, Payment, PaymentId, PaymentNotification, ProjectKey,
    Rejection, Timestamp, UpdateAction,
};
use payledger_psp::Secret;
use payledger_psp::config::OrderSettings;
use payledger_store::{EventStore, KvWrite};
use records::{LinkTarget, PaymentLink};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The `action` of a retry that shows the shopper a payment page.
pub const ACTION_PAYMENT_PAGE: &str = "paymentPage";

/// The mandate a shopper gives for later merchant-initiated charges
/// (`payment_method.mandate` of a retry; echoed as `mandate.*` in the SDK
/// payload). Its presence saves the card for collect-payment.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct MandateRequest {
    pub max_amount: Option<String>,
    pub start_date: Option<String>,
    pub end_date: Option<String>,
    pub frequency: Option<String>,
    pub rule_value: Option<String>,
}

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
    /// The merchant's reference at the gateway, kept as the attempt's
    /// `externalId`.
    pub gateway_reference_id: Option<String>,
    pub mandate: Option<MandateRequest>,
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
    /// The hosted page's token (the link is `{public URL}/pay/{token}`).
    pub link_token: String,
    /// The merchant's public key at the PSP.
    pub publishable_key: Option<String>,
    /// `test` or `live`.
    pub environment: &'static str,
    /// From then on a retry expires this attempt and the link is gone.
    pub expires_at: Timestamp,
}

/// One attempt of an order as a collect answers it.
#[derive(Clone, Debug)]
pub struct AttemptView {
    pub payment: Payment,
    pub saved: Option<SavedMethod>,
}

/// An order after a collect.
#[derive(Clone, Debug)]
pub struct CollectOutcome {
    pub order: OrderView,
    /// Every attempt of the order, oldest first, the new one last.
    pub attempts: Vec<AttemptView>,
    /// The new attempt.
    pub collected: PaymentId,
    /// The outcome was known within the wait.
    pub settled: bool,
}

/// What the hosted page shows.
#[derive(Clone, Debug)]
pub struct PageView {
    pub link: LinkTarget,
    pub order: OrderView,
    pub attempt: Payment,
    pub publishable_key: Option<String>,
    /// The PSP's browser library.
    pub js_url: Option<String>,
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

    pub(crate) fn ledger(&self) -> &Ledger<dyn EventStore> {
        &self.ledger
    }

    pub(crate) fn orders(&self) -> &Orders<dyn EventStore> {
        &self.orders
    }

    pub(crate) fn psp(&self) -> &PspService {
        &self.psp
    }

    /// The order `id` with its totals.
    pub(crate) async fn order(
        &self,
        project: &ProjectKey,
        id: OrderId,
    ) -> Result<OrderView, PspFailure> {
        self.find(project, &OrderRef::Id(id)).await
    }

    fn settings(&self, project: &ProjectKey) -> OrderSettings {
        self.settings.get(project).copied().unwrap_or_default()
    }

    /// How long an unfinished attempt of `project` blocks a retry.
    fn retry_after_ms(&self, project: &ProjectKey) -> i64 {
        i64::try_from(self.settings(project).retry_after_ms).unwrap_or(i64::MAX)
    }

    fn clock(&self) -> &Arc<dyn Clock> {
        self.psp.clock()
    }

    /// The PSP account a request names.
    fn account(&self, project: &ProjectKey, provider: &str) -> Result<Arc<PspAccount>, AppError> {
        self.psp.account_named(project, provider).ok_or_else(|| {
            AppError::Rejected(Rejection::UnknownPaymentProvider {
                slug: provider.to_owned(),
            })
        })
    }

    /// Retries the payment of the order `target` (seed 000). `answer` is
    /// recorded with the page's link once the attempt waits for the
    /// shopper.
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
        let account = self.account(&project, &request.provider)?;
        if request.action == ACTION_PAYMENT_PAGE && request.return_url.is_none() {
            return Err(AppError::Rejected(Rejection::ReturnUrlRequired).into());
        }
        let order_id = self.find(&project, &target).await?.order.id;
        let _guard = self.locks.lock(order_id).await;
        // Read under the lock: a retry that held it may have linked an
        // attempt.
        let current = self.find(&project, &OrderRef::Id(order_id)).await?;
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
                let latest = self
                    .psp
                    .expire_payment(&project, latest.id, &reason)
                    .await?;
                // The expiry may have found the attempt paid: decide again.
                let after = self.find(&project, &OrderRef::Id(order_id)).await?;
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
        let mut draft = PaymentDraftInput::new(current.totals.total_outstanding.clone());
        draft.external_id = request.gateway_reference_id.clone();
        draft.payment_method_info = MethodInfoInput {
            payment_interface: Some(request.provider.clone()),
            method: request.integration_type.clone(),
            ..MethodInfoInput::default()
        };
        let payment_id = self
            .start_attempt(&meta, &current.order, draft, None)
            .await?;
        let attempt = self.execute(&project, order_id, payment_id).await?;
        let intent_id = attempt
            .payment
            .transactions
            .last()
            .and_then(|t| t.interface_id.clone())
            .ok_or_else(|| psp_pending("the PSP has not taken the attempt yet; it is retried"))?;
        let intent = account
            .connector
            .retrieve_payment_intent(&intent_id)
            .await?;
        let client_secret = intent
            .client_secret
            .ok_or_else(|| psp_pending("the PSP answered no client secret"))?;
        let expires_at = Timestamp(now.0.saturating_add(retry_after_ms));
        let link_token = records::new_token();
        let link = PaymentLink {
            project: project.as_str().to_owned(),
            order: order_id.to_string(),
            payment: attempt.payment.id.to_string(),
            expires_at_ms: expires_at.0,
            return_url: request.return_url.clone(),
            reusable: request.mandate.is_some(),
            email: attempt.order.order.customer_email.clone(),
        };
        let outcome = RetryOutcome {
            order: attempt.order,
            attempt: attempt.payment,
            request,
            intent_id,
            client_secret,
            link_token,
            publishable_key: account.publishable_key.clone(),
            environment: account.environment(),
            expires_at,
        };
        self.answer(
            answer.as_ref(),
            &outcome,
            vec![records::write(&outcome.link_token, &link)],
        )
        .await?;
        Ok(outcome)
    }

    /// Collects the outstanding balance of the order `target` off-session
    /// with the saved card of its latest attempt that saved one for reuse
    /// (seed 002). Waits at most the project's `collect_wait_ms` for the
    /// PSP's outcome; after that the charge goes on in the background.
    /// With `notify`, the order records a `PaymentNotificationRequested`
    /// (its Message is for the merchant's mailer) saying how it went.
    pub async fn collect(
        &self,
        meta: CommandMeta,
        answer: Option<Answer>,
        target: OrderRef,
        notify: bool,
    ) -> Result<CollectOutcome, PspFailure> {
        let meta = CommandMeta {
            now: self.clock().now(),
            ..meta
        };
        let project = meta.project.clone();
        let order_id = self.find(&project, &target).await?.order.id;
        let _guard = self.locks.lock(order_id).await;
        let current = self.find(&project, &OrderRef::Id(order_id)).await?;
        let attempts = self.attempts(&project, &current.order).await?;
        let payments: Vec<&Payment> = attempts.iter().map(|a| &a.payment).collect();
        // The card an attempt saved for merchant-initiated use, if any.
        let reusable = |id: PaymentId| {
            attempts
                .iter()
                .find(|a| a.payment.id == id)
                .and_then(|a| a.saved.as_ref())
                .filter(|s| s.reusable)
        };
        let source = decide_collect(&current.order, &current.totals, &payments, |p| {
            reusable(p.id).is_some()
        })
        .map_err(AppError::Rejected)?;
        let saved = reusable(source.id)
            .cloned()
            .unwrap_or_else(|| unreachable!("decide_collect chose a reusable attempt"));
        self.account(&project, &saved.psp)?;
        let mut draft = PaymentDraftInput::new(current.totals.total_outstanding.clone());
        draft.payment_method_info = MethodInfoInput {
            payment_interface: Some(saved.psp.clone()),
            method: source.payment_method_info.method.clone(),
            token: Some(saved.payment_method.clone()),
            ..MethodInfoInput::default()
        };
        let charge_saved = SavedMethod {
            off_session: true,
            three_d_secure: false,
            ..saved
        };
        let collected = self
            .start_attempt(&meta, &current.order, draft, Some(charge_saved))
            .await?;
        let wait = Duration::from_millis(self.settings(&project).collect_wait_ms);
        // Past the wait the charge goes on: the executor finishes it from
        // the log. The order and attempts are read once it is over.
        let execute = self.psp.process_payment(&project, collected, false);
        let settled = match tokio::time::timeout(wait, execute).await {
            Ok(executed) => {
                executed?;
                true
            }
            Err(_) => false,
        };
        let mut order = self.find(&project, &OrderRef::Id(order_id)).await?;
        let attempts = self.attempts(&project, &order.order).await?;
        if notify && let Some(charged) = attempts.iter().find(|a| a.payment.id == collected) {
            let notification = PaymentNotification {
                payment: collected,
                amount: charged.payment.amount_planned.clone(),
                outcome: attempt_status(&charged.payment).outcome().to_owned(),
                customer_email: order.order.customer_email.clone(),
            };
            let action = OrderAction::RequestPaymentNotification(Box::new(notification));
            order = self.update(&meta, order_id, action).await?;
        }
        let outcome = CollectOutcome {
            order,
            attempts,
            collected,
            settled,
        };
        self.answer(answer.as_ref(), &outcome, Vec::new()).await?;
        Ok(outcome)
    }

    /// What the hosted page of `token` shows, from the store alone; `None`
    /// for an unknown token.
    pub async fn page(&self, token: &str) -> Result<Option<PageView>, PspFailure> {
        let token = token.to_owned();
        let store = Arc::clone(self.ledger.store());
        let link = blocking(move || Ok(records::read(&*store, &token)?)).await?;
        let Some(link) = link else {
            return Ok(None);
        };
        let Some(order) = self.read(&link.project, &OrderRef::Id(link.order)).await? else {
            return Ok(None);
        };
        let Some(attempt) = self.psp.load(&link.project, link.payment).await? else {
            return Ok(None);
        };
        let account = self.psp.account(&link.project, &attempt);
        Ok(Some(PageView {
            publishable_key: account.as_ref().and_then(|a| a.publishable_key.clone()),
            js_url: account.and_then(|a| a.js_url.clone()),
            link,
            order,
            attempt,
        }))
    }

    /// The client secret of the PaymentIntent the page's attempt waits on
    /// (asked of the PSP: it is not stored); `None` when nothing waits.
    pub async fn client_secret(&self, view: &PageView) -> Result<Option<Secret>, PspFailure> {
        let waiting = view.attempt.transactions.iter().rev().find_map(|t| {
            (t.state == payledger_domain::payment::TransactionState::Pending)
                .then(|| t.interface_id.clone())
                .flatten()
        });
        let (Some(account), Some(intent)) =
            (self.psp.account(&view.link.project, &view.attempt), waiting)
        else {
            return Ok(None);
        };
        Ok(account
            .connector
            .retrieve_payment_intent(&intent)
            .await?
            .client_secret)
    }

    /// The shopper submits the page: pays with `card_token`, or (none)
    /// reports that a 3-D Secure dialog finished, which refreshes the
    /// attempt. `None` for an unknown token.
    pub async fn submit_page(
        &self,
        link: &LinkTarget,
        card_token: Option<&str>,
    ) -> Result<Option<CardPayment>, PspFailure> {
        match card_token {
            Some(token) => {
                let options = CardOptions {
                    reusable: link.reusable,
                    email: link.email.clone(),
                };
                self.psp
                    .pay_with_card(&link.project, link.payment, token, options)
                    .await
            }
            None => Ok(self
                .psp
                .refresh_payment(&link.project, link.payment)
                .await?
                .map(|refreshed| CardPayment {
                    payment: refreshed.payment,
                    authenticate_with: None,
                    refusal: None,
                })),
        }
    }

    /// The order named by `target`.
    async fn find(&self, project: &ProjectKey, target: &OrderRef) -> Result<OrderView, PspFailure> {
        self.read(project, target)
            .await?
            .ok_or_else(|| AppError::NotFound.into())
    }

    /// The order and its totals, read off the async workers.
    async fn read(
        &self,
        project: &ProjectKey,
        target: &OrderRef,
    ) -> Result<Option<OrderView>, PspFailure> {
        let (orders, project, target) = (self.orders.clone(), project.clone(), target.clone());
        blocking(move || Ok(orders.get(&project, &target)?)).await
    }

    /// Every attempt of `order` with its saved method, oldest first.
    async fn attempts(
        &self,
        project: &ProjectKey,
        order: &Order,
    ) -> Result<Vec<AttemptView>, PspFailure> {
        let (ledger, project, ids) = (self.ledger.clone(), project.clone(), order.payments.clone());
        blocking(move || {
            let mut attempts = Vec::with_capacity(ids.len());
            for id in ids {
                if let Some(payment) = ledger.view(&project, id)? {
                    let saved = saved_methods::read(&**ledger.store(), &project, id)?;
                    attempts.push(AttemptView { payment, saved });
                }
            }
            Ok(attempts)
        })
        .await
    }

    /// Step 3 and the start of 4: the attempt's payment (with `saved`, the
    /// card a collect charges), linked to `order`, then its Charge.
    pub(crate) async fn start_attempt(
        &self,
        meta: &CommandMeta,
        order: &Order,
        mut draft: PaymentDraftInput,
        saved: Option<SavedMethod>,
    ) -> Result<PaymentId, PspFailure> {
        let project = &meta.project;
        draft.customer_id = order.customer_id.clone();
        draft.transactions = Vec::new();
        let amount: Money = draft.amount_planned.clone();
        let meta = CommandMeta {
            idempotency: None,
            ..meta.clone()
        };
        let created = self
            .ledger
            .execute(meta.clone(), PaymentCommand::Create(Box::new(draft)))
            .await?;
        let payment_id = created.payment.id;
        self.update(&meta, order.id, OrderAction::AddPayment(payment_id))
            .await?;
        let charge = UpdateAction::AddTransaction(TransactionDraftInput::new(
            TransactionType::Charge,
            amount,
        ));
        // The card a collect charges is stored with the Charge, in its
        // batch: the executor finds it when it executes the Charge.
        let inline = saved
            .map(|saved| vec![saved.write(project, payment_id)])
            .unwrap_or_default();
        self.ledger
            .execute_with(
                meta,
                PaymentCommand::Update {
                    target: PaymentRef::Id(payment_id),
                    version: created.payment.version,
                    actions: vec![charge],
                },
                inline,
            )
            .await?;
        Ok(payment_id)
    }

    /// The rest of step 4: the PSP executor runs the attempt's Charge now
    /// (the log consumer would too; the payment's lock keeps it to one).
    async fn execute(
        &self,
        project: &ProjectKey,
        order: OrderId,
        payment_id: PaymentId,
    ) -> Result<Started, PspFailure> {
        self.psp.process_payment(project, payment_id, false).await?;
        let payment = self
            .psp
            .load(project, payment_id)
            .await?
            .ok_or(AppError::NotFound)?;
        let order = self.find(project, &OrderRef::Id(order)).await?;
        Ok(Started { order, payment })
    }

    /// Applies one action to the order (links an attempt, requests a
    /// notification), at its current version.
    async fn update(
        &self,
        meta: &CommandMeta,
        order: OrderId,
        action: OrderAction,
    ) -> Result<OrderView, PspFailure> {
        let updated = self
            .orders
            .update_current(meta, order, |_| vec![action.clone()])
            .await?;
        Ok(updated.ok_or(AppError::NotFound)?.0)
    }

    /// Records the answer of a request that carried an `Idempotency-Key`,
    /// with `writes`, in one write.
    async fn answer<T: Clone + Send + Sync + 'static>(
        &self,
        answer: Option<&Answer>,
        answered: &T,
        writes: Vec<KvWrite>,
    ) -> Result<(), PspFailure> {
        let (store, answer, answered) = (
            Arc::clone(self.ledger.store()),
            answer.cloned(),
            answered.clone(),
        );
        blocking(move || {
            write_answered(&*store, answer.as_ref(), &answered, writes).map_err(AppError::from)?;
            Ok(())
        })
        .await
    }
}

/// An attempt after step 4.
struct Started {
    order: OrderView,
    payment: Payment,
}

/// Runs blocking store work off the async workers.
pub(crate) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, PspFailure> + Send + 'static,
) -> Result<T, PspFailure> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|_| PspFailure::Join)?
}

/// A PSP step that did not complete; the attempt stays and is resumed.
fn psp_pending(message: &str) -> PspFailure {
    PspFailure::Psp(payledger_psp::PspError::Network {
        message: message.to_owned(),
    })
}
