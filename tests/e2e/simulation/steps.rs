//! Carrying out the plan's actions on the real system and recording in the
//! model what was acknowledged. An action whose target does not exist (no
//! Stripe payment yet, no PaymentIntent to send a webhook about) does
//! nothing; the plan stays the same for the seed either way.

use super::kafka::Reader;
use super::model::{
    AUTHORIZATION_AMOUNT_BASE, CAPTURE_AMOUNT_BASE, Keyed, Kind, MANUAL_AMOUNT_BASE, Model,
    REFUND_AMOUNT_BASE, transactions,
};
use super::plan::{
    Action, BrokerFault, Card, FirstTransaction, ManualChange, NewPayment, StripeChange,
    WebhookFault,
};
use super::world::{
    Http, Reply, STRIPE_PUBLISHABLE_KEY, TOPIC, TOPIC_PARTITIONS, WEBHOOK_SECRET, World,
};
use anyhow::{Context, Result, bail, ensure};
use rdkafka::types::{RDKafkaApiKey, RDKafkaRespErr};
use serde_json::{Value, json};
use std::sync::mpsc;

mod faults;

/// Most updates one writer sends while a crash is on its way.
const CRASH_WRITER_REQUESTS_MAX: usize = 40;
/// Writers updating manual payments while the server is killed.
const CRASH_WRITERS_MAX: usize = 3;

/// One run: the system, the model and the Kafka reader.
pub struct Sim {
    pub seed: u64,
    pub step: usize,
    pub stats: Stats,
    pub reader: Reader,
    pub model: Model,
    pub world: World,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("seed", &self.seed)
            .field("step", &self.step)
            .finish_non_exhaustive()
    }
}

/// What a run did, for its summary line.
#[derive(Clone, Copy, Debug, Default)]
pub struct Stats {
    /// Actions that found nothing to act on.
    pub skipped: usize,
    pub crashes: usize,
    /// Updates acknowledged while a crash was on its way.
    pub acked_in_flight: usize,
}

fn money(cents: i64) -> Value {
    json!({"currencyCode": "EUR", "centAmount": cents})
}

fn pick<T>(items: &[T], pick: u32) -> Option<&T> {
    match items.len() {
        0 => None,
        n => items.get(pick as usize % n),
    }
}

impl Sim {
    pub fn start(seed: u64) -> Result<Self> {
        let world = World::start()?;
        let reader = Reader::assign(&world.cluster.bootstrap_servers(), TOPIC, TOPIC_PARTITIONS)?;
        Ok(Self {
            seed,
            step: 0,
            stats: Stats::default(),
            reader,
            model: Model::default(),
            world,
        })
    }

    pub fn apply(&mut self, action: Action) -> Result<()> {
        match action {
            Action::Create {
                payment,
                idempotent,
            } => self.create(payment, idempotent),
            Action::UpdateManual {
                pick,
                change,
                idempotent,
            } => self.update_manual(pick, change, idempotent),
            Action::UpdateStripe {
                pick,
                change,
                idempotent,
            } => self.update_stripe(pick, change, idempotent),
            Action::RepeatIdempotent { pick } => self.repeat(pick),
            Action::Conflict { pick, writers } => self.conflict(pick, writers),
            Action::Authenticate { pick, success } => self.authenticate(pick, success),
            Action::Refresh { pick } => self.refresh(pick),
            Action::Webhook { pick, fault } => self.webhook(pick, fault),
            Action::Broker(fault) => self.broker(fault),
            Action::Crash { acks } => self.crash(acks),
        }
    }

    fn skip(&mut self) -> Result<()> {
        self.stats.skipped += 1;
        Ok(())
    }

    /// A key no other request of the run uses.
    fn key(&self, n: usize) -> String {
        format!("sim-{}-{}-{n}", self.seed, self.step)
    }

    /// Sends a request; with `idempotent` it carries a key and is kept to
    /// be sent again.
    fn send(&mut self, path: &str, body: Value, idempotent: bool) -> Result<Reply> {
        let key = idempotent.then(|| self.key(0));
        let reply = self.world.http.post(path, &body, key.as_deref())?;
        if let Some(key) = key {
            self.model.keyed.push(Keyed {
                path: path.to_owned(),
                body,
                key,
                first: Some((reply.status, reply.body.clone())),
            });
        }
        Ok(reply)
    }

