//! The signed tokenization API of seed `004_…`: a sale that charges a
//! card and saves it as a token, and recurring charges of that token that
//! the merchant starts. Every request becomes an order (recurring ones
//! with `recurring: true`) with one payment attempt, executed by the PSP
//! executor like any other: events, Messages and Kafka records follow.
//!
//! A request runs under the lock of its `merchantReference`:
//!
//! 1. the reference's [`RequestRecord`] is read: the same request text
//!    again gets the first answer (or resumes the request where a crash
//!    left it); other text with a used reference is refused;
//! 2. a new request is checked (token, parent order, PSP account), then
//!    takes its numbers (order, transaction, token, trace number) under the
//!    merchant's lock, and its order is created with the counters and the
//!    record in the same atomic batch;
//! 3. (sale) the payment method is saved on a new PSP customer; the
//!    attempt's payment is created, linked to the order, and its Charge
//!    executed off-session (confirmed at creation: nobody is there to
//!    authenticate);
//! 4. the outcome is recorded in the record, with the token (a sale that
//!    succeeded) and the notify callback, in one write.
//!
//! A charge not final at answer time is settled by the callback sender
//! ([`Tokenization::prepare_callback`]), which then notifies the merchant.
//! Refusals never say whether another merchant's token or order exists.

pub mod answer;
mod callbacks;
pub mod records;
mod requests;

pub use requests::{
    Answered, CallbackUrls, CallbackWork, RecurringRequest, Refusal, ResponseCode, SaleRequest,
    TokenizationError,
};

use crate::backoff::Backoff;
use crate::error::AppError;
use crate::merchants::Merchant;
use crate::order_attempts::{OrderAttempts, blocking};
use crate::orders::{OrderCommand, WritesWith};
use crate::payments::CommandMeta;
use crate::psp::interaction::field;
use crate::psp::locks::KeyedLocks;
use crate::psp::saved_methods::{self, SavedMethod};
use crate::psp::{PspAccount, PspFailure};
use payledger_domain::command::{MethodInfoInput, PaymentDraftInput};
use payledger_domain::order::{AttemptStatus, attempt_status};
use payledger_domain::payment::TransactionType;
use payledger_domain::{
    Actor, CurrencyCode, Money, OrderDraft, Payment, PaymentId, ProjectKey, Timestamp,
};
use payledger_psp::{METADATA_PROJECT, PspError, SaveCard};
use payledger_store::EventStore;
use records::{
    CallbackDue, Counters, Numbers, OrderStatus, Outcome, RequestKind, RequestRecord, TokenRecord,
};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::sync::Arc;

/// The payment interface tokenization charges go to.
pub const TOKENIZATION_PSP: &str = "stripe";
/// Notify callbacks stop after this many failed attempts (with the default
/// backoff, about a day and a half).
pub const CALLBACK_ATTEMPTS_MAX: u32 = 40;
/// Most due callbacks taken at once.
pub const CALLBACK_BATCH_MAX: usize = 64;
/// The default wait between callback attempts: 1 s doubling up to 1 h.
pub const CALLBACK_BACKOFF: Backoff = Backoff {
    min_ms: 1_000,
    max_ms: 3_600_000,
};

/// The sale and recurring flows.
#[derive(Clone, Debug)]
pub struct Tokenization {
    attempts: OrderAttempts,
    references: Arc<KeyedLocks<[u8; 32]>>,
    merchants: Arc<KeyedLocks<u64>>,
    wake: Arc<tokio::sync::Notify>,
}

/// A new request, checked, about to take its numbers.
enum Plan<'a> {
    Sale(&'a SaleRequest),
    Recurring(&'a RecurringRequest, &'a TokenRecord),
}

impl Plan<'_> {
    fn reference(&self) -> &str {
        match self {
            Self::Sale(sale) => &sale.merchant_reference,
            Self::Recurring(recurring, _) => &recurring.merchant_reference,
        }
    }

    fn user_id(&self) -> &str {
        match self {
            Self::Sale(sale) => &sale.user_id,
            Self::Recurring(recurring, _) => &recurring.user_id,
        }
    }

    fn callback_urls(&self) -> &CallbackUrls {
        match self {
            Self::Sale(sale) => &sale.callback_urls,
            Self::Recurring(recurring, _) => &recurring.callback_urls,
        }
    }
}

