//! Stream identity: which aggregate an event stream belongs to.
//!
//! A stream is named by its aggregate kind and the aggregate's id, so two
//! kinds can never share a stream even if their ids collide. Payments were
//! the first kind; their stored bytes and keys predate the kind and stay as
//! they were (the kind is the stored default).

use crate::ids::{OrderId, PaymentId};
use std::fmt;
use uuid::Uuid;

/// The kinds of aggregate that own event streams.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum StreamKind {
    /// A Payment (the default of every stored format).
    Payment,
    /// An Order with its payment attempts.
    Order,
}

impl StreamKind {
    /// Every kind.
    pub const ALL: [Self; 2] = [Self::Payment, Self::Order];

    /// The commercetools `typeId` of the aggregate (`payment`, `order`),
    /// also used in logs.
    pub const fn type_id(self) -> &'static str {
        match self {
            Self::Payment => "payment",
            Self::Order => "order",
        }
    }
}

impl StreamKind {
    /// The kind whose [`StreamKind::type_id`] is `text`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|kind| kind.type_id() == text)
    }

    /// The path segment of the aggregate's resources (`payments`, `orders`).
    pub const fn resource_path(self) -> &'static str {
        match self {
            Self::Payment => "payments",
            Self::Order => "orders",
        }
    }
}

impl fmt::Display for StreamKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.type_id())
    }
}

/// Names one event stream: the aggregate's kind and id.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct StreamId {
    pub kind: StreamKind,
    pub id: Uuid,
}

impl StreamId {
    /// A stream of `kind` for the aggregate with `id`.
    pub const fn new(kind: StreamKind, id: Uuid) -> Self {
        Self { kind, id }
    }

    /// A stream of `kind` for the aggregate id with these 16 raw bytes.
    pub const fn from_bytes(kind: StreamKind, id: [u8; 16]) -> Self {
        Self::new(kind, Uuid::from_bytes(id))
    }

    /// The stream of a payment.
    pub const fn payment(id: PaymentId) -> Self {
        Self::new(StreamKind::Payment, id.uuid())
    }

    /// The stream of an order.
    pub const fn order(id: OrderId) -> Self {
        Self::new(StreamKind::Order, id.uuid())
    }

    /// Parses the `kind/uuid` form that [`StreamId`]'s `Display` writes.
    pub fn parse(text: &str) -> Option<Self> {
        let (kind, id) = text.split_once('/')?;
        Some(Self::new(
            StreamKind::parse(kind)?,
            crate::ids::canonical_uuid(id)?,
        ))
    }

    /// The payment this stream belongs to, if it is a payment's stream.
    pub const fn payment_id(&self) -> Option<PaymentId> {
        match self.kind {
            StreamKind::Payment => Some(PaymentId::from_uuid(self.id)),
            StreamKind::Order => None,
        }
    }

    /// The order this stream belongs to, if it is an order's stream.
    pub const fn order_id(&self) -> Option<OrderId> {
        match self.kind {
            StreamKind::Order => Some(OrderId::from_uuid(self.id)),
            StreamKind::Payment => None,
        }
    }

    /// The aggregate id's 16 raw bytes, as stored in keys.
    pub const fn id_bytes(&self) -> &[u8; 16] {
        self.id.as_bytes()
    }
}

impl From<PaymentId> for StreamId {
    fn from(id: PaymentId) -> Self {
        Self::payment(id)
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind, self.id.hyphenated())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_payment_stream_names_its_payment_and_an_order_stream_does_not() {
        let payment = PaymentId::from_bytes([7; 16]);
        let stream = StreamId::payment(payment);
        assert_eq!(stream.payment_id(), Some(payment));
        assert_eq!(StreamId::from(payment), stream);
        let order = StreamId::new(StreamKind::Order, payment.uuid());
        assert_eq!(order.payment_id(), None);
        assert_ne!(order, stream, "the kind is part of the identity");
        assert_eq!(
            order.to_string(),
            "order/07070707-0707-0707-0707-070707070707"
        );
    }

    #[test]
    fn stream_ids_round_trip_through_text() {
        for kind in StreamKind::ALL {
            let stream = StreamId::from_bytes(kind, [9; 16]);
            assert_eq!(StreamId::parse(&stream.to_string()), Some(stream));
            assert_eq!(StreamKind::parse(kind.type_id()), Some(kind));
        }
        assert_eq!(
            StreamId::parse("cart/07070707-0707-0707-0707-070707070707"),
            None
        );
        assert_eq!(StreamId::parse("payment/not-a-uuid"), None);
        assert_eq!(
            StreamId::parse("07070707-0707-0707-0707-070707070707"),
            None
        );
    }
}
