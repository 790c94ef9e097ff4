//! Personal data in payment events, sealed per payment so that erasing a
//! payment makes it unreadable although its events never change
//! (crypto-shredding).
//!
//! [`SealedStore`] wraps the event store. On the way in, the personal
//! fields of a payment's events ([`personal_fields`]: customer and
//! anonymous ids, the payment method token, interface interactions) are
//! replaced by AES-256-GCM ciphertext under the payment's own data key,
//! made when the payment first carries personal data and kept in
//! [`Table::DataKeys`] wrapped by the master key ([`MasterKey`]). On the
//! way out they are opened again, so every reader above (views, Messages,
//! history, as-of reads, replay, export) sees the plain values. A
//! deletion with `dataErasure=true` deletes the data key in the same
//! atomic write as the deletion event: from then on those fields read as
//! [`ERASED`], while the stored bytes, their hashes and `verify` stay as
//! they were.
//!
//! A sealed string is `SEALED_PREFIX · base64(nonce · ciphertext)`, with
//! the payment id as associated data; a sealed interaction keeps its Type
//! and holds one field, `sealed`, with its fields sealed the same way.

pub mod master;

use crate::error::AppError;
use crate::payments::corrupt_with;
use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
pub use master::MasterKey;
use payledger_domain::payment::{CustomFields, FieldValue};
use payledger_domain::{Event, EventEnvelope, PaymentId, StreamId};
use payledger_store::{
    AppendError, AppendRequest, EventStore, KeyValue, KvWrite, LogSignal, PendingAppend,
    StoreError, StreamHead, Table, VersionRange,
};
use std::collections::BTreeMap;
use std::sync::Arc;

/// How a sealed string starts (never the start of a value a client sent:
/// the API refuses control characters in these fields).
pub const SEALED_PREFIX: &str = "\u{1}sealed:v1:";
/// What an erased personal field reads as.
pub const ERASED: &str = "[erased]";
/// The one field of a sealed interaction.
const SEALED_FIELD: &str = "sealed";

/// A payment's data key.
type DataKey = [u8; 32];

/// Visits the personal fields of an event: its strings and its
/// interactions.
pub fn personal_fields(
    event: &mut Event,
    on_text: &mut dyn FnMut(&mut String) -> Result<(), AppError>,
    on_interaction: &mut dyn FnMut(&mut CustomFields) -> Result<(), AppError>,
) -> Result<(), AppError> {
    let mut text = |value: &mut Option<String>| match value {
        Some(value) => on_text(value),
        None => Ok(()),
    };
    match event {
        Event::Created(draft) => {
            text(&mut draft.customer_id)?;
            text(&mut draft.anonymous_id)?;
            text(&mut draft.payment_method_info.token)?;
            for interaction in &mut draft.interface_interactions {
                on_interaction(interaction)?;
            }
        }
        Event::CustomerSet(value)
        | Event::AnonymousIdSet(value)
        | Event::MethodInfoTokenSet(value) => text(value)?,
        Event::MethodInfoSet(update) => text(&mut update.token)?,
        Event::InterfaceInteractionAdded(interaction) => on_interaction(interaction)?,
        _ => {}
    }
    Ok(())
}

/// Whether `event` carries personal data ([`personal_fields`] would visit
/// something), without copying it.
fn has_personal_data(event: &Event) -> bool {
    match event {
        Event::Created(draft) => {
            draft.customer_id.is_some()
                || draft.anonymous_id.is_some()
                || draft.payment_method_info.token.is_some()
                || !draft.interface_interactions.is_empty()
        }
        Event::CustomerSet(value)
        | Event::AnonymousIdSet(value)
        | Event::MethodInfoTokenSet(value) => value.is_some(),
        Event::MethodInfoSet(update) => update.token.is_some(),
        Event::InterfaceInteractionAdded(_) => true,
        _ => false,
    }
}

fn cipher(key: &DataKey) -> Aes256Gcm {
    Aes256Gcm::new_from_slice(key).expect("a 32-byte key")
}

fn seal_bytes(key: &DataKey, payment: PaymentId, plain: &[u8]) -> String {
    let nonce_bytes: [u8; 12] = rand::random();
    let nonce = aes_gcm::Nonce::<aes_gcm::aead::consts::U12>::from(nonce_bytes);
    let sealed = cipher(key)
        .encrypt(
            &nonce,
            Payload {
                msg: plain,
                aad: payment.as_bytes(),
            },
        )
        .expect("AES-GCM seals any message");
    let mut bytes = nonce_bytes.to_vec();
    bytes.extend_from_slice(&sealed);
    format!("{SEALED_PREFIX}{}", STANDARD_NO_PAD.encode(bytes))
}