impl Tokenization {
    pub fn new(attempts: OrderAttempts) -> Self {
        Self {
            attempts,
            references: Arc::new(KeyedLocks::default()),
            merchants: Arc::new(KeyedLocks::default()),
            wake: Arc::new(tokio::sync::Notify::new()),
        }
    }

    /// Signalled when a callback is scheduled.
    pub fn callback_wake(&self) -> Arc<tokio::sync::Notify> {
        Arc::clone(&self.wake)
    }

    fn store(&self) -> Arc<dyn EventStore> {
        Arc::clone(self.attempts.ledger().store())
    }

    fn now(&self) -> Timestamp {
        self.attempts.psp().clock().now()
    }

    /// A sale with tokenization. `text` is the exact request text.
    pub async fn sale(
        &self,
        merchant: &Merchant,
        text: &str,
        request: &SaleRequest,
    ) -> Result<Answered, TokenizationError> {
        let reference = &request.merchant_reference;
        let _guard = self.lock_reference(merchant.merchant_id, reference).await;
        let record = match self.existing(merchant.merchant_id, text, reference).await? {
            Some(record) => record,
            None => self.allocate(merchant, text, &Plan::Sale(request)).await?,
        };
        self.answer(record, None).await
    }

    /// A recurring charge of a token. `text` is the exact request text.
    pub async fn recurring(
        &self,
        merchant: &Merchant,
        text: &str,
        request: &RecurringRequest,
    ) -> Result<Answered, TokenizationError> {
        let (merchant_id, reference) = (merchant.merchant_id, &request.merchant_reference);
        let _guard = self.lock_reference(merchant_id, reference).await;
        if let Some(record) = self.existing(merchant_id, text, reference).await? {
            return self.answer(record, None).await;
        }
        let store = self.store();
        let token_id = request.token_id;
        let token = blocking(move || Ok(records::token(&*store, merchant_id, token_id)?)).await?;
        // The same code whether the token is unknown, another merchant's or
        // another user's: nothing is revealed.
        let token = token
            .filter(|t| t.user_id == request.user_id)
            .ok_or_else(|| {
                refused(
                    ResponseCode::UnknownToken,
                    "tokenId is not a token of this merchant and userId.",
                )
            })?;
        if token.sale_order != request.parent_order_id {
            return Err(refused(
                ResponseCode::ParentOrderMismatch,
                "parentOrderId is not the sale order that created the token.",
            ));
        }
        let record = self
            .allocate(merchant, text, &Plan::Recurring(request, &token))
            .await?;
        self.answer(record, Some(token)).await
    }

    /// Step 1's lock: one request per merchant and reference at a time.
    async fn lock_reference(
        &self,
        merchant_id: u64,
        reference: &str,
    ) -> crate::psp::locks::KeyedGuard<[u8; 32]> {
        self.references
            .lock(reference_lock(merchant_id, reference))
            .await
    }

    /// Step 1: the request already made with `reference`, if any; other
    /// text with it is refused.
    async fn existing(
        &self,
        merchant_id: u64,
        text: &str,
        reference: &str,
    ) -> Result<Option<RequestRecord>, TokenizationError> {
        let store = self.store();
        let owned = reference.to_owned();
        let existing =
            blocking(move || Ok(records::request(&*store, merchant_id, &owned)?)).await?;
        match existing {
            Some(record) if record.request_sha256 != request_sha256(text) => Err(refused(
                ResponseCode::DuplicateReference,
                "merchantReference was used by another request of this merchant.",
            )),
            found => Ok(found),
        }
    }

    /// The PSP account tokenization charges of `project` go to.
    fn account(&self, project: &ProjectKey) -> Result<Arc<PspAccount>, TokenizationError> {
        self.attempts
            .psp()
            .account_named(project, TOKENIZATION_PSP)
            .ok_or_else(|| {
                refused(
                    ResponseCode::PspUnavailable,
                    "No PSP account is configured for this merchant's project.",
                )
            })
    }

    fn meta(&self, project: &ProjectKey, merchant_id: u64) -> CommandMeta {
        CommandMeta {
            project: project.clone(),
            actor: Actor::Internal(format!("tokenization-merchant-{merchant_id}")),
            now: self.now(),
            correlation_id: None,
            idempotency: None,
        }
    }

