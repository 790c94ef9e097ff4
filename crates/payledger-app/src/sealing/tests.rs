//! Sealing on the way in, opening on the way out, and erasure by
//! destroying the data key.

use super::*;
use crate::{CommandMeta, Ledger, PaymentCommand, PaymentRef};
use payledger_domain::command::PaymentDraftInput;
use payledger_domain::{Actor, CurrencyCode, Money, ProjectKey, Timestamp};
use payledger_store::memory::MemoryStore;

const TOKEN: &str = "tok-DISTINCTIVE-4242";
const CUSTOMER: &str = "customer-DISTINCTIVE-77";

fn project() -> ProjectKey {
    ProjectKey::parse("sealing").expect("project key")
}

fn meta() -> CommandMeta {
    CommandMeta {
        project: project(),
        actor: Actor::Client("test".into()),
        now: Timestamp(1_767_225_600_000),
        correlation_id: None,
        idempotency: None,
    }
}

struct World {
    runtime: tokio::runtime::Runtime,
    inner: Arc<MemoryStore>,
    sealed: Arc<SealedStore<MemoryStore>>,
    ledger: Ledger<SealedStore<MemoryStore>>,
}

fn world() -> World {
    let inner = Arc::new(MemoryStore::new());
    let sealed = Arc::new(SealedStore::new(
        Arc::clone(&inner),
        MasterKey::from_bytes([7; 32]),
    ));
    World {
        runtime: tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime"),
        inner,
        ledger: Ledger::new(Arc::clone(&sealed)),
        sealed,
    }
}

impl World {
    fn create(&self) -> payledger_domain::Payment {
        let mut draft =
            PaymentDraftInput::new(Money::new(500, CurrencyCode::parse("EUR").expect("EUR")));
        draft.customer_id = Some(CUSTOMER.into());
        draft.payment_method_info.token = Some(TOKEN.into());
        let created = self
            .runtime
            .block_on(
                self.ledger
                    .execute(meta(), PaymentCommand::Create(Box::new(draft))),
            )
            .expect("create");
        (*created.payment).clone()
    }

    fn delete(&self, payment: &payledger_domain::Payment, data_erasure: bool) {
        let command = PaymentCommand::Delete {
            target: PaymentRef::Id(payment.id),
            version: payment.version,
            data_erasure,
        };
        self.runtime
            .block_on(self.ledger.execute(meta(), command))
            .expect("delete");
    }

    /// The stream's events as read through the sealing store.
    fn events(&self, stream: StreamId) -> Vec<EventEnvelope> {
        self.sealed
            .read_stream(stream, VersionRange::ALL)
            .expect("read")
    }

    /// Whether the stream has a data key.
    fn has_key(&self, stream: StreamId) -> bool {
        (self.inner.get(Table::DataKeys, &key_owner(stream)))
            .expect("get")
            .is_some()
    }

    /// The stored bytes of the stream's events, as the store underneath
    /// keeps them.
    fn stored_bytes(&self, stream: StreamId) -> Vec<Vec<u8>> {
        (self.inner.read_stream(stream, VersionRange::ALL))
            .expect("read")
            .iter()
            .map(payledger_codec::encode_envelope)
            .collect()
    }
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[test]
fn personal_fields_are_stored_sealed_and_read_plain() {
    let w = world();
    let payment = w.create();
    for bytes in w.stored_bytes(StreamId::payment(payment.id)) {
        assert!(!contains(&bytes, TOKEN) && !contains(&bytes, CUSTOMER));
    }
    assert!(w.has_key(StreamId::payment(payment.id)));
    let events = w.events(StreamId::payment(payment.id));
    let folded = payledger_domain::fold(&events).expect("fold");
    assert_eq!(folded.customer_id.as_deref(), Some(CUSTOMER));
    assert_eq!(folded.payment_method_info.token.as_deref(), Some(TOKEN));
    assert_eq!(
        crate::projections::stored_differences(&*w.sealed, &events).expect("compare"),
        Vec::new(),
        "the views hold what the opened events give"
    );
}

#[test]
fn an_interaction_is_sealed_whole_and_opens_to_what_was_added() {
    let w = world();
    let payment = w.create();
    let mut fields = std::collections::BTreeMap::new();
    fields.insert(
        "iban".to_owned(),
        FieldValue::String("DE-DISTINCTIVE-99".into()),
    );
    let interaction = CustomFields {
        type_id: "t-1".into(),
        fields,
    };
    let mut event = Event::InterfaceInteractionAdded(interaction.clone());
    let owner = key_owner(StreamId::payment(payment.id));
    seal_event(&mut event, &owner, &mut || Ok([9; 32])).expect("seal");
    let Event::InterfaceInteractionAdded(sealed) = &event else {
        unreachable!()
    };
    assert_eq!(sealed.type_id, "t-1");
    assert_eq!(sealed.fields.keys().collect::<Vec<_>>(), vec!["sealed"]);
    open_event(&mut event, &owner, &mut || Ok(Some([9; 32]))).expect("open");
    assert_eq!(event, Event::InterfaceInteractionAdded(interaction));
}

#[test]
fn erasure_destroys_the_key_and_leaves_the_stored_events_as_they_were() {
    let w = world();
    let payment = w.create();
    let before = w.stored_bytes(StreamId::payment(payment.id));
    w.delete(&payment, true);
    let after = w.stored_bytes(StreamId::payment(payment.id));
    assert_eq!(
        &after[..before.len()],
        &before[..],
        "the events did not change"
    );
    assert!(!w.has_key(StreamId::payment(payment.id)));
    let events = w.events(StreamId::payment(payment.id));
    let Event::Created(draft) = &events[0].event else {
        panic!("a create first")
    };
    assert_eq!(draft.customer_id.as_deref(), Some(ERASED));
    assert_eq!(draft.payment_method_info.token.as_deref(), Some(ERASED));
    assert!(payledger_domain::fold(&events).expect("fold").deleted);
    assert_eq!(
        crate::projections::stored_differences(&*w.sealed, &events).expect("compare"),
        Vec::new(),
        "a replay of an erased payment still agrees with the store"
    );
}

#[test]
fn a_deletion_without_erasure_keeps_everything_readable() {
    let w = world();
    let payment = w.create();
    w.delete(&payment, false);
    let events = w.events(StreamId::payment(payment.id));
    let Event::Created(draft) = &events[0].event else {
        panic!("a create first")
    };
    assert_eq!(draft.customer_id.as_deref(), Some(CUSTOMER));
}

#[test]
fn a_data_key_opens_only_with_its_master_key_and_owner_and_rewraps() {
    let id = uuid::Uuid::from_bytes([1; 16]);
    let payment = key_owner(StreamId::new(StreamKind::Payment, id));
    let order = key_owner(StreamId::new(StreamKind::Order, id));
    assert_eq!(
        payment, [1; 16],
        "a payment's key row is its id, as before orders"
    );
    assert_ne!(payment, order);
    let (old, new) = (
        MasterKey::from_bytes([1; 32]),
        MasterKey::from_bytes([2; 32]),
    );
    let wrapped = old.wrap(&[5; 32], &payment);
    assert_eq!(old.unwrap(&wrapped, &payment), Some([5; 32]));
    assert_eq!(new.unwrap(&wrapped, &payment), None);
    assert_eq!(old.unwrap(&wrapped, &[2; 16]), None);
    assert_eq!(
        old.unwrap(&wrapped, &order),
        None,
        "an order's key is bound to the order"
    );
    let rewrapped = old.rewrap(&wrapped, &payment, &new).expect("rewrap");
    assert_eq!(new.unwrap(&rewrapped, &payment), Some([5; 32]));
}

const EMAIL: &str = "ann-DISTINCTIVE@example.com";

impl World {
    fn orders(&self) -> crate::Orders<SealedStore<MemoryStore>> {
        crate::Orders::new(self.ledger.clone())
    }

