//! Controller decisions: ISR changes reported by leaders, leader election when a broker stops,
//! and preferred-leader election when it is back in the ISR.
//!
//! Only clean elections: a new leader always comes from the ISR. A partition whose ISR has no
//! broker left up goes offline (`leader = -1`) and keeps its last ISR member recorded, so it
//! comes back with that member.

use kafka_protocol::ResponseError;

use super::metadata::{ClusterMetadata, PartitionMeta};
use super::{AdminError, Cluster};

impl Cluster {
    /// Records an ISR change a leader made. The ISR is read from the leader under the controller
    /// lock, not taken from the caller: two changes reported out of order (a shrink and a
    /// rejoin racing) still leave the leader's latest ISR recorded. Ignored when leadership
    /// moved meanwhile.
    pub fn record_isr(&self, topic: &str, index: i32, leader: i32) {
        let mut md = self.lock_metadata();
        let Some(replica) = self.replica(leader, topic, index) else {
            return;
        };
        let Some(pm) = md.partition_mut(topic, index) else {
            return;
        };
        if pm.leader != leader || replica.role() != crate::partition::Role::Leader {
            return;
        }
        let mut reported = replica.isr();
        reported.sort_unstable();
        // A fetch that was under way while its broker stopped may have put it back: a stopped
        // broker is never in an ISR (the pushed assignment takes it out of the leader's too).
        let mut isr = reported.clone();
        isr.retain(|r| *r == leader || self.broker(*r).is_some_and(|b| b.is_up()));
        let mut recorded = pm.isr.clone();
        recorded.sort_unstable();
        if recorded == isr && reported == isr {
            return;
        }
        let preferred = pm.replicas.first().copied();
        pm.isr = isr;
        tracing::info!(topic, partition = index, isr = ?pm.isr, "ISR changed");
        // The preferred leader is back in sync: hand leadership back to it.
        if let Some(preferred) = preferred {
            if preferred != leader && pm.isr.contains(&preferred) && self.broker(preferred).is_some_and(|b| b.is_up()) {
                pm.leader = preferred;
                pm.leader_epoch += 1;
                tracing::info!(
                    topic,
                    partition = index,
                    leader = preferred,
                    epoch = pm.leader_epoch,
                    "preferred leader elected"
                );
            }
        }
        let pm = pm.clone();
        if let Err(e) = self.persist(&md) {
            tracing::error!(error = %e, "could not persist an ISR change");
        }
        self.push_assignment(topic, index, &pm);
    }

    /// Takes followers that fell behind out of a partition's ISR: recorded and persisted first,
    /// then pushed to the leader, which counts them until then (Kafka's AlterPartition order).
    pub(super) fn shrink_isr(&self, topic: &str, index: i32, leader: i32, lagging: &[i32]) {
        let mut md = self.lock_metadata();
        let Some(pm) = md.partition_mut(topic, index) else {
            return;
        };
        let before = pm.isr.clone();
        if pm.leader != leader {
            return;
        }
        pm.isr.retain(|r| *r == leader || !lagging.contains(r));
        if pm.isr == before {
            return;
        }
        let after = pm.clone();
        if let Err(e) = self.persist(&md) {
            // Not recorded, so not applied: the leader keeps counting them, and retries.
            tracing::error!(error = %e, "could not persist an ISR shrink");
            if let Some(pm) = md.partition_mut(topic, index) {
                pm.isr = before;
            }
            return;
        }
        tracing::info!(topic, partition = index, isr = ?after.isr, lagging = ?lagging, "ISR shrank");
        self.push_assignment(topic, index, &after);
    }

    /// Takes a broker down: its listener and connections close, its replicas stop, and every
    /// partition it led gets a new leader from the ISR.
    pub fn stop_broker(&self, id: i32) -> Result<(), AdminError> {
        let broker = self.broker(id).ok_or_else(|| unknown_broker(id))?;
        if !broker.is_up() {
            return Ok(());
        }
        broker.set_up(false);
        let mut md = self.lock_metadata();
        let changed = self.elect_without(&mut md, id);
        self.persist(&md)?;
        for (topic, index, pm) in &changed {
            self.push_assignment(topic, *index, pm);
        }
        // The stopped broker's own replicas go offline too.
        for replica in broker.partitions() {
            if let Some(pm) = md.partition(&replica.topic, replica.index) {
                self.push_assignment(&replica.topic, replica.index, &pm.clone());
            }
        }
        drop(md);
        tracing::info!(broker = id, moved = changed.len(), "broker stopped");
        // Flush its logs after the election: the new leaders serve meanwhile.
        if let Err(e) = broker.checkpoint() {
            tracing::warn!(broker = id, error = %e, "checkpoint on broker stop failed");
        }
        Ok(())
    }