    /// Step 2: the numbers and the order, with the counters and the record
    /// in the order's batch.
    async fn allocate(
        &self,
        merchant: &Merchant,
        text: &str,
        plan: &Plan<'_>,
    ) -> Result<RequestRecord, TokenizationError> {
        let merchant_id = merchant.merchant_id;
        let project = project_of(merchant)?;
        self.account(&project)?;
        let (amount, email) = match plan {
            Plan::Sale(sale) => (sale.amount.clone(), sale.email.clone()),
            Plan::Recurring(recurring, token) => {
                (recurring_amount(recurring, token)?, token.email.clone())
            }
        };
        let _guard = self.merchants.lock(merchant_id).await;
        let store = self.store();
        let mut counters: Counters =
            blocking(move || Ok(records::counters(&*store, merchant_id)?)).await?;
        let now = self.now();
        let numbers: Numbers = counters.take(now.0, matches!(plan, Plan::Sale(_)));
        let mut record = RequestRecord {
            kind: match plan {
                Plan::Sale(_) => RequestKind::Sale,
                Plan::Recurring(..) => RequestKind::Recurring,
            },
            merchant_id,
            merchant_reference: plan.reference().to_owned(),
            request_sha256: request_sha256(text),
            project: project.as_str().to_owned(),
            order: String::new(),
            order_number: numbers.order,
            transaction_number: numbers.transaction,
            stan: numbers.stan,
            token: match plan {
                Plan::Sale(_) => numbers.token.unwrap_or_default(),
                Plan::Recurring(recurring, _) => recurring.token_id,
            },
            user_id: plan.user_id().to_owned(),
            currency: amount.currency.as_str().to_owned(),
            amount: amount.cent_amount,
            email,
            payment_method: match plan {
                Plan::Sale(sale) => Some(sale.payment_method.clone()),
                Plan::Recurring(..) => None,
            },
            reason: match plan {
                Plan::Sale(_) => None,
                Plan::Recurring(recurring, _) => Some(recurring.reason.clone()),
            },
            notify_url: plan.callback_urls().notify.clone(),
            created_at_ms: now.0,
            outcome: None,
            notified: false,
        };
        let draft = OrderDraft {
            order_number: order_number(merchant_id, numbers.order),
            key: None,
            total_price: amount,
            customer_id: Some(record.user_id.clone()),
            customer_email: record.email.clone(),
            recurring: record.kind == RequestKind::Recurring,
        };
        let stored = record.clone();
        let with: WritesWith = Box::new(move |order| {
            let record = RequestRecord {
                order: order.id.to_string(),
                ..stored
            };
            vec![
                records::counters_write(merchant_id, &counters),
                records::request_write(&record),
            ]
        });
        let order = self
            .attempts
            .orders()
            .execute_with(
                self.meta(&project, merchant_id),
                None,
                OrderCommand::Create(draft),
                with,
            )
            .await?;
        record.order = order.order.id.to_string();
        tracing::info!(
            merchant_id,
            order_number = numbers.order,
            order = %record.order,
            kind = ?record.kind,
            "tokenization order created"
        );
        Ok(record)
    }

    /// The answer of a request: the recorded one, else steps 3 and 4 (a
    /// pending answer while the charge is not final). `token` is the
    /// recurring request's token when it was just read.
    async fn answer(
        &self,
        record: RequestRecord,
        token: Option<TokenRecord>,
    ) -> Result<Answered, TokenizationError> {
        if let Some(outcome) = record.outcome.clone() {
            return Ok(Answered {
                record,
                outcome,
                replayed: true,
            });
        }
        match self.advance(record.clone(), token).await? {
            Ok(answered) => Ok(answered),
            Err(code) => self.pending(record, code).await,
        }
    }

    /// Steps 3 and 4 for a record without an outcome: the attempt is made
    /// if missing, its Charge executed (or taken up where it was left in
    /// doubt: found again at the PSP, not made twice), and the outcome
    /// recorded once final. `Err` with the pending code otherwise.
    async fn advance(
        &self,
        record: RequestRecord,
        token: Option<TokenRecord>,
    ) -> Result<Result<Answered, ResponseCode>, TokenizationError> {
        let (project, order_id) = record_ids(&record)?;
        let order = self.attempts.order(&project, order_id).await?;
        let payment_id = match order.order.payments.last() {
            Some(id) => *id,
            None => match self.start(&project, &record, &order.order, token).await? {
                Ok(id) => id,
                Err(outcome) => return Ok(Ok(self.record(record, outcome, None).await?)),
            },
        };
        let executed = self
            .attempts
            .psp()
            .process_payment(&project, payment_id, true)
            .await;
        // A PSP that could not be reached leaves the charge in doubt; the
        // executor tries again and the callback sender settles it.
        let unreachable = match executed {
            Ok(progress) => progress.in_doubt > 0,
            Err(PspFailure::Psp(error)) => {
                tracing::warn!(%error, order = %record.order, "tokenization charge not executed yet");
                true
            }
            Err(other) => return Err(other.into()),
        };
        Ok(match self.settle(record, &project, payment_id).await? {
            Some(answered) => Ok(answered),
            None if unreachable => Err(ResponseCode::PspUnavailable),
            None => Err(ResponseCode::Pending),
        })
    }

