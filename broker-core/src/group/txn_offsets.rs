//! Offsets committed inside a transaction (TxnOffsetCommit): appended to the group's
//! `__consumer_offsets` partition as part of the producer's transaction, held as pending, and
//! made the group's committed offsets by the transaction's commit marker (dropped by its abort
//! marker), as Kafka's group coordinator does.

use kafka_protocol::ResponseError;

use super::coordinator::{accepted_values, committed_at, offset_batch, OffsetCommit};
use super::records;
use super::state::{CommittedOffset, Group};
use super::{valid_group_id, OFFSETS_PARTITIONS};
use crate::cluster::maintenance::now_ms;
use crate::cluster::{Cluster, CONSUMER_OFFSETS};
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
    pub transactional_id: String,
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
        let count = commits.len();
        let fail_all = |e: ResponseError| vec![Err(e); count];
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
        let mut results = self.check_commits(&commits);
        let accepted = accepted_values(commits, &results, now_ms());
        if accepted.is_empty() {
            return results;
        }
        let batch = offset_batch(group_id, &accepted);
        let offsets_partition = records::partition_for(group_id, OFFSETS_PARTITIONS);
        let gate = self.txn_write_gate();
        if let Err(e) = self.verify_txn_write(
            &committer.transactional_id,
            committer.producer_id,
            committer.producer_epoch,
            CONSUMER_OFFSETS,
            offsets_partition,
        ) {
            return fail_all(e);
        }
        let producer = ProducerTag {
            producer_id: committer.producer_id,
            producer_epoch: committer.producer_epoch,
            transactional: true,
        };
        // Appended and held as pending under one lock: the transaction's marker, which settles
        // pending offsets under the same lock, finds them whenever it comes.
        let appended = {
            let mut pending = self.groups.lock_pending();
            self.append_offsets(group_id, &batch, Some(producer)).map(|(replica, appended)| {
                let entries = pending.entry(committer.producer_id).or_default();
                for (i, (topic, partition, v)) in accepted.into_iter().enumerate() {
                    let offset = committed_at(v, appended.base_offset + i as i64);
                    entries.push(PendingOffset { group_id: group_id.to_string(), topic, partition, offset });
                }
                (replica, appended)
            })
        };
        drop(gate);
        let outcome = match appended {
            Ok((replica, appended)) => self.await_offsets(&replica, &appended).await.map(|_| ()),
            Err(e) => Err(e),
        };
        if let Err(e) = outcome {
            for r in results.iter_mut().filter(|r| r.is_ok()) {
                *r = Err(e);
            }
        }
        results
    }

    /// A transaction's marker reached `__consumer_offsets` partition `offsets_partition`: the
    /// producer's pending offsets there take effect (commit) or go (abort).
    pub(crate) fn settle_txn_offsets(
        &self,
        producer_id: i64,
        offsets_partition: i32,
        marker_offset: i64,
        commit: bool,
    ) {
        let settled: Vec<PendingOffset> = {
            let mut pending = self.groups.lock_pending();
            let Some(entries) = pending.get_mut(&producer_id) else {
                return;
            };
            let (here, elsewhere): (Vec<_>, Vec<_>) = std::mem::take(entries).into_iter().partition(|p| {
                records::partition_for(&p.group_id, OFFSETS_PARTITIONS) == offsets_partition
                    && p.offset.record_offset < marker_offset
            });
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

    /// Whether any of `group_id`'s offsets wait for a transaction to end.
    pub fn has_pending_txn_offsets(&self, group_id: &str) -> bool {
        !self.pending_txn_partitions(group_id).is_empty()
    }

    /// The partitions whose offsets in `group_id` wait for a transaction to end (OffsetFetch
    /// with require_stable answers UNSTABLE_OFFSET_COMMIT for them, as Kafka does).
    pub fn pending_txn_partitions(&self, group_id: &str) -> std::collections::HashSet<(String, i32)> {
        self.groups
            .lock_pending()
            .values()
            .flatten()
            .filter(|p| p.group_id == group_id)
            .map(|p| (p.topic.clone(), p.partition))
            .collect()
    }
}

/// Makes offsets committed: each replaces the group's offset unless that one was written later.
pub(super) fn apply_committed(groups: &mut std::collections::HashMap<String, Group>, settled: Vec<PendingOffset>) {
    for p in settled {
        let group = groups.entry(p.group_id.clone()).or_insert_with(|| Group::new(&p.group_id, now_ms()));
        group.record_commit(p.topic, p.partition, p.offset);
    }
}
