//! The hosted payment page of a retry's `payment_links.web`.
//!
//! | route | success |
//! |---|---|
//! | `GET /pay/{token}` | 200 the page; 404 unknown link; 410 expired link or failed attempt |
//! | `POST /pay/{token}/confirm` | 200 `{status, message, redirect?, clientSecret?}`; 410 expired |
//! | `GET /pay/assets/page.js`, `/pay/assets/page.css` | the page's script and style |
//!
//! The token is the capability (no bearer token): 32 random bytes, valid
//! until the attempt expires. The page shows the order number and amount
//! and collects the card with the PSP's browser library (Stripe.js, from
//! the account's `js_url`), which turns it into a single-use token; the
//! server saves the card on a PSP customer and confirms the PaymentIntent
//! ([`payledger_app::psp::card_payment`]). A card that asks for 3-D Secure
//! is authenticated in the browser with the client secret, then confirmed
//! here again, which refreshes the attempt. The shopper then goes to the
//! retry's `return_url` with `order_number`, `payment_id` and `status`.
//!
//! Every page answer carries a strict Content-Security-Policy (scripts only
//! from this server and the PSP's library, no inline script or style), no
//! referrer (the URL is the capability), and no caching. The only secret in
//! the page is the PaymentIntent's client secret, which the PSP's library
//! needs.

use crate::order_attempts::{RETURN_URL_BYTES_MAX, flows};
use crate::request::{Body, now};
use crate::{ApiError, AppState};
use axum::extract::Path;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use payledger_app::order_attempts::{OrderAttempts, PageView};
use payledger_domain::order::{AttemptStatus, attempt_status};
use serde_json::{Value, json};

/// The page's script.
const PAGE_JS: &str = include_str!("payment_page/page.js");
/// The page's style sheet.
const PAGE_CSS: &str = include_str!("payment_page/page.css");

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/pay/assets/page.js", get(script))
        .route("/pay/assets/page.css", get(style))
        .route("/pay/{token}", get(page))
        .route("/pay/{token}/confirm", post(confirm))
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", PAGE_JS)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", PAGE_CSS)
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The origin (`scheme://host[:port]`) of an http(s) URL.
fn origin(url: &str) -> Option<&str> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))?;
    let host_end = rest.find('/').unwrap_or(rest.len());
    let end = url.len() - rest.len() + host_end;
    Some(&url[..end])
}

/// The Content-Security-Policy of a page that loads the PSP library from
/// `js_url`.
pub fn content_security_policy(js_url: Option<&str>) -> String {
    let library = js_url.and_then(origin).unwrap_or("");
    // Stripe.js itself talks to the API and frames its own pages; an
    // emulator serves everything from its one origin.
    let (connect, frame) = if library == "https://js.stripe.com" {
        (
            "https://js.stripe.com https://api.stripe.com",
            "https://js.stripe.com https://hooks.stripe.com",
        )
    } else {
        (library, library)
    };
    format!(
        "default-src 'none'; script-src 'self' {library}; connect-src 'self' {connect}; \
         frame-src {frame}; style-src 'self'; img-src 'self' data:; form-action 'self'; \
         base-uri 'none'; frame-ancestors 'none'"
    )
}

/// An HTML answer with the page's security headers.
fn html(status: StatusCode, csp: &str, body: String) -> Response {
    let mut response = (status, body).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, value);
    }
    secure(headers);
    response
}

fn secure(headers: &mut HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
}

/// Text for HTML content and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

/// A page with a title and a message (and a link back, when known).
fn notice(title: &str, message: &str, back: Option<&str>) -> String {
    let back = back.map_or(String::new(), |url| {
        format!(
            r#"<p><a id="back" href="{}">Back to the shop</a></p>"#,
            escape(url)
        )
    });
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title><link rel="stylesheet" href="assets/page.css"></head>
<body><main><h1>{title}</h1><p id="message">{message}</p>{back}</main></body></html>
"#,
        title = escape(title),
        message = escape(message),
    )
}

