//! The due-time task table: work on a payment that must happen later
//! (retry an execution whose outcome is unknown, refresh a Pending
//! transaction, retry a webhook whose object was not known yet).
//!
//! | table | key                                             | value |
//! |-------|-------------------------------------------------|-------|
//! | Tasks | due time (unix ms, u64 BE) · task id (16 B)     | kind (u8) · fields, see [`encode`] |
//!
//! Keys sort by due time, so the due tasks are one bounded scan from the
//! start of the table. A task is deleted in the same batch that schedules
//! its follow-up, so a crash repeats a task (at least once) but never
//! loses its chain. Tasks are idempotent: each re-reads the payment first.

use crate::table_keys::push_text;
use payledger_domain::{PaymentId, ProjectKey};
use payledger_store::{EventStore, KvWrite, StoreError, Table};

/// Most tasks one pass of the runner takes.
pub const TASK_BATCH_MAX: usize = 256;

const KIND_RESUME: u8 = 1;
const KIND_REFRESH: u8 = 2;
const KIND_ORPHAN: u8 = 3;

/// What a task does.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Task {
    /// Finish or retry the PSP operations the executor started on the
    /// payment (a watchdog written before every PSP call).
    Resume {
        project: ProjectKey,
        payment_id: PaymentId,
        attempt: u32,
    },
    /// Fetch the PSP status of the payment's Pending transactions;
    /// `follow_up` tasks schedule the next attempt while any is Pending.
    Refresh {
        project: ProjectKey,
        payment_id: PaymentId,
        attempt: u32,
        follow_up: bool,
    },
    /// A verified webhook about an object no payment knew yet.
    Orphan {
        project: ProjectKey,
        event: OrphanEvent,
        attempt: u32,
    },
}

/// The facts of a verified webhook kept for a later retry.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OrphanEvent {
    /// The connector's name (`stripe`).
    pub interface: String,
    pub id: String,
    pub event_type: String,
    pub object_id: String,
    pub payment_intent: String,
    /// Unix seconds.
    pub created: i64,
}

/// A task read back from the table.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ScheduledTask {
    pub key: Vec<u8>,
    pub due_ms: i64,
    pub task: Task,
}

/// The key of a task due at `due_ms`.
pub fn task_key(due_ms: i64, id: [u8; 16]) -> Vec<u8> {
    let mut key = u64::try_from(due_ms).unwrap_or(0).to_be_bytes().to_vec();
    key.extend_from_slice(&id);
    key
}

/// The write that schedules `task` at `due_ms`, and its key.
pub fn schedule(task: &Task, due_ms: i64) -> (Vec<u8>, KvWrite) {
    let key = task_key(due_ms, *uuid::Uuid::new_v4().as_bytes());
    let write = KvWrite {
        table: Table::Tasks,
        key: key.clone(),
        value: Some(encode(task)),
    };
    (key, write)
}

/// The write that removes a task.
pub fn remove(key: &[u8]) -> KvWrite {
    KvWrite {
        table: Table::Tasks,
        key: key.to_vec(),
        value: None,
    }
}

/// A task row that does not decode: its key and why.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct BadTask {
    pub key: Vec<u8>,
    pub reason: String,
    /// The row is of a kind this module does not own (another consumer's
    /// task sharing the table): leave it alone.
    pub foreign: bool,
}

/// Tasks due at `now_ms` or earlier, at most `max`, earliest first.
pub fn due(
    store: &(impl EventStore + ?Sized),
    now_ms: i64,
    max: usize,
) -> Result<Vec<Result<ScheduledTask, BadTask>>, StoreError> {
    let end = u64::try_from(now_ms)
        .unwrap_or(0)
        .saturating_add(1)
        .to_be_bytes();
    let rows = store.scan(Table::Tasks, &[], &end, max.clamp(1, TASK_BATCH_MAX))?;
    Ok(rows
        .into_iter()
        .map(|(key, value)| read(key, &value))
        .collect())
}

/// When the earliest task is due, if there is one.
pub fn next_due_ms(store: &(impl EventStore + ?Sized)) -> Result<Option<i64>, StoreError> {
    let rows = store.scan(Table::Tasks, &[], &[u8::MAX; 25], 1)?;
    Ok(rows.first().and_then(|(key, _)| due_of(key)))
}

fn due_of(key: &[u8]) -> Option<i64> {
    let due: [u8; 8] = key.get(..8)?.try_into().ok()?;
    i64::try_from(u64::from_be_bytes(due)).ok()
}

fn read(key: Vec<u8>, value: &[u8]) -> Result<ScheduledTask, BadTask> {
    let due_ms = due_of(&key);
    let foreign = !matches!(
        value.first(),
        Some(&(KIND_RESUME | KIND_REFRESH | KIND_ORPHAN))
    );
    match (due_ms, decode(value)) {
        (Some(due_ms), Some(task)) => Ok(ScheduledTask { key, due_ms, task }),
        (None, _) => Err(BadTask {
            key,
            reason: "malformed task key".into(),
            foreign,
        }),
        (Some(_), None) => Err(BadTask {
            key,
            reason: "malformed task value".into(),
            foreign,
        }),
    }
}

