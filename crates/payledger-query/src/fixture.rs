//! Test documents: payments in their API shape, modelled on commercetools'
//! `payment.example.json`.

use serde_json::{Value, json};

/// A charged Stripe payment with a customer, custom fields and no PSP
/// status code yet.
pub(crate) fn payment() -> Value {
    json!({
        "id": "776f9240-09e1-4416-a34f-32fa80f0333f",
        "version": 3,
        "key": "pay-1001",
        "interfaceId": "pi_3Nq1",
        "customer": { "typeId": "customer", "id": "cust-7" },
        "amountPlanned": {
            "type": "centPrecision",
            "fractionDigits": 2,
            "currencyCode": "EUR",
            "centAmount": 2500
        },
        "paymentMethodInfo": {
            "paymentInterface": "stripe",
            "method": "CREDIT_CARD",
            "name": { "en": "Credit Card" }
        },
        "paymentStatus": {},
        "transactions": [
            {
                "id": "14748fe6-7f77-456a-96c8-913b1e4bbc9a",
                "timestamp": "2026-02-03T10:15:00.000Z",
                "type": "Authorization",
                "amount": { "type": "centPrecision", "fractionDigits": 2, "currencyCode": "EUR", "centAmount": 2500 },
                "state": "Success"
            },
            {
                "id": "5f0c1a7e-3b1e-4c9d-9f5e-0a2b7c4d1e22",
                "timestamp": "2026-02-03T10:16:00.000Z",
                "type": "Charge",
                "amount": { "type": "centPrecision", "fractionDigits": 2, "currencyCode": "EUR", "centAmount": 2500 },
                "interactionId": "ch_9",
                "state": "Success"
            }
        ],
        "interfaceInteractions": [],
        "custom": {
            "type": { "typeId": "type", "id": "type-1" },
            "fields": {
                "orderNumber": "A-1",
                "tags": ["vip", "b2b"],
                "priority": 3,
                "ratio": 0.25,
                "rush": false,
                "big": 9_007_199_254_740_993_u64
            }
        },
        "createdAt": "2026-02-03T10:14:59.480Z",
        "lastModifiedAt": "2026-02-03T10:16:00.120Z",
        "createdBy": { "clientId": "frontend", "isPlatformClient": false },
        "lastModifiedBy": { "clientId": "psp-bridge", "isPlatformClient": false }
    })
}

/// An older PayPal payment with a PSP status code and no key or customer.
pub(crate) fn other_payment() -> Value {
    json!({
        "id": "0b9a3d1c-1111-4a2b-8c3d-5e6f7a8b9c0d",
        "version": 1,
        "amountPlanned": {
            "type": "centPrecision",
            "fractionDigits": 2,
            "currencyCode": "USD",
            "centAmount": 800
        },
        "paymentMethodInfo": { "paymentInterface": "paypal" },
        "paymentStatus": { "interfaceCode": "PENDING", "interfaceText": "waiting" },
        "transactions": [],
        "interfaceInteractions": [],
        "createdAt": "2025-12-31T23:59:59.999Z",
        "lastModifiedAt": "2025-12-31T23:59:59.999Z"
    })
}