/// The plain bytes of a sealed text, `None` when the key is gone.
fn open_bytes(
    key: Option<&DataKey>,
    payment: PaymentId,
    text: &str,
) -> Result<Option<Vec<u8>>, AppError> {
    let Some(key) = key else { return Ok(None) };
    let encoded = text.strip_prefix(SEALED_PREFIX).unwrap_or(text);
    let bytes = STANDARD_NO_PAD
        .decode(encoded)
        .map_err(|e| corrupt_with("sealed field", &e))?;
    if bytes.len() < 12 {
        return Err(corrupt_with("sealed field", &"shorter than its nonce"));
    }
    let (nonce_bytes, sealed) = bytes.split_at(12);
    let nonce_array: [u8; 12] = nonce_bytes.try_into().expect("12 bytes");
    let nonce = aes_gcm::Nonce::<aes_gcm::aead::consts::U12>::from(nonce_array);
    cipher(key)
        .decrypt(
            &nonce,
            Payload {
                msg: sealed,
                aad: payment.as_bytes(),
            },
        )
        .map(Some)
        .map_err(|_| corrupt_with("sealed field", &"does not open with its payment's key"))
}

/// Seals the personal fields of `event` with `key`.
pub fn seal_event(event: &mut Event, key: &DataKey, payment: PaymentId) -> Result<(), AppError> {
    personal_fields(
        event,
        &mut |text| {
            *text = seal_bytes(key, payment, text.as_bytes());
            Ok(())
        },
        &mut |interaction| {
            let plain = payledger_codec::encode_interaction_row(interaction);
            let sealed = seal_bytes(key, payment, &plain);
            interaction.fields =
                BTreeMap::from([(SEALED_FIELD.to_owned(), FieldValue::String(sealed))]);
            Ok(())
        },
    )
}

/// Opens the sealed personal fields of `event` (`key`: `None` once erased).
pub fn open_event(
    event: &mut Event,
    key: Option<&DataKey>,
    payment: PaymentId,
) -> Result<(), AppError> {
    personal_fields(
        event,
        &mut |text| {
            if text.starts_with(SEALED_PREFIX) {
                *text = match open_bytes(key, payment, text)? {
                    Some(plain) => {
                        String::from_utf8(plain).map_err(|e| corrupt_with("sealed field", &e))?
                    }
                    None => ERASED.to_owned(),
                };
            }
            Ok(())
        },
        &mut |interaction| {
            let sealed = match interaction.fields.get(SEALED_FIELD) {
                Some(FieldValue::String(text))
                    if interaction.fields.len() == 1 && text.starts_with(SEALED_PREFIX) =>
                {
                    text.clone()
                }
                _ => return Ok(()),
            };
            match open_bytes(key, payment, &sealed)? {
                Some(plain) => {
                    *interaction = payledger_codec::decode_interaction_row(&plain)
                        .map_err(|e| corrupt_with("sealed interaction", &e))?;
                }
                None => {
                    interaction.fields =
                        BTreeMap::from([(ERASED.to_owned(), FieldValue::Bool(true))]);
                }
            }
            Ok(())
        },
    )
}

/// An event store whose payment events hold their personal data sealed.
#[derive(Debug)]
pub struct SealedStore<S: ?Sized> {
    master: MasterKey,
    inner: Arc<S>,
}

impl<S: EventStore + ?Sized> SealedStore<S> {
    pub fn new(inner: Arc<S>, master: MasterKey) -> Self {
        Self { master, inner }
    }

