//! The Subscriptions routes: outbound webhooks that receive a project's
//! payment Messages, and the read-only view of the Kafka relay.
//!
//! | route | scope | success |
//! |---|---|---|
//! | `GET /{pk}/subscriptions` | view_subscriptions | paged query response |
//! | `HEAD /{pk}/subscriptions?where=…` | view_subscriptions | 200 if any match, else 404 |
//! | `POST /{pk}/subscriptions` | manage_subscriptions | 201 Subscription |
//! | `GET\|HEAD /{pk}/subscriptions/{id}` and `key={key}` | view_subscriptions | 200 / 404 |
//! | `POST /{pk}/subscriptions/{id}` and `key={key}`, `{version, actions}` | manage_subscriptions | 200 updated Subscription |
//! | `DELETE /{pk}/subscriptions/{id}?version=N` and `key={key}` | manage_subscriptions | 200 deleted Subscription |
//! | `GET /{pk}/subscriptions/{id}/health` | none (for monitors, as commercetools) | 200 Healthy, 503 TemporaryError, 400 ConfigurationError or ConfigurationErrorDeliveryStopped, empty body |
//!
//! A Subscription is rendered as commercetools does (`id`, `version`,
//! `destination`, `messages`, `changes`, `events`, `format`, `status`, …)
//! with the destination's `secret` masked, plus payledger's `delivery`:
//! `{lag, lastError?: {at, message}, stopped?: {at, reason}}` where `lag`
//! counts the log events after the subscription's cursors and `stopped` is
//! there while the retry bound holds the deliveries stopped (`status`
//! `ConfigurationErrorDeliveryStopped`). When the server runs the Kafka relay,
//! it appears as the read-only Subscription [`KAFKA_RELAY_ID`] with a
//! `Kafka` destination, so its lag and last error are visible the same way.
//! Update actions: `changeDestination`, `setKey`, `setMessages` (and
//! `setChanges` / `setEvents` with an empty list), and payledger's
//! `resumeDeliveries`, which, like a new destination, ends a stop;
//! deliveries go on from where they stood. The rules and the stored record live in
//! [`payledger_app::subscriptions`]; deliveries in `payledger-webhooks`.

use crate::auth::{Scope, authorize};
use crate::catalog::{ActionParser, parse_update, query_spec, target};
use crate::idempotent::{IdempotencyRow, answer};
use crate::json::MESSAGE_TYPES;
use crate::json::read::{Obj, Path as JsonPath, array, parse_body, string};
use crate::json::subscription::subscription_fields;
use crate::request::{Body, QueryPairs, now, project_key};
use crate::{ApiError, AppState};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Extension, Json, Router};
use payledger_app::subscriptions::{
    self, DeliveryFormat, DeliveryState, Destination, HealthStatus, MessageFilter,
    SubscriptionAction, SubscriptionDraft, SubscriptionMeta, SubscriptionRecord,
};
use payledger_domain::time::format_timestamp;
use payledger_domain::{ProjectKey, ResourceRef, Timestamp};
use serde_json::{Value, json};
use std::any::Any;
use std::collections::BTreeMap;

/// The id (and key) of the Kafka relay's read-only Subscription.
pub const KAFKA_RELAY_ID: &str = "kafka-relay";

/// What the API shows of the Kafka relay the server runs.
#[derive(Clone, Debug)]
pub struct KafkaRelayInfo {
    /// The relay's log consumer (cursor owner) name.
    pub consumer: String,
    /// Bootstrap brokers, as configured.
    pub brokers: String,
    /// The topic of each project: the template with `placeholder` replaced.
    pub topic_template: String,
    pub placeholder: String,
    /// Format name (`json`, `cloudevents`, `protobuf`) by topic, and for
    /// every other topic.
    pub topic_formats: BTreeMap<String, String>,
    pub default_format: String,
    /// When the relay was started (milliseconds since the Unix epoch).
    pub started_at_ms: i64,
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/{pk}/subscriptions", get(query).head(exists).post(create))
        .route(
            "/{pk}/subscriptions/{id}",
            get(get_one).post(update).delete(delete),
        )
        .route("/{pk}/subscriptions/{id}/health", get(health))
}