/// Where the shopper goes after paying: the retry's `return_url` with the
/// outcome.
fn return_to(view_url: &str, order_number: &str, payment: &str, status: &str) -> Option<String> {
    if view_url.len() > RETURN_URL_BYTES_MAX {
        return None;
    }
    let joiner = if view_url.contains('?') { '&' } else { '?' };
    // The order number is letters, digits, '-', '_' and '.'; ids and
    // statuses are plain: nothing needs escaping.
    Some(format!(
        "{view_url}{joiner}order_number={order_number}&payment_id={payment}&status={status}"
    ))
}

/// Where the page's attempt stands.
fn status_of(view: &PageView) -> AttemptStatus {
    attempt_status(&view.attempt)
}

async fn page(
    Path(token): Path<String>,
    attempts: Option<Extension<OrderAttempts>>,
) -> Result<Response, ApiError> {
    let attempts = flows(attempts)?;
    let csp = content_security_policy(None);
    let Some(view) = attempts.page(&token).await.map_err(ApiError::from)? else {
        return Ok(html(
            StatusCode::NOT_FOUND,
            &csp,
            notice(
                "Payment link not found",
                "This payment link does not exist. Ask the shop for a new one.",
                None,
            ),
        ));
    };
    let number = view.order.order.order_number.clone();
    let back = view.link.return_url.as_deref();
    match status_of(&view) {
        AttemptStatus::Succeeded => {
            return Ok(html(
                StatusCode::OK,
                &csp,
                notice(
                    &format!("Order {number} is paid"),
                    "Thank you: this payment is complete.",
                    back,
                ),
            ));
        }
        AttemptStatus::Failed => {
            return Ok(html(
                StatusCode::GONE,
                &csp,
                notice(
                    "Payment failed",
                    &format!(
                        "This payment attempt for order {number} failed. Ask the shop for a new \
                         payment link."
                    ),
                    back,
                ),
            ));
        }
        AttemptStatus::NotStarted | AttemptStatus::InProgress => {}
    }
    if now().0 >= view.link.expires_at.0 {
        return Ok(html(
            StatusCode::GONE,
            &csp,
            notice(
                "Payment link expired",
                &format!(
                    "This payment link for order {number} has expired. Ask the shop for a new one."
                ),
                back,
            ),
        ));
    }
    let secret = attempts
        .client_secret(&view)
        .await
        .map_err(ApiError::from)?;
    let (Some(secret), Some(key)) = (&secret, &view.publishable_key) else {
        return Ok(html(
            StatusCode::SERVICE_UNAVAILABLE,
            &csp,
            notice(
                "Payment not available",
                "The payment cannot be taken right now. Try again in a minute.",
                back,
            ),
        ));
    };
    let js_url = view.js_url.clone().unwrap_or_default();
    let amount = &view.attempt.amount_planned;
    let body = format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Pay order {number}</title><link rel="stylesheet" href="assets/page.css">
<script src="{js_url}"></script></head>
<body><main>
<h1>Order <span id="order-number">{number}</span></h1>
<p class="amount">Amount due: <span id="amount">{amount} {currency}</span></p>
<form id="pay" data-publishable-key="{key}" data-client-secret="{secret}" data-confirm-url="{token}/confirm">
<div id="card"></div>
<button id="pay-button" type="submit">Pay {amount} {currency}</button>
<p id="status" role="status"></p>
</form>
</main><script src="assets/page.js"></script></body></html>
"#,
        number = escape(&number),
        js_url = escape(&js_url),
        amount = escape(&amount.to_decimal()),
        currency = escape(amount.currency.as_str()),
        key = escape(key),
        secret = escape(secret.expose()),
        token = escape(&token),
    );
    Ok(html(
        StatusCode::OK,
        &content_security_policy(Some(&js_url)),
        body,
    ))
}

