//! The faults of a run: webhooks that are not what Stripe sent, a broker
//! that is down or refuses produce requests, and `kill -9` of the server,
//! alone or while concurrent writers are being answered.

use super::*;

/// Stripe's signature scheme over `body` at `t` with `secret`.
fn sign(secret: &str, t: i64, body: &str) -> String {
    payledger_psp::signature::sign(&payledger_psp::Secret::new(secret), t, body.as_bytes())
}

fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// A Stripe event about a PaymentIntent.
fn intent_event(event: &str, status: &str, intent: &str) -> String {
    let kind = match status {
        "succeeded" => "payment_intent.succeeded",
        "requires_payment_method" => "payment_intent.payment_failed",
        "canceled" => "payment_intent.canceled",
        "requires_capture" => "payment_intent.amount_capturable_updated",
        "processing" => "payment_intent.processing",
        _ => "payment_intent.requires_action",
    };
    json!({
        "id": event, "object": "event", "type": kind, "created": unix_now(),
        "data": {"object": {"id": intent, "object": "payment_intent", "status": status}},
    })
    .to_string()
}

impl Sim {
    pub(super) fn webhook(&mut self, pick_: u32, fault: WebhookFault) -> Result<()> {
        let mut intents = Vec::new();
        for known in self.model.known(Kind::Stripe) {
            let view = self.get(&known.id)?;
            intents.extend(
                transactions(&view)
                    .into_iter()
                    .filter_map(|t| t.interface_id)
                    .filter(|i| i.starts_with("pi_")),
            );
        }
        let intent = match pick(&intents, pick_) {
            Some(intent) => intent.clone(),
            None => format!("pi_sim_unknown_{}_{}", self.seed, self.step),
        };
        let status = match intent.starts_with("pi_sim_unknown") {
            true => "succeeded".to_owned(),
            false => {
                let path = format!("/v1/payment_intents/{intent}");
                let at_stripe = self.world.stripe.call(reqwest::Method::GET, &path, &[])?;
                at_stripe["status"]
                    .as_str()
                    .unwrap_or("succeeded")
                    .to_owned()
            }
        };
        let event = |n: usize| format!("evt_{}", self.key(n).replace('-', "_"));
        let (event0, event1) = (event(0), event(1));
        let now = unix_now();
        let http = self.world.http.clone();
        match fault {
            WebhookFault::Forged | WebhookFault::Tampered => {
                let body = intent_event(&event0, "succeeded", &intent);
                let signature = match fault {
                    WebhookFault::Forged => sign("whsec_attacker", now, &body),
                    _ => sign(WEBHOOK_SECRET, now, &body.replace("succeeded", "canceled")),
                };
                let reply = http.webhook(&body, &signature)?;
                ensure!(
                    reply.status == 400,
                    "a {fault:?} webhook answered {} {}",
                    reply.status,
                    reply.body
                );
                self.model.refused_events.insert(event0);
            }
            WebhookFault::Duplicated => {
                let body = intent_event(&event0, &status, &intent);
                let first = http.webhook(&body, &sign(WEBHOOK_SECRET, now, &body))?;
                let again = http.webhook(&body, &sign(WEBHOOK_SECRET, now, &body))?;
                self.model.repeated_events.insert(event0);
                ensure!(first.status == 200, "a webhook answered {}", first.status);
                ensure!(
                    again.status == 200 && again.body["outcome"] == "duplicate",
                    "a repeated webhook answered {} {}",
                    again.status,
                    again.body
                );
            }
            WebhookFault::Reordered => {
                let stale = intent_event(&event1, "requires_action", &intent);
                let current = intent_event(&event0, &status, &intent);
                for body in [&current, &stale] {
                    let reply = http.webhook(body, &sign(WEBHOOK_SECRET, now, body))?;
                    ensure!(reply.status == 200, "a webhook answered {}", reply.status);
                }
            }
        }
        Ok(())
    }

    pub(super) fn broker(&mut self, fault: BrokerFault) -> Result<()> {
        let cluster = &self.world.cluster;
        match fault {
            BrokerFault::Down => {
                cluster.broker_down(1)?;
                self.world.broker_down = true;
            }
            BrokerFault::Up => {
                cluster.broker_up(1)?;
                self.world.broker_down = false;
            }
            // The broker drops the connection on each of the next `n`
            // Produce requests. Not error answers: the mock broker checks
            // producer sequence numbers for transactional producers only,
            // so an error answer to one request while the next one of the
            // same partition is in flight lets that next one be appended
            // first, a reordering a real broker refuses
            // (OUT_OF_ORDER_SEQUENCE_NUMBER). A dropped connection fails
            // every request behind it, as on a real broker.
            BrokerFault::ProduceErrors(n) => {
                let errors = vec![RDKafkaRespErr::RD_KAFKA_RESP_ERR__TRANSPORT; n];
                cluster.request_errors(RDKafkaApiKey::Produce, &errors);
            }
        }
        Ok(())
    }

    /// `kill -9`, after `acks` acknowledged updates of concurrent writers
    /// when given; every acknowledged update is recorded in the model, and
    /// every amount the writers sent (answered or not) too.
    pub(super) fn crash(&mut self, acks: Option<usize>) -> Result<()> {
        self.stats.crashes += 1;
        let Some(acks) = acks else {
            return self.world.crash_and_restart();
        };
        let targets: Vec<String> = self
            .model
            .known(Kind::Manual)
            .iter()
            .take(CRASH_WRITERS_MAX)
            .map(|k| k.id.clone())
            .collect();
        let mut writers = Vec::new();
        for id in targets {
            let version = self.get(&id)?["version"].as_u64().context("version")?;
            let amounts: Vec<i64> = (0..CRASH_WRITER_REQUESTS_MAX)
                .map(|_| self.model.amount(MANUAL_AMOUNT_BASE))
                .collect::<Result<_>>()?;
            writers.push((id, version, amounts));
        }
        let (acked, heard) = mpsc::channel::<(String, Value, i64)>();
        let http = self.world.http.clone();
        let threads: Vec<_> = writers
            .into_iter()
            .map(|(id, version, amounts)| {
                let (http, acked) = (http.clone(), acked.clone());
                std::thread::spawn(move || {
                    write_until_refused(&http, &id, version, &amounts, &acked)
                })
            })
            .collect();
        drop(acked);
        let mut answers = Vec::new();
        while answers.len() < acks {
            match heard.recv() {
                Ok(answer) => answers.push(answer),
                Err(_) => break,
            }
        }
        self.world.kill();
        for thread in threads {
            let _ = thread.join();
        }
        answers.extend(heard.try_iter());
        self.stats.acked_in_flight += answers.len();
        for (id, body, amount) in answers {
            self.model.ack(&id, Kind::Manual, &body, &[amount])?;
        }
        self.world.crash_and_restart()
    }
}

/// Updates one manual payment until a request gets no answer (the server
/// died) or the amounts run out; reports every 200.
fn write_until_refused(
    http: &Http,
    id: &str,
    mut version: u64,
    amounts: &[i64],
    acked: &mpsc::Sender<(String, Value, i64)>,
) {
    for amount in amounts {
        let body = json!({"version": version, "actions": [{"action": "addTransaction",
            "transaction": {"type": "Charge", "amount": money(*amount)}}]});
        let Ok(reply) = http.post(&format!("/payments/{id}"), &body, None) else {
            return;
        };
        if reply.status != 200 {
            return;
        }
        version = reply.body["version"].as_u64().unwrap_or(version);
        if acked.send((id.to_owned(), reply.body, *amount)).is_err() {
            return;
        }
    }
}
