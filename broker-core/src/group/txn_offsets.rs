//! Offsets committed inside a transaction (TxnOffsetCommit): appended to the group's
//! `__consumer_offsets` partition as part of the producer's transaction, held as pending, and
//! made the group's committed offsets by the transaction's commit marker (dropped by its abort
//! marker), as Kafka's group coordinator does.

use kafka_protocol::ResponseError;

use super::coordinator::OffsetCommit;
use super::records::{self, OffsetValue};
use super::state::{CommittedOffset, Group};
use super::{valid_group_id, MAX_METADATA_BYTES, OFFSETS_PARTITIONS};
use crate::cluster::maintenance::now_ms;
use crate::cluster::Cluster;
use crate::log::batch::ProducerTag;

/// One offset waiting for its transaction's marker.
#[derive(Debug, Clone)]
pub struct PendingOffset {
    pub group_id: String,
    pub topic: String,
    pub partition: i32,
    pub offset: CommittedOffset,
}

/// Who commits in a transaction: the producer and, from TxnOffsetCommit v3, the group member.
#[derive(Debug, Clone)]
pub struct TxnCommitter {
    pub producer_id: i64,
    pub producer_epoch: i16,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub generation_id: i32,
}

impl Cluster {
    /// TxnOffsetCommit: checks the group (a missing one is created empty), appends the offsets
    /// as the producer's transactional batch (a fenced producer's epoch is refused there) and
    /// holds them until the transaction ends.
    pub async fn txn_commit_offsets(
        &self,
        broker: Option<i32>,
        group_id: &str,
        committer: &TxnCommitter,
        commits: Vec<OffsetCommit>,
    ) -> Vec<Result<(), ResponseError>> {
        let fail_all = |e: ResponseError| vec![Err(e); commits.len()];
        if !valid_group_id(group_id) {
            return fail_all(ResponseError::InvalidGroupId);
        }
        if let Some(broker) = broker {
            match self.group_coordinator(group_id) {
                Some(id) if id == broker => {}
                Some(_) => return fail_all(ResponseError::NotCoordinator),
                None => return fail_all(ResponseError::CoordinatorNotAvailable),
            }
        }
        let checked = {
            let mut groups = self.groups.lock();
            let group = groups.entry(group_id.to_string()).or_insert_with(|| Group::new(group_id, now_ms()));
            group.check_txn_commit(
                &committer.member_id,
                committer.group_instance_id.as_deref(),
                committer.generation_id,
            )
        };
        if let Err(e) = checked {
            return fail_all(e);
        }
        let mut results: Vec<Result<(), ResponseError>> = commits
            .iter()
            .map(|c| {
                if c.metadata.as_ref().is_some_and(|m| m.len() > MAX_METADATA_BYTES) {
                    Err(ResponseError::OffsetMetadataTooLarge)
                } else if self
                    .metadata()
                    .topics
                    .get(&c.topic)
                    .is_none_or(|t| c.partition < 0 || c.partition as usize >= t.partitions.len())
                {
                    Err(ResponseError::UnknownTopicOrPartition)
                } else {
                    Ok(())
                }
            })
            .collect();
        let timestamp = now_ms();
        let accepted: Vec<(String, i32, OffsetValue)> = commits
            .into_iter()
            .zip(&results)
            .filter(|(_, r)| r.is_ok())
            .map(|(c, _)| {
                let value = OffsetValue {
                    offset: c.offset,
                    leader_epoch: c.leader_epoch,
                    metadata: c.metadata.unwrap_or_default(),
                    commit_timestamp_ms: timestamp,
                    expire_timestamp_ms: None,
                };
                (c.topic, c.partition, value)
            })
            .collect();
        if accepted.is_empty() {
            return results;
        }
        let batch: Vec<(bytes::Bytes, Option<bytes::Bytes>)> = accepted
            .iter()
            .map(|(t, p, v)| (records::offset_key(group_id, t, *p), Some(records::offset_value(v))))
            .collect();
        let producer = ProducerTag {
            producer_id: committer.producer_id,
            producer_epoch: committer.producer_epoch,
            transactional: true,
        };
        match self.store_as(group_id, &batch, Some(producer)).await {
            Ok(base) => {
                let mut pending = self.groups.lock_pending();
                let entries = pending.entry(committer.producer_id).or_default();
                for (i, (topic, partition, v)) in accepted.into_iter().enumerate() {
                    entries.push(PendingOffset {
                        group_id: group_id.to_string(),
                        topic,
                        partition,
                        offset: CommittedOffset {
                            offset: v.offset,
                            leader_epoch: v.leader_epoch,
                            metadata: v.metadata,
                            commit_timestamp_ms: v.commit_timestamp_ms,
                            expire_timestamp_ms: None,
                            record_offset: base + i as i64,
                        },
                    });
                }
            }
            Err(e) => {
                for r in results.iter_mut().filter(|r| r.is_ok()) {
                    *r = Err(e);
                }
            }
        }
        results
    }

    /// A transaction's marker reached `__consumer_offsets` partition `offsets_partition`: the
    /// producer's pending offsets there take effect (commit) or go (abort).
    pub(crate) fn settle_txn_offsets(&self, producer_id: i64, offsets_partition: i32, commit: bool) {
        let settled: Vec<PendingOffset> = {
            let mut pending = self.groups.lock_pending();
            let Some(entries) = pending.get_mut(&producer_id) else {
                return;
            };
            let (here, elsewhere): (Vec<_>, Vec<_>) = std::mem::take(entries)
                .into_iter()
                .partition(|p| records::partition_for(&p.group_id, OFFSETS_PARTITIONS) == offsets_partition);
            if elsewhere.is_empty() {
                pending.remove(&producer_id);
            } else {
                *entries = elsewhere;
            }
            here
        };
        if commit {
            let mut groups = self.groups.lock();
            apply_committed(&mut groups, settled);
        }
    }

    /// Whether any of `group_id`'s offsets wait for a transaction to end (OffsetFetch with
    /// require_stable answers UNSTABLE_OFFSET_COMMIT then).
    pub fn has_pending_txn_offsets(&self, group_id: &str) -> bool {
        self.groups.lock_pending().values().flatten().any(|p| p.group_id == group_id)
    }
}

/// Makes offsets committed: each replaces the group's offset unless that one was written later.
pub(super) fn apply_committed(groups: &mut std::collections::HashMap<String, Group>, settled: Vec<PendingOffset>) {
    for p in settled {
        let group = groups.entry(p.group_id.clone()).or_insert_with(|| Group::new(&p.group_id, now_ms()));
        match group.offsets.entry((p.topic, p.partition)) {
            std::collections::btree_map::Entry::Occupied(mut o) => {
                if o.get().record_offset < p.offset.record_offset {
                    o.insert(p.offset);
                }
            }
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(p.offset);
            }
        }
    }
}
