//! The Orders API end to end: the real binary on real RocksDB. An order
//! follows its payments (totals and `paymentState` as the payments move),
//! survives a restart, is found by id, order number and key, refuses what
//! it must with the commercetools error, and yields Messages.

use payledger_e2e::{Api, Server, create_client};
use payledger_webhooks::testing::{Mode as ReceiverMode, Received, Receiver};
use serde_json::{Value, json};
use std::time::Duration;

const SCOPE: &str = "manage_project:shop";
/// How long the announcement of a new `paymentState` may take.
const DEADLINE: Duration = Duration::from_secs(30);

/// The `OrderPaymentStateChanged` Messages of a project, as a Subscription
/// to orders delivers them: a test waits for the consumer's announcement
/// instead of polling.
struct Announcements {
    receiver: Receiver,
}

impl Announcements {
    fn subscribe(api: &Api) -> Self {
        const SECRET: &str = "order-announcements-secret";
        let receiver = Receiver::start(SECRET, ReceiverMode::Accept).expect("receiver");
        ok(
            api.post(
                "/subscriptions",
                &json!({
                    "destination": {"type": "HTTP", "url": receiver.url(), "secret": SECRET},
                    "messages": [{"resourceTypeId": "order", "types": ["OrderPaymentStateChanged"]}],
                }),
            ),
            201,
        );
        Self { receiver }
    }

    /// Waits for the `count`-th announcement and returns its
    /// `(oldPaymentState, paymentState)`.
    fn nth(&self, count: usize) -> (String, String) {
        let enough = |received: &[Received]| received.len() >= count;
        let received = self.receiver.wait_until(DEADLINE, enough);
        assert!(enough(&received), "announcement {count} did not arrive");
        let message = received[count - 1].json();
        (
            message["oldPaymentState"].as_str().unwrap_or("").to_owned(),
            message["paymentState"].as_str().unwrap_or("").to_owned(),
        )
    }
}

fn pair(old: &str, new: &str) -> (String, String) {
    (old.to_owned(), new.to_owned())
}

fn merchant(server: &Server) -> Api {
    Api::connect(server.url(), "shop", "merchant", "merchant-secret-1", SCOPE)
}

fn eur(cents: i64) -> Value {
    json!({"currencyCode": "EUR", "centAmount": cents})
}

fn ok(reply: payledger_e2e::Reply, status: u16) -> Value {
    assert_eq!(reply.status, status, "{}", reply.body);
    reply.body
}

fn update(api: &Api, path: &str, resource: &Value, actions: Value) -> payledger_e2e::Reply {
    let id = resource["id"].as_str().expect("id");
    api.post(
        &format!("{path}/{id}"),
        &json!({"version": resource["version"], "actions": actions}),
    )
}

fn payment_with(api: &Api, cents: i64, state: &str) -> Value {
    let payment = ok(
        api.post("/payments", &json!({"amountPlanned": eur(cents)})),
        201,
    );
    ok(
        update(
            api,
            "/payments",
            &payment,
            json!([{"action": "addTransaction", "transaction": {
                "type": "Charge", "amount": eur(cents), "state": state}}]),
        ),
        200,
    )
}

