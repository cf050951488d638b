//! Periodic work of the cluster, each at its own pace: group fsync and checkpoints
//! (`flush_interval`), retention (`retention_check_interval`), ISR shrink (`replica_lag_time_max`),
//! and the clean shutdown that writes the markers.

use std::sync::Arc;
use std::time::Duration;

use super::checkpoint;
use super::Cluster;
use crate::partition::Role;

impl Cluster {
    pub(super) fn spawn_maintenance(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = Vec::new();
        if !self.config.flush_interval.is_zero() {
            let cluster = Arc::clone(self);
            tasks.push(every(self.config.flush_interval, move || cluster.checkpoint_all()));
        }
        let cluster = Arc::clone(self);
        tasks.push(every(self.config.retention_check_interval, move || cluster.apply_retention(now_ms())));
        let cluster = Arc::clone(self);
        let period = (self.config.replica_lag_time_max / 2).max(Duration::from_millis(50));
        tasks.push(every(period, move || cluster.shrink_isrs()));
        tasks
    }

    /// Fsyncs every log of every broker that is up and writes the checkpoints.
    pub fn checkpoint_all(&self) {
        for broker in self.brokers.iter().filter(|b| b.is_up()) {
            if let Err(e) = broker.checkpoint() {
                tracing::error!(broker = broker.id, error = %e, "flush and checkpoint failed");
            }
        }
    }

    /// Applies time and size retention to every replica, and compaction to compacted topics.
    pub fn apply_retention(&self, now_ms: i64) {
        for broker in self.brokers.iter().filter(|b| b.is_up()) {
            for replica in broker.partitions() {
                match replica.apply_retention(now_ms) {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(
                        broker = broker.id,
                        topic = %replica.topic,
                        partition = replica.index,
                        segments = n,
                        log_start_offset = replica.log_start_offset(),
                        "retention deleted segments"
                    ),
                    Err(e) => {
                        tracing::error!(topic = %replica.topic, partition = replica.index, error = %e, "retention failed")
                    }
                }
                match replica.compact(now_ms) {
                    Ok(Some(done)) if done.segments_rewritten > 0 => tracing::info!(
                        broker = broker.id,
                        topic = %replica.topic,
                        partition = replica.index,
                        segments = done.segments_rewritten,
                        records_removed = done.records_removed,
                        bytes_before = done.bytes_before,
                        bytes_after = done.bytes_after,
                        "compacted"
                    ),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!(topic = %replica.topic, partition = replica.index, error = %e, "compaction failed")
                    }
                }
            }
        }
    }

    /// Drops followers that fell behind for longer than `replica_lag_time_max` from their ISR.
    pub fn shrink_isrs(&self) {
        for broker in self.brokers.iter().filter(|b| b.is_up()) {
            for replica in broker.partitions() {
                if replica.role() != Role::Leader {
                    continue;
                }
                let lagging = replica.lagging_followers(self.config.replica_lag_time_max);
                if !lagging.is_empty() {
                    self.shrink_isr(&replica.topic, replica.index, broker.id, &lagging);
                }
            }
        }
    }

    /// Flushes everything, writes checkpoints and the clean-shutdown markers.
    pub fn shutdown(&self) {
        for broker in &self.brokers {
            match broker.checkpoint() {
                Ok(()) => {
                    let marker = broker.dir().join(checkpoint::CLEAN_SHUTDOWN);
                    if let Err(e) = std::fs::write(&marker, b"") {
                        tracing::error!(broker = broker.id, error = %e, "could not write the clean-shutdown marker");
                    }
                }
                Err(e) => {
                    tracing::error!(broker = broker.id, error = %e, "final flush failed; the next start will recover")
                }
            }
        }
    }
}

/// Runs `job` every `period` on the blocking pool (it may fsync or delete files), one run at a time.
fn every(period: Duration, job: impl Fn() + Send + Sync + 'static) -> tokio::task::JoinHandle<()> {
    let job = Arc::new(job);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(period);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let job = Arc::clone(&job);
            let _ = tokio::task::spawn_blocking(move || job()).await;
        }
    })
}

/// Wall-clock milliseconds since the epoch (retention compares record timestamps with it).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}