/// `kind · project · payment id (16) · attempt (u32 BE) · follow-up (u8)`
/// for Resume and Refresh; `kind · project · attempt · interface · event id
/// · event type · object id · payment intent · created (i64 BE)` for
/// Orphan. Text is length-prefixed (u16 BE).
pub fn encode(task: &Task) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    match task {
        Task::Resume {
            project,
            payment_id,
            attempt,
        } => {
            out.push(KIND_RESUME);
            push_text(&mut out, project.as_str());
            out.extend_from_slice(payment_id.as_bytes());
            out.extend_from_slice(&attempt.to_be_bytes());
            out.push(0);
        }
        Task::Refresh {
            project,
            payment_id,
            attempt,
            follow_up,
        } => {
            out.push(KIND_REFRESH);
            push_text(&mut out, project.as_str());
            out.extend_from_slice(payment_id.as_bytes());
            out.extend_from_slice(&attempt.to_be_bytes());
            out.push(u8::from(*follow_up));
        }
        Task::Orphan {
            project,
            event,
            attempt,
        } => {
            out.push(KIND_ORPHAN);
            push_text(&mut out, project.as_str());
            out.extend_from_slice(&attempt.to_be_bytes());
            for text in [
                &event.interface,
                &event.id,
                &event.event_type,
                &event.object_id,
                &event.payment_intent,
            ] {
                push_text(&mut out, text);
            }
            out.extend_from_slice(&event.created.to_be_bytes());
        }
    }
    out
}

/// Reads bytes back; `None` if they are not a task.
pub fn decode(bytes: &[u8]) -> Option<Task> {
    let mut reader = Reader(bytes);
    let kind = reader.bytes(1)?[0];
    let project = ProjectKey::parse(&reader.text()?)?;
    let task = match kind {
        KIND_RESUME | KIND_REFRESH => {
            let payment_id = PaymentId::from_bytes(reader.bytes(16)?.try_into().ok()?);
            let attempt = u32::from_be_bytes(reader.bytes(4)?.try_into().ok()?);
            let follow_up = reader.bytes(1)?[0] == 1;
            if kind == KIND_RESUME {
                Task::Resume {
                    project,
                    payment_id,
                    attempt,
                }
            } else {
                Task::Refresh {
                    project,
                    payment_id,
                    attempt,
                    follow_up,
                }
            }
        }
        KIND_ORPHAN => {
            let attempt = u32::from_be_bytes(reader.bytes(4)?.try_into().ok()?);
            let event = OrphanEvent {
                interface: reader.text()?,
                id: reader.text()?,
                event_type: reader.text()?,
                object_id: reader.text()?,
                payment_intent: reader.text()?,
                created: i64::from_be_bytes(reader.bytes(8)?.try_into().ok()?),
            };
            Task::Orphan {
                project,
                event,
                attempt,
            }
        }
        _ => return None,
    };
    reader.0.is_empty().then_some(task)
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn bytes(&mut self, n: usize) -> Option<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n)?;
        self.0 = rest;
        Some(head)
    }

    fn text(&mut self) -> Option<String> {
        let (text, rest) = crate::table_keys::split_text(self.0)?;
        self.0 = rest;
        String::from_utf8(text.to_vec()).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use payledger_store::memory::MemoryStore;

    fn project() -> ProjectKey {
        ProjectKey::parse("shop").unwrap()
    }

    fn tasks() -> Vec<Task> {
        let payment_id = PaymentId::from_bytes([7; 16]);
        vec![
            Task::Resume {
                project: project(),
                payment_id,
                attempt: 3,
            },
            Task::Refresh {
                project: project(),
                payment_id,
                attempt: 1,
                follow_up: true,
            },
            Task::Orphan {
                project: project(),
                attempt: 2,
                event: OrphanEvent {
                    interface: "stripe".into(),
                    id: "evt_1".into(),
                    event_type: "payment_intent.succeeded".into(),
                    object_id: "pi_1".into(),
                    payment_intent: "pi_1".into(),
                    created: 1_700_000_000,
                },
            },
        ]
    }

    #[test]
    fn every_task_round_trips_and_garbage_does_not_decode() {
        for task in tasks() {
            let bytes = encode(&task);
            assert_eq!(decode(&bytes), Some(task));
            assert_eq!(decode(&bytes[..bytes.len() - 1]), None);
            let mut longer = bytes.clone();
            longer.push(0);
            assert_eq!(decode(&longer), None);
        }
        assert_eq!(decode(&[9, 0, 4, b's', b'h', b'o', b'p']), None);
    }

    #[test]
    fn the_stored_task_format_is_stable() {
        let names = ["resume", "refresh", "orphan"];
        let mut rows: Vec<(&str, Vec<u8>)> = names
            .iter()
            .zip(tasks())
            .map(|(name, task)| (*name, encode(&task)))
            .collect();
        rows.push((
            "key due 1767225600000",
            task_key(1_767_225_600_000, [5; 16]),
        ));
        let stored = crate::golden::check("psp_task_v1.txt", &rows);
        for (name, task) in names.iter().zip(tasks()) {
            assert_eq!(decode(&stored[*name]), Some(task), "{name}");
        }
    }

    #[test]
    fn only_due_tasks_are_read_earliest_first() {
        let store = MemoryStore::new();
        let all = tasks();
        let writes = vec![
            schedule(&all[0], 3_000).1,
            schedule(&all[1], 1_000).1,
            schedule(&all[2], 2_000).1,
        ];
        store.write(writes).unwrap();
        assert_eq!(next_due_ms(&store).unwrap(), Some(1_000));
        let due_now: Vec<Task> = due(&store, 2_000, 10)
            .unwrap()
            .into_iter()
            .map(|t| t.unwrap().task)
            .collect();
        assert_eq!(due_now, vec![all[1].clone(), all[2].clone()]);
        assert!(due(&store, 999, 10).unwrap().is_empty());
    }
}
