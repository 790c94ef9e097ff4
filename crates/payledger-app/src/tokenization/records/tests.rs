use super::*;
use payledger_store::memory::MemoryStore;

fn request_record() -> RequestRecord {
    RequestRecord {
        kind: RequestKind::Recurring,
        merchant_id: 3,
        merchant_reference: "merRef1656991803097".into(),
        request_sha256: "ab".repeat(32),
        project: "shop".into(),
        order: "6f1c2b2e-8a3e-4d6b-9a53-0c7e1f9d2a41".into(),
        order_number: 5803,
        transaction_number: 3974,
        stan: 17,
        token: 436,
        user_id: "user1".into(),
        currency: "USD".into(),
        amount: 3_000,
        email: Some("ada@example.com".into()),
        payment_method: None,
        reason: Some("monthly plan".into()),
        notify_url: Some("https://merchant.example/notify".into()),
        created_at_ms: 1_656_991_803_709,
        outcome: Some(Outcome {
            status: OrderStatus::Success,
            code: "0000".into(),
            message: "Success".into(),
            decline_code: None,
            card_type: Some("VISA".into()),
            last4: Some("8101".into()),
            settled_at_ms: 1_656_991_803_709,
        }),
        notified: true,
    }
}

fn token_record() -> TokenRecord {
    TokenRecord {
        merchant_id: 3,
        token: 436,
        project: "shop".into(),
        user_id: "user1".into(),
        psp: "stripe".into(),
        customer: "cus_1".into(),
        payment_method: "pm_1".into(),
        brand: Some("visa".into()),
        last4: Some("8101".into()),
        currency: "USD".into(),
        email: None,
        sale_order: 5798,
        created_at_ms: 1_656_991_800_000,
    }
}

fn counters_sample() -> Counters {
    Counters {
        last_order: 5803,
        last_transaction: 3974,
        last_token: 436,
        stan_day: 19_178,
        last_stan: 17,
    }
}

#[test]
fn the_stored_rows_keep_loading() {
    let stored = crate::golden::check(
        "tokenization_rows_v1.txt",
        &[
            ("counters", encode(&counters_sample())),
            ("request", encode(&request_record())),
            ("token", encode(&token_record())),
            ("callback", encode(&CallbackDue { attempts: 2 })),
        ],
    );
    assert_eq!(
        decode::<Counters>("c", &stored["counters"]).unwrap(),
        counters_sample()
    );
    assert_eq!(
        decode::<RequestRecord>("r", &stored["request"]).unwrap(),
        request_record()
    );
    assert_eq!(
        decode::<TokenRecord>("t", &stored["token"]).unwrap(),
        token_record()
    );
    assert!(matches!(
        decode::<TokenRecord>("payment token", b"{}"),
        Err(StoreError::Corrupt(_))
    ));
}

#[test]
fn numbers_increase_per_merchant_and_the_trace_number_restarts_each_day() {
    let mut counters = Counters::default();
    let day = 19_178 * DAY_MS;
    let sale = counters.take(day + 5, true);
    assert_eq!(
        sale,
        Numbers {
            order: 1,
            transaction: 1,
            token: Some(1),
            stan: 1
        }
    );
    let recurring = counters.take(day + DAY_MS - 1, false);
    assert_eq!(
        (recurring.order, recurring.token, recurring.stan),
        (2, None, 2)
    );
    let tomorrow = counters.take(day + DAY_MS, false);
    assert_eq!(
        (tomorrow.order, tomorrow.transaction, tomorrow.stan),
        (3, 3, 1)
    );
}

#[test]
fn callbacks_come_back_in_due_order_and_only_when_due() {
    let store = MemoryStore::with_partitions(1);
    store
        .write(vec![
            callback_write(callback_key(2_000, 3, "b"), &CallbackDue { attempts: 1 }),
            callback_write(callback_key(1_000, 4, "a"), &CallbackDue { attempts: 0 }),
        ])
        .unwrap();
    assert_eq!(next_callback_ms(&store).unwrap(), Some(1_000));
    let due = callbacks_due(&store, 1_500, 10).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].merchant, due[0].reference.as_str()), (4, "a"));
    let due = callbacks_due(&store, 2_000, 10).unwrap();
    assert_eq!(due.len(), 2);
    assert_eq!(due[1].due, CallbackDue { attempts: 1 });
    store
        .write(vec![callback_remove(due[0].key.clone())])
        .unwrap();
    assert_eq!(next_callback_ms(&store).unwrap(), Some(2_000));
}
