//! Rebuilds every group and committed offset from `__consumer_offsets` at start.
//!
//! Each partition is read from its leader replica, in offset order, up to the log end offset (not
//! the high watermark: after a crash the checkpointed high watermark may trail what the ISR had
//! acknowledged). Later records win; a null value removes its key. A record that does not decode
//! is logged and skipped, never fatal: one bad record must not cost every group its offsets.
//! Offsets committed in a transaction count from its commit marker on; an abort marker drops
//! them, and those of a transaction still open wait for its marker as at runtime.

use bytes::Bytes;
use tokio::time::Instant;

use super::records::{self, RecordKey};
use super::state::{CommittedOffset, Group};
use super::txn_offsets::PendingOffset;
use super::OFFSETS_PARTITIONS;
use crate::cluster::maintenance::now_ms;
use crate::cluster::{Cluster, CONSUMER_OFFSETS};

/// What loading found, for one log line.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub records: usize,
    pub groups: usize,
    pub offsets: usize,
    pub skipped: usize,
}

impl Cluster {
    /// Replays `__consumer_offsets` into the coordinator's memory.
    pub(crate) fn load_groups(&self) -> LoadReport {
        let mut report = LoadReport::default();
        let mut groups = self.groups.lock();
        groups.clear();
        let now = Instant::now();
        let mut still_open: std::collections::HashMap<i64, Vec<PendingOffset>> = Default::default();
        for partition in 0..OFFSETS_PARTITIONS {
            let Some(replica) = self.leader_replica(CONSUMER_OFFSETS, partition) else {
                continue;
            };
            // Transactional offset commits by producer id, until their marker.
            let mut open_txns: std::collections::HashMap<i64, Vec<PendingOffset>> = Default::default();
            replica.replay_to_log_end(|header, raw| {
                if header.is_control() {
                    // A transaction's marker settles its offset commits in this partition.
                    if let Some(kind) = crate::log::batch::control_type(&raw, header) {
                        let settled = open_txns.remove(&header.producer_id).unwrap_or_default();
                        if kind == crate::log::batch::ControlType::Commit {
                            super::txn_offsets::apply_committed(&mut groups, settled);
                        }
                    }
                    return;
                }
                // One batch that does not decode (written by a client before internal topics
                // refused them, or damaged) costs only its own records.
                let mut batch = raw;
                let set = match crate::log::records::decode_batch(&mut batch, replica.decode_limit()) {
                    Ok(set) => set,
                    Err(e) => {
                        report.skipped += header.records_count.max(0) as usize;
                        tracing::warn!(partition, offset = header.base_offset, error = %e, "skipping an undecodable __consumer_offsets batch");
                        return;
                    }
                };
                for record in set.records {
                    report.records += 1;
                    let applied = if header.is_transactional() {
                        pending(
                            open_txns.entry(header.producer_id).or_default(),
                            record.offset,
                            record.key.as_ref(),
                            record.value.as_ref(),
                        )
                    } else {
                        apply(&mut groups, record.offset, record.key.as_ref(), record.value.as_ref(), now)
                    };
                    if let Err(e) = applied {
                        report.skipped += 1;
                        tracing::warn!(partition, offset = record.offset, error = %e, "skipping an undecodable __consumer_offsets record");
                    }
                }
            });
            for (pid, offsets) in open_txns {
                still_open.entry(pid).or_default().extend(offsets);
            }
        }
        *self.groups.lock_pending() = still_open;
        // A group known only by a tombstoned metadata record and no offsets is gone.
        groups.retain(|_, g| !(g.is_empty() && g.offsets.is_empty() && g.generation_id == 0));
        report.groups = groups.len();
        report.offsets = groups.values().map(|g| g.offsets.len()).sum();
        report
    }
}

/// Holds a transactional offset commit until its transaction's marker.
fn pending(
    open: &mut Vec<PendingOffset>,
    record_offset: i64,
    key: Option<&Bytes>,
    value: Option<&Bytes>,
) -> Result<(), records::RecordError> {
    let key = key.ok_or(records::RecordError::Null("key"))?;
    if let RecordKey::Offset { group, topic, partition } = records::decode_key(key)? {
        if let Some(value) = value {
            let v = records::decode_offset_value(value)?;
            open.push(PendingOffset {
                group_id: group,
                topic,
                partition,
                offset: CommittedOffset {
                    offset: v.offset,
                    leader_epoch: v.leader_epoch,
                    metadata: v.metadata,
                    commit_timestamp_ms: v.commit_timestamp_ms,
                    expire_timestamp_ms: v.expire_timestamp_ms,
                    record_offset,
                },
            });
        }
    }
    Ok(())
}

fn apply(
    groups: &mut std::collections::HashMap<String, Group>,
    record_offset: i64,
    key: Option<&Bytes>,
    value: Option<&Bytes>,
    now: Instant,
) -> Result<(), records::RecordError> {
    let Some(key) = key else {
        return Err(records::RecordError::Null("key"));
    };
    match records::decode_key(key)? {
        RecordKey::Offset { group, topic, partition } => match value {
            Some(value) => {
                let v = records::decode_offset_value(value)?;
                let g = groups.entry(group.clone()).or_insert_with(|| Group::new(&group, now_ms()));
                g.offsets.insert(
                    (topic, partition),
                    CommittedOffset {
                        offset: v.offset,
                        leader_epoch: v.leader_epoch,
                        metadata: v.metadata,
                        commit_timestamp_ms: v.commit_timestamp_ms,
                        expire_timestamp_ms: v.expire_timestamp_ms,
                        record_offset,
                    },
                );
            }
            None => {
                if let Some(g) = groups.get_mut(&group) {
                    g.offsets.remove(&(topic, partition));
                }
            }
        },
        RecordKey::Group { group } => match value {
            Some(value) => {
                let v = records::decode_group_value(value)?;
                let mut loaded = Group::load(&group, &v, now);
                if let Some(old) = groups.remove(&group) {
                    loaded.offsets = old.offsets;
                }
                groups.insert(group, loaded);
            }
            None => {
                if let Some(g) = groups.get_mut(&group) {
                    let offsets = std::mem::take(&mut g.offsets);
                    *g = Group::new(&group, now_ms());
                    g.offsets = offsets;
                }
            }
        },
    }
    Ok(())
}