#[test]
fn an_order_follows_its_payments_and_survives_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    create_client(dir.path(), "merchant", "merchant-secret-1", SCOPE);
    let server = Server::start(dir.path());
    let api = merchant(&server);
    let announcements = Announcements::subscribe(&api);

    let order = ok(
        api.post(
            "/orders",
            &json!({"orderNumber": "A-1001", "key": "order-a1001", "totalPrice": eur(3300),
                    "customerId": "c-7", "customerEmail": "ann@example.com"}),
        ),
        201,
    );
    assert_eq!(order["paymentState"], "BalanceDue");
    assert_eq!(order["orderState"], "Open");
    assert_eq!(order["totalOutstanding"]["centAmount"], 3300);
    assert_eq!(order["paymentInfo"]["payments"], json!([]));

    let failed = payment_with(&api, 3300, "Failure");
    let order = ok(
        update(
            &api,
            "/orders",
            &order,
            json!([{"action": "addPayment",
            "payment": {"typeId": "payment", "id": failed["id"]}}]),
        ),
        200,
    );
    assert_eq!(order["paymentState"], "Failed");
    assert_eq!(order["version"], 2);
    // The consumer records the change on the order: version 3.
    assert_eq!(announcements.nth(1), pair("BalanceDue", "Failed"));
    let id = order["id"].as_str().expect("id").to_owned();
    let order = ok(api.get(&format!("/orders/{id}")), 200);
    assert_eq!(order["version"], 3);

    let paid = payment_with(&api, 3300, "Success");
    let order = ok(
        update(
            &api,
            "/orders",
            &order,
            json!([{"action": "addPayment",
            "payment": {"id": paid["id"]}}]),
        ),
        200,
    );
    assert_eq!(order["paymentState"], "Paid");
    assert_eq!(order["totalPaid"]["centAmount"], 3300);
    assert_eq!(order["totalOutstanding"]["centAmount"], 0);
    assert_eq!(
        order["paymentInfo"]["payments"][1],
        json!({"typeId": "payment", "id": paid["id"]})
    );
    assert_eq!(announcements.nth(2), pair("Failed", "Paid"));

    // A refund on the payment moves the order without touching it.
    ok(
        update(
            &api,
            "/payments",
            &paid,
            json!([{"action": "addTransaction",
            "transaction": {"type": "Refund", "amount": eur(1000), "state": "Success"}}]),
        ),
        200,
    );
    // The order's stream moves only by the announcement of the new state.
    assert_eq!(announcements.nth(3), pair("Paid", "BalanceDue"));
    let server = server.restart();
    let api = merchant(&server);
    for path in [
        format!("/orders/{id}"),
        "/orders/order-number=A-1001".to_owned(),
        "/orders/key=order-a1001".to_owned(),
    ] {
        let found = ok(api.get(&path), 200);
        assert_eq!(found["paymentState"], "BalanceDue", "{path}");
        assert_eq!(found["totalRefunded"]["centAmount"], 1000);
        assert_eq!(found["totalOutstanding"]["centAmount"], 1000);
        assert_eq!(found["version"], 6, "created, 2 payments, 3 announcements");
    }
    let query = ok(
        api.get("/orders?where=paymentState%3D%22BalanceDue%22&withTotal=true"),
        200,
    );
    assert_eq!(query["total"], 1);
    assert_eq!(query["results"][0]["orderNumber"], "A-1001");
    let none = ok(api.get("/orders?where=paymentState%3D%22Paid%22"), 200);
    assert_eq!(none["count"], 0);

    // The payments expand in place, by id and in queries.
    let expanded = ok(
        api.get(&format!("/orders/{id}?expand=paymentInfo.payments%5B*%5D")),
        200,
    );
    let refs = &expanded["paymentInfo"]["payments"];
    assert_eq!(refs[1]["obj"]["id"], paid["id"]);
    assert_eq!(refs[1]["obj"]["transactions"][1]["type"], "Refund");
    assert_eq!(refs[0]["obj"]["transactions"][0]["state"], "Failure");
    let queried = ok(
        api.get("/orders?where=orderNumber%3D%22A-1001%22&expand=paymentInfo.payments%5B*%5D"),
        200,
    );
    assert_eq!(
        queried["results"][0]["paymentInfo"]["payments"][1]["obj"]["id"],
        paid["id"]
    );

    let messages = ok(
        api.get(&format!(
            "/messages?where=resource(id%3D%22{id}%22)&sort=sequenceNumber+asc"
        )),
        200,
    );
    let types: Vec<&str> = messages["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|m| m["type"].as_str().expect("type"))
        .collect();
    assert_eq!(
        types,
        vec![
            "OrderCreated",
            "OrderPaymentAdded",
            "OrderPaymentStateChanged",
            "OrderPaymentAdded",
            "OrderPaymentStateChanged",
            "OrderPaymentStateChanged"
        ]
    );
    assert_eq!(messages["results"][0]["resource"]["typeId"], "order");
    let first = &messages["results"][0];
    let by_id = ok(
        api.get(&format!("/messages/{}", first["id"].as_str().expect("id"))),
        200,
    );
    assert_eq!(&by_id, first, "an order's Message is found by its id");
}