    /// Step 3: the attempt's payment with the card it charges, or the
    /// outcome when the PSP refused to save the card.
    async fn start(
        &self,
        project: &ProjectKey,
        record: &RequestRecord,
        order: &payledger_domain::Order,
        token: Option<TokenRecord>,
    ) -> Result<Result<PaymentId, Outcome>, TokenizationError> {
        let account = self.account(project)?;
        let saved = match record.kind {
            RequestKind::Sale => {
                let method = record.payment_method.clone().unwrap_or_default();
                let save = SaveCard {
                    card_token: method,
                    email: record.email.clone(),
                    metadata: BTreeMap::from([
                        (METADATA_PROJECT.to_owned(), project.as_str().to_owned()),
                        ("payledger_order_id".to_owned(), record.order.clone()),
                    ]),
                    idempotency_key: format!("payledger-{}-save", record.order),
                };
                match account.connector.save_card(&save).await {
                    Ok(card) => SavedMethod::saved(&account.interface, &card, true),
                    Err(error) if !error.retryable() && !error.outcome_unknown() => {
                        return Ok(Err(refusal_outcome(
                            error.code(),
                            decline_code(&error),
                            error_message(&error),
                            self.now(),
                        )));
                    }
                    Err(error) => return Err(PspFailure::Psp(error).into()),
                }
            }
            RequestKind::Recurring => {
                let token = match token {
                    Some(token) => token,
                    // A request resumed after a crash reads its token again.
                    None => {
                        let store = self.store();
                        let (merchant, token) = (record.merchant_id, record.token);
                        blocking(move || Ok(records::token(&*store, merchant, token)?))
                            .await?
                            .ok_or_else(|| corrupt("a recurring request's token is gone"))?
                    }
                };
                SavedMethod {
                    psp: token.psp,
                    customer: token.customer,
                    payment_method: token.payment_method,
                    brand: token.brand,
                    last4: token.last4,
                    reusable: true,
                    three_d_secure: false,
                    off_session: true,
                }
            }
        };
        // Charged without the customer, confirmed at creation.
        let saved = SavedMethod {
            off_session: true,
            ..saved
        };
        let mut draft = PaymentDraftInput::new(record_money(record)?);
        draft.external_id = Some(format!(
            "{}:{}",
            record.merchant_id, record.merchant_reference
        ));
        draft.payment_method_info = MethodInfoInput {
            payment_interface: Some(account.interface.clone()),
            method: Some("card".to_owned()),
            token: Some(saved.payment_method.clone()),
            ..MethodInfoInput::default()
        };
        let meta = self.meta(project, record.merchant_id);
        let id = self
            .attempts
            .start_attempt(&meta, order, draft, Some(saved))
            .await?;
        Ok(Ok(id))
    }

    /// Step 4 once the payment is final; `None` while it is not.
    async fn settle(
        &self,
        record: RequestRecord,
        project: &ProjectKey,
        payment_id: PaymentId,
    ) -> Result<Option<Answered>, TokenizationError> {
        let payment = self
            .attempts
            .psp()
            .load(project, payment_id)
            .await?
            .ok_or(AppError::NotFound)?;
        let store = self.store();
        let key = project.clone();
        let saved = blocking(move || Ok(saved_methods::read(&*store, &key, payment_id)?)).await?;
        let now = self.now();
        let outcome = match attempt_status(&payment) {
            AttemptStatus::Succeeded => Outcome {
                status: OrderStatus::Success,
                code: ResponseCode::Success.code().to_owned(),
                message: "Success".to_owned(),
                decline_code: None,
                card_type: None,
                last4: None,
                settled_at_ms: now.0,
            },
            AttemptStatus::Failed => {
                let (code, decline, message) = charge_refusal(&payment);
                refusal_outcome(&code, decline, message, now)
            }
            AttemptStatus::NotStarted | AttemptStatus::InProgress => return Ok(None),
        };
        let outcome = Outcome {
            card_type: saved
                .as_ref()
                .and_then(|s| s.brand.as_ref())
                .map(|b| b.to_ascii_uppercase()),
            last4: saved.as_ref().and_then(|s| s.last4.clone()),
            ..outcome
        };
        self.record(record, outcome, saved).await.map(Some)
    }

