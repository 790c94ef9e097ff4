//! What the simulation knows independently of the system — every
//! acknowledged effect, every amount it ever sent, the webhook events it
//! forged or repeated — and the invariants it checks against the real
//! system after every step.
//!
//! Every transaction the simulation adds has an amount no other request
//! of the run uses, so a transaction is recognised by its amount: a
//! request applied twice (a repeated idempotent request, a retry after a
//! crash) shows as two transactions with one amount.

use super::world::{Localstripe, World};
use anyhow::{Context, Result, bail, ensure};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// Whether a payment is executed at Stripe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Manual,
    Stripe,
}

/// A payment whose creation was acknowledged.
#[derive(Clone, Debug)]
pub struct Known {
    pub id: String,
    pub kind: Kind,
    /// The highest version an acknowledged request answered with.
    pub acked_version: u64,
    /// Amounts of acknowledged transactions.
    pub acked_amounts: BTreeSet<i64>,
    /// Amount → the state an acknowledged change set (manual payments).
    pub acked_states: BTreeMap<i64, String>,
}

/// A request sent with an `Idempotency-Key`, kept to be sent again.
#[derive(Clone, Debug)]
pub struct Keyed {
    pub path: String,
    pub body: Value,
    pub key: String,
    /// The first answer (status, body), if one arrived.
    pub first: Option<(u16, Value)>,
}

/// Amount ranges by purpose: a capture stays below any authorization and a
/// refund below any capture, so the executor's limits never refuse them by
/// accident of numbering.
pub const MANUAL_AMOUNT_BASE: i64 = 100_000;
pub const AUTHORIZATION_AMOUNT_BASE: i64 = 50_000;
pub const CAPTURE_AMOUNT_BASE: i64 = 20_000;
pub const REFUND_AMOUNT_BASE: i64 = 1_000;
/// The page size of a Messages query (`limit` ≤ 500); a run stays below it.
const MESSAGES_PAGE_MAX: usize = 500;
/// Amounts one run may take per range.
pub const AMOUNTS_PER_RANGE_MAX: i64 = 10_000;

#[derive(Debug, Default)]
pub struct Model {
    pub payments: Vec<Known>,
    /// Every amount ever sent, answered or not.
    pub sent: BTreeSet<i64>,
    next_amount: i64,
    pub keyed: Vec<Keyed>,
    /// Event ids of webhooks that must never be recorded.
    pub refused_events: BTreeSet<String>,
    /// Event ids delivered more than once.
    pub repeated_events: BTreeSet<String>,
    /// Payment → the last version seen (versions never go back).
    versions: HashMap<String, u64>,
    /// Transaction id → its state once `Success` or `Failure` (final).
    finished: HashMap<String, String>,
    /// Steps whose checks ran.
    pub checks: usize,
}

impl Model {
    /// A fresh amount in the range starting at `base`.
    pub fn amount(&mut self, base: i64) -> Result<i64> {
        self.next_amount += 1;
        ensure!(
            self.next_amount < AMOUNTS_PER_RANGE_MAX,
            "the run used up its amounts"
        );
        let amount = base + self.next_amount;
        self.sent.insert(amount);
        Ok(amount)
    }

    pub fn known(&self, kind: Kind) -> Vec<&Known> {
        self.payments.iter().filter(|p| p.kind == kind).collect()
    }

    pub fn find_mut(&mut self, id: &str) -> Option<&mut Known> {
        self.payments.iter_mut().find(|p| p.id == id)
    }

    /// Records an acknowledged answer (a Payment) of a request on `id`.
    pub fn ack(&mut self, id: &str, kind: Kind, body: &Value, amounts: &[i64]) -> Result<()> {
        let version = body["version"].as_u64().context("answer version")?;
        if self.find_mut(id).is_none() {
            self.payments.push(Known {
                id: id.to_owned(),
                kind,
                acked_version: 0,
                acked_amounts: BTreeSet::new(),
                acked_states: BTreeMap::new(),
            });
        }
        let known = self.find_mut(id).context("known payment")?;
        known.acked_version = known.acked_version.max(version);
        known.acked_amounts.extend(amounts);
        Ok(())
    }

    /// Every invariant that holds at any moment, checked on the running
    /// system.
    pub fn check(&mut self, world: &World) -> Result<()> {
        world.alive()?;
        let mut amounts: HashMap<i64, usize> = HashMap::new();
        for known in self.payments.clone() {
            let view = self.check_payment(world, &known)?;
            for txn in transactions(&view).iter().filter(|t| t.sent_by_us()) {
                *amounts.entry(txn.amount).or_default() += 1;
            }
        }
        for (amount, count) in amounts {
            ensure!(
                count == 1,
                "a transaction of amount {amount} exists {count} times: a request was applied twice"
            );
        }
        check_psp_once(&world.stripe)?;
        let checked = world.payledger(&["replay", "--check"]);
        checked.context("views equal replay (payledger replay --check)")?;
        self.checks += 1;
        Ok(())
    }