    /// Brings a stopped broker back: its replicas follow their leaders and rejoin the ISR once
    /// caught up; offline partitions it can lead come back online.
    pub fn start_broker(&self, id: i32) -> Result<(), AdminError> {
        let broker = self.broker(id).ok_or_else(|| unknown_broker(id))?;
        if broker.is_up() {
            return Ok(());
        }
        broker.set_up(true);
        let mut md = self.lock_metadata();
        let mut changed = Vec::new();
        for topic in md.topics.values_mut() {
            for (index, pm) in topic.partitions.iter_mut().enumerate() {
                if !pm.replicas.contains(&id) {
                    continue;
                }
                if pm.leader < 0 && pm.isr.contains(&id) {
                    pm.leader = id;
                    pm.leader_epoch += 1;
                    tracing::info!(topic = %topic.name, partition = index, leader = id, "offline partition back online");
                }
                changed.push((topic.name.clone(), index as i32, pm.clone()));
            }
        }
        self.persist(&md)?;
        for (topic, index, pm) in &changed {
            self.push_assignment(topic, *index, pm);
        }
        tracing::info!(broker = id, "broker started");
        Ok(())
    }

    /// At open, with every broker up and no client connected yet: partitions left offline (a
    /// crash while their brokers were stopped) get a leader from their ISR; every replica gets
    /// its assignment; and each leader learns where its ISR followers' logs end, after the
    /// divergence check their fetchers would make, so its high watermark starts where the ISR
    /// really is instead of at the checkpoint, which trails by up to a flush interval. What a
    /// client saw below the high watermark before a crash is below it again after the restart.
    pub(super) fn settle_at_open(&self) -> Result<(), super::OpenError> {
        let mut guard = self.lock_metadata();
        let md = &mut *guard;
        let mut elected = false;
        for topic in md.topics.values_mut() {
            for (index, pm) in topic.partitions.iter_mut().enumerate() {
                if pm.leader >= 0 {
                    continue;
                }
                if let Some(leader) = pm.replicas.iter().copied().find(|r| pm.isr.contains(r)) {
                    pm.leader = leader;
                    pm.leader_epoch += 1;
                    elected = true;
                    tracing::info!(topic = %topic.name, partition = index, leader, "offline partition back online at start");
                }
            }
        }
        if elected {
            self.persist(md).map_err(|e| std::io::Error::other(e.message))?;
        }
        let md = md.clone();
        drop(guard);
        for topic in md.topics.values() {
            for (index, pm) in topic.partitions.iter().enumerate() {
                let index = index as i32;
                self.push_assignment(&topic.name, index, pm);
                let Some(leader) = self.replica(pm.leader, &topic.name, index) else {
                    continue;
                };
                for follower in pm.isr.iter().filter(|r| **r != pm.leader) {
                    let Some(replica) = self.replica(*follower, &topic.name, index) else {
                        continue;
                    };
                    let Some(following) = replica.following() else {
                        continue;
                    };
                    if let Err(e) = self.truncate_divergence(&replica, following, &leader) {
                        tracing::warn!(topic = %topic.name, partition = index, broker = follower, error = %e, "divergence check at start failed; the fetcher retries");
                        continue;
                    }
                    // Already in the ISR: this only records the follower's position.
                    let _ = leader.report_follower_position(*follower, pm.leader_epoch, replica.log_end_offset());
                }
            }
        }
        Ok(())
    }

    /// Removes broker `down` from every ISR and moves leadership off it. Returns what changed.
    fn elect_without(&self, md: &mut ClusterMetadata, down: i32) -> Vec<(String, i32, PartitionMeta)> {
        let mut changed = Vec::new();
        for topic in md.topics.values_mut() {
            for (index, pm) in topic.partitions.iter_mut().enumerate() {
                if !pm.replicas.contains(&down) {
                    continue;
                }
                let before = pm.clone();
                if pm.leader == down {
                    let next = pm
                        .replicas
                        .iter()
                        .copied()
                        .find(|r| *r != down && pm.isr.contains(r) && self.broker(*r).is_some_and(|b| b.is_up()));
                    pm.leader = next.unwrap_or(-1);
                    pm.leader_epoch += 1;
                }
                // The last ISR member stays recorded so the partition can come back with it.
                if pm.isr.len() > 1 {
                    pm.isr.retain(|r| *r != down);
                }
                if *pm != before {
                    changed.push((topic.name.clone(), index as i32, pm.clone()));
                }
            }
        }
        changed
    }
}

fn unknown_broker(id: i32) -> AdminError {
    AdminError::new(ResponseError::BrokerNotAvailable, format!("no broker with id {id}"))
}
