//! The payment text cache answers exactly what a fresh rendering would,
//! sends a kept text again only at its version, and stays within its
//! budget.

use super::*;
use payledger_app::payments::Committed;
use payledger_domain::strategies;
use proptest::prelude::*;
use proptest::strategy::ValueTree;

/// What a command that wrote `payment` left.
fn committed(payment: &Arc<Payment>) -> Committed {
    Committed {
        payment: Arc::clone(payment),
        replayed: false,
    }
}

/// A payment of the strategy's making, and a transaction.
fn template() -> (Payment, payledger_domain::payment::Transaction) {
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    let payment = strategies::payment()
        .new_tree(&mut runner)
        .expect("a payment")
        .current();
    let transaction = strategies::transaction()
        .new_tree(&mut runner)
        .expect("a transaction")
        .current();
    (payment, transaction)
}

/// `payment` at `version`, with `transactions` copies of `transaction`.
fn version_of(
    (payment, transaction): &(Payment, payledger_domain::payment::Transaction),
    version: u64,
    transactions: usize,
) -> Arc<Payment> {
    let mut later = payment.clone();
    later.version = version;
    later.transactions = (0..transactions)
        .map(|_| Arc::new(transaction.clone()))
        .collect();
    Arc::new(later)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    /// Versions written one after another, each changing, adding or
    /// removing transactions, and reads of any of them: every answer is
    /// the fresh rendering of its payment.
    #[test]
    fn every_answer_is_the_fresh_rendering(
        versions in proptest::collection::vec(strategies::payment(), 1..6),
        reads in proptest::collection::vec(any::<proptest::sample::Index>(), 0..6),
    ) {
        let texts = PaymentTexts::default();
        let id = versions[0].id;
        let versions: Vec<Arc<Payment>> = versions
            .into_iter()
            .enumerate()
            .map(|(index, mut payment)| {
                payment.id = id;
                payment.version = index as u64 + 1;
                Arc::new(payment)
            })
            .collect();
        for payment in &versions {
            prop_assert_eq!(&texts.written(&committed(payment))[..], &payment_json_bytes(payment)[..]);
        }
        for read in reads {
            let payment = &versions[read.index(versions.len())];
            prop_assert_eq!(&texts.read(payment)[..], &payment_json_bytes(payment)[..]);
        }
    }
}

#[test]
fn a_read_at_the_kept_version_sends_the_kept_text_and_others_a_fresh_one() {
    let payment = template();
    let texts = PaymentTexts::default();
    let third = version_of(&payment, 3, 4);
    let written = texts.written(&committed(&third));
    let read = texts.read(&third);
    assert_eq!(read.as_ptr(), written.as_ptr(), "the kept text, not a copy");
    let second = version_of(&payment, 2, 3);
    let earlier = texts.read(&second);
    assert_ne!(earlier.as_ptr(), written.as_ptr());
    assert_eq!(&earlier[..], &payment_json_bytes(&second)[..]);
    // An answer of an older version, late, does not replace the newer.
    texts.written(&committed(&second));
    assert_eq!(texts.read(&third).as_ptr(), written.as_ptr());
}

#[test]
fn the_texts_kept_stay_within_the_budget() {
    let template = template();
    let texts = PaymentTexts::default();
    let share = PAYMENT_TEXT_CACHE_BYTES_MAX / PAYMENT_TEXT_CACHE_SHARDS;
    // Enough payments of ~100 transactions to fill every shard twice over.
    let one = version_of(&template, 1, 100);
    let per_payment = 2 * payment_json_bytes(&one).len();
    let payments = 2 * PAYMENT_TEXT_CACHE_BYTES_MAX / per_payment + 1;
    for n in 0..payments {
        let mut payment = (*one).clone();
        payment.id = PaymentId::from_bytes(*uuid::Uuid::from_u128(n as u128).as_bytes());
        texts.written(&committed(&Arc::new(payment)));
    }
    let kept = texts.0.cost();
    assert!(
        kept <= PAYMENT_TEXT_CACHE_BYTES_MAX,
        "{kept} bytes kept, budget {PAYMENT_TEXT_CACHE_BYTES_MAX}"
    );
    assert!(
        kept > PAYMENT_TEXT_CACHE_BYTES_MAX / 2,
        "the cache is used: {kept} bytes"
    );

    // A payment bigger than a shard's share is answered but not kept.
    let huge = version_of(&template, 1, share / 200);
    let text = texts.written(&committed(&huge));
    assert_eq!(&text[..], &payment_json_bytes(&huge)[..]);
    assert!(texts.0.get(huge.id).is_none());
}

#[test]
fn deletions_and_replays_are_answered_afresh_and_a_deletion_forgets_the_payment() {
    let payment = template();
    let texts = PaymentTexts::default();
    let second = version_of(&payment, 2, 3);
    let kept = texts.written(&committed(&second));

    let replayed = texts.written(&Committed {
        payment: version_of(&payment, 2, 3),
        replayed: true,
    });
    assert_eq!(&replayed[..], &kept[..]);
    assert_ne!(
        replayed.as_ptr(),
        kept.as_ptr(),
        "a replay is written afresh"
    );

    let mut deleted = (*version_of(&payment, 3, 3)).clone();
    deleted.deleted = true;
    let deleted = Arc::new(deleted);
    let answer = texts.written(&committed(&deleted));
    assert_eq!(&answer[..], &payment_json_bytes(&deleted)[..]);
    assert!(
        texts.0.get(payment.0.id).is_none(),
        "the deletion forgot the payment"
    );
    assert_ne!(texts.read(&second).as_ptr(), kept.as_ptr());
}

#[test]
fn a_read_of_the_current_view_keeps_its_text_for_the_next() {
    let payment = template();
    let texts = PaymentTexts::default();
    let second = version_of(&payment, 2, 3);
    let first_read = texts.current(&second);
    assert_eq!(&first_read[..], &payment_json_bytes(&second)[..]);
    assert_eq!(
        texts.current(&second).as_ptr(),
        first_read.as_ptr(),
        "the second read sends the kept text"
    );
    assert_eq!(texts.read(&second).as_ptr(), first_read.as_ptr());
}
