//! `payledger status`: where every log consumer (the Kafka relay, the
//! webhook Subscriptions as `subscription:{id}`, the PSP executor) stands,
//! per partition: the log head, the saved cursor, the lag between them,
//! and the error currently holding the cursor back; then each
//! Subscription's status and destination. It opens the store, so it runs while the server is
//! stopped (RocksDB admits one process per store).

use crate::cli::StatusArgs;
use payledger_app::consumer::{Cursor, list_cursors};
use payledger_app::subscriptions;
use payledger_store::EventStore;
use std::collections::BTreeMap;

/// Longest last-error text printed per row, in characters.
const ERROR_CHARS_SHOWN_MAX: usize = 120;

pub fn run(args: &StatusArgs) -> anyhow::Result<()> {
    let store = crate::clients::open_existing(
        &args.store,
        "stop the server first: status reads the store while it is stopped",
    )?;
    print!("{}", report(&store)?);
    Ok(())
}

/// The status table of every consumer with a saved cursor.
fn report(store: &dyn EventStore) -> anyhow::Result<String> {
    let partitions = store.partition_count();
    let heads = store.log_heads()?;
    let mut out = format!(
        "log: {partitions} partitions, {} events\n",
        heads.iter().sum::<u64>()
    );
    let mut consumers: BTreeMap<String, BTreeMap<u16, Cursor>> = BTreeMap::new();
    for cursor in list_cursors(store)? {
        consumers
            .entry(cursor.consumer.clone())
            .or_default()
            .insert(cursor.partition, cursor);
    }
    if consumers.is_empty() {
        out.push_str("no log consumer has saved a cursor yet\n");
        return Ok(out);
    }
    out.push_str("consumer\tpartition\thead\tcursor\tlag\tlast error\n");
    for (name, cursors) in &consumers {
        let mut total_lag = 0u64;
        for (partition, head) in (0..partitions).zip(&heads) {
            let (sequence, error) = cursors
                .get(&partition)
                .map_or((0, None), |c| (c.sequence, c.last_error.as_ref()));
            let lag = head.saturating_sub(sequence);
            total_lag += lag;
            let error = error.map_or_else(
                || "-".to_owned(),
                |e| {
                    let text: String = e.message.chars().take(ERROR_CHARS_SHOWN_MAX).collect();
                    format!("{} {text}", crate::clients::utc_text(e.at_unix_ms))
                },
            );
            out.push_str(&format!(
                "{name}\t{partition}\t{head}\t{sequence}\t{lag}\t{error}\n"
            ));
        }
        out.push_str(&format!("{name}\ttotal\t\t\t{total_lag}\t\n"));
    }
    out.push_str(&subscriptions_report(store)?);
    Ok(out)
}

/// One line per webhook Subscription: where it delivers and its status.
fn subscriptions_report(store: &dyn EventStore) -> anyhow::Result<String> {
    let listed = subscriptions::list_all(store)?;
    if listed.is_empty() {
        return Ok(String::new());
    }
    let mut out = String::from("\nsubscription\tproject\tstatus\tlag\turl\n");
    for (project, record) in listed {
        let state = subscriptions::state_of(store, &record)?;
        out.push_str(&format!(
            "{}\t{project}\t{}\t{}\t{}\n",
            record.id,
            state.status,
            state.lag,
            record.destination.url()
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use payledger_app::consumer::CursorError;
    use payledger_domain::{Actor, Event, EventId, EventMeta, PaymentId, ProjectKey, Timestamp};
    use payledger_store::memory::MemoryStore;
    use payledger_store::{AppendRequest, NewEvent};

    fn event(n: u8) -> NewEvent {
        NewEvent {
            meta: EventMeta {
                event_id: EventId::from_bytes([n; 16]),
                project: ProjectKey::parse("p").unwrap(),
                recorded_at: Timestamp(0),
                actor: Actor::Client("c".into()),
                correlation_id: None,
                idempotency_key: None,
            },
            event: Event::StatusInterfaceTextSet(None),
        }
    }

    #[test]
    fn the_report_shows_head_cursor_lag_and_error_per_partition() {
        let store = MemoryStore::with_partitions(2);
        let id = PaymentId::from_bytes([7; 16]);
        let events = (1..=3).map(event).collect();
        store
            .append(AppendRequest::events(id.into(), 0, events))
            .unwrap();
        let partition = payledger_store::partition_of(id.into(), 2);
        assert!(report(&store).unwrap().contains("no log consumer"));
        let mut cursor = Cursor::load(&store, "kafka-relay", partition).unwrap();
        cursor.save(&store, 1).unwrap();
        cursor
            .save_error(
                &store,
                CursorError {
                    at_unix_ms: 0,
                    message: "broker down".into(),
                    retry: None,
                },
            )
            .unwrap();
        let text = report(&store).unwrap();
        assert!(text.contains("log: 2 partitions, 3 events"), "{text}");
        assert!(
            text.contains(&format!(
                "kafka-relay\t{partition}\t3\t1\t2\t1970-01-01T00:00:00Z broker down"
            )),
            "{text}"
        );
        assert!(text.contains("kafka-relay\ttotal\t\t\t2"), "{text}");
    }

    #[test]
    fn the_report_lists_each_subscription_with_its_status() {
        use payledger_app::subscriptions::{
            DeliveryFormat, Destination, MessageFilter, SubscriptionDraft, SubscriptionMeta,
        };
        let store = MemoryStore::with_partitions(2);
        let draft = SubscriptionDraft {
            key: None,
            destination: Destination::Http {
                url: "http://127.0.0.1:9/hook".into(),
                secret: "0123456789abcdef".into(),
            },
            messages: vec![MessageFilter {
                resource_type_id: "payment".into(),
                types: vec![],
            }],
            format: DeliveryFormat::Platform,
        };
        let meta = SubscriptionMeta {
            now_ms: 0,
            client_id: None,
            answer: None,
        };
        let project = ProjectKey::parse("shop").unwrap();
        let record = subscriptions::create(&store, &project, draft, &[], &meta).unwrap();
        let mut cursor =
            Cursor::load(&store, &subscriptions::consumer_name(&record.id), 1).unwrap();
        cursor
            .save_error(
                &store,
                CursorError {
                    at_unix_ms: 0,
                    message: "TemporaryError: attempt 1 of message m: cannot connect".into(),
                    retry: None,
                },
            )
            .unwrap();
        let text = report(&store).unwrap();
        assert!(
            text.contains(&format!(
                "{}\tshop\tTemporaryError\t0\thttp://127.0.0.1:9/hook",
                record.id
            )),
            "{text}"
        );
    }
}