    fn check_payment(&mut self, world: &World, known: &Known) -> Result<Value> {
        let reply = world.http.get(&format!("/payments/{}", known.id))?;
        ensure!(
            reply.status == 200,
            "acknowledged payment {} answers {}: {}",
            known.id,
            reply.status,
            reply.body
        );
        let view = reply.body;
        let version = view["version"].as_u64().context("version")?;
        ensure!(
            version >= known.acked_version,
            "payment {}: version {version}, but version {} was acknowledged",
            known.id,
            known.acked_version
        );
        let seen = self.versions.entry(known.id.clone()).or_insert(0);
        ensure!(
            version >= *seen,
            "payment {}: version {version} after {seen}",
            known.id
        );
        *seen = version;
        let txns = transactions(&view);
        for txn in &txns {
            ensure!(
                !txn.sent_by_us() || self.sent.contains(&txn.amount),
                "payment {}: a transaction of amount {} nobody sent",
                known.id,
                txn.amount
            );
            if let Some(before) = self.finished.get(&txn.id) {
                ensure!(
                    *before == txn.state,
                    "payment {}: transaction {} moved from {before} to {}",
                    known.id,
                    txn.id,
                    txn.state
                );
            } else if txn.state == "Success" || txn.state == "Failure" {
                self.finished.insert(txn.id.clone(), txn.state.clone());
            }
        }
        for amount in &known.acked_amounts {
            ensure!(
                txns.iter().any(|t| t.amount == *amount),
                "payment {}: the acknowledged transaction of amount {amount} is lost",
                known.id
            );
        }
        for (amount, state) in &known.acked_states {
            let txn = txns.iter().find(|t| t.amount == *amount);
            ensure!(
                txn.is_some_and(|t| t.state == *state),
                "payment {}: the acknowledged state {state} of the transaction of amount {amount} is lost",
                known.id
            );
        }
        self.check_events(known, &view)?;
        check_contiguous(world, &known.id, version)?;
        Ok(view)
    }

    /// Refused webhooks recorded nothing; a repeated one is recorded once.
    fn check_events(&self, known: &Known, view: &Value) -> Result<()> {
        let mut recorded: HashMap<&str, usize> = HashMap::new();
        for interaction in view["interfaceInteractions"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(event) = interaction["fields"]["eventId"].as_str() {
                *recorded.entry(event).or_default() += 1;
            }
        }
        for (event, count) in recorded {
            ensure!(
                !self.refused_events.contains(event),
                "payment {}: the refused webhook {event} was recorded",
                known.id
            );
            ensure!(
                count == 1 || !self.repeated_events.contains(event),
                "payment {}: webhook {event} recorded {count} times",
                known.id
            );
        }
        Ok(())
    }
}

/// A transaction of a view.
#[derive(Clone, Debug)]
pub struct Txn {
    pub id: String,
    pub kind: String,
    pub amount: i64,
    pub state: String,
    pub interface_id: Option<String>,
}

impl Txn {
    /// Of a type the simulation adds (payledger may add others itself,
    /// such as a CancelAuthorization it learns of from the PSP).
    pub fn sent_by_us(&self) -> bool {
        matches!(self.kind.as_str(), "Authorization" | "Charge" | "Refund")
    }
}

pub fn transactions(view: &Value) -> Vec<Txn> {
    view["transactions"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|t| Txn {
            id: t["id"].as_str().unwrap_or_default().to_owned(),
            kind: t["type"].as_str().unwrap_or_default().to_owned(),
            amount: t["amount"]["centAmount"].as_i64().unwrap_or_default(),
            state: t["state"].as_str().unwrap_or_default().to_owned(),
            interface_id: t["interfaceId"].as_str().map(str::to_owned),
        })
        .collect()
}

/// The Messages of a payment are versions 1, 2, … with none missing, at
/// least up to `version`; returns their ids in version order.
pub fn check_contiguous(world: &World, id: &str, version: u64) -> Result<Vec<String>> {
    let predicate = format!("resource(id = \"{id}\")");
    let reply = world.http.get_query(
        "/messages",
        &[
            ("where", predicate.as_str()),
            ("limit", "500"),
            ("withTotal", "true"),
        ],
    )?;
    ensure!(reply.status == 200, "messages of {id}: {}", reply.body);
    let mut messages: Vec<(u64, String)> = reply.body["results"]
        .as_array()
        .context("results")?
        .iter()
        .map(|m| {
            let number = m["sequenceNumber"].as_u64().unwrap_or_default();
            (number, m["id"].as_str().unwrap_or_default().to_owned())
        })
        .collect();
    let total = reply.body["total"].as_u64();
    ensure!(
        messages.len() < MESSAGES_PAGE_MAX && total.is_none_or(|t| t == messages.len() as u64),
        "messages of {id}: more than one page ({total:?})"
    );
    messages.sort();
    let numbers: Vec<u64> = messages.iter().map(|(n, _)| *n).collect();
    ensure!(
        numbers == (1..=numbers.len() as u64).collect::<Vec<_>>(),
        "payment {id}: Message sequence numbers {numbers:?} are not contiguous from 1"
    );
    ensure!(
        numbers.len() as u64 >= version,
        "payment {id}: version {version} but {} Messages",
        numbers.len()
    );
    Ok(messages.into_iter().map(|(_, id)| id).collect())
}

/// Never two PSP objects for one transaction: at most one PaymentIntent and
/// one Refund per `payledger_transaction_id` at localstripe.
pub fn check_psp_once(stripe: &Localstripe) -> Result<()> {
    for path in ["/v1/payment_intents", "/v1/refunds"] {
        let mut per_transaction: HashMap<String, Vec<String>> = HashMap::new();
        for object in stripe.list(path)? {
            if let Some(txn) = object["metadata"]["payledger_transaction_id"].as_str() {
                per_transaction
                    .entry(txn.to_owned())
                    .or_default()
                    .push(object["id"].as_str().unwrap_or_default().to_owned());
            }
        }
        if let Some((txn, objects)) = per_transaction.iter().find(|(_, o)| o.len() > 1) {
            bail!(
                "transaction {txn} has {} objects at {path}: {objects:?}",
                objects.len()
            );
        }
    }
    Ok(())
}
