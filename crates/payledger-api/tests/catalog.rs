//! HTTP tests of the Types and States routes, through the real router with
//! an in-memory store and a bearer token from `POST /oauth/token`.
//!
//! Every request goes through [`Api::call`], so a change to how the routes
//! are reached edits one helper.

// The helpers below run only inside tests; a failed step should panic.
#![allow(clippy::unwrap_used)]

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use base64::Engine as _;
use http_body_util::BodyExt as _;
use payledger_api::{ApiConfig, AppState};
use payledger_app::auth::{Secret, create_client};
use payledger_app::catalog::StoredCatalog;
use payledger_domain::types::{StateDefinition, StateType};
use payledger_domain::{Catalog, ProjectKey};
use payledger_store::EventStore;
use payledger_store::memory::MemoryStore;
use serde_json::{Value, json};
use std::sync::Arc;
use tower::ServiceExt as _;

const CLIENT_ID: &str = "catalog-tests";
const CLIENT_SECRET: &str = "catalog-tests-secret";
const FULL_SCOPE: &str = "manage_types:shop manage_states:shop view_types:other";

/// A server over a fresh store, and a token for one client.
struct Api {
    router: Router,
    store: Arc<dyn EventStore>,
    token: String,
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap())
        .unwrap()
}

impl Api {
    /// A server whose client holds `scope`.
    async fn with_scope(scope: &str) -> Self {
        let store: Arc<dyn EventStore> = Arc::new(MemoryStore::new());
        create_client(
            &*store,
            CLIENT_ID,
            &Secret::new(CLIENT_SECRET),
            scope,
            now_ms(),
        )
        .unwrap();
        let router = payledger_api::router(AppState::new(Arc::clone(&store), ApiConfig::default()));
        let basic = base64::engine::general_purpose::STANDARD
            .encode(format!("{CLIENT_ID}:{CLIENT_SECRET}"));
        let request = Request::post("/oauth/token")
            .header(header::AUTHORIZATION, format!("Basic {basic}"))
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("grant_type=client_credentials"))
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let body = response.into_body().collect().await.unwrap().to_bytes();
        let token: Value = serde_json::from_slice(&body).unwrap();
        Self {
            router,
            store,
            token: token["access_token"].as_str().unwrap().to_owned(),
        }
    }

    async fn new() -> Self {
        Self::with_scope(FULL_SCOPE).await
    }

    /// Sends a request with the bearer token; the body, if any, as JSON.
    async fn call(&self, method: &str, uri: &str, body: Option<Value>) -> (StatusCode, Value) {
        self.call_with(method, uri, body, &[]).await
    }

    /// [`Api::call`] with further request headers.
    async fn call_with(
        &self,
        method: &str,
        uri: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, Value) {
        let mut request = Request::builder()
            .method(method)
            .uri(uri)
            .header(header::AUTHORIZATION, format!("Bearer {}", self.token))
            .header(header::CONTENT_TYPE, "application/json");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = request
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_string())))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let json = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap()
        };
        (status, json)
    }

    async fn get(&self, uri: &str) -> (StatusCode, Value) {
        self.call("GET", uri, None).await
    }

    async fn post(&self, uri: &str, body: Value) -> (StatusCode, Value) {
        self.call("POST", uri, Some(body)).await
    }

    /// Creates a resource and returns it; fails the test unless 201.
    async fn create(&self, uri: &str, body: Value) -> Value {
        let (status, json) = self.post(uri, body).await;
        assert_eq!(status, StatusCode::CREATED, "{json}");
        json
    }
}

/// The first error object of an error body.
fn first_error(body: &Value) -> &Value {
    &body["errors"][0]
}

fn type_draft(key: &str) -> Value {
    json!({
        "key": key,
        "name": {"en": "Payment extras"},
        "description": null,
        "resourceTypeIds": ["payment", "transaction"],
        "fieldDefinitions": [
            {"name": "orderNumber", "label": {"en": "Order number"}, "required": true,
             "type": {"name": "String"}, "inputHint": "SingleLine"},
            {"name": "channel", "label": {"en": "Channel"}, "required": false,
             "type": {"name": "Enum", "values": [{"key": "web", "label": "Web"}]}},
            {"name": "tags", "label": {"en": "Tags"}, "required": false,
             "type": {"name": "Set", "elementType": {"name": "String"}}}
        ]
    })
}