/// A JSON answer of the confirm route, uncached and unreferred.
fn answer(status: StatusCode, body: Value) -> Response {
    let mut response = (status, Json(body)).into_response();
    secure(response.headers_mut());
    response
}

async fn confirm(
    Path(token): Path<String>,
    attempts: Option<Extension<OrderAttempts>>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let attempts = flows(attempts)?;
    let card_token = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let value: Value = serde_json::from_slice(&body)
            .map_err(|e| ApiError::invalid_json(format!("Malformed JSON: {e}.")))?;
        match value.get("token") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) if !text.is_empty() && text.len() <= 255 => {
                Some(text.clone())
            }
            Some(other) => {
                return Err(ApiError::invalid_field(
                    "token",
                    other.clone(),
                    "token must be the card token of the PSP's browser library (1 to 255 bytes).",
                ));
            }
        }
    };
    let Some(view) = attempts.page(&token).await.map_err(ApiError::from)? else {
        return Ok(answer(
            StatusCode::NOT_FOUND,
            json!({"status": "unknown", "message": "This payment link does not exist."}),
        ));
    };
    let number = view.order.order.order_number.clone();
    let pending = !matches!(
        status_of(&view),
        AttemptStatus::Succeeded | AttemptStatus::Failed
    );
    if pending && now().0 >= view.link.expires_at.0 {
        return Ok(answer(
            StatusCode::GONE,
            json!({"status": "expired", "message": "This payment link has expired."}),
        ));
    }
    let paid = attempts
        .submit_page(&view.link, card_token.as_deref())
        .await
        .map_err(ApiError::from)?;
    let Some(paid) = paid else {
        return Ok(answer(
            StatusCode::NOT_FOUND,
            json!({"status": "unknown", "message": "This payment no longer exists."}),
        ));
    };
    if let Some(secret) = paid.authenticate_with {
        return Ok(answer(
            StatusCode::OK,
            json!({
                "status": "requires_action",
                "message": "Confirm the payment with your bank.",
                "clientSecret": secret.expose(),
            }),
        ));
    }
    let status = attempt_status(&paid.payment);
    let message = match status {
        AttemptStatus::Succeeded => "Payment complete. Thank you!".to_owned(),
        AttemptStatus::Failed => paid
            .refusal
            .unwrap_or_else(|| "The payment failed.".to_owned()),
        AttemptStatus::NotStarted | AttemptStatus::InProgress => {
            "The payment is being processed.".to_owned()
        }
    };
    let status = status.outcome();
    let redirect = view
        .link
        .return_url
        .as_deref()
        .and_then(|url| return_to(url, &number, &paid.payment.id.to_string(), status));
    Ok(answer(
        StatusCode::OK,
        json!({"status": status, "message": message, "redirect": redirect}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_allows_only_this_server_and_the_psp_library() {
        let emulator = content_security_policy(Some("http://127.0.0.1:9/js.stripe.com/v3/"));
        assert!(emulator.contains("script-src 'self' http://127.0.0.1:9;"));
        assert!(emulator.contains("connect-src 'self' http://127.0.0.1:9;"));
        assert!(!emulator.contains("unsafe"));
        let stripe = content_security_policy(Some("https://js.stripe.com/v3/"));
        assert!(
            stripe.contains("connect-src 'self' https://js.stripe.com https://api.stripe.com;")
        );
        assert!(content_security_policy(None).contains("default-src 'none'"));
    }

    #[test]
    fn text_is_escaped_for_html() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn the_return_url_gets_the_outcome() {
        assert_eq!(
            return_to("https://shop.example/r", "A-1", "p", "succeeded").as_deref(),
            Some("https://shop.example/r?order_number=A-1&payment_id=p&status=succeeded")
        );
        assert_eq!(
            return_to("https://shop.example/r?x=1", "A-1", "p", "failed").as_deref(),
            Some("https://shop.example/r?x=1&order_number=A-1&payment_id=p&status=failed")
        );
    }
}
