//! The commit signal: a store tells log consumers that a partition's log
//! grew, from the commit itself.
//!
//! Every [`EventStore`](crate::EventStore) owns one [`LogSignal`] and
//! notifies a partition after each append to it is durable and readable,
//! before the appender hears back. A consumer therefore needs no poll: if
//! it subscribed before reading the log and found nothing new, the next
//! commit wakes it. One watch channel per partition: a notification sent
//! while a consumer was busy is seen by its next wait (none is lost), and
//! many are coalesced into one wake-up.

use tokio::sync::watch;

/// Per-partition notifications of log growth.
#[derive(Debug)]
pub struct LogSignal {
    partitions: Vec<watch::Sender<u64>>,
}

impl LogSignal {
    /// A signal for `partition_count` partitions (at least one).
    pub fn new(partition_count: u16) -> Self {
        Self {
            partitions: (0..partition_count.max(1))
                .map(|_| watch::Sender::new(0))
                .collect(),
        }
    }

    /// New events were committed to `partition`. Stores call this; nothing
    /// else needs to.
    pub fn notify(&self, partition: u16) {
        if let Some(sender) = self.partitions.get(usize::from(partition)) {
            sender.send_modify(|count| *count = count.wrapping_add(1));
        }
    }

    /// A waiter for `partition` that sees notifications sent from now on.
    pub fn subscribe(&self, partition: u16) -> LogWaiter {
        let index = usize::from(partition) % self.partitions.len();
        let mut receiver = self.partitions[index].subscribe();
        receiver.mark_unchanged();
        LogWaiter { receiver }
    }
}

/// One consumer's view of a partition's [`LogSignal`].
#[derive(Debug)]
pub struct LogWaiter {
    receiver: watch::Receiver<u64>,
}

impl LogWaiter {
    /// Waits until the partition was notified since the last wait.
    pub async fn wait(&mut self) {
        if self.receiver.changed().await.is_err() {
            // The store is gone (it owns the sender): nothing will ever be
            // committed again.
            std::future::pending::<()>().await;
        }
        self.receiver.mark_unchanged();
    }

    /// Whether the partition was notified since the last wait, without
    /// waiting.
    pub fn is_notified(&self) -> bool {
        self.receiver.has_changed().unwrap_or(false)
    }
}