    /// Records the final `outcome` (and the token of a sale that
    /// succeeded, and the notify callback) in one write.
    async fn record(
        &self,
        record: RequestRecord,
        outcome: Outcome,
        saved: Option<SavedMethod>,
    ) -> Result<Answered, TokenizationError> {
        let record = RequestRecord {
            outcome: Some(outcome.clone()),
            ..record
        };
        let mut writes = vec![records::request_write(&record)];
        if record.kind == RequestKind::Sale
            && outcome.status == OrderStatus::Success
            && let Some(saved) = saved
        {
            writes.push(records::token_write(&TokenRecord {
                merchant_id: record.merchant_id,
                token: record.token,
                project: record.project.clone(),
                user_id: record.user_id.clone(),
                psp: saved.psp,
                customer: saved.customer,
                payment_method: saved.payment_method,
                brand: saved.brand,
                last4: saved.last4,
                currency: record.currency.clone(),
                email: record.email.clone(),
                sale_order: record.order_number,
                created_at_ms: outcome.settled_at_ms,
            }));
        }
        let notify = record.notify_url.is_some();
        if notify {
            writes.push(callback_at(&record, outcome.settled_at_ms, 0));
        }
        let store = self.store();
        blocking(move || Ok(store.write(writes)?)).await?;
        if notify {
            self.wake.notify_one();
        }
        Ok(Answered {
            record,
            outcome,
            replayed: false,
        })
    }

    /// A charge without a final outcome yet: the callback sender settles
    /// it later.
    async fn pending(
        &self,
        record: RequestRecord,
        code: ResponseCode,
    ) -> Result<Answered, TokenizationError> {
        let now = self.now();
        let due = now
            .0
            .saturating_add(i64::try_from(CALLBACK_BACKOFF.ceiling(1)).unwrap_or(i64::MAX));
        let write = callback_at(&record, due, 0);
        let store = self.store();
        blocking(move || Ok(store.write(vec![write])?)).await?;
        self.wake.notify_one();
        Ok(Answered {
            outcome: pending_outcome(code, now),
            record,
            replayed: false,
        })
    }
}

/// The outcome of an answer given before the charge is final.
fn pending_outcome(code: ResponseCode, now: Timestamp) -> Outcome {
    let message = match code {
        ResponseCode::PspUnavailable => {
            "The PSP could not be reached; the charge is retried and its outcome is sent to \
             callbackUrl.notify."
        }
        _ => "The charge is not final yet; its outcome is sent to callbackUrl.notify.",
    };
    Outcome {
        status: OrderStatus::Pending,
        code: code.code().to_owned(),
        message: message.to_owned(),
        decline_code: None,
        card_type: None,
        last4: None,
        settled_at_ms: now.0,
    }
}

/// The callback row of `record` due at `due_ms` after `attempts`.
fn callback_at(record: &RequestRecord, due_ms: i64, attempts: u32) -> payledger_store::KvWrite {
    records::callback_write(
        records::callback_key(due_ms, record.merchant_id, &record.merchant_reference),
        &CallbackDue { attempts },
    )
}

/// The SHA-256 of a request text, hex: the same text is the same request.
fn request_sha256(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// A recurring request's amount in the minor units of its token's currency.
fn recurring_amount(
    recurring: &RecurringRequest,
    token: &TokenRecord,
) -> Result<Money, TokenizationError> {
    let currency = CurrencyCode::from_stored(&token.currency)
        .map_err(|_| corrupt("payment token row: bad currency"))?;
    let amount = minor_units(recurring.amount_hundredths, &currency).ok_or_else(|| {
        refused(
            ResponseCode::MalformedRequest,
            format!(
                "amount has more decimals than the token's currency {} allows.",
                currency.as_str()
            ),
        )
    })?;
    Ok(Money::new(amount, currency))
}

/// The project and order of a record.
fn record_ids(
    record: &RequestRecord,
) -> Result<(ProjectKey, payledger_domain::OrderId), TokenizationError> {
    let project = ProjectKey::parse(&record.project)
        .ok_or_else(|| corrupt("merchant reference row: bad project"))?;
    let order = payledger_domain::OrderId::parse(&record.order)
        .ok_or_else(|| corrupt("merchant reference row: bad order"))?;
    Ok((project, order))
}

/// The order number of a tokenization order in the Orders API.
pub fn order_number(merchant_id: u64, order: u64) -> String {
    format!("tok-{merchant_id}-{order}")
}

/// A lock key per merchant and reference.
fn reference_lock(merchant_id: u64, reference: &str) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(merchant_id.to_be_bytes());
    hasher.update(reference.as_bytes());
    hasher.finalize().into()
}

