//! The two loops of the PSP flows and their single steps.
//!
//! - The executor is a log consumer on the one runner
//!   ([`crate::consumer::LogConsumer`], cursor name [`EXECUTOR_CONSUMER`]):
//!   its handler runs [`PspService::process_payment`] for every payment of
//!   a configured project that an event touched; the cursor advances only
//!   after the batch's PSP results are durable. Its own events are skipped.
//! - The task runner takes due tasks from the task table, runs them, and
//!   deletes each in the batch that schedules its follow-up.
//!
//! Tests drive the steps ([`PspService::execute_batch`],
//! [`PspService::run_due_tasks`]) directly with a manual clock.

use super::executor::EXECUTOR_ACTOR;
use super::interaction::{Interaction, Phase, Source};
use super::tasks::{self, ScheduledTask, Task};
use super::{AppendWrites, PspFailure, PspService, backoff_ms};
use crate::backoff::Backoff;
use crate::consumer::{
    ConsumerConfig, ConsumerFailure, Cursor, Handled, LogConsumer, LogHandler, PartitionConsumer,
    Stepped, Stop,
};
use crate::error::AppError;
use payledger_domain::{Actor, EventEnvelope, PaymentId, ProjectKey, UpdateAction};
use payledger_store::{EventStore, KvWrite};
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;

/// The executor's cursor name.
pub const EXECUTOR_CONSUMER: &str = "psp-executor";
/// Most log events one executor batch reads.
pub const EXECUTOR_BATCH_EVENTS_MAX: usize = 512;
/// Most payments of one batch worked on at once (per partition).
pub const EXECUTOR_PAYMENTS_CONCURRENT_MAX: usize = 8;
/// Most tasks run at once.
pub const TASKS_CONCURRENT_MAX: usize = 16;
/// Longest the task runner sleeps without looking at the table.
pub const TASK_POLL_MAX_MS: i64 = 1_000;
/// Delay before a task that failed on infrastructure runs again.
pub const TASK_FAILURE_DELAY_MS: i64 = 5_000;
/// The wait before a failed executor batch is tried again: 100 ms
/// doubling up to 30 s.
pub const EXECUTOR_RETRY_BACKOFF: Backoff = Backoff {
    min_ms: 100,
    max_ms: 30_000,
};

/// The executor's handler on the one log-consumer runner: the payments of
/// configured projects that a batch touched (not by the executor itself),
/// worked on at most [`EXECUTOR_PAYMENTS_CONCURRENT_MAX`] at once.
#[derive(Debug)]
struct ExecutorHandler {
    service: PspService,
}

impl LogHandler for ExecutorHandler {
    /// Each payment with work, and the correlation id of its first event in
    /// the batch (its PSP calls are logged under it).
    type Work = Vec<(ProjectKey, PaymentId, Option<String>)>;
    type Error = PspFailure;

    fn batch_events_max(&self) -> usize {
        EXECUTOR_BATCH_EVENTS_MAX
    }

    fn prepare(
        &mut self,
        _store: &dyn EventStore,
        events: Vec<EventEnvelope>,
    ) -> Result<Self::Work, PspFailure> {
        let mut seen = HashSet::new();
        let executor = Actor::Internal(EXECUTOR_ACTOR.to_owned());
        Ok(events
            .into_iter()
            .filter(|e| e.meta.actor != executor)
            .filter(|e| self.service.inner.registry.has_project(&e.meta.project))
            // Only payments' events can carry PSP work.
            .filter_map(|e| {
                let payment = e.payment_id()?;
                Some((e.meta.project, payment, e.meta.correlation_id))
            })
            .filter(|(_, payment, _)| seen.insert(*payment))
            .collect())
    }

    /// On a stop the payments in flight are dropped and the cursor stays:
    /// their PSP calls are resumed from the task table (watchdogs) and the
    /// batch is read again at the next start.
    /// A failed batch is worked on again whole (a payment whose work is
    /// done finds nothing to do).
    async fn handle(&mut self, work: &mut Self::Work, stop: &Stop) -> Handled<PspFailure> {
        let mut running = JoinSet::new();
        let all = async {
            let mut outcome = Ok(());
            for (project, payment_id, correlation_id) in work.iter().cloned() {
                if running.len() >= EXECUTOR_PAYMENTS_CONCURRENT_MAX {
                    outcome = outcome.and(joined(running.join_next().await));
                }
                let this = self.service.clone();
                let span = tracing::info_span!(
                    "psp_work",
                    correlation_id = correlation_id.as_deref().unwrap_or_default()
                );
                running.spawn(tracing::Instrument::instrument(async move {
                    match this.process_payment(&project, payment_id, false).await {
                        // A rule refused payledger's own update (e.g. a
                        // merchant changed the interaction Type): holding the
                        // whole partition back would not help; the payment
                        // is skipped.
                        Err(PspFailure::App(AppError::Rejected(rejection))) => {
                            tracing::error!(%payment_id, ?rejection, "PSP result refused; payment skipped");
                            Ok(())
                        }
                        other => other.map(drop),
                    }
                }, span));
            }
            while let Some(done) = running.join_next().await {
                outcome = outcome.and(joined(Some(done)));
            }
            outcome
        };
        let outcome = tokio::select! {
            outcome = all => outcome,
            () = stop.requested() => return Handled::Stopped { through: None },
        };
        match outcome {
            Ok(()) => Handled::All,
            Err(failure) => Handled::Failed {
                through: None,
                failure,
            },
        }
    }
}

