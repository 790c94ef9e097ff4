//! Personal data in payment and order events, sealed per stream so that
//! erasing a payment or an order makes it unreadable although its events
//! never change (crypto-shredding).
//!
//! [`SealedStore`] wraps the event store. On the way in, the personal
//! fields of a stream's events ([`personal_fields`]: customer and
//! anonymous ids, the payment method token, interface interactions, an
//! order's customer id and e-mail) are replaced by AES-256-GCM ciphertext
//! under the stream's own data key, made when the stream first carries
//! personal data and kept in [`Table::DataKeys`] wrapped by the master key
//! ([`MasterKey`]). On the way out they are opened again, so every reader
//! above (views, Messages, history, as-of reads, replay, export) sees the
//! plain values. A deletion with `dataErasure=true` deletes the data key
//! in the same atomic write as the deletion event: from then on those
//! fields read as [`ERASED`], while the stored bytes, their hashes and
//! `verify` stay as they were.
//!
//! A sealed string is `SEALED_PREFIX · base64(nonce · ciphertext)`, with
//! the key's owner ([`key_owner`]) as associated data; a sealed
//! interaction keeps its Type and holds one field, `sealed`, with its
//! fields sealed the same way.

pub mod master;

use aes_gcm::Aes256Gcm;
use aes_gcm::aead::{Aead, KeyInit, Payload};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
pub use master::MasterKey;
use payledger_domain::payment::{CustomFields, FieldValue};
use payledger_domain::{Event, EventEnvelope, OrderEvent, StreamId, StreamKind};
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
/// Bytes of an AES-GCM nonce, stored in front of what it sealed.
const NONCE_BYTES: usize = 12;

/// A stream's data key.
type DataKey = [u8; 32];

/// What a stream's data key belongs to: its row in [`Table::DataKeys`] and
/// the associated data of everything sealed under it. A payment's is its
/// id (16 bytes); an order's is its id followed by 1.
pub fn key_owner(stream: StreamId) -> Vec<u8> {
    let mut owner = stream.id.as_bytes().to_vec();
    match stream.kind {
        StreamKind::Payment => {}
        StreamKind::Order => owner.push(1),
    }
    owner
}

/// `plain` sealed with AES-256-GCM under `key`, bound to `aad`: a random
/// nonce, then the ciphertext and its tag (data keys and fields alike).
fn aead_seal(key: &[u8; 32], aad: &[u8], plain: &[u8]) -> Vec<u8> {
    let nonce_bytes: [u8; NONCE_BYTES] = rand::random();
    let nonce = aes_gcm::Nonce::<aes_gcm::aead::consts::U12>::from(nonce_bytes);
    let cipher = Aes256Gcm::new_from_slice(key).expect("a 32-byte key");
    let sealed = cipher
        .encrypt(&nonce, Payload { msg: plain, aad })
        .expect("AES-GCM seals any message");
    let mut bytes = nonce_bytes.to_vec();
    bytes.extend_from_slice(&sealed);
    bytes
}

/// What [`aead_seal`] sealed, `None` when it does not open with `key` and
/// `aad`.
fn aead_open(key: &[u8; 32], aad: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
    let (nonce_bytes, sealed) = sealed.split_at_checked(NONCE_BYTES)?;
    let nonce_bytes: [u8; NONCE_BYTES] = nonce_bytes.try_into().ok()?;
    let nonce = aes_gcm::Nonce::<aes_gcm::aead::consts::U12>::from(nonce_bytes);
    let cipher = Aes256Gcm::new_from_slice(key).expect("a 32-byte key");
    cipher.decrypt(&nonce, Payload { msg: sealed, aad }).ok()
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("sealed field: {what}"))
}

