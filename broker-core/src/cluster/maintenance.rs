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
        // With `flush_interval = 0s` every append is already fsynced; the checkpoints (recovery
        // points, high watermarks, log starts) are still written every second.
        let period =
            if self.config.flush_interval.is_zero() { Duration::from_secs(1) } else { self.config.flush_interval };
        let cluster = Arc::clone(self);
        tasks.push(every(period, move || cluster.checkpoint_all()));
        let cluster = Arc::clone(self);
        tasks.push(every(self.config.retention_check_interval, move || cluster.apply_retention(now_ms())));
        let cluster = Arc::clone(self);
        let period = (self.config.replica_lag_time_max / 2).max(Duration::from_millis(50));
        tasks.push(every(period, move || cluster.shrink_isrs()));
        tasks
    }

    /// Fsyncs every log of every broker that is up and writes the checkpoints. A failure is
    /// logged and kept (see [`Cluster::storage_errors`]) until a later checkpoint succeeds:
    /// data that cannot reach the disk is a reason not to be ready, never silent.
    pub fn checkpoint_all(&self) {
        for broker in self.brokers.iter().filter(|b| b.is_up()) {
            let result = broker.checkpoint();
            let mut errors = self.storage_errors.lock().unwrap_or_else(|e| e.into_inner());
            match result {
                Ok(()) => {
                    if errors.remove(&broker.id).is_some() {
                        tracing::info!(broker = broker.id, "flush and checkpoint succeed again");
                    }
                }
                Err(e) => {
                    if errors.insert(broker.id, e.to_string()).is_none() {
                        tracing::error!(broker = broker.id, error = %e, "flush and checkpoint failed; data since the last checkpoint is not on disk");
                    }
                }
            }
        }
    }

    /// Brokers whose last flush and checkpoint failed, with the error.
    pub fn storage_errors(&self) -> Vec<(i32, String)> {
        let errors = self.storage_errors.lock().unwrap_or_else(|e| e.into_inner());
        errors.iter().map(|(id, e)| (*id, e.clone())).collect()
    }

    /// Applies time and size retention to every replica, and compaction to compacted topics.
    pub fn apply_retention(&self, now_ms: i64) {
        let producer_expiration = self.config.limits.producer_id_expiration;
        for broker in self.brokers.iter().filter(|b| b.is_up()) {
            for replica in broker.partitions() {
                let expired = replica.expire_producers(now_ms, producer_expiration);
                if expired > 0 {
                    tracing::debug!(broker = broker.id, topic = %replica.topic, partition = replica.index, expired, "expired idle producer ids");
                }
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
                    let written = std::fs::File::create(&marker)
                        .and_then(|f| f.sync_all())
                        .and_then(|()| crate::log::sync_dir(broker.dir()));
                    if let Err(e) = written {
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