    fn create(&mut self, payment: NewPayment, idempotent: bool) -> Result<()> {
        let (kind, draft, amount) = match payment {
            NewPayment::Manual => {
                let amount = self.model.amount(MANUAL_AMOUNT_BASE)?;
                let draft = json!({
                    "key": self.key(0),
                    "amountPlanned": money(amount),
                    "paymentMethodInfo": {"paymentInterface": "sim-manual", "method": "card"},
                    "transactions": [{"type": "Charge", "amount": money(amount)}],
                });
                (Kind::Manual, draft, amount)
            }
            NewPayment::Stripe(card, first) => {
                let token = match card {
                    Card::Visa => "pm_card_visa".to_owned(),
                    Card::Declined => self.world.stripe.card("4000000000000341")?,
                    Card::ThreeDSecure => self.world.stripe.card("4000002500003155")?,
                };
                let amount = self.model.amount(AUTHORIZATION_AMOUNT_BASE)?;
                let kind = match first {
                    FirstTransaction::Authorization => "Authorization",
                    FirstTransaction::Charge => "Charge",
                };
                let draft = json!({
                    "key": self.key(0),
                    "amountPlanned": money(amount),
                    "paymentMethodInfo": {"paymentInterface": "stripe", "method": "card",
                                          "token": {"value": token}},
                    "transactions": [{"type": kind, "amount": money(amount)}],
                });
                (Kind::Stripe, draft, amount)
            }
        };
        let reply = self.send("/payments", draft, idempotent)?;
        ensure!(
            reply.status == 201,
            "create: {} {}",
            reply.status,
            reply.body
        );
        let id = reply.body["id"].as_str().context("id")?.to_owned();
        self.model.ack(&id, kind, &reply.body, &[amount])
    }

    fn update_manual(&mut self, pick_: u32, change: ManualChange, idempotent: bool) -> Result<()> {
        let Some(id) = pick(&self.model.known(Kind::Manual), pick_).map(|k| k.id.clone()) else {
            return self.skip();
        };
        let view = self.get(&id)?;
        let (action, amount, settled) = match change {
            ManualChange::AddCharge => {
                let amount = self.model.amount(MANUAL_AMOUNT_BASE)?;
                let action = json!({"action": "addTransaction",
                    "transaction": {"type": "Charge", "amount": money(amount)}});
                (action, Some(amount), None)
            }
            ManualChange::Settle { success } => {
                let open = transactions(&view)
                    .into_iter()
                    .rev()
                    .find(|t| t.state == "Initial" || t.state == "Pending");
                let Some(txn) = open else { return self.skip() };
                let state = if success { "Success" } else { "Failure" };
                let action = json!({"action": "changeTransactionState",
                    "transactionId": txn.id, "state": state});
                (action, None, Some((txn.amount, state.to_owned())))
            }
            ManualChange::SetInterfaceCode => {
                let action =
                    json!({"action": "setStatusInterfaceCode", "interfaceCode": self.key(0)});
                (action, None, None)
            }
        };
        let body = json!({"version": view["version"], "actions": [action]});
        let reply = self.send(&format!("/payments/{id}"), body, idempotent)?;
        // Nobody else writes a manual payment: the version is current.
        ensure!(
            reply.status == 200,
            "update of {id}: {} {}",
            reply.status,
            reply.body
        );
        let amounts: Vec<i64> = amount.into_iter().collect();
        self.model.ack(&id, Kind::Manual, &reply.body, &amounts)?;
        if let Some((amount, state)) = settled {
            let known = self.model.find_mut(&id).context("known")?;
            known.acked_states.insert(amount, state);
        }
        Ok(())
    }

    fn update_stripe(&mut self, pick_: u32, change: StripeChange, idempotent: bool) -> Result<()> {
        let Some(id) = pick(&self.model.known(Kind::Stripe), pick_).map(|k| k.id.clone()) else {
            return self.skip();
        };
        let view = self.get(&id)?;
        let (action, amount) = match change {
            StripeChange::Capture | StripeChange::Refund => {
                let (kind, base) = match change {
                    StripeChange::Capture => ("Charge", CAPTURE_AMOUNT_BASE),
                    _ => ("Refund", REFUND_AMOUNT_BASE),
                };
                let amount = self.model.amount(base)?;
                let action = json!({"action": "addTransaction",
                    "transaction": {"type": kind, "amount": money(amount)}});
                (action, Some(amount))
            }
            StripeChange::SetInterfaceCode => {
                let action =
                    json!({"action": "setStatusInterfaceCode", "interfaceCode": self.key(0)});
                (action, None)
            }
        };
        let body = json!({"version": view["version"], "actions": [action]});
        let reply = self.send(&format!("/payments/{id}"), body, idempotent)?;
        match reply.status {
            200 => {
                let amounts: Vec<i64> = amount.into_iter().collect();
                self.model.ack(&id, Kind::Stripe, &reply.body, &amounts)
            }
            // The executor appended in between.
            409 => Ok(()),
            status => bail!("update of {id}: {status} {}", reply.body),
        }
    }

