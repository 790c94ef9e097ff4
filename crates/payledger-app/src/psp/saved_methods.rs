//! Cards saved at a PSP for a payment ([`Table::SavedMethods`], keyed by
//! project · payment id).
//!
//! A row is written in the same batch as the event that records what the
//! card did: when a shopper pays on the hosted page (the card is saved on a
//! new PSP customer), and when a collect charges a saved card again
//! (`off_session`: the executor then charges without the customer). The
//! row holds references only (PSP customer and payment method ids, brand
//! and last four digits), never card data.
//!
//! Stored as JSON (`{"psp","customer","paymentMethod","brand","last4",
//! "reusable","threeDSecure","offSession"}`, golden file
//! `saved_method_v1.txt`); unknown fields are ignored so later versions may
//! add some.

use crate::table_keys;
use payledger_domain::{PaymentId, ProjectKey};
use payledger_psp::SavedCard;
use payledger_store::{EventStore, KvWrite, StoreError, Table};
use serde::{Deserialize, Serialize};

/// A card saved at a PSP, as one payment used it.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SavedMethod {
    /// The payment interface (`stripe`).
    pub psp: String,
    /// The PSP customer the card is saved on (`cus_…`).
    pub customer: String,
    /// The PSP's payment method (`card_…`).
    pub payment_method: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub brand: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last4: Option<String>,
    /// The shopper agreed to merchant-initiated charges of this card (a
    /// mandate): a collect may charge it without them.
    pub reusable: bool,
    /// The shopper authenticated the payment with 3-D Secure.
    #[serde(default)]
    pub three_d_secure: bool,
    /// This payment charges the card without the shopper (a collect).
    #[serde(default)]
    pub off_session: bool,
}

impl SavedMethod {
    /// The row of a card just saved for a payment the shopper makes.
    pub fn saved(psp: &str, card: &SavedCard, reusable: bool) -> Self {
        Self {
            psp: psp.to_owned(),
            customer: card.customer.clone(),
            payment_method: card.id.clone(),
            brand: card.brand.clone(),
            last4: card.last4.clone(),
            reusable,
            three_d_secure: false,
            off_session: false,
        }
    }

    /// The card as the PSP names it.
    pub fn card(&self) -> SavedCard {
        SavedCard {
            id: self.payment_method.clone(),
            customer: self.customer.clone(),
            brand: self.brand.clone(),
            last4: self.last4.clone(),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_else(|_| unreachable!("the row serializes"))
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, StoreError> {
        serde_json::from_slice(bytes)
            .map_err(|e| StoreError::Corrupt(format!("saved method row: {e}")))
    }

    /// The write that stores this row for `payment`.
    pub fn write(&self, project: &ProjectKey, payment: PaymentId) -> KvWrite {
        KvWrite {
            table: Table::SavedMethods,
            key: table_keys::payment_order_key(project, payment),
            value: Some(self.encode()),
        }
    }
}

/// The saved method `payment` used, if any.
pub fn read(
    store: &(impl EventStore + ?Sized),
    project: &ProjectKey,
    payment: PaymentId,
) -> Result<Option<SavedMethod>, StoreError> {
    store
        .get(
            Table::SavedMethods,
            &table_keys::payment_order_key(project, payment),
        )?
        .map(|bytes| SavedMethod::decode(&bytes))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SavedMethod {
        SavedMethod {
            psp: "stripe".into(),
            customer: "cus_1".into(),
            payment_method: "card_1".into(),
            brand: Some("visa".into()),
            last4: Some("4242".into()),
            reusable: true,
            three_d_secure: true,
            off_session: false,
        }
    }

    #[test]
    fn the_stored_row_keeps_loading() {
        let minimal = SavedMethod {
            brand: None,
            last4: None,
            reusable: false,
            three_d_secure: false,
            ..sample()
        };
        let stored = crate::golden::check(
            "saved_method_v1.txt",
            &[("full", sample().encode()), ("minimal", minimal.encode())],
        );
        assert_eq!(SavedMethod::decode(&stored["full"]).unwrap(), sample());
        assert_eq!(SavedMethod::decode(&stored["minimal"]).unwrap(), minimal);
    }

    #[test]
    fn unreadable_rows_are_named_corrupt() {
        assert!(matches!(
            SavedMethod::decode(b"{\"psp\":1}"),
            Err(StoreError::Corrupt(_))
        ));
    }
}
