//! The seeded plan: every choice of a simulation run, drawn from one
//! ChaCha8 stream before anything runs, so a seed names one sequence of
//! actions whatever the system answers. Actions name payments by a drawn
//! number that the run maps onto the payments that exist at that step.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::fmt;

/// A card a Stripe payment pays with (localstripe's test cards).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Card {
    /// `pm_card_visa`: authorizations and charges succeed.
    Visa,
    /// `4000000000000341`: declined at confirmation.
    Declined,
    /// `4000002500003155`: 3-D Secure, Pending until the shopper answers.
    ThreeDSecure,
}

/// The first transaction of a Stripe payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FirstTransaction {
    Authorization,
    Charge,
}

/// What a new payment is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NewPayment {
    /// A payment no PSP executes (`paymentInterface` `sim-manual`); only
    /// the simulation changes it, so its model is exact.
    Manual,
    Stripe(Card, FirstTransaction),
}

/// An update of a manual payment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ManualChange {
    AddCharge,
    /// Moves the latest unfinished transaction to `Success` or `Failure`.
    Settle {
        success: bool,
    },
    SetInterfaceCode,
}

/// An update of a Stripe payment (the executor carries it out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StripeChange {
    /// A Charge: a capture after an Authorization.
    Capture,
    Refund,
    SetInterfaceCode,
}

/// A webhook delivery that is not what Stripe sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebhookFault {
    /// Signed with a secret payledger does not know.
    Forged,
    /// Signed, but the body is not the signed one.
    Tampered,
    /// A genuine event delivered twice.
    Duplicated,
    /// The current status, then an older one.
    Reordered,
}

/// A fault of the Kafka broker (librdkafka's mock cluster).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrokerFault {
    Down,
    Up,
    /// The broker drops the connection on the next `n` Produce requests.
    ProduceErrors(usize),
}

/// One step of a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Action {
    Create {
        payment: NewPayment,
        idempotent: bool,
    },
    UpdateManual {
        pick: u32,
        change: ManualChange,
        idempotent: bool,
    },
    UpdateStripe {
        pick: u32,
        change: StripeChange,
        idempotent: bool,
    },
    /// Sends an earlier request with an `Idempotency-Key` again.
    RepeatIdempotent {
        pick: u32,
    },
    /// `writers` updates of one manual payment at the same version.
    Conflict {
        pick: u32,
        writers: usize,
    },
    /// The shopper finishes (or fails) 3-D Secure at localstripe.
    Authenticate {
        pick: u32,
        success: bool,
    },
    Refresh {
        pick: u32,
    },
    Webhook {
        pick: u32,
        fault: WebhookFault,
    },
    Broker(BrokerFault),
    /// `kill -9` of the server, after `acks` acknowledged updates of
    /// concurrent writers when `acks` is given, then a restart on the same
    /// data directory.
    Crash {
        acks: Option<usize>,
    },
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The actions of a run of `steps` steps from `seed`. The first two
/// create a manual and a Stripe payment, so every run has both to work on.
pub fn plan(seed: u64, steps: usize) -> Vec<Action> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut actions = vec![
        Action::Create {
            payment: NewPayment::Manual,
            idempotent: rng.random_bool(0.5),
        },
        Action::Create {
            payment: NewPayment::Stripe(Card::Visa, FirstTransaction::Authorization),
            idempotent: rng.random_bool(0.5),
        },
    ];
    while actions.len() < steps {
        actions.push(draw(&mut rng));
    }
    actions.truncate(steps);
    actions
}

fn draw(rng: &mut ChaCha8Rng) -> Action {
    let pick = rng.random::<u32>();
    let idempotent = rng.random_bool(0.4);
    match rng.random_range(0..100) {
        0..12 => Action::Create {
            payment: new_payment(rng),
            idempotent,
        },
        12..30 => Action::UpdateManual {
            pick,
            change: match rng.random_range(0..3) {
                0 => ManualChange::AddCharge,
                1 => ManualChange::Settle {
                    success: rng.random_bool(0.7),
                },
                _ => ManualChange::SetInterfaceCode,
            },
            idempotent,
        },
        30..44 => Action::UpdateStripe {
            pick,
            change: match rng.random_range(0..3) {
                0 => StripeChange::Capture,
                1 => StripeChange::Refund,
                _ => StripeChange::SetInterfaceCode,
            },
            idempotent,
        },
        44..52 => Action::RepeatIdempotent { pick },
        52..59 => Action::Conflict {
            pick,
            writers: rng.random_range(2..=4),
        },
        59..64 => Action::Authenticate {
            pick,
            success: rng.random_bool(0.6),
        },
        64..67 => Action::Refresh { pick },
        67..79 => Action::Webhook {
            pick,
            fault: match rng.random_range(0..4) {
                0 => WebhookFault::Forged,
                1 => WebhookFault::Tampered,
                2 => WebhookFault::Duplicated,
                _ => WebhookFault::Reordered,
            },
        },
        79..89 => Action::Broker(match rng.random_range(0..3) {
            0 => BrokerFault::Down,
            1 => BrokerFault::Up,
            _ => BrokerFault::ProduceErrors(rng.random_range(1..=6)),
        }),
        _ => Action::Crash {
            acks: rng.random_bool(0.6).then(|| rng.random_range(1..=30)),
        },
    }
}

fn new_payment(rng: &mut ChaCha8Rng) -> NewPayment {
    if rng.random_bool(0.4) {
        return NewPayment::Manual;
    }
    let card = match rng.random_range(0..10) {
        0..6 => Card::Visa,
        6..8 => Card::Declined,
        _ => Card::ThreeDSecure,
    };
    let first = match rng.random_bool(0.6) {
        true => FirstTransaction::Authorization,
        false => FirstTransaction::Charge,
    };
    NewPayment::Stripe(card, first)
}

#[test]
fn a_seed_names_one_sequence_of_actions() {
    assert_eq!(plan(7, 60), plan(7, 60));
    assert_ne!(plan(7, 60), plan(8, 60));
    // A longer run of a seed begins with the shorter one.
    assert_eq!(plan(7, 60)[..30], plan(7, 30)[..]);
}