// ---------------------------------------------------------------------------
// Rendering.

fn delivery_json(state: &DeliveryState) -> Value {
    let mut delivery = json!({ "lag": state.lag });
    if let Some(error) = &state.last_error {
        let at = i64::try_from(error.at_unix_ms).unwrap_or(i64::MAX);
        delivery["lastError"] =
            json!({ "at": format_timestamp(Timestamp(at)), "message": error.message });
    }
    if let Some(stop) = &state.stopped {
        delivery["stopped"] = json!({ "at": stop.at, "reason": stop.reason });
    }
    delivery
}

/// The API representation of a Subscription in its delivery state.
pub fn subscription_to_json(record: &SubscriptionRecord, state: &DeliveryState) -> Value {
    let mut object = subscription_fields(record);
    object.insert("status".into(), json!(state.status.as_str()));
    object.insert("delivery".into(), delivery_json(state));
    Value::Object(object)
}

/// The Kafka relay as a read-only Subscription of `project`.
fn relay_json(info: &KafkaRelayInfo, project: &ProjectKey, state: &DeliveryState) -> Value {
    let topic = info
        .topic_template
        .replace(&info.placeholder, project.as_str());
    let format = match info
        .topic_formats
        .get(&topic)
        .unwrap_or(&info.default_format)
        .as_str()
    {
        "cloudevents" => json!({ "type": "CloudEvents", "cloudEventsVersion": "1.0" }),
        "protobuf" => json!({ "type": "Protobuf" }),
        _ => json!({ "type": "Platform" }),
    };
    let started = format_timestamp(Timestamp(info.started_at_ms));
    json!({
        "id": KAFKA_RELAY_ID,
        "key": KAFKA_RELAY_ID,
        "version": 1,
        "createdAt": started,
        "lastModifiedAt": started,
        "destination": { "type": "Kafka", "bootstrapServer": info.brokers, "topic": topic },
        "messages": [{ "resourceTypeId": "payment" }],
        "changes": [],
        "events": [],
        "format": format,
        "status": state.status.as_str(),
        "delivery": delivery_json(state),
    })
}

fn is_relay(by: &ResourceRef) -> bool {
    match by {
        ResourceRef::Id(id) => id == KAFKA_RELAY_ID,
        ResourceRef::Key(key) => key == KAFKA_RELAY_ID,
    }
}

/// What a path segment names: the relay's view or a stored Subscription.
enum Named<'a> {
    Relay(&'a KafkaRelayInfo),
    Stored(Box<SubscriptionRecord>),
}

impl Named<'_> {
    fn state(&self, state: &AppState) -> Result<DeliveryState, ApiError> {
        let store = &*state.store;
        Ok(match self {
            Self::Relay(info) => subscriptions::delivery_state(store, &info.consumer)?,
            Self::Stored(record) => subscriptions::state_of(store, record)?,
        })
    }

    fn to_json(&self, state: &AppState, project: &ProjectKey) -> Result<Value, ApiError> {
        let delivery = self.state(state)?;
        Ok(match self {
            Self::Relay(info) => relay_json(info, project, &delivery),
            Self::Stored(record) => subscription_to_json(record, &delivery),
        })
    }
}

/// The Subscription `by` names in `project`.
fn find<'a>(
    state: &'a AppState,
    project: &ProjectKey,
    by: &ResourceRef,
) -> Result<Named<'a>, ApiError> {
    if is_relay(by)
        && let Some(info) = &state.config.kafka_relay
    {
        return Ok(Named::Relay(info));
    }
    subscriptions::get(&*state.store, project, by)
        .map(|record| Named::Stored(Box::new(record)))
        .map_err(|e| ApiError::subscription(e, Some(by)))
}

