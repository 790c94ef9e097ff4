//! The Stripe connector: [`PspConnector`] over Stripe's HTTP API, the
//! only crate that talks HTTP to a PSP (so the application layer has no
//! HTTP client).
//!
//! Requests are form encoded (`metadata[key]=value`), authenticated with the
//! secret key as a bearer token, bounded by a connect and a whole-request
//! timeout, and every changing call carries an `Idempotency-Key`. Answers
//! are read by [`wire`]; error bodies become typed [`PspError`]s.
//!
//! Finding a PaymentIntent by metadata uses the search API when the server
//! has it and otherwise pages through the list (at most `find_pages_max`
//! pages of [`LIST_PAGE_OBJECTS`]); emulators such as localstripe have no
//! search.

use payledger_psp::config::StripeSettings;
use payledger_psp::stripe_wire::{
    self as wire, ObjectId, WireCard, WireList, WirePaymentIntent, WirePaymentMethod, WireRefund,
    object_kind,
};
use payledger_psp::{
    CreateIntent, CreateRefund, METADATA_TRANSACTION_ID, ObjectKind, PaymentIntent, PspConnector,
    PspError, PspFuture, Refund, SaveCard, SavedCard, Secret,
};
use reqwest::Method;
use serde::de::DeserializeOwned;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Objects per page when listing.
pub const LIST_PAGE_OBJECTS: u32 = 100;
/// Longest id accepted in a request path, in bytes.
pub const OBJECT_ID_BYTES_MAX: usize = 255;

/// A Stripe account reached over HTTP.
#[derive(Debug)]
pub struct StripeConnector {
    http: reqwest::Client,
    base_url: String,
    secret_key: Secret,
    find_pages_max: u32,
    /// Set once the server answered 404 to the search API.
    search_missing: AtomicBool,
}

type Form = Vec<(String, String)>;