    /// The data key of `payment`, if it has one (none yet, or erased).
    fn data_key(&self, payment: PaymentId) -> Result<Option<DataKey>, StoreError> {
        match self.inner.get(Table::DataKeys, payment.as_bytes())? {
            None => Ok(None),
            Some(wrapped) => self
                .master
                .unwrap(&wrapped, payment)
                .map(Some)
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "the data key of payment {payment} does not open with this master key"
                    ))
                }),
        }
    }

    /// Opens the sealed fields of events read from the store underneath.
    pub fn open_events(&self, events: &mut [EventEnvelope]) -> Result<(), StoreError> {
        let mut keys: BTreeMap<PaymentId, Option<DataKey>> = BTreeMap::new();
        for envelope in events {
            let Some(payment) = envelope.stream.payment_id() else {
                continue;
            };
            if !is_sealed(&envelope.event) {
                continue;
            }
            let key = match keys.get(&payment) {
                Some(key) => *key,
                None => {
                    let key = self.data_key(payment)?;
                    keys.insert(payment, key);
                    key
                }
            };
            open_event(&mut envelope.event, key.as_ref(), payment).map_err(store_error)?;
        }
        Ok(())
    }

    /// Seals an append's personal data, making the payment's data key
    /// when it has none yet; an erasing deletion deletes the key.
    fn seal(&self, request: &mut AppendRequest) -> Result<(), StoreError> {
        let Some(payment) = request.stream.payment_id() else {
            return Ok(());
        };
        let erases = request
            .events
            .iter()
            .any(|e| matches!(e.event, Event::Deleted { data_erasure: true }));
        if request.events.iter().any(|e| has_personal_data(&e.event)) {
            let key = match self.data_key(payment)? {
                Some(key) => key,
                None => {
                    let key: DataKey = rand::random();
                    request.inline.push(KvWrite {
                        table: Table::DataKeys,
                        key: payment.as_bytes().to_vec(),
                        value: Some(self.master.wrap(&key, payment)),
                    });
                    key
                }
            };
            for event in &mut request.events {
                seal_event(&mut event.event, &key, payment).map_err(store_error)?;
            }
        }
        if erases {
            request.inline.push(KvWrite {
                table: Table::DataKeys,
                key: payment.as_bytes().to_vec(),
                value: None,
            });
        }
        Ok(())
    }
}

/// Whether `event` holds a sealed field, without copying it.
fn is_sealed(event: &Event) -> bool {
    let text = |value: &Option<String>| {
        value
            .as_deref()
            .is_some_and(|v| v.starts_with(SEALED_PREFIX))
    };
    let interaction = |fields: &CustomFields| fields.fields.contains_key(SEALED_FIELD);
    match event {
        Event::Created(draft) => {
            text(&draft.customer_id)
                || text(&draft.anonymous_id)
                || text(&draft.payment_method_info.token)
                || draft.interface_interactions.iter().any(interaction)
        }
        Event::CustomerSet(value)
        | Event::AnonymousIdSet(value)
        | Event::MethodInfoTokenSet(value) => text(value),
        Event::MethodInfoSet(update) => text(&update.token),
        Event::InterfaceInteractionAdded(fields) => interaction(fields),
        _ => false,
    }
}

fn store_error(error: AppError) -> StoreError {
    match error {
        AppError::Store(error) => error,
        other => StoreError::Corrupt(other.to_string()),
    }
}

impl<S: EventStore + ?Sized> EventStore for SealedStore<S> {
    fn partition_count(&self) -> u16 {
        self.inner.partition_count()
    }

    fn submit(&self, mut request: AppendRequest) -> PendingAppend {
        match self.seal(&mut request) {
            Ok(()) => self.inner.submit(request),
            Err(error) => PendingAppend::ready(Err(AppendError::Store(error))),
        }
    }

    fn log_signal(&self) -> &LogSignal {
        self.inner.log_signal()
    }

    fn read_stream(
        &self,
        stream: StreamId,
        range: VersionRange,
    ) -> Result<Vec<EventEnvelope>, StoreError> {
        let mut events = self.inner.read_stream(stream, range)?;
        self.open_events(&mut events)?;
        Ok(events)
    }

    fn read_log(
        &self,
        partition: u16,
        from_sequence: u64,
        max_events: usize,
    ) -> Result<Vec<EventEnvelope>, StoreError> {
        let mut events = self.inner.read_log(partition, from_sequence, max_events)?;
        self.open_events(&mut events)?;
        Ok(events)
    }

    fn stream_head(&self, stream: StreamId) -> Result<Option<StreamHead>, StoreError> {
        self.inner.stream_head(stream)
    }

    fn log_head(&self, partition: u16) -> Result<u64, StoreError> {
        self.inner.log_head(partition)
    }

    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.inner.get(table, key)
    }

    fn scan(
        &self,
        table: Table,
        from: &[u8],
        to: &[u8],
        max_entries: usize,
    ) -> Result<Vec<KeyValue>, StoreError> {
        self.inner.scan(table, from, to, max_entries)
    }

    fn write(&self, writes: Vec<KvWrite>) -> Result<(), StoreError> {
        self.inner.write(writes)
    }
}

#[cfg(test)]
mod tests;