impl PspService {
    fn executor_config(&self) -> ConsumerConfig {
        ConsumerConfig {
            name: EXECUTOR_CONSUMER.to_owned(),
            backoff: EXECUTOR_RETRY_BACKOFF,
            clock: Arc::clone(&self.inner.clock),
            linger: std::time::Duration::ZERO,
        }
    }

    /// Processes the next batch after `cursor` and saves the cursor (a
    /// single step of the executor's consumer). Returns the number of log
    /// events consumed (0: caught up).
    pub async fn execute_batch(&self, cursor: &mut Cursor) -> Result<usize, PspFailure> {
        let service = self.clone();
        let mut consumer = PartitionConsumer::new(
            Arc::clone(self.inner.ledger.store()),
            self.executor_config(),
            cursor.clone(),
            move || ExecutorHandler {
                service: service.clone(),
            },
        );
        let stepped = consumer.step(&Stop::never()).await;
        *cursor = consumer.cursor().clone();
        match stepped {
            Ok(Stepped::Done { events }) => Ok(events),
            Ok(Stepped::CaughtUp | Stepped::Stopped) => Ok(0),
            Err(ConsumerFailure::Handler(failure)) => Err(failure),
            Err(ConsumerFailure::Store(error)) => Err(error.into()),
            Err(ConsumerFailure::Panicked) => Err(PspFailure::Join),
        }
    }

    /// Starts the executor (one consumer worker per partition) and the task
    /// runner. Stop the executor with [`LogConsumer::stop`]; abort the task
    /// runner's handle.
    pub fn spawn(self) -> (LogConsumer, tokio::task::JoinHandle<()>) {
        let service = self.clone();
        let executor = LogConsumer::spawn(
            Arc::clone(self.inner.ledger.store()),
            self.executor_config(),
            move |_partition| ExecutorHandler {
                service: service.clone(),
            },
        );
        (executor, tokio::spawn(self.run_task_loop()))
    }

    /// Runs due tasks forever (until the task is aborted).
    pub async fn run_task_loop(self) {
        loop {
            if let Err(error) = self.run_due_tasks().await {
                tracing::error!(%error, "task runner pass failed");
            }
            let next = {
                let this = self.clone();
                this.blocking(|s| Ok(tasks::next_due_ms(s.store())?)).await
            };
            let now = self.inner.clock.now_ms();
            let wait = match next {
                Ok(Some(due)) => (due - now).clamp(0, TASK_POLL_MAX_MS),
                Ok(None) | Err(_) => TASK_POLL_MAX_MS,
            };
            if wait > 0 {
                let sleep = tokio::time::sleep(Duration::from_millis(wait as u64));
                tokio::select! {
                    () = sleep => {}
                    () = self.inner.tasks_due.notified() => {}
                }
            }
        }
    }

    /// Runs every task due now (at most one table batch). Returns how many
    /// ran.
    pub async fn run_due_tasks(&self) -> Result<usize, PspFailure> {
        let now = self.inner.clock.now_ms();
        let due = self
            .blocking(move |s| Ok(tasks::due(s.store(), now, tasks::TASK_BATCH_MAX)?))
            .await?;
        let count = due.len();
        let mut running = JoinSet::new();
        for task in due {
            let task = match task {
                Ok(task) => task,
                Err(bad) if bad.foreign => {
                    tracing::debug!("skipping another consumer's task");
                    continue;
                }
                Err(bad) => {
                    tracing::error!(reason = %bad.reason, "dropping an unreadable task");
                    self.blocking(move |s| Ok(s.store().write(vec![tasks::remove(&bad.key)])?))
                        .await?;
                    continue;
                }
            };
            if running.len() >= TASKS_CONCURRENT_MAX {
                let _ = running.join_next().await;
            }
            let this = self.clone();
            running.spawn(async move { this.run_task(task).await });
        }
        while running.join_next().await.is_some() {}
        Ok(count)
    }