/// Every Subscription of the project, the relay first when it runs.
fn documents(state: &AppState, project: &ProjectKey) -> Result<Vec<Value>, ApiError> {
    let relay = state.config.kafka_relay.as_ref().map(Named::Relay);
    let stored = subscriptions::list(&*state.store, project)?
        .into_iter()
        .map(|record| Named::Stored(Box::new(record)));
    relay
        .into_iter()
        .chain(stored)
        .map(|named| named.to_json(state, project))
        .collect()
}

// ---------------------------------------------------------------------------
// Handlers.

async fn query(
    State(state): State<AppState>,
    Path(pk): Path<String>,
    headers: HeaderMap,
    params: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let project = project_key(&pk)?;
    authorize(&state, &headers, &project, Scope::ViewSubscriptions).await?;
    let spec = query_spec(&params)?;
    let page = state
        .blocking(move |s| spec.page(documents(&s, &project)?))
        .await?;
    Ok(Json(page))
}

async fn exists(
    State(state): State<AppState>,
    Path(pk): Path<String>,
    headers: HeaderMap,
    params: QueryPairs,
) -> Result<StatusCode, ApiError> {
    let project = project_key(&pk)?;
    authorize(&state, &headers, &project, Scope::ViewSubscriptions).await?;
    let spec = query_spec(&params)?;
    let any = state
        .blocking(move |s| spec.matches_any(documents(&s, &project)?))
        .await?;
    Ok(if any {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    })
}

