//! Order use cases: create, update, read and list orders.
//!
//! An order command runs like a payment command: off the async workers it
//! reads the order's stored view, checks the version, decides the events
//! (`payledger_domain::order`), folds them into the new view, claims and
//! checks every unique value it writes (the order number, the key, and the
//! payment → order rows that keep a payment in at most one order), and
//! builds one append carrying the events, the view, the index changes and
//! the idempotency answer; then it awaits the durable append.
//!
//! The stored view holds what the order's own events say. What its
//! payments achieved ([`OrderTotals`]: paid, refunded, outstanding and the
//! `paymentState`) is computed from the payments' own views each time an
//! order is read, so it is as current as the payments themselves: each
//! payment view is written in the same batch as the payment's events.

#[cfg(test)]
mod tests;

use crate::error::AppError;
use crate::idempotency::Answer;
use crate::payments::{CommandMeta, Ledger};
use crate::snapshots::SnapshotRows;
use crate::table_keys;
use crate::unique_claims::{ClaimGuard, UniqueClaims, claimed_in, table_claim};
use payledger_codec::{decode_order, encode_order};
use payledger_domain::order::{
    OrderRecorded, announced_payment_state, decide_order_create, decide_order_delete,
    decide_order_update, evolve_order, order_totals,
};
use payledger_domain::{
    Event, Order, OrderAction, OrderDraft, OrderEvent, OrderId, OrderTotals, Payment, PaymentId,
    ProjectKey, Rejection, StreamId,
};
use payledger_store::{AppendRequest, EventStore, KvWrite, StoreError, Table};
use std::cell::RefCell;
use std::sync::Arc;

/// Most times an internal update of an order (an attempt linked, a
/// notification requested, a `paymentState` announced) is decided again
/// after a concurrent change of the order.
pub const UPDATE_CONFLICT_RETRIES_MAX: usize = 16;

/// An order named by id, order number or key.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum OrderRef {
    Id(OrderId),
    Number(String),
    Key(String),
}

/// What an order command asks for.
#[derive(Clone, Debug)]
pub enum OrderCommand {
    Create(OrderDraft),
    Update {
        target: OrderRef,
        version: u64,
        actions: Vec<OrderAction>,
    },
    /// Deletes the order (its view and indexes; its payments stay, linked
    /// to no order) and, with `data_erasure`, erases its personal data.
    Delete {
        target: OrderRef,
        version: u64,
        data_erasure: bool,
    },
}

/// An order as the API shows it: its own data and its payments' totals.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct OrderView {
    pub order: Order,
    pub totals: OrderTotals,
}

/// The order use cases over one store.
#[derive(Debug)]
pub struct Orders<S: ?Sized> {
    ledger: Ledger<S>,
    claims: UniqueClaims,
}

impl<S: ?Sized> Clone for Orders<S> {
    fn clone(&self) -> Self {
        Self {
            ledger: self.ledger.clone(),
            claims: self.claims.clone(),
        }
    }
}

/// Table writes derived from the order a command leaves, committed with
/// its events ([`Orders::execute_with`]).
pub type WritesWith = Box<dyn FnOnce(&Order) -> Vec<KvWrite> + Send>;

/// A decided order command, ready to commit.
struct Prepared {
    append: Option<AppendRequest>,
    view: OrderView,
    _claims: Option<ClaimGuard>,
}

impl<S: EventStore + ?Sized> Orders<S> {
    /// Order use cases beside `ledger`, whose payment views they read.
    pub fn new(ledger: Ledger<S>) -> Self {
        Self {
            ledger,
            claims: UniqueClaims::default(),
        }
    }

    fn store(&self) -> &Arc<S> {
        self.ledger.store()
    }

    /// The payment ledger the orders' payments live in.
    pub fn ledger(&self) -> &Ledger<S> {
        &self.ledger
    }

    /// Runs an order command: decided off the async workers, then the
    /// durable append is awaited. `answer` is the idempotency answer to
    /// record with the append (its row must be unused).
    pub async fn execute(
        &self,
        meta: CommandMeta,
        answer: Option<Answer>,
        command: OrderCommand,
    ) -> Result<OrderView, AppError> {
        self.execute_with(meta, answer, command, Box::new(|_| Vec::new()))
            .await
    }

    /// [`execute`](Self::execute) with the table writes `with` derives from
    /// the order after the command, committed in the same atomic batch as
    /// its events (nothing is written when the command appends nothing).
    pub async fn execute_with(
        &self,
        meta: CommandMeta,
        answer: Option<Answer>,
        command: OrderCommand,
        with: WritesWith,
    ) -> Result<OrderView, AppError> {
        let orders = self.clone();
        let prepared = tokio::task::spawn_blocking(move || {
            orders.prepare(&meta, answer.as_ref(), command, with)
        })
        .await
        .map_err(|_| AppError::Store(StoreError::Engine("an order task panicked".into())))??;
        if let Some(append) = prepared.append {
            let (stream, expected) = (append.stream, append.expected_version);
            self.store()
                .submit(append)
                .await
                .map_err(|e| AppError::from_append(e, stream, expected))?;
        }
        Ok(prepared.view)
    }