impl StripeConnector {
    /// A connector for one account.
    pub fn new(settings: &StripeSettings) -> Result<Self, PspError> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(settings.connect_timeout_ms))
            .timeout(Duration::from_millis(settings.request_timeout_ms))
            .build()
            .map_err(|e| PspError::Api {
                status: None,
                message: format!("cannot build the HTTP client: {e}"),
                retryable: false,
            })?;
        Ok(Self {
            http,
            base_url: settings.api_base_url.trim_end_matches('/').to_owned(),
            secret_key: settings.secret_key.clone(),
            find_pages_max: settings.find_pages_max,
            search_missing: AtomicBool::new(false),
        })
    }

    /// One API call, counted in the process metrics by operation (the
    /// method and the path with its object ids replaced by `{id}`) and
    /// outcome.
    async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        form: Form,
        idempotency_key: Option<&str>,
    ) -> Result<T, PspError> {
        let started = std::time::Instant::now();
        let operation = operation(&method, path);
        let result = self.send(method, path, form, idempotency_key).await;
        let outcome = match &result {
            Ok(_) => "ok",
            Err(PspError::Declined { .. }) => "declined",
            Err(PspError::InvalidRequest { .. }) => "invalid_request",
            Err(error) => error.code(),
        };
        let seconds = started.elapsed().as_secs_f64();
        payledger_metrics::metrics().psp_called("stripe", &operation, outcome, seconds);
        result
    }

    #[tracing::instrument(skip_all, fields(psp = "stripe", %method, path = tracing::field::Empty))]
    async fn send<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        form: Form,
        idempotency_key: Option<&str>,
    ) -> Result<T, PspError> {
        tracing::Span::current().record("path", path);
        let url = format!("{}{path}", self.base_url);
        let mut request = self
            .http
            .request(method.clone(), url)
            .bearer_auth(self.secret_key.expose());
        if let Some(key) = idempotency_key {
            request = request.header("Idempotency-Key", key);
        }
        request = if method == Method::GET {
            request.query(&form)
        } else {
            request.form(&form)
        };
        let response = request.send().await.map_err(network)?;
        let status = response.status().as_u16();
        let should_retry = response
            .headers()
            .get("stripe-should-retry")
            .and_then(|v| v.to_str().ok())
            .map(|v| v == "true");
        let body = response.bytes().await.map_err(network)?;
        if !(200..300).contains(&status) {
            let error = wire::map_error(status, should_retry, &body);
            tracing::debug!(status, code = error.code(), "PSP refused the request");
            return Err(error);
        }
        serde_json::from_slice(&body).map_err(|e| PspError::Api {
            status: Some(status),
            message: format!("unreadable answer: {e}"),
            // The PSP acted; asking again with the same key is safe.
            retryable: true,
        })
    }

    async fn intent(
        &self,
        method: Method,
        path: &str,
        form: Form,
        key: Option<&str>,
    ) -> Result<PaymentIntent, PspError> {
        self.call::<WirePaymentIntent>(method, path, form, key)
            .await?
            .try_into()
    }

    /// `POST /v1/payment_intents/{id}/{step}` (confirm, capture, cancel).
    async fn intent_step(
        &self,
        id: &str,
        step: &str,
        form: Form,
        idempotency_key: &str,
    ) -> Result<PaymentIntent, PspError> {
        check_id(id)?;
        let path = format!("/v1/payment_intents/{id}/{step}");
        self.intent(Method::POST, &path, form, Some(idempotency_key))
            .await
    }

    async fn find_intent(&self, transaction_id: &str) -> Result<Option<PaymentIntent>, PspError> {
        check_id(transaction_id)?;
        if !self.search_missing.load(Ordering::Relaxed) {
            let query = format!("metadata['{METADATA_TRANSACTION_ID}']:'{transaction_id}'");
            let form = vec![("query".to_owned(), query)];
            let page = self
                .call::<WireList<WirePaymentIntent>>(
                    Method::GET,
                    "/v1/payment_intents/search",
                    form,
                    None,
                )
                .await;
            match page {
                Ok(page) => {
                    return page
                        .data
                        .into_iter()
                        .next()
                        .map(TryInto::try_into)
                        .transpose();
                }
                Err(e) if e.is_not_found() => {
                    tracing::debug!("no search API: finding by listing");
                    self.search_missing.store(true, Ordering::Relaxed);
                }
                Err(e) => return Err(e),
            }
        }
        let found = self
            .scan::<WirePaymentIntent>("/v1/payment_intents", Vec::new(), transaction_id)
            .await?;
        found.map(TryInto::try_into).transpose()
    }

    /// Pages through a list for the object whose metadata names the
    /// transaction.
    async fn scan<T>(
        &self,
        path: &str,
        filter: Form,
        transaction_id: &str,
    ) -> Result<Option<T>, PspError>
    where
        T: DeserializeOwned + HasMetadata,
    {
        let mut after: Option<String> = None;
        for _ in 0..self.find_pages_max {
            let mut form = filter.clone();
            form.push(("limit".into(), LIST_PAGE_OBJECTS.to_string()));
            if let Some(after) = &after {
                form.push(("starting_after".into(), after.clone()));
            }
            let page = self
                .call::<WireList<T>>(Method::GET, path, form, None)
                .await?;
            after = page.data.last().map(|o| o.object_id().to_owned());
            if let Some(found) = page
                .data
                .into_iter()
                .find(|o| o.transaction_id() == Some(transaction_id))
            {
                return Ok(Some(found));
            }
            if !page.has_more || after.is_none() {
                return Ok(None);
            }
        }
        Err(PspError::Api {
            status: None,
            message: format!(
                "not found within {} pages (find_pages_max)",
                self.find_pages_max
            ),
            retryable: false,
        })
    }
}

/// What [`StripeConnector::scan`] reads from listed objects.
trait HasMetadata {
    fn object_id(&self) -> &str;
    fn transaction_id(&self) -> Option<&str>;
}

impl HasMetadata for WirePaymentIntent {
    fn object_id(&self) -> &str {
        self.id()
    }
    fn transaction_id(&self) -> Option<&str> {
        self.metadata_value(METADATA_TRANSACTION_ID)
    }
}

impl HasMetadata for WireRefund {
    fn object_id(&self) -> &str {
        self.id()
    }
    fn transaction_id(&self) -> Option<&str> {
        self.metadata_value(METADATA_TRANSACTION_ID)
    }
}

fn network(error: reqwest::Error) -> PspError {
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "cannot connect"
    } else {
        "transport failure"
    };
    // reqwest's message names the URL but never the key.
    PspError::Network {
        message: format!("{kind}: {}", error.without_url()),
    }
}