    /// Runs one task and replaces it with its follow-up, atomically. A task
    /// that fails on infrastructure stays and runs again.
    async fn run_task(&self, scheduled: ScheduledTask) {
        let follow_up = match &scheduled.task {
            Task::Resume {
                project,
                payment_id,
                attempt,
            } => self.resume_task(project, *payment_id, *attempt).await,
            Task::Refresh {
                project,
                payment_id,
                attempt,
                follow_up,
            } => {
                self.refresh_task(project, *payment_id, *attempt, *follow_up)
                    .await
            }
            Task::Orphan {
                project,
                event,
                attempt,
            } => self.retry_orphan(project, event, *attempt).await,
        };
        let follow_up = match follow_up {
            Ok(follow_up) => follow_up,
            Err(PspFailure::App(AppError::Rejected(rejection))) => {
                tracing::error!(?rejection, task = ?scheduled.task, "task refused; dropped");
                None
            }
            Err(error) => {
                tracing::warn!(%error, task = ?scheduled.task, "task failed; it runs again later");
                let due = self.inner.clock.now_ms() + TASK_FAILURE_DELAY_MS;
                Some((scheduled.task.clone(), due))
            }
        };
        let mut writes: Vec<KvWrite> = vec![tasks::remove(&scheduled.key)];
        if let Some((task, due)) = follow_up {
            writes.push(tasks::schedule(&task, due).1);
        }
        let written = self.blocking(move |s| Ok(s.store().write(writes)?)).await;
        if let Err(error) = written {
            tracing::error!(%error, "cannot replace a finished task");
        }
    }

    /// Resumes the executor's work; while transactions stay in doubt, the
    /// next attempt follows with backoff, up to `execute_attempts_max`.
    async fn resume_task(
        &self,
        project: &ProjectKey,
        payment_id: PaymentId,
        attempt: u32,
    ) -> Result<Option<(Task, i64)>, PspFailure> {
        let progress = self.process_payment(project, payment_id, true).await?;
        if progress.in_doubt == 0 {
            return Ok(None);
        }
        let policy = self.inner.policy;
        if attempt >= policy.execute_attempts_max {
            let text = format!(
                "payledger stopped retrying the PSP after {attempt} attempts: {}",
                progress.last_error.unwrap_or_default()
            );
            self.set_status_text(project, payment_id, text).await?;
            return Ok(None);
        }
        let next = attempt + 1;
        let delay = backoff_ms(policy.retry_delay_ms, policy.retry_delay_max_ms, next);
        let task = Task::Resume {
            project: project.clone(),
            payment_id,
            attempt: next,
        };
        Ok(Some((task, self.inner.clock.now_ms() + delay)))
    }

    /// Refreshes; a follow-up refresh continues while transactions stay
    /// Pending, up to `refresh_attempts_max`.
    async fn refresh_task(
        &self,
        project: &ProjectKey,
        payment_id: PaymentId,
        attempt: u32,
        follow_up: bool,
    ) -> Result<Option<(Task, i64)>, PspFailure> {
        let Some(refreshed) = self.refresh_payment(project, payment_id).await? else {
            return Ok(None);
        };
        if !follow_up || refreshed.pending.is_empty() {
            return Ok(None);
        }
        let policy = self.inner.policy;
        if attempt >= policy.refresh_attempts_max {
            let (id, status) = &refreshed.pending[0];
            let text = format!(
                "payledger stopped refreshing after {attempt} attempts: transaction {id} is still {} at the PSP",
                status.as_deref().unwrap_or("pending")
            );
            self.set_status_text(project, payment_id, text).await?;
            return Ok(None);
        }
        let next = attempt + 1;
        let delay = backoff_ms(
            policy.refresh_first_delay_ms,
            policy.refresh_backoff_max_ms,
            next,
        );
        let task = Task::Refresh {
            project: project.clone(),
            payment_id,
            attempt: next,
            follow_up: true,
        };
        Ok(Some((task, self.inner.clock.now_ms() + delay)))
    }

    /// Says in `paymentStatus.interfaceText` why payledger stopped, with an
    /// interaction naming the same.
    async fn set_status_text(
        &self,
        project: &ProjectKey,
        payment_id: PaymentId,
        text: String,
    ) -> Result<(), PspFailure> {
        tracing::warn!(%payment_id, reason = %text, "PSP work on a payment stopped");
        self.append(
            project,
            payment_id,
            super::refresh::REFRESH_ACTOR,
            AppendWrites::default(),
            move |payment, type_id| {
                if payment.payment_status.interface_text.as_deref() == Some(text.as_str()) {
                    return None;
                }
                let interface = payment
                    .payment_method_info
                    .payment_interface
                    .clone()
                    .unwrap_or_default();
                let mut interaction = Interaction::new(&interface, Source::Refresh, Phase::Error);
                interaction
                    .set("code", "gave_up")
                    .set("message", text.clone());
                Some(vec![
                    interaction.action(type_id),
                    UpdateAction::SetStatusInterfaceText(Some(text.clone())),
                ])
            },
        )
        .await
        .map(drop)
    }
}

fn joined(
    done: Option<Result<Result<(), PspFailure>, tokio::task::JoinError>>,
) -> Result<(), PspFailure> {
    match done {
        None => Ok(()),
        Some(Ok(result)) => result,
        Some(Err(_)) => Err(PspFailure::Join),
    }
}