    /// The current order named by `target`, with its payments' totals.
    pub fn get(
        &self,
        project: &ProjectKey,
        target: &OrderRef,
    ) -> Result<Option<OrderView>, AppError> {
        match self.stored(project, target)? {
            None => Ok(None),
            Some(order) => self.with_totals(project, order).map(Some),
        }
    }

    /// Up to `max` orders of the project in id order, with their totals.
    pub fn list(&self, project: &ProjectKey, max: usize) -> Result<Vec<OrderView>, AppError> {
        let from = table_keys::project_prefix(project);
        let to = table_keys::prefix_end(&from);
        self.store()
            .scan(Table::OrderViews, &from, &to, max)?
            .into_iter()
            .map(|(_, bytes)| {
                let order = decode_order(&bytes)
                    .map_err(|e| crate::payments::corrupt_with("order view", &e))?;
                self.with_totals(project, order)
            })
            .collect()
    }

    /// Applies the actions `actions_of` decides from the current order,
    /// at its current version, for internal actors (none: nothing is
    /// written); on a concurrent change of the order it reads and decides
    /// again. `None` when the order does
    /// not exist; else the order after and whether an event was appended.
    pub async fn update_current(
        &self,
        meta: &CommandMeta,
        order: OrderId,
        actions_of: impl Fn(&OrderView) -> Vec<OrderAction>,
    ) -> Result<Option<(OrderView, bool)>, AppError> {
        for _ in 0..UPDATE_CONFLICT_RETRIES_MAX {
            let (orders, project) = (self.clone(), meta.project.clone());
            let current =
                tokio::task::spawn_blocking(move || orders.get(&project, &OrderRef::Id(order)))
                    .await
                    .map_err(|_| {
                        AppError::Store(StoreError::Engine("an order task panicked".into()))
                    })??;
            let Some(current) = current else {
                return Ok(None);
            };
            let actions = actions_of(&current);
            if actions.is_empty() {
                // Nothing to do: no second read of the order to find that out.
                return Ok(Some((current, false)));
            }
            let command = OrderCommand::Update {
                target: OrderRef::Id(order),
                version: current.order.version,
                actions,
            };
            match self.execute(meta.clone(), None, command).await {
                Err(AppError::Conflict { .. }) => {}
                // Deleted since it was read.
                Err(AppError::NotFound) => return Ok(None),
                Ok(after) => {
                    let appended = after.order.version > current.order.version;
                    return Ok(Some((after, appended)));
                }
                Err(other) => return Err(other),
            }
        }
        Err(AppError::Overloaded)
    }

    /// Records the `paymentState` the order's payments now give
    /// (`OrderPaymentStateChanged`) when it differs from the last one
    /// recorded (the domain appends nothing otherwise). `None` when the
    /// order does not exist; else whether an event was appended.
    pub async fn announce_payment_state(
        &self,
        meta: CommandMeta,
        order: OrderId,
    ) -> Result<Option<bool>, AppError> {
        let updated = self
            .update_current(&meta, order, |current| {
                // Most payment changes leave the order's state as announced.
                if announced_payment_state(&current.order) == current.totals.payment_state {
                    return Vec::new();
                }
                vec![OrderAction::AnnouncePaymentState(
                    current.totals.payment_state,
                )]
            })
            .await?;
        Ok(updated.map(|(_, appended)| appended))
    }

    /// The order a payment belongs to, if any.
    pub fn order_of_payment(
        &self,
        project: &ProjectKey,
        payment: PaymentId,
    ) -> Result<Option<OrderId>, AppError> {
        self.index(
            Table::PaymentOrders,
            &table_keys::payment_order_key(project, payment),
        )
    }

    /// The totals of `order` from its payments' current views.
    fn with_totals(&self, project: &ProjectKey, order: Order) -> Result<OrderView, AppError> {
        let payments = order
            .payments
            .iter()
            .map(|id| self.ledger.view(project, *id))
            .collect::<Result<Vec<_>, _>>()?;
        let payments: Vec<&Payment> = payments.iter().flatten().collect();
        let totals = order_totals(&order, &payments);
        Ok(OrderView { order, totals })
    }