    /// An earlier keyed request again: an acknowledged one answers as it
    /// did; no request is ever applied twice (the model's amount check).
    fn repeat(&mut self, pick_: u32) -> Result<()> {
        let Some(keyed) = pick(&self.model.keyed, pick_).cloned() else {
            return self.skip();
        };
        let reply = self
            .world
            .http
            .post(&keyed.path, &keyed.body, Some(&keyed.key))?;
        let Some((status, first)) = &keyed.first else {
            return Ok(());
        };
        if (200..300).contains(status) {
            ensure!(
                reply.status == *status
                    && reply.body["id"] == first["id"]
                    && reply.body["version"] == first["version"],
                "the repeat of {} (key {}) answered {} {}, not as first: {status} {first}",
                keyed.path,
                keyed.key,
                reply.status,
                reply.body
            );
        }
        Ok(())
    }

    /// Concurrent updates at one version: exactly one wins.
    fn conflict(&mut self, pick_: u32, writers: usize) -> Result<()> {
        let Some(id) = pick(&self.model.known(Kind::Manual), pick_).map(|k| k.id.clone()) else {
            return self.skip();
        };
        let version = self.get(&id)?["version"].clone();
        let amounts: Vec<i64> = (0..writers)
            .map(|_| self.model.amount(MANUAL_AMOUNT_BASE))
            .collect::<Result<_>>()?;
        let barrier = std::sync::Barrier::new(writers);
        let http = &self.world.http;
        let replies: Vec<Result<Reply>> = std::thread::scope(|scope| {
            let handles: Vec<_> = amounts
                .iter()
                .map(|amount| {
                    let body = json!({"version": version, "actions": [{"action": "addTransaction",
                        "transaction": {"type": "Charge", "amount": money(*amount)}}]});
                    let (barrier, id) = (&barrier, &id);
                    scope.spawn(move || {
                        barrier.wait();
                        http.post(&format!("/payments/{id}"), &body, None)
                    })
                })
                .collect();
            handles
                .into_iter()
                .map(|h| {
                    h.join()
                        .unwrap_or_else(|_| Err(anyhow::anyhow!("writer panicked")))
                })
                .collect()
        });
        let mut won = Vec::new();
        for (reply, amount) in replies.into_iter().zip(&amounts) {
            let reply = reply?;
            match reply.status {
                200 => won.push((reply.body, *amount)),
                409 => ensure!(
                    reply.body["errors"][0]["code"] == "ConcurrentModification",
                    "a lost race answers {}",
                    reply.body
                ),
                status => bail!("a racing update answered {status}: {}", reply.body),
            }
        }
        ensure!(
            won.len() == 1,
            "{} of {writers} racing updates at one version won",
            won.len()
        );
        let (body, amount) = &won[0];
        self.model.ack(&id, Kind::Manual, body, &[*amount])
    }

    /// Finishes 3-D Secure of a Stripe payment waiting for it.
    fn authenticate(&mut self, pick_: u32, success: bool) -> Result<()> {
        let mut waiting = Vec::new();
        for known in self.model.known(Kind::Stripe) {
            let view = self.get(&known.id)?;
            let secret = view["interfaceInteractions"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|i| i["fields"]["clientSecret"].as_str())
                .next_back()
                .map(str::to_owned);
            let pending = transactions(&view).into_iter().find(|t| {
                t.state == "Pending"
                    && t.interface_id
                        .as_deref()
                        .is_some_and(|i| i.starts_with("pi_"))
            });
            if let (Some(secret), Some(txn)) = (secret, pending) {
                waiting.push((txn.interface_id.unwrap_or_default(), secret));
            }
        }
        let Some((intent, secret)) = pick(&waiting, pick_).cloned() else {
            return self.skip();
        };
        let path = format!("/v1/payment_intents/{intent}/_authenticate");
        let success = if success { "true" } else { "false" };
        let form = [
            ("key", STRIPE_PUBLISHABLE_KEY),
            ("client_secret", secret.as_str()),
            ("success", success),
        ];
        // An intent that left requires_action meanwhile is refused: fine.
        let _ = self.world.stripe.call(reqwest::Method::POST, &path, &form);
        Ok(())
    }

    fn refresh(&mut self, pick_: u32) -> Result<()> {
        let Some(id) = pick(&self.model.known(Kind::Stripe), pick_).map(|k| k.id.clone()) else {
            return self.skip();
        };
        let reply = self
            .world
            .http
            .post(&format!("/payments/{id}/refresh"), &json!({}), None)?;
        ensure!(
            reply.status == 200,
            "refresh of {id}: {} {}",
            reply.status,
            reply.body
        );
        Ok(())
    }

    fn get(&self, id: &str) -> Result<Value> {
        let reply = self.world.http.get(&format!("/payments/{id}"))?;
        ensure!(
            reply.status == 200,
            "GET {id}: {} {}",
            reply.status,
            reply.body
        );
        Ok(reply.body)
    }
}