/// Ids go into request paths: only `[A-Za-z0-9_-]` is accepted.
fn check_id(id: &str) -> Result<(), PspError> {
    let valid = !id.is_empty()
        && id.len() <= OBJECT_ID_BYTES_MAX
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if valid {
        Ok(())
    } else {
        Err(PspError::InvalidRequest {
            status: 400,
            code: Some("invalid_id".into()),
            message: Some("the object id has characters outside [A-Za-z0-9_-]".into()),
        })
    }
}

fn push_metadata(form: &mut Form, metadata: &std::collections::BTreeMap<String, String>) {
    for (key, value) in metadata {
        form.push((format!("metadata[{key}]"), value.clone()));
    }
}

/// The form of a PaymentIntent creation.
pub fn create_intent_form(request: &CreateIntent) -> Form {
    let mut form: Form = vec![
        ("amount".into(), request.amount.to_string()),
        ("currency".into(), request.currency.to_ascii_lowercase()),
        (
            "capture_method".into(),
            request.capture_method.as_str().into(),
        ),
        ("confirm".into(), request.confirm.to_string()),
    ];
    for (index, kind) in request.payment_method_types.iter().enumerate() {
        form.push((format!("payment_method_types[{index}]"), kind.clone()));
    }
    if let Some(method) = &request.payment_method {
        form.push(("payment_method".into(), method.clone()));
    }
    if request.off_session {
        form.push(("off_session".into(), "true".into()));
    }
    if let Some(customer) = &request.customer {
        form.push(("customer".into(), customer.clone()));
    }
    push_metadata(&mut form, &request.metadata);
    form
}

/// The form of a refund: `charge` for a charge id, `payment_intent` else.
pub fn create_refund_form(request: &CreateRefund) -> Form {
    let mut form = refund_target(&request.charged);
    if let Some(amount) = request.amount {
        form.push(("amount".into(), amount.to_string()));
    }
    push_metadata(&mut form, &request.metadata);
    form
}

/// `charge` or `payment_intent` = `charged`: what a refund refunds, as a
/// form field (also the filter when listing refunds).
fn refund_target(charged: &str) -> Form {
    let field = match object_kind(charged) {
        ObjectKind::Charge => "charge",
        ObjectKind::PaymentIntent | ObjectKind::Refund | ObjectKind::Other => "payment_intent",
    };
    vec![(field.into(), charged.to_owned())]
}

impl PspConnector for StripeConnector {
    fn object_kind(&self, id: &str) -> ObjectKind {
        object_kind(id)
    }