    fn stored(&self, project: &ProjectKey, target: &OrderRef) -> Result<Option<Order>, AppError> {
        let id = match target {
            OrderRef::Id(id) => *id,
            OrderRef::Number(number) => match self.index(
                Table::OrderNumberIndex,
                &table_keys::order_number_key(project, number),
            )? {
                Some(id) => id,
                None => return Ok(None),
            },
            OrderRef::Key(key) => match self.index(
                Table::OrderKeyIndex,
                &table_keys::order_key_index_key(project, key),
            )? {
                Some(id) => id,
                None => return Ok(None),
            },
        };
        self.store()
            .get(Table::OrderViews, &table_keys::order_view_key(project, id))?
            .map(|bytes| {
                decode_order(&bytes).map_err(|e| crate::payments::corrupt_with("order view", &e))
            })
            .transpose()
    }

    fn index(&self, table: Table, key: &[u8]) -> Result<Option<OrderId>, AppError> {
        self.store()
            .get(table, key)?
            .map(|bytes| {
                table_keys::decode_order_id(&bytes)
                    .ok_or_else(|| crate::payments::corrupt_with("order index", &"bad order id"))
            })
            .transpose()
    }

    /// Decides a command and builds its append (blocking: reads the store).
    fn prepare(
        &self,
        meta: &CommandMeta,
        answer: Option<&Answer>,
        command: OrderCommand,
        with: WritesWith,
    ) -> Result<Prepared, AppError> {
        let mut claims = Vec::new();
        if let Some(answer) = answer {
            claims.push(table_claim(Table::Idempotency, &answer.key));
        }
        let (before, events) = self.decide(meta, command)?;
        let order_id = before
            .as_ref()
            .map_or_else(|| OrderId::from_uuid(uuid::Uuid::new_v4()), |o| o.id);
        let expected = before.as_ref().map_or(0, |o| o.version);
        let events = meta.new_events(
            before.as_ref().map(|o| o.last_modified_at),
            events.into_iter().map(Event::Order),
        );
        let mut snapshots = SnapshotRows::new(StreamId::order(order_id));
        let after = events
            .iter()
            .zip(expected + 1..)
            .fold(before.clone(), |state, (e, version)| {
                let Event::Order(event) = &e.event else {
                    unreachable!("order commands decide order events")
                };
                let order = evolve_order(
                    state,
                    OrderRecorded {
                        order_id,
                        version,
                        meta: &e.meta,
                        event,
                    },
                );
                snapshots.after(version, e.meta.recorded_at, || encode_order(&order));
                Some(order)
            })
            .ok_or_else(|| crate::payments::corrupt_with("order", &"a create decided nothing"))?;
        let view = self.with_totals(&meta.project, after)?;
        if events.is_empty() {
            // Nothing changed: the answer is the order as it is (an
            // idempotency answer is recorded only with an append).
            return Ok(Prepared {
                append: None,
                view,
                _claims: None,
            });
        }
        let mut inline = index_writes(&meta.project, before.as_ref(), &view.order);
        claims.extend(
            inline
                .iter()
                .filter(|w| w.value.is_some())
                .map(|w| table_claim(w.table, &w.key)),
        );
        let guard = self
            .claims
            .claim(claims)
            .map_err(|taken| match claimed_in(&taken) {
                (Some(Table::Idempotency) | None, _) => AppError::IdempotencyKeyInFlight,
                (Some(table), key) => duplicate(table, key, &view.order),
            })?;
        if let Some(answer) = answer {
            answer.check_unused(&**self.store())?;
        }
        self.check_unique(&inline, &view.order)?;
        inline.extend(
            events
                .iter()
                .zip(expected + 1..)
                .map(|(e, version)| KvWrite {
                    table: Table::EventIds,
                    key: e.meta.event_id.as_bytes().to_vec(),
                    value: Some(table_keys::order_event_id_value(order_id, version)),
                }),
        );
        inline.extend(crate::message_index::index_rows(
            &meta.project,
            StreamId::order(order_id),
            None,
            events
                .iter()
                .zip(expected + 1..)
                .map(|(e, version)| (version, e.meta.recorded_at, &e.event)),
        ));
        inline.push(KvWrite {
            table: Table::OrderViews,
            key: table_keys::order_view_key(&meta.project, order_id),
            value: (!view.order.deleted).then(|| encode_order(&view.order)),
        });
        let erased = events.iter().any(|e| e.event.erases_data());
        inline.extend(snapshots.finish(erased.then_some(view.order.version)));
        inline.extend(answer.map(|a| a.write(&view)));
        inline.extend(with(&view.order));
        Ok(Prepared {
            append: Some(AppendRequest {
                stream: StreamId::order(order_id),
                expected_version: expected,
                events,
                inline,
            }),
            view,
            _claims: Some(guard),
        })
    }