#[test]
fn orders_refuse_bad_input_duplicates_and_foreign_payments_and_change_nothing() {
    let dir = tempfile::tempdir().expect("temp dir");
    create_client(dir.path(), "merchant", "merchant-secret-1", SCOPE);
    create_client(dir.path(), "viewer", "viewer-secret-1", "view_orders:shop");
    let server = Server::start(dir.path());
    let api = merchant(&server);
    let draft = json!({"orderNumber": "A-1", "totalPrice": eur(100)});
    let first = ok(api.post("/orders", &draft), 201);

    let duplicate = api.post("/orders", &draft);
    assert_eq!(duplicate.status, 400, "{}", duplicate.body);
    assert_eq!(duplicate.body["errors"][0]["code"], "DuplicateField");
    assert_eq!(duplicate.body["errors"][0]["field"], "orderNumber");

    let bad_number = api.post(
        "/orders",
        &json!({"orderNumber": "A 1/2", "totalPrice": eur(100)}),
    );
    assert_eq!(bad_number.status, 400);
    assert!(
        bad_number.body["message"]
            .as_str()
            .is_some_and(|m| m.contains("order_number_bytes_max")),
        "{}",
        bad_number.body
    );
    let no_total = api.post("/orders", &json!({"orderNumber": "A-2"}));
    assert_eq!(no_total.status, 400);
    assert!(
        no_total.body.to_string().contains("totalPrice"),
        "{}",
        no_total.body
    );

    let dollars = ok(
        api.post(
            "/payments",
            &json!({"amountPlanned": {"currencyCode": "USD", "centAmount": 100}}),
        ),
        201,
    );
    let foreign = update(
        &api,
        "/orders",
        &first,
        json!([{"action": "addPayment",
        "payment": {"id": dollars["id"]}}]),
    );
    assert_eq!(foreign.status, 400, "{}", foreign.body);
    assert_eq!(foreign.body["errors"][0]["code"], "InvalidOperation");

    let unknown = update(
        &api,
        "/orders",
        &first,
        json!([{"action": "addPayment",
        "payment": {"id": "6f0c9a4e-0000-4000-8000-000000000000"}}]),
    );
    assert_eq!(unknown.status, 400, "{}", unknown.body);
    assert_eq!(
        unknown.body["errors"][0]["code"],
        "ReferencedResourceNotFound"
    );

    let stale = api.post(
        &format!("/orders/{}", first["id"].as_str().expect("id")),
        &json!({"version": 7, "actions": [{"action": "cancel"}]}),
    );
    assert_eq!(stale.status, 409, "{}", stale.body);
    assert_eq!(stale.body["errors"][0]["currentVersion"], 1);

    let unchanged = ok(api.get("/orders/order-number=A-1"), 200);
    assert_eq!(unchanged, first, "nothing refused changed the order");
    assert_eq!(api.get("/orders/order-number=A-2").status, 404);

    let viewer = Api::connect(
        server.url(),
        "shop",
        "viewer",
        "viewer-secret-1",
        "view_orders:shop",
    );
    assert_eq!(viewer.get("/orders/order-number=A-1").status, 200);
    let refused = viewer.post(
        "/orders",
        &json!({"orderNumber": "A-3", "totalPrice": eur(1)}),
    );
    assert_eq!(refused.status, 403, "{}", refused.body);
}

#[test]
fn a_repeated_keyed_order_creation_answers_the_first_order() {
    let dir = tempfile::tempdir().expect("temp dir");
    create_client(dir.path(), "merchant", "merchant-secret-1", SCOPE);
    let server = Server::start(dir.path());
    let api = merchant(&server);
    let draft = json!({"orderNumber": "A-9", "totalPrice": eur(500)});
    let headers = [("Idempotency-Key", "create-a9")];
    let first = ok(api.post_with("/orders", &draft, &headers), 201);
    let again = ok(api.post_with("/orders", &draft, &headers), 201);
    assert_eq!(again, first);
    let reused = api.post_with(
        "/orders",
        &json!({"orderNumber": "A-10", "totalPrice": eur(500)}),
        &headers,
    );
    assert_eq!(reused.status, 409, "{}", reused.body);
    let all = ok(api.get("/orders?withTotal=true"), 200);
    assert_eq!(all["total"], 1);
}
