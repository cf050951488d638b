//! Replica fetchers: one task per broker copies, byte for byte, every partition it follows from
//! that partition's leader, through the same read path consumers use.
//!
//! Before fetching under a new leader epoch, a follower asks the leader where its own latest
//! epoch ends (OffsetForLeaderEpoch semantics) and truncates a divergent tail there, so a
//! returning ex-leader never keeps records the new leader does not have.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use kafka_protocol::ResponseError;

use super::Cluster;
use crate::partition::{Following, Partition};

/// Kafka's `replica.fetch.wait.max.ms`.
const FETCH_WAIT: Duration = Duration::from_millis(500);
/// Kafka's `replica.fetch.max.bytes` per partition.
const FETCH_MAX_BYTES: usize = 1 << 20;

impl Cluster {
    /// Starts one replica fetcher per broker and the maintenance loops. They stop when the
    /// returned handles are aborted or the runtime ends.
    pub fn spawn_background(self: &Arc<Self>) -> Vec<tokio::task::JoinHandle<()>> {
        let mut tasks = Vec::new();
        for broker in &self.brokers {
            let cluster = Arc::clone(self);
            let id = broker.id;
            tasks.push(tokio::spawn(async move { cluster.run_fetcher(id).await }));
        }
        tasks.extend(self.spawn_maintenance());
        tasks.push(tokio::spawn(Arc::clone(self).run_group_ticker()));
        tasks.push(tokio::spawn(Arc::clone(self).run_transaction_ticker()));
        tasks
    }

    async fn run_fetcher(self: Arc<Self>, id: i32) {
        let Some(broker) = self.broker(id).cloned() else {
            return;
        };
        let mut checked: HashMap<(Arc<str>, i32), Following> = HashMap::new();
        loop {
            let notified = self.activity.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            let mut progressed = false;
            if broker.is_up() && !broker.replication_paused() {
                for replica in broker.partitions() {
                    let Some(following) = replica.following() else {
                        continue;
                    };
                    match self.fetch_once(&replica, following, &mut checked) {
                        Ok(moved) => progressed |= moved,
                        Err(e) => {
                            tracing::debug!(broker = id, topic = %replica.topic, partition = replica.index, error = %e, "replica fetch failed");
                        }
                    }
                }
            }
            if !progressed {
                tokio::select! {
                    _ = &mut notified => {}
                    _ = tokio::time::sleep(FETCH_WAIT) => {}
                }
            } else {
                // Let producers and consumers run between rounds on a busy cluster.
                tokio::task::yield_now().await;
            }
        }
    }

    /// One fetch for one followed partition under the assignment `following`; returns whether
    /// anything was copied. Every change to the follower's log checks, under its lock, that the
    /// assignment is still `following`: an election meanwhile makes the rest of the round a no-op.
    fn fetch_once(
        &self,
        replica: &Partition,
        following: Following,
        checked: &mut HashMap<(Arc<str>, i32), Following>,
    ) -> Result<bool, String> {
        let leader = following.leader;
        let Some(source) =
            self.broker(leader).filter(|b| b.is_up()).and_then(|b| b.partition(&replica.topic, replica.index))
        else {
            return Ok(false);
        };
        let key = (Arc::clone(&replica.topic), replica.index);
        if checked.get(&key) != Some(&following) {
            self.truncate_divergence(replica, following, &source)?;
            checked.insert(key, following);
        }
        // DeleteRecords on the leader: the follower's log starts there too.
        let started = replica.follow_log_start(following, source.log_start_offset()).map_err(|e| e.to_string())?;
        if started {
            if let Some(broker) = self.broker(replica.broker_id) {
                broker.checkpoint_log_starts().map_err(|e| format!("log start checkpoint: {e}"))?;
            }
        }
        let fetch_offset = replica.log_end_offset();
        // Nothing to copy, the high watermark is current, and the leader has us in its ISR at
        // this position: skip the fetch (most partitions are idle; this keeps an idle one free).
        // Asking the leader, not remembering what we told it: a follower the leader dropped from
        // the ISR (a stop, a restart) must fetch once to rejoin, even with nothing to copy.
        if source.log_end_offset() == fetch_offset
            && source.high_watermark() == replica.high_watermark()
            && source.knows_follower_at(replica.broker_id, fetch_offset)
        {
            return Ok(started);
        }
        let epoch = following.epoch;
        match source.plan_follower_read(replica.broker_id, epoch, fetch_offset, FETCH_MAX_BYTES) {
            Ok((plan, isr_change)) => {
                if isr_change.is_some() {
                    self.record_isr(&replica.topic, replica.index, leader);
                }
                let bytes = match plan {
                    Some(plan) => plan.execute().map_err(|e| e.to_string())?,
                    None => bytes::Bytes::new(),
                };
                let before = replica.high_watermark();
                replica.append_replicated(following, &bytes, source.high_watermark()).map_err(|e| e.to_string())?;
                if !bytes.is_empty() {
                    // `flush_interval = 0s`: followers fsync what they copied before it counts
                    // towards acks=all, as the leader does before it acknowledges.
                    if self.config.flush_interval.is_zero() {
                        replica.flush().map_err(|e| format!("fsync of a copied batch: {e}"))?;
                    }
                    let leo = replica.log_end_offset();
                    if source.report_follower_position(replica.broker_id, epoch, leo).is_some() {
                        self.record_isr(&replica.topic, replica.index, leader);
                    }
                    // The report may have moved the leader's high watermark: adopt it now.
                    replica.append_replicated(following, &[], source.high_watermark()).map_err(|e| e.to_string())?;
                }
                Ok(!bytes.is_empty() || replica.high_watermark() != before)
            }
            Err(ResponseError::OffsetOutOfRange) => {
                if fetch_offset < source.log_start_offset() {
                    replica.reset_to(following, source.log_start_offset()).map_err(|e| e.to_string())?;
                } else {
                    replica.truncate_to(following, source.log_end_offset()).map_err(|e| e.to_string())?;
                }
                Ok(true)
            }
            Err(e) => Err(e.to_string()),
        }
    }

    pub(super) fn truncate_divergence(
        &self,
        replica: &Partition,
        following: Following,
        leader: &Partition,
    ) -> Result<(), String> {
        let own_epoch = replica.latest_log_epoch();
        if own_epoch < 0 {
            return Ok(());
        }
        let (leader_epoch, leader_end) = leader.end_offset_for_epoch(own_epoch);
        let target = if leader_epoch < 0 {
            // The leader has no epoch this old: keep nothing it cannot vouch for.
            leader.log_start_offset()
        } else if leader_epoch == own_epoch {
            leader_end
        } else {
            leader_end.min(replica.end_offset_for_epoch(leader_epoch).1)
        };
        if target < replica.log_end_offset() {
            tracing::info!(
                broker = replica.broker_id,
                topic = %replica.topic,
                partition = replica.index,
                from = replica.log_end_offset(),
                to = target,
                "truncating a divergent log tail"
            );
            replica.truncate_to(following, target).map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}