    fn create_payment_intent<'a>(
        &'a self,
        request: &'a CreateIntent,
    ) -> PspFuture<'a, PaymentIntent> {
        Box::pin(async move {
            let form = create_intent_form(request);
            let key = Some(request.idempotency_key.as_str());
            self.intent(Method::POST, "/v1/payment_intents", form, key)
                .await
        })
    }

    fn save_card<'a>(&'a self, request: &'a SaveCard) -> PspFuture<'a, SavedCard> {
        Box::pin(async move {
            check_id(&request.card_token)?;
            let mut form = Form::new();
            if let Some(email) = &request.email {
                form.push(("email".into(), email.clone()));
            }
            push_metadata(&mut form, &request.metadata);
            let key = format!("{}-customer", request.idempotency_key);
            let customer = self
                .call::<ObjectId>(Method::POST, "/v1/customers", form, Some(&key))
                .await?
                .id;
            check_id(&customer)?;
            if request.card_token.starts_with("pm_") {
                // A PaymentMethod is attached to the customer (a token
                // becomes one of the customer's sources).
                let path = format!("/v1/payment_methods/{}/attach", request.card_token);
                let form = vec![("customer".to_owned(), customer.clone())];
                let key = format!("{}-attach", request.idempotency_key);
                let method = self
                    .call::<WirePaymentMethod>(Method::POST, &path, form, Some(&key))
                    .await?;
                let card = method.card.unwrap_or_default();
                return Ok(SavedCard {
                    id: method.id,
                    customer,
                    brand: card.brand.map(|b| b.to_ascii_lowercase()),
                    last4: card.last4,
                });
            }
            let path = format!("/v1/customers/{customer}/sources");
            let form = vec![("source".to_owned(), request.card_token.clone())];
            let key = format!("{}-source", request.idempotency_key);
            let card = self
                .call::<WireCard>(Method::POST, &path, form, Some(&key))
                .await?;
            Ok(SavedCard {
                id: card.id,
                customer,
                brand: card.brand.map(|b| b.to_ascii_lowercase()),
                last4: card.last4,
            })
        })
    }

    fn set_payment_method<'a>(
        &'a self,
        id: &'a str,
        card: &'a SavedCard,
        idempotency_key: &'a str,
    ) -> PspFuture<'a, PaymentIntent> {
        Box::pin(async move {
            check_id(id)?;
            let form = vec![
                ("payment_method".to_owned(), card.id.clone()),
                ("customer".to_owned(), card.customer.clone()),
            ];
            let path = format!("/v1/payment_intents/{id}");
            self.intent(Method::POST, &path, form, Some(idempotency_key))
                .await
        })
    }

    fn confirm_payment_intent<'a>(
        &'a self,
        id: &'a str,
        idempotency_key: &'a str,
    ) -> PspFuture<'a, PaymentIntent> {
        Box::pin(self.intent_step(id, "confirm", Vec::new(), idempotency_key))
    }

    fn capture_payment_intent<'a>(
        &'a self,
        id: &'a str,
        amount: Option<i64>,
        idempotency_key: &'a str,
    ) -> PspFuture<'a, PaymentIntent> {
        let form = amount
            .map(|a| vec![("amount_to_capture".to_owned(), a.to_string())])
            .unwrap_or_default();
        Box::pin(self.intent_step(id, "capture", form, idempotency_key))
    }

    fn cancel_payment_intent<'a>(
        &'a self,
        id: &'a str,
        idempotency_key: &'a str,
    ) -> PspFuture<'a, PaymentIntent> {
        Box::pin(self.intent_step(id, "cancel", Vec::new(), idempotency_key))
    }

    fn retrieve_payment_intent<'a>(&'a self, id: &'a str) -> PspFuture<'a, PaymentIntent> {
        Box::pin(async move {
            check_id(id)?;
            let path = format!("/v1/payment_intents/{id}");
            self.intent(Method::GET, &path, Vec::new(), None).await
        })
    }

    fn find_payment_intent<'a>(
        &'a self,
        transaction_id: &'a str,
    ) -> PspFuture<'a, Option<PaymentIntent>> {
        Box::pin(self.find_intent(transaction_id))
    }

    fn create_refund<'a>(&'a self, request: &'a CreateRefund) -> PspFuture<'a, Refund> {
        Box::pin(async move {
            check_id(&request.charged)?;
            let form = create_refund_form(request);
            let key = Some(request.idempotency_key.as_str());
            self.call::<WireRefund>(Method::POST, "/v1/refunds", form, key)
                .await?
                .try_into()
        })
    }

    fn retrieve_refund<'a>(&'a self, id: &'a str) -> PspFuture<'a, Refund> {
        Box::pin(async move {
            check_id(id)?;
            let path = format!("/v1/refunds/{id}");
            self.call::<WireRefund>(Method::GET, &path, Vec::new(), None)
                .await?
                .try_into()
        })
    }

    fn find_refund<'a>(
        &'a self,
        charged: &'a str,
        transaction_id: &'a str,
    ) -> PspFuture<'a, Option<Refund>> {
        Box::pin(async move {
            check_id(charged)?;
            check_id(transaction_id)?;
            let found = self
                .scan::<WireRefund>("/v1/refunds", refund_target(charged), transaction_id)
                .await?;
            found.map(TryInto::try_into).transpose()
        })
    }
}

/// `method path` with every object id (`pi_…`, `re_…`, `cus_…`) replaced
/// by `{id}` and the query dropped: a metric label of bounded cardinality.
fn operation(method: &Method, path: &str) -> String {
    let path = path.split('?').next().unwrap_or(path);
    let segments: Vec<&str> = path
        .split('/')
        .map(|segment| match segment.split_once('_') {
            Some((prefix, rest))
                if !prefix.is_empty()
                    && prefix.bytes().all(|b| b.is_ascii_lowercase())
                    && !rest.is_empty()
                    && rest
                        .bytes()
                        .any(|b| b.is_ascii_digit() || b.is_ascii_uppercase()) =>
            {
                "{id}"
            }
            _ => segment,
        })
        .collect();
    format!("{method} {}", segments.join("/"))
}

#[cfg(test)]
mod tests;