    fn create_order(&self) -> payledger_domain::Order {
        let draft = payledger_domain::OrderDraft {
            order_number: "A-1".into(),
            key: None,
            total_price: Money::new(500, CurrencyCode::parse("EUR").expect("EUR")),
            customer_id: Some(CUSTOMER.into()),
            customer_email: Some(EMAIL.into()),
            recurring: false,
        };
        let command = crate::OrderCommand::Create(draft);
        (self
            .runtime
            .block_on(self.orders().execute(meta(), None, command)))
        .expect("create order")
        .order
    }
}

#[test]
fn an_orders_customer_is_sealed_and_erased_with_its_deletion() {
    let w = world();
    let order = w.create_order();
    let stream = StreamId::order(order.id);
    let sealed = w.stored_bytes(stream);
    for bytes in &sealed {
        assert!(!contains(bytes, EMAIL) && !contains(bytes, CUSTOMER));
    }
    assert!(w.has_key(stream));
    let opened = payledger_domain::order::fold_order(&w.events(stream)).expect("fold");
    assert_eq!(opened.customer_email.as_deref(), Some(EMAIL));

    let command = crate::OrderCommand::Delete {
        target: crate::OrderRef::Id(order.id),
        version: order.version,
        data_erasure: true,
    };
    (w.runtime
        .block_on(w.orders().execute(meta(), None, command)))
    .expect("delete");
    assert!(!w.has_key(stream));
    assert_eq!(&w.stored_bytes(stream)[..sealed.len()], &sealed[..]);
    let events = w.events(stream);
    let erased = payledger_domain::order::fold_order(&events).expect("fold");
    assert!(erased.deleted);
    assert_eq!(erased.customer_email.as_deref(), Some(ERASED));
    assert_eq!(erased.customer_id.as_deref(), Some(ERASED));
    assert_eq!(
        crate::projections::stored_differences(&*w.sealed, &events).expect("compare"),
        Vec::new()
    );
    assert!(
        (w.orders().get(&project(), &crate::OrderRef::Id(order.id)))
            .expect("read")
            .is_none(),
        "a deleted order is not found"
    );
}

#[test]
fn a_master_key_file_is_made_once_for_its_owner_and_read_back() {
    let dir = std::env::temp_dir().join(format!(
        "payledger-master-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("master.key");
    let (made, created) = MasterKey::load_or_create(&path).expect("make");
    assert!(created);
    let (read, created) = MasterKey::load_or_create(&path).expect("read");
    assert!(!created);
    let owner = [3; 16];
    assert_eq!(
        read.unwrap(&made.wrap(&[8; 32], &owner), &owner),
        Some([8; 32])
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(&path).expect("meta").permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    std::fs::write(&path, "not hex").expect("write");
    assert!(matches!(
        MasterKey::load_or_create(&path),
        Err(master::MasterKeyError::Malformed { .. })
    ));
    std::fs::remove_dir_all(&dir).expect("clean up");
}

#[test]
fn the_sealed_store_passes_on_the_heads_its_store_knows_in_memory() {
    let world = world();
    let created = world.create();
    let stream = StreamId::payment(created.id);
    let known = world
        .sealed
        .known_head(stream)
        .expect("known after the create");
    assert_eq!(Some(known), world.inner.known_head(stream));
    assert_eq!(known.version, created.version);
}