/// A personal field of an event.
#[derive(Debug)]
pub enum PersonalField<'a> {
    Text(&'a mut String),
    Interaction(&'a mut CustomFields),
}

/// Visits the personal fields of an event: customer and anonymous ids,
/// the payment method token, interface interactions; an order's customer
/// id and e-mail (also in the notifications it asks for).
pub fn personal_fields(
    event: &mut Event,
    visit: &mut dyn FnMut(PersonalField<'_>) -> Result<(), StoreError>,
) -> Result<(), StoreError> {
    let mut text = |value: &mut Option<String>| match value {
        Some(value) => visit(PersonalField::Text(value)),
        None => Ok(()),
    };
    match event {
        Event::Created(draft) => {
            text(&mut draft.customer_id)?;
            text(&mut draft.anonymous_id)?;
            text(&mut draft.payment_method_info.token)?;
            for interaction in &mut draft.interface_interactions {
                visit(PersonalField::Interaction(interaction))?;
            }
        }
        Event::CustomerSet(value)
        | Event::AnonymousIdSet(value)
        | Event::MethodInfoTokenSet(value) => text(value)?,
        Event::MethodInfoSet(update) => text(&mut update.token)?,
        Event::InterfaceInteractionAdded(interaction) => {
            visit(PersonalField::Interaction(interaction))?;
        }
        Event::Order(OrderEvent::Created(draft)) => {
            text(&mut draft.customer_id)?;
            text(&mut draft.customer_email)?;
        }
        Event::Order(OrderEvent::CustomerEmailSet(email)) => text(email)?,
        Event::Order(OrderEvent::PaymentNotificationRequested(notification)) => {
            text(&mut notification.customer_email)?;
        }
        _ => {}
    }
    Ok(())
}

fn seal_text(key: &DataKey, owner: &[u8], plain: &[u8]) -> String {
    let sealed = aead_seal(key, owner, plain);
    format!("{SEALED_PREFIX}{}", STANDARD_NO_PAD.encode(sealed))
}

/// The plain bytes of a sealed text (`key`: `None` once erased).
fn open_text(
    key: Option<&DataKey>,
    owner: &[u8],
    text: &str,
) -> Result<Option<Vec<u8>>, StoreError> {
    let Some(key) = key else { return Ok(None) };
    let encoded = text.strip_prefix(SEALED_PREFIX).unwrap_or(text);
    let sealed = STANDARD_NO_PAD.decode(encoded).map_err(corrupt)?;
    aead_open(key, owner, &sealed)
        .map(Some)
        .ok_or_else(|| corrupt("does not open with its stream's key"))
}

/// Seals the personal fields of `event` of the stream whose key `owner`
/// names; `key` is asked for its data key only when the event has one.
pub fn seal_event(
    event: &mut Event,
    owner: &[u8],
    key: &mut dyn FnMut() -> Result<DataKey, StoreError>,
) -> Result<(), StoreError> {
    personal_fields(event, &mut |field| {
        let key = key()?;
        match field {
            PersonalField::Text(text) => *text = seal_text(&key, owner, text.as_bytes()),
            PersonalField::Interaction(interaction) => {
                let plain = payledger_codec::encode_interaction_row(interaction);
                let sealed = seal_text(&key, owner, &plain);
                interaction.fields =
                    BTreeMap::from([(SEALED_FIELD.to_owned(), FieldValue::String(sealed))]);
            }
        }
        Ok(())
    })
}

/// Opens the sealed personal fields of `event`; `key` is asked for the
/// data key of `owner` (`None` once erased) only when a field is sealed.
pub fn open_event(
    event: &mut Event,
    owner: &[u8],
    key: &mut dyn FnMut() -> Result<Option<DataKey>, StoreError>,
) -> Result<(), StoreError> {
    personal_fields(event, &mut |field| match field {
        PersonalField::Text(text) if text.starts_with(SEALED_PREFIX) => {
            *text = match open_text(key()?.as_ref(), owner, text)? {
                Some(plain) => String::from_utf8(plain).map_err(corrupt)?,
                None => ERASED.to_owned(),
            };
            Ok(())
        }
        PersonalField::Interaction(interaction) => {
            let sealed = match interaction.fields.get(SEALED_FIELD) {
                Some(FieldValue::String(text))
                    if interaction.fields.len() == 1 && text.starts_with(SEALED_PREFIX) =>
                {
                    text.clone()
                }
                _ => return Ok(()),
            };
            match open_text(key()?.as_ref(), owner, &sealed)? {
                Some(plain) => {
                    *interaction =
                        payledger_codec::decode_interaction_row(&plain).map_err(corrupt)?;
                }
                None => {
                    interaction.fields =
                        BTreeMap::from([(ERASED.to_owned(), FieldValue::Bool(true))]);
                }
            }
            Ok(())
        }
        PersonalField::Text(_) => Ok(()),
    })
}

/// An event store whose events hold their personal data sealed.
#[derive(Debug)]
pub struct SealedStore<S: ?Sized> {
    master: MasterKey,
    inner: Arc<S>,
}

impl<S: EventStore + ?Sized> SealedStore<S> {
    pub fn new(inner: Arc<S>, master: MasterKey) -> Self {
        Self { master, inner }
    }

    /// The data key of `owner` ([`key_owner`]), if it has one (none yet,
    /// or erased).
    fn data_key(&self, owner: &[u8]) -> Result<Option<DataKey>, StoreError> {
        match self.inner.get(Table::DataKeys, owner)? {
            None => Ok(None),
            Some(wrapped) => self
                .master
                .unwrap(&wrapped, owner)
                .map(Some)
                .ok_or_else(|| {
                    StoreError::Corrupt(format!(
                        "the data key {} does not open with this master key",
                        hex::encode(owner)
                    ))
                }),
        }
    }

    /// Opens the sealed fields of events read from the store underneath.
    pub fn open_events(&self, events: &mut [EventEnvelope]) -> Result<(), StoreError> {
        let mut keys: BTreeMap<Vec<u8>, Option<DataKey>> = BTreeMap::new();
        for envelope in events {
            let owner = key_owner(envelope.stream);
            open_event(&mut envelope.event, &owner, &mut || {
                if let Some(key) = keys.get(&owner) {
                    return Ok(*key);
                }
                let key = self.data_key(&owner)?;
                keys.insert(owner.clone(), key);
                Ok(key)
            })?;
        }
        Ok(())
    }

    /// Seals an append's personal data, making the stream's data key when
    /// it has none yet; an erasing deletion deletes the key.
    fn seal(&self, request: &mut AppendRequest) -> Result<(), StoreError> {
        let owner = key_owner(request.stream);
        let AppendRequest { events, inline, .. } = request;
        let mut key: Option<DataKey> = None;
        for event in events {
            seal_event(&mut event.event, &owner, &mut || {
                if let Some(key) = key {
                    return Ok(key);
                }
                let found = match self.data_key(&owner)? {
                    Some(found) => found,
                    None => {
                        let made: DataKey = rand::random();
                        inline.push(KvWrite {
                            table: Table::DataKeys,
                            key: owner.clone(),
                            value: Some(self.master.wrap(&made, &owner)),
                        });
                        made
                    }
                };
                key = Some(found);
                Ok(found)
            })?;
            if event.event.erases_data() {
                inline.push(KvWrite {
                    table: Table::DataKeys,
                    key: owner.clone(),
                    value: None,
                });
            }
        }
        Ok(())
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

    fn known_head(&self, stream: StreamId) -> Option<StreamHead> {
        self.inner.known_head(stream)
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

    fn write_progress(&self, writes: Vec<KvWrite>) -> Result<(), StoreError> {
        self.inner.write_progress(writes)
    }
}

#[cfg(test)]
mod tests;