async fn get_one(
    State(state): State<AppState>,
    Path((pk, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Json<Value>, ApiError> {
    let project = project_key(&pk)?;
    authorize(&state, &headers, &project, Scope::ViewSubscriptions).await?;
    let by = target(&id);
    let document = state
        .blocking(move |s| find(&s, &project, &by)?.to_json(&s, &project))
        .await?;
    Ok(Json(document))
}

async fn create(
    State(state): State<AppState>,
    Path(pk): Path<String>,
    headers: HeaderMap,
    row: Option<Extension<IdempotencyRow>>,
    Body(body): Body,
) -> Result<Response, ApiError> {
    let project = project_key(&pk)?;
    let principal = authorize(&state, &headers, &project, Scope::ManageSubscriptions).await?;
    let value = parse_body(&body)?;
    let draft = parse_draft(&Obj::new(&value, JsonPath::root())?)?;
    refuse_relay_key(draft.key.as_deref())?;
    // A new subscription's cursors start at the log heads, written in the
    // same batch: the answer and the recorded answer need no cursor read.
    let fresh = DeliveryState::healthy();
    let recorded = fresh.clone();
    let meta = SubscriptionMeta {
        now_ms: now().millis(),
        client_id: Some(principal.client_id),
        answer: answer(row.as_deref(), StatusCode::CREATED, move |answered| {
            answer_json(answered, &recorded)
        }),
    };
    let document = state
        .blocking(move |s| {
            let record = subscriptions::create(&*s.store, &project, draft, &MESSAGE_TYPES, &meta)
                .map_err(|e| ApiError::subscription(e, None))?;
            s.subscriptions_changed();
            Ok(subscription_to_json(&record, &fresh))
        })
        .await?;
    Ok((StatusCode::CREATED, Json(document)).into_response())
}

/// The update actions by their commercetools names; `None` for an
/// accepted action that changes nothing.
pub(crate) const ACTIONS: &[(&str, ActionParser<Option<SubscriptionAction>>)] = &[
    ("changeDestination", |a| {
        let destination = a.req("destination", |v, at| destination(&Obj::new(v, at)?))?;
        Ok(Some(SubscriptionAction::ChangeDestination(destination)))
    }),
    ("setKey", |a| {
        Ok(Some(SubscriptionAction::SetKey(a.opt("key", string)?)))
    }),
    ("setMessages", |a| {
        let messages = a.opt("messages", message_filters)?.unwrap_or_default();
        Ok(Some(SubscriptionAction::SetMessages(messages)))
    }),
    ("setChanges", |a| {
        unsupported_list(a, "changes").map(|()| None)
    }),
    ("setEvents", |a| {
        unsupported_list(a, "events").map(|()| None)
    }),
    // payledger's own: deliveries stopped by the retry bound start again.
    ("resumeDeliveries", |_| {
        Ok(Some(SubscriptionAction::ResumeDeliveries))
    }),
];

async fn update(
    State(state): State<AppState>,
    Path((pk, id)): Path<(String, String)>,
    headers: HeaderMap,
    row: Option<Extension<IdempotencyRow>>,
    Body(body): Body,
) -> Result<Json<Value>, ApiError> {
    let project = project_key(&pk)?;
    let principal = authorize(&state, &headers, &project, Scope::ManageSubscriptions).await?;
    let by = target(&id);
    if is_relay(&by) {
        return Err(ApiError::invalid_operation(
            "The Kafka relay is configured by the server (--kafka-brokers, --kafka-config) and cannot be updated.",
        ));
    }
    let (version, actions) = parse_update(&body, ACTIONS)?;
    let actions: Vec<SubscriptionAction> = actions.into_iter().flatten().collect();
    for action in &actions {
        if let SubscriptionAction::SetKey(key) = action {
            refuse_relay_key(key.as_deref())?;
        }
    }
    let now_ms = now().millis();
    let document = state
        .blocking(move |s| {
            // Updates leave the cursors where they are: their state is
            // read once, outside the write lock, for both answers.
            let delivery = find(&s, &project, &by)?.state(&s)?;
            let recorded = delivery.clone();
            let meta = SubscriptionMeta {
                now_ms,
                client_id: Some(principal.client_id),
                answer: answer(row.as_deref(), StatusCode::OK, move |answered| {
                    answer_json(answered, &recorded)
                }),
            };
            let record = subscriptions::update(
                &*s.store,
                &project,
                &by,
                version,
                actions,
                &MESSAGE_TYPES,
                &meta,
            )
            .map_err(|e| ApiError::subscription(e, Some(&by)))?;
            s.subscriptions_changed();
            let delivery = delivery.with_stop(record.delivery_stop.as_ref());
            Ok(subscription_to_json(&record, &delivery))
        })
        .await?;
    Ok(Json(document))
}

/// The body a Subscription route answers with, for the idempotency record
/// written with the change (whose record says whether it is stopped).
fn answer_json(answered: &dyn Any, delivery: &DeliveryState) -> Value {
    answered
        .downcast_ref::<SubscriptionRecord>()
        .map_or(Value::Null, |record| {
            let delivery = delivery.clone().with_stop(record.delivery_stop.as_ref());
            subscription_to_json(record, &delivery)
        })
}

/// The key of the Kafka relay's view cannot name a stored Subscription.
fn refuse_relay_key(key: Option<&str>) -> Result<(), ApiError> {
    if key == Some(KAFKA_RELAY_ID) {
        return Err(ApiError::duplicate_field(
            "key",
            KAFKA_RELAY_ID,
            format!("The key '{KAFKA_RELAY_ID}' is reserved for the Kafka relay."),
        ));
    }
    Ok(())
}

async fn delete(
    State(state): State<AppState>,
    Path((pk, id)): Path<(String, String)>,
    headers: HeaderMap,
    row: Option<Extension<IdempotencyRow>>,
    params: QueryPairs,
) -> Result<Json<Value>, ApiError> {
    let project = project_key(&pk)?;
    authorize(&state, &headers, &project, Scope::ManageSubscriptions).await?;
    let by = target(&id);
    if is_relay(&by) {
        return Err(ApiError::invalid_operation(
            "The Kafka relay is configured by the server (--kafka-brokers) and cannot be deleted.",
        ));
    }
    let version = params.required_version()?;
    let document = state
        .blocking(move |s| {
            // The state it had: deleting removes the cursors.
            let delivery_before = find(&s, &project, &by)?.state(&s)?;
            let recorded = delivery_before.clone();
            let answer = answer(row.as_deref(), StatusCode::OK, move |answered| {
                answer_json(answered, &recorded)
            });
            let record = subscriptions::delete(&*s.store, &project, &by, version, answer.as_ref())
                .map_err(|e| ApiError::subscription(e, Some(&by)))?;
            s.subscriptions_changed();
            Ok(subscription_to_json(&record, &delivery_before))
        })
        .await?;
    Ok(Json(document))
}

/// The status as an HTTP status, for monitors that only look at that; no
/// token needed, as in commercetools (ids are random UUIDs).
async fn health(
    State(state): State<AppState>,
    Path((pk, id)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    let project = project_key(&pk)?;
    let by = target(&id);
    let status = state
        .blocking(move |s| Ok(find(&s, &project, &by)?.state(&s)?.status))
        .await?;
    Ok(match status {
        HealthStatus::Healthy => StatusCode::OK,
        HealthStatus::TemporaryError => StatusCode::SERVICE_UNAVAILABLE,
        HealthStatus::ConfigurationError | HealthStatus::ConfigurationErrorDeliveryStopped => {
            StatusCode::BAD_REQUEST
        }
    })
}

// ---------------------------------------------------------------------------
// Drafts.

pub(crate) fn parse_draft(draft: &Obj<'_>) -> Result<SubscriptionDraft, ApiError> {
    let destination = draft.req("destination", |v, at| destination(&Obj::new(v, at)?))?;
    let messages = draft.opt("messages", message_filters)?.unwrap_or_default();
    unsupported_list(draft, "changes")?;
    unsupported_list(draft, "events")?;
    let format = draft
        .opt("format", |v, at| format(&Obj::new(v, at)?))?
        .unwrap_or(DeliveryFormat::Platform);
    Ok(SubscriptionDraft {
        key: draft.opt("key", string)?,
        destination,
        messages,
        format,
    })
}

fn destination(object: &Obj<'_>) -> Result<Destination, ApiError> {
    let kind = object.req("type", string)?;
    if kind != "HTTP" {
        return Err(object.at("type").unknown(&kind, &["HTTP"]));
    }
    Ok(Destination::Http {
        url: object.req("url", string)?,
        secret: object.req("secret", string)?,
    })
}

/// `changes` and `events` of commercetools Subscriptions: only empty.
fn unsupported_list(object: &Obj<'_>, field: &str) -> Result<(), ApiError> {
    match object.opt(field, array)? {
        Some(entries) if !entries.is_empty() => Err(ApiError::invalid_input(format!(
            "payledger Subscriptions deliver messages only; '{field}' must be empty."
        ))),
        _ => Ok(()),
    }
}

fn message_filters(value: &Value, at: JsonPath) -> Result<Vec<MessageFilter>, ApiError> {
    array(value, at)?
        .into_iter()
        .map(|(item, at)| message_filter(&Obj::new(item, at)?))
        .collect()
}

fn message_filter(object: &Obj<'_>) -> Result<MessageFilter, ApiError> {
    let types = object
        .opt("types", |v, at| {
            array(v, at)?
                .into_iter()
                .map(|(item, at)| string(item, at))
                .collect::<Result<Vec<_>, _>>()
        })?
        .unwrap_or_default();
    Ok(MessageFilter {
        resource_type_id: object.req("resourceTypeId", string)?,
        types,
    })
}

fn format(object: &Obj<'_>) -> Result<DeliveryFormat, ApiError> {
    let kind = object.req("type", string)?;
    match kind.as_str() {
        "Platform" => Ok(DeliveryFormat::Platform),
        "CloudEvents" => Ok(DeliveryFormat::CloudEvents {
            cloud_events_version: object.req("cloudEventsVersion", string)?,
        }),
        _ => Err(object
            .at("type")
            .unknown(&kind, &["Platform", "CloudEvents"])),
    }
}
