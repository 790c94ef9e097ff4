//! The history API's entry of an event, kept as a golden file.

use super::history_entry_to_json;
use payledger_domain::{
    Actor, Event, EventEnvelope, EventId, EventMeta, PaymentId, ProjectKey, Timestamp,
};

fn envelope() -> EventEnvelope {
    EventEnvelope {
        meta: EventMeta {
            event_id: EventId::from_bytes([0x2a; 16]),
            project: ProjectKey::parse("shop").expect("key"),
            recorded_at: Timestamp(1_767_225_600_000),
            actor: Actor::Client("shop-backend".into()),
            correlation_id: Some("checkout-7".into()),
            idempotency_key: Some("retry-1".into()),
        },
        stream: PaymentId::from_bytes([0x11; 16]).into(),
        version: 3,
        partition: 5,
        partition_sequence: 42,
        previous_hash: [0xab; 32],
        event: Event::StatusInterfaceCodeSet(Some("succeeded".into())),
    }
}

/// What auditors' tools parse. Written once with `PAYLEDGER_BLESS=1` when
/// missing; never edited.
#[test]
fn the_history_entry_format_is_stable() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/json/golden/history_entry_v1.json");
    let text = serde_json::to_string_pretty(&history_entry_to_json(&envelope(), &[0xcd; 32]))
        .expect("render")
        + "\n";
    if !path.exists() && std::env::var_os("PAYLEDGER_BLESS").is_some_and(|v| v == "1") {
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, &text).expect("write");
    }
    let golden =
        std::fs::read_to_string(&path).unwrap_or_else(|_| panic!("{} is missing", path.display()));
    assert_eq!(text, golden, "the history entry changed");
}