/// `hundredths` in the minor units of `currency`; `None` when the currency
/// has fewer decimals than the amount uses.
pub fn minor_units(hundredths: i64, currency: &CurrencyCode) -> Option<i64> {
    let digits = u32::from(Money::new(0, currency.clone()).fraction_digits());
    match digits {
        2 => Some(hundredths),
        0 | 1 => {
            let divisor = 10_i64.pow(2 - digits);
            (hundredths % divisor == 0).then(|| hundredths / divisor)
        }
        more => hundredths.checked_mul(10_i64.pow(more - 2)),
    }
}

fn record_money(record: &RequestRecord) -> Result<Money, TokenizationError> {
    let currency = CurrencyCode::from_stored(&record.currency)
        .map_err(|_| corrupt("merchant reference row: bad currency"))?;
    Ok(Money::new(record.amount, currency))
}

fn project_of(merchant: &Merchant) -> Result<ProjectKey, TokenizationError> {
    ProjectKey::parse(&merchant.project).ok_or_else(|| corrupt("merchant row: bad project"))
}

fn refused(code: ResponseCode, message: impl Into<String>) -> TokenizationError {
    TokenizationError::Refused(Refusal::new(code, message))
}

fn corrupt(message: &str) -> TokenizationError {
    TokenizationError::Failed(payledger_store::StoreError::Corrupt(message.to_owned()).into())
}

/// The outcome of a refused charge: `authentication_required` has its own
/// code, every other refusal is a decline.
fn refusal_outcome(
    code: &str,
    decline_code: Option<String>,
    message: Option<String>,
    now: Timestamp,
) -> Outcome {
    let authentication = code == "authentication_required"
        || decline_code.as_deref() == Some("authentication_required");
    let (response, text) = if authentication {
        (
            ResponseCode::AuthenticationRequired,
            "The card asks for the customer's authentication, which a merchant-initiated charge \
             cannot give."
                .to_owned(),
        )
    } else {
        (
            ResponseCode::Declined,
            format!(
                "Declined by the PSP: {}{}",
                decline_code.as_deref().unwrap_or(code),
                message.map(|m| format!(" ({m})")).unwrap_or_default()
            ),
        )
    };
    Outcome {
        status: OrderStatus::Failed,
        code: response.code().to_owned(),
        message: text,
        decline_code: Some(decline_code.unwrap_or_else(|| code.to_owned())),
        card_type: None,
        last4: None,
        settled_at_ms: now.0,
    }
}

fn decline_code(error: &PspError) -> Option<String> {
    match error {
        PspError::Declined { decline_code, .. } => decline_code.clone(),
        _ => None,
    }
}

fn error_message(error: &PspError) -> Option<String> {
    match error {
        PspError::Declined { message, .. } | PspError::InvalidRequest { message, .. } => {
            message.clone()
        }
        _ => None,
    }
}

/// The code, decline code and message the executor recorded for the
/// payment's failed Charge.
fn charge_refusal(payment: &Payment) -> (String, Option<String>, Option<String>) {
    let charge = payment
        .transactions
        .iter()
        .rev()
        .find(|t| t.kind == TransactionType::Charge);
    let id = charge.map(|t| t.id.to_string()).unwrap_or_default();
    let text = |i, name| field(i, name).map(str::to_owned);
    payment
        .interface_interactions
        .iter()
        .rev()
        .find(|i| field(i, "transactionId") == Some(id.as_str()) && field(i, "code").is_some())
        .map_or_else(
            || ("card_declined".to_owned(), None, None),
            |i| {
                (
                    text(i, "code").unwrap_or_default(),
                    text(i, "declineCode"),
                    text(i, "message"),
                )
            },
        )
}