    /// The order before the command (none for a create) and its events.
    fn decide(
        &self,
        meta: &CommandMeta,
        command: OrderCommand,
    ) -> Result<(Option<Order>, Vec<OrderEvent>), AppError> {
        match command {
            OrderCommand::Create(draft) => Ok((None, vec![decide_order_create(&draft)?])),
            OrderCommand::Update {
                target,
                version,
                actions,
            } => {
                let order = self.stored_at(meta, &target, version)?;
                let failure = RefCell::new(None);
                let lookup = |id: PaymentId| match self.ledger.view(&meta.project, id) {
                    Ok(payment) => payment,
                    Err(error) => {
                        failure.borrow_mut().get_or_insert(error);
                        None
                    }
                };
                let events = decide_order_update(&order, &actions, &lookup);
                if let Some(error) = failure.into_inner() {
                    return Err(error);
                }
                Ok((Some(order), events?))
            }
            OrderCommand::Delete {
                target,
                version,
                data_erasure,
            } => {
                let order = self.stored_at(meta, &target, version)?;
                let event = decide_order_delete(&order, data_erasure)?;
                Ok((Some(order), vec![event]))
            }
        }
    }

    /// The order `target` names, which must be at `version`.
    fn stored_at(
        &self,
        meta: &CommandMeta,
        target: &OrderRef,
        version: u64,
    ) -> Result<Order, AppError> {
        let order = self
            .stored(&meta.project, target)?
            .ok_or(AppError::NotFound)?;
        if order.version != version {
            return Err(AppError::Conflict {
                stream: StreamId::order(order.id),
                expected: version,
                current_version: order.version,
            });
        }
        Ok(order)
    }

    /// Refuses a unique value another order (or, for a payment, another
    /// order's link) holds already.
    fn check_unique(&self, writes: &[KvWrite], order: &Order) -> Result<(), AppError> {
        for write in writes.iter().filter(|w| w.value.is_some()) {
            if let Some(owner) = self.index(write.table, &write.key)?
                && owner != order.id
            {
                return Err(match write.table {
                    Table::PaymentOrders => AppError::Rejected(Rejection::PaymentAlreadyInOrder {
                        payment: payment_of_link(&write.key),
                        order: Some(owner),
                    }),
                    table => duplicate(table, &write.key, order),
                });
            }
        }
        Ok(())
    }
}

/// The index rows of a live order: its number, its key, and a row per
/// linked payment, each holding the order's id.
fn index_rows(project: &ProjectKey, order: &Order) -> Vec<(Table, Vec<u8>)> {
    let mut rows = vec![(
        Table::OrderNumberIndex,
        table_keys::order_number_key(project, &order.order_number),
    )];
    if let Some(key) = &order.key {
        rows.push((
            Table::OrderKeyIndex,
            table_keys::order_key_index_key(project, key),
        ));
    }
    rows.extend(order.payments.iter().map(|payment| {
        (
            Table::PaymentOrders,
            table_keys::payment_order_key(project, *payment),
        )
    }));
    rows
}

/// The index writes that take an order from `before` to `after`: the rows
/// `before` held and `after` does not are deleted, the new ones written
/// (a deleted order holds none).
pub(crate) fn index_writes(
    project: &ProjectKey,
    before: Option<&Order>,
    after: &Order,
) -> Vec<KvWrite> {
    let live = |order: Option<&Order>| match order {
        Some(order) if !order.deleted => index_rows(project, order),
        _ => Vec::new(),
    };
    let (old, new) = (live(before), live(Some(after)));
    let removed = old
        .iter()
        .filter(|row| !new.contains(row))
        .map(|(table, key)| KvWrite {
            table: *table,
            key: key.clone(),
            value: None,
        });
    let added = new
        .iter()
        .filter(|row| !old.contains(row))
        .map(|(table, key)| KvWrite {
            table: *table,
            key: key.clone(),
            value: Some(after.id.as_bytes().to_vec()),
        });
    removed.chain(added).collect()
}

/// The payment id a [`Table::PaymentOrders`] key ends with.
fn payment_of_link(key: &[u8]) -> PaymentId {
    let tail: [u8; 16] = key[key.len() - 16..]
        .try_into()
        .unwrap_or_else(|_| unreachable!("payment order keys end with a payment id"));
    PaymentId::from_bytes(tail)
}

/// The rejection for a unique value another order claims right now.
fn duplicate(table: Table, key: &[u8], order: &Order) -> AppError {
    AppError::Rejected(match table {
        Table::OrderNumberIndex => Rejection::DuplicateOrderNumber {
            order_number: order.order_number.clone(),
        },
        Table::PaymentOrders => Rejection::PaymentAlreadyInOrder {
            payment: payment_of_link(key),
            order: None,
        },
        _ => Rejection::DuplicateKey {
            key: order.key.clone().unwrap_or_default(),
        },
    })
}