#[tokio::test]
async fn types_are_created_read_listed_updated_and_deleted() {
    let api = Api::new().await;
    let created = api.create("/shop/types", type_draft("extras")).await;
    let id = created["id"].as_str().unwrap().to_owned();
    assert_eq!(created["version"], 1);
    assert_eq!(created["key"], "extras");
    assert_eq!(created["createdBy"]["clientId"], CLIENT_ID);
    assert_eq!(
        created["fieldDefinitions"][2]["type"]["elementType"]["name"],
        "String"
    );
    assert!(created.get("description").is_none(), "null reads as absent");

    // Keys are unique per project.
    let (status, body) = api.post("/shop/types", type_draft("extras")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(first_error(&body)["code"], "DuplicateField");
    assert_eq!(first_error(&body)["field"], "key");
    assert_eq!(first_error(&body)["duplicateValue"], "extras");

    // By id and by key.
    assert_eq!(
        api.get(&format!("/shop/types/{id}")).await,
        (StatusCode::OK, created.clone())
    );
    assert_eq!(
        api.get("/shop/types/key=extras").await,
        (StatusCode::OK, created.clone())
    );
    let (status, body) = api.get("/shop/types/key=nope").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(first_error(&body)["code"], "ResourceNotFound");

    // Queries.
    api.create("/shop/types", type_draft("second")).await;
    let (status, page) = api.get("/shop/types").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (page["count"].clone(), page["total"].clone()),
        (json!(2), json!(2))
    );
    // Both were created within the same millisecond or two: sort by key.
    let (_, page) = api.get("/shop/types?sort=key%20desc").await;
    assert_eq!(page["results"][0]["key"], "second");
    let (_, page) = api.get("/shop/types?where=key%20%3D%20%22second%22").await;
    assert_eq!(page["total"], 1);
    assert_eq!(page["results"][0]["key"], "second");
    let (_, page) = api
        .get("/shop/types?where=fieldDefinitions(name%20%3D%20%22channel%22)&limit=1&offset=1&sort=key%20desc")
        .await;
    assert_eq!(
        (page["total"].clone(), page["count"].clone()),
        (json!(2), json!(1))
    );
    assert_eq!(page["results"][0]["key"], "extras");
    let (status, body) = api.get("/shop/types?limit=501").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(first_error(&body)["code"], "InvalidInput");
    let (status, _) = api
        .call("HEAD", "/shop/types?where=key%3D%22nope%22", None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api
        .call("HEAD", "/shop/types?where=key%3D%22extras%22", None)
        .await;
    assert_eq!(status, StatusCode::OK);

    // Updates: all actions of a request raise the version by one.
    let (status, updated) = api
        .post(
            &format!("/shop/types/{id}"),
            json!({"version": 1, "actions": [
                {"action": "changeName", "name": {"en": "Renamed"}},
                {"action": "setDescription", "description": {"en": "About"}},
                {"action": "addFieldDefinition", "fieldDefinition":
                    {"name": "paid", "label": {"en": "Paid"}, "required": false,
                     "type": {"name": "Boolean"}}},
                {"action": "removeFieldDefinition", "fieldName": "tags"},
                {"action": "changeKey", "key": "extras-2"}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["version"], 2);
    assert_eq!(updated["name"]["en"], "Renamed");
    assert_eq!(updated["description"]["en"], "About");
    let names: Vec<&str> = updated["fieldDefinitions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["orderNumber", "channel", "paid"]);
    assert_eq!(api.get("/shop/types/key=extras-2").await.1, updated);

    // A stale version is a conflict.
    let (status, body) = api
        .post(
            "/shop/types/key=extras-2",
            json!({"version": 1, "actions": [{"action": "changeName", "name": {"en": "x"}}]}),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(first_error(&body)["code"], "ConcurrentModification");
    assert_eq!(first_error(&body)["currentVersion"], 2);

    // Deletes check the version too.
    let (status, body) = api
        .call("DELETE", &format!("/shop/types/{id}?version=1"), None)
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(first_error(&body)["currentVersion"], 2);
    let (status, _) = api.call("DELETE", &format!("/shop/types/{id}"), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "version is required");
    let (status, deleted) = api
        .call("DELETE", "/shop/types/key=extras-2?version=2", None)
        .await;
    assert_eq!((status, deleted), (StatusCode::OK, updated));
    assert_eq!(
        api.get(&format!("/shop/types/{id}")).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn malformed_bodies_name_the_place_of_the_error() {
    let api = Api::new().await;
    let check = |body: Value, code: &'static str, detail: &'static str| {
        let api = &api;
        async move {
            let (status, error) = api.post("/shop/types", body).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
            let first = first_error(&error);
            assert_eq!(first["code"], code, "{error}");
            if code == "InvalidJsonInput" {
                assert_eq!(first["detailedErrorMessage"], detail, "{error}");
            } else {
                assert_eq!(first["field"], detail, "{error}");
            }
        }
    };
    let mut draft = type_draft("extras");
    draft["fieldDefinitions"][0]
        .as_object_mut()
        .unwrap()
        .remove("name");
    check(
        draft,
        "InvalidJsonInput",
        "fieldDefinitions -> name: Missing required value",
    )
    .await;
    let mut draft = type_draft("extras");
    draft["fieldDefinitions"][1]["type"]["values"][0]["label"] = json!(7);
    check(
        draft,
        "InvalidJsonInput",
        "fieldDefinitions -> type -> values -> label: JSON String expected.",
    )
    .await;
    let mut draft = type_draft("extras");
    draft["fieldDefinitions"][0]["type"]["name"] = json!("Decimal");
    let (_, error) = api.post("/shop/types", draft).await;
    assert!(
        first_error(&error)["detailedErrorMessage"]
            .as_str()
            .unwrap()
            .starts_with("fieldDefinitions -> type -> name: Unknown value 'Decimal'."),
        "{error}"
    );
    let mut draft = type_draft("extras");
    draft["key"] = Value::Null;
    check(draft, "InvalidJsonInput", "key: Missing required value").await;
    let mut draft = type_draft("extras");
    draft["resourceTypeIds"] = json!(["order"]);
    check(draft, "InvalidField", "resourceTypeIds").await;
    let mut draft = type_draft("extras");
    draft["key"] = json!("no spaces");
    check(draft, "InvalidField", "key").await;
    let mut draft = type_draft("extras");
    draft["fieldDefinitions"][1]["name"] = json!("orderNumber");
    check(draft, "DuplicateField", "fieldDefinitions.name").await;

    let created = api.create("/shop/types", type_draft("extras")).await;
    let uri = format!("/shop/types/{}", created["id"].as_str().unwrap());
    let (status, error) = api
        .post(
            &uri,
            json!({"version": 1, "actions": [{"action": "explode"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        first_error(&error)["detailedErrorMessage"],
        "actions -> action: Unknown action 'explode'."
    );
    let (_, error) = api
        .post(
            &uri,
            json!({"version": 1, "actions": [{"action": "addFieldDefinition",
                "fieldDefinition": {"label": {"en": "x"}, "required": false, "type": {"name": "Number"}}}]}),
        )
        .await;
    assert_eq!(
        first_error(&error)["detailedErrorMessage"],
        "actions -> fieldDefinition -> name: Missing required value"
    );
    let (status, error) = api
        .post(
            &uri,
            json!({"version": 1, "actions": [{"action": "removeFieldDefinition", "fieldName": "nope"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(first_error(&error)["code"], "InvalidOperation");
    let (_, error) = api.post(&uri, json!({"actions": []})).await;
    assert_eq!(
        first_error(&error)["detailedErrorMessage"],
        "version: Missing required value"
    );
}

#[tokio::test]
async fn states_keep_initial_and_transitions_for_the_payment_rules() {
    let api = Api::new().await;
    let paid = api
        .create(
            "/shop/states",
            json!({"key": "paid", "type": "PaymentState", "initial": false, "transitions": []}),
        )
        .await;
    let paid_id = paid["id"].as_str().unwrap().to_owned();
    assert_eq!(paid["builtIn"], false);
    assert_eq!(paid["transitions"], json!([]));
    let open = api
        .create(
            "/shop/states",
            json!({"key": "open", "type": "PaymentState", "name": {"en": "Open"},
                   "transitions": [{"typeId": "state", "key": "paid"}]}),
        )
        .await;
    assert_eq!(open["initial"], true, "initial defaults to true");
    assert_eq!(
        open["transitions"],
        json!([{"typeId": "state", "id": paid_id}])
    );

    let project = ProjectKey::parse("shop").unwrap();
    let catalog = StoredCatalog::new(Arc::clone(&api.store), project);
    assert_eq!(
        catalog.state_by_key("open"),
        Some(StateDefinition {
            id: open["id"].as_str().unwrap().to_owned(),
            key: "open".to_owned(),
            state_type: StateType::PaymentState,
            initial: true,
            transitions: Some(vec![paid_id.clone()]),
        })
    );
    let paid_definition = catalog.state_by_id(&paid_id).unwrap();
    assert!(!paid_definition.initial);
    assert_eq!(paid_definition.transitions, Some(vec![]));

    // Unknown targets are named in the error.
    let (status, error) = api
        .post(
            "/shop/states",
            json!({"key": "lost", "type": "PaymentState", "transitions": [{"key": "nowhere"}]}),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let first = first_error(&error);
    assert_eq!(first["code"], "ReferencedResourceNotFound");
    assert_eq!(
        (first["typeId"].clone(), first["key"].clone()),
        (json!("state"), json!("nowhere"))
    );
    let (_, error) = api
        .post("/shop/states", json!({"key": "odd", "type": "PaidState"}))
        .await;
    assert!(
        first_error(&error)["detailedErrorMessage"]
            .as_str()
            .unwrap()
            .starts_with("type: Unknown value 'PaidState'."),
        "{error}"
    );

    // Updates reach the rules at once.
    let (status, updated) = api
        .post(
            "/shop/states/key=open",
            json!({"version": 1, "actions": [
                {"action": "changeInitial", "initial": false},
                {"action": "setTransitions", "transitions": null},
                {"action": "setName", "name": null}
            ]}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{updated}");
    assert_eq!(updated["version"], 2);
    assert!(updated.get("transitions").is_none() && updated.get("name").is_none());
    let definition = catalog.state_by_key("open").unwrap();
    assert!(!definition.initial);
    assert_eq!(definition.transitions, None);

    let (_, page) = api.get("/shop/states?where=initial%20%3D%20false").await;
    assert_eq!(page["total"], 2);
    let (status, _) = api
        .call("DELETE", &format!("/shop/states/{paid_id}?version=1"), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(catalog.state_by_id(&paid_id), None);
}

#[tokio::test]
async fn routes_need_the_scope_of_their_project() {
    let api = Api::with_scope("view_types:shop").await;
    let (status, _) = api.get("/shop/types").await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = api.post("/shop/types", type_draft("extras")).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    let (status, _) = api.get("/shop/states").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = api.get("/other/types").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = api.get("/not%20a%20project/types").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let anonymous = Api {
        token: "not-a-token".to_owned(),
        ..api
    };
    let (status, _) = anonymous.get("/shop/types").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn projects_do_not_see_each_others_catalog() {
    let api = Api::new().await;
    let created = api.create("/shop/types", type_draft("extras")).await;
    let (status, page) = api.get("/other/types").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(page["total"], 0);
    let (status, _) = api
        .get(&format!("/other/types/{}", created["id"].as_str().unwrap()))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// Found by the schema-driven tests: a method no route serves was answered
/// 409 `IdempotencyKeyReused` instead of 405 when its `Idempotency-Key` had
/// been used, because the idempotency check ran before the method routing.
#[tokio::test]
async fn a_method_no_route_serves_is_405_whatever_its_idempotency_key() {
    let api = Api::new().await;
    let key = [("Idempotency-Key", "used-once")];
    let (status, created) = api
        .call_with("POST", "/shop/types", Some(type_draft("keyed")), &key)
        .await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    for uri in [
        "/shop/types",
        "/shop/states",
        "/shop/subscriptions",
        "/shop/orders",
    ] {
        let (status, body) = api.call_with("DELETE", uri, None, &key).await;
        assert_eq!(
            status,
            StatusCode::METHOD_NOT_ALLOWED,
            "DELETE {uri}: {body}"
        );
    }
    let (status, replayed) = api
        .call_with("POST", "/shop/types", Some(type_draft("keyed")), &key)
        .await;
    assert_eq!(
        status,
        StatusCode::CREATED,
        "the key still replays its request"
    );
    assert_eq!(replayed["id"], created["id"]);
}
