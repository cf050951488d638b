//! The group coordinator's operations on the cluster: JoinGroup, SyncGroup, Heartbeat, LeaveGroup,
//! OffsetCommit, OffsetFetch, ListGroups, DescribeGroups, DeleteGroups, and the in-process API the
//! monitor and the dashboard use (list, describe, committed offsets, reset offsets).
//!
//! A group's coordinator is the broker leading its `__consumer_offsets` partition; requests sent
//! elsewhere get NOT_COORDINATOR so the client looks it up again. Every commit and every stored
//! group state is appended to that partition and waits for the ISR (like `acks=all`) before it
//! takes effect in memory, so what a client was told is what a restart rebuilds. Kafka outcomes
//! are `ResponseError` values, never a dropped connection.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::ResponseError;
use tokio::time::Instant;

use super::records::{self, OffsetValue};
use super::state::{CommittedOffset, Group, GroupState, GroupWrite, JoinRequest, JoinResult, Outcome, SyncResult};
use super::{
    valid_group_id, GroupDescription, GroupListing, MemberDescription, MAX_METADATA_BYTES, OFFSETS_PARTITIONS,
};
use crate::cluster::maintenance::now_ms;
use crate::cluster::{AdminError, Cluster, CONSUMER_OFFSETS};
use crate::log::batch::{self, PlainRecord};

/// How often session timeouts, rebalance timeouts and the initial delay are checked.
const TICK: Duration = Duration::from_millis(100);

/// One partition's commit, as OffsetCommit carries it.
#[derive(Debug, Clone)]
pub struct OffsetCommit {
    pub topic: String,
    pub partition: i32,
    pub offset: i64,
    pub leader_epoch: i32,
    pub metadata: Option<String>,
}

/// Who commits: a member of a generation, or (generation -1, empty member id) a consumer that
/// only stores offsets.
#[derive(Debug, Clone)]
pub struct Committer {
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
}

impl Committer {
    pub fn standalone() -> Committer {
        Committer { generation_id: -1, member_id: String::new(), group_instance_id: None }
    }
}

/// Where `reset_offsets` moves a group's position.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResetTo {
    Earliest,
    Latest,
    Offset(i64),
    /// The first record at or after this wall-clock time in ms (the end when there is none).
    Timestamp(i64),
}

/// A SyncGroup request, decoded.
#[derive(Debug, Clone)]
pub struct SyncRequest {
    pub group_id: String,
    pub generation_id: i32,
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub protocol_type: Option<String>,
    pub protocol_name: Option<String>,
    pub assignments: Vec<(String, Bytes)>,
}

impl Cluster {
    /// The broker coordinating `group`: the leader of its `__consumer_offsets` partition, if up.
    pub fn group_coordinator(&self, group: &str) -> Option<i32> {
        let partition = records::partition_for(group, OFFSETS_PARTITIONS);
        let leader = self.metadata().partition(CONSUMER_OFFSETS, partition)?.leader;
        self.broker(leader).filter(|b| b.is_up()).map(|b| b.id)
    }

    /// NOT_COORDINATOR when `broker` does not coordinate `group`; `None` (in-process callers) skips
    /// the check.
    fn check_coordinator(&self, broker: Option<i32>, group: &str) -> Result<(), ResponseError> {
        let Some(broker) = broker else {
            return Ok(());
        };
        match self.group_coordinator(group) {
            Some(id) if id == broker => Ok(()),
            Some(_) => Err(ResponseError::NotCoordinator),
            None => Err(ResponseError::CoordinatorNotAvailable),
        }
    }

    pub async fn join_group(&self, broker: i32, req: JoinRequest) -> JoinResult {
        if !valid_group_id(&req.group_id) {
            return JoinResult::error(ResponseError::InvalidGroupId, &req.member_id);
        }
        let gc = &self.config.groups;
        if req.session_timeout < gc.min_session_timeout || req.session_timeout > gc.max_session_timeout {
            return JoinResult::error(ResponseError::InvalidSessionTimeout, &req.member_id);
        }
        if let Err(e) = self.check_coordinator(Some(broker), &req.group_id) {
            return JoinResult::error(e, &req.member_id);
        }
        let (outcome, writes) = {
            let mut groups = self.groups.lock();
            let group = groups.entry(req.group_id.clone()).or_insert_with(|| Group::new(&req.group_id, now_ms()));
            let prefix = req.group_instance_id.clone().unwrap_or_else(|| req.client_id.clone());
            let result = group.join(&req, Instant::now(), now_ms(), gc.initial_rebalance_delay, || {
                format!("{prefix}-{}", uuid::Uuid::from_bytes(crate::cluster::metadata::new_topic_id(0)))
            });
            prune(&mut groups, &req.group_id);
            result
        };
        self.store_group_writes(writes).await;
        match outcome {
            Outcome::Now(result) => result,
            Outcome::Wait(rx) => {
                rx.await.unwrap_or_else(|_| JoinResult::error(ResponseError::UnknownMemberId, &req.member_id))
            }
        }
    }

    pub async fn sync_group(&self, broker: i32, req: SyncRequest) -> SyncResult {
        if !valid_group_id(&req.group_id) {
            return Err(ResponseError::InvalidGroupId);
        }
        self.check_coordinator(Some(broker), &req.group_id)?;
        let (outcome, write) = {
            let mut groups = self.groups.lock();
            let Some(group) = groups.get_mut(&req.group_id) else {
                return Err(ResponseError::UnknownMemberId);
            };
            group.sync(
                &req.member_id,
                req.group_instance_id.as_deref(),
                req.generation_id,
                req.protocol_type.as_deref(),
                req.protocol_name.as_deref(),
                req.assignments,
                Instant::now(),
            )
        };
        if let Some(write) = write {
            let stored = self.store_group(&write).await;
            let writes = {
                let mut groups = self.groups.lock();
                match groups.get_mut(&write.group_id) {
                    Some(group) => group.sync_stored(
                        write.generation_id,
                        stored,
                        Instant::now(),
                        now_ms(),
                        self.config.groups.initial_rebalance_delay,
                    ),
                    None => Vec::new(),
                }
            };
            self.store_group_writes(writes).await;
        }
        match outcome {
            Outcome::Now(result) => result,
            Outcome::Wait(rx) => rx.await.unwrap_or(Err(ResponseError::UnknownMemberId)),
        }
    }

    pub fn heartbeat(
        &self,
        broker: i32,
        group_id: &str,
        member_id: &str,
        instance: Option<&str>,
        generation_id: i32,
    ) -> Result<(), ResponseError> {
        if !valid_group_id(group_id) {
            return Err(ResponseError::InvalidGroupId);
        }
        self.check_coordinator(Some(broker), group_id)?;
        let mut groups = self.groups.lock();
        let group = groups.get_mut(group_id).ok_or(ResponseError::UnknownMemberId)?;
        group.heartbeat(member_id, instance, generation_id, Instant::now())
    }

    /// LeaveGroup for each `(member id, instance id)`; the outer error is the group's.
    pub async fn leave_group(
        &self,
        broker: i32,
        group_id: &str,
        members: &[(String, Option<String>)],
    ) -> Result<Vec<Result<(), ResponseError>>, ResponseError> {
        if !valid_group_id(group_id) {
            return Err(ResponseError::InvalidGroupId);
        }
        self.check_coordinator(Some(broker), group_id)?;
        let (results, writes) = {
            let mut groups = self.groups.lock();
            let group = groups.get_mut(group_id).ok_or(ResponseError::UnknownMemberId)?;
            let mut writes = Vec::new();
            let mut results = Vec::with_capacity(members.len());
            for (member, instance) in members {
                let delay = self.config.groups.initial_rebalance_delay;
                match group.leave(member, instance.as_deref(), Instant::now(), now_ms(), delay) {
                    Ok(w) => {
                        writes.extend(w);
                        results.push(Ok(()));
                    }
                    Err(e) => results.push(Err(e)),
                }
            }
            (results, writes)
        };
        self.store_group_writes(writes).await;
        Ok(results)
    }

    /// OffsetCommit: one result per requested partition, in order. `broker` is `None` for
    /// in-process callers (offset resets).
    pub async fn commit_offsets(
        &self,
        broker: Option<i32>,
        group_id: &str,
        committer: &Committer,
        commits: Vec<OffsetCommit>,
    ) -> Vec<Result<(), ResponseError>> {
        let fail_all = |e: ResponseError| vec![Err(e); commits.len()];
        if !valid_group_id(group_id) {
            return fail_all(ResponseError::InvalidGroupId);
        }
        if let Err(e) = self.check_coordinator(broker, group_id) {
            return fail_all(e);
        }
        let mut results = self.check_commits(&commits);
        let allowed = {
            let groups = self.groups.lock();
            match groups.get(group_id) {
                Some(group) => group.check_commit(
                    &committer.member_id,
                    committer.group_instance_id.as_deref(),
                    committer.generation_id,
                ),
                None if committer.generation_id < 0 && committer.member_id.is_empty() => Ok(()),
                None => Err(ResponseError::UnknownMemberId),
            }
        };
        if let Err(e) = allowed {
            return fail_all(e);
        }
        let accepted = accepted_values(commits, &results, now_ms());
        if accepted.is_empty() {
            return results;
        }
        match self.store(group_id, &offset_batch(group_id, &accepted)).await {
            Ok(base) => {
                let mut groups = self.groups.lock();
                let group = groups.entry(group_id.to_string()).or_insert_with(|| Group::new(group_id, now_ms()));
                for (i, (topic, partition, v)) in accepted.into_iter().enumerate() {
                    group.record_commit(topic, partition, committed_at(v, base + i as i64));
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

    /// OffsetFetch: the committed offset of each requested partition (`None` when never
    /// committed), or of every partition the group committed when `partitions` is `None`.
    pub fn fetch_offsets(
        &self,
        broker: i32,
        group_id: &str,
        partitions: Option<&[(String, i32)]>,
    ) -> Result<Vec<(String, i32, Option<CommittedOffset>)>, ResponseError> {
        if !valid_group_id(group_id) {
            return Err(ResponseError::InvalidGroupId);
        }
        self.check_coordinator(Some(broker), group_id)?;
        let groups = self.groups.lock();
        let offsets = groups.get(group_id).map(|g| &g.offsets);
        Ok(match partitions {
            Some(wanted) => wanted
                .iter()
                .map(|(t, p)| (t.clone(), *p, offsets.and_then(|o| o.get(&(t.clone(), *p))).cloned()))
                .collect(),
            None => offsets.into_iter().flatten().map(|((t, p), c)| (t.clone(), *p, Some(c.clone()))).collect(),
        })
    }

    /// Every group, or only those `broker` coordinates (ListGroups asks each broker).
    pub fn list_groups(&self, broker: Option<i32>) -> Vec<GroupListing> {
        let listed: Vec<GroupListing> = {
            let groups = self.groups.lock();
            groups
                .values()
                .map(|g| GroupListing {
                    group_id: g.id.clone(),
                    state: g.state,
                    protocol_type: g.protocol_type.clone().unwrap_or_default(),
                    members: g.members.len(),
                    coordinator: -1,
                })
                .collect()
        };
        let mut out: Vec<GroupListing> = listed
            .into_iter()
            .map(|mut l| {
                l.coordinator = self.group_coordinator(&l.group_id).unwrap_or(-1);
                l
            })
            .filter(|l| broker.is_none_or(|b| l.coordinator == b))
            .collect();
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out
    }

    /// A group's state and members, as DescribeGroups reports it (`None` when unknown).
    pub fn describe_group(&self, group_id: &str) -> Option<GroupDescription> {
        let mut description = {
            let groups = self.groups.lock();
            let g = groups.get(group_id)?;
            let stable = g.state == GroupState::Stable;
            let protocol = if stable { g.protocol_name.clone().unwrap_or_default() } else { String::new() };
            GroupDescription {
                group_id: g.id.clone(),
                state: g.state,
                protocol_type: g.protocol_type.clone().unwrap_or_default(),
                protocol: protocol.clone(),
                generation_id: g.generation_id,
                leader: g.leader_id.clone(),
                coordinator: -1,
                members: g
                    .members
                    .values()
                    .map(|m| {
                        let assignment = if stable { m.assignment.clone() } else { Bytes::new() };
                        MemberDescription {
                            member_id: m.member_id.clone(),
                            group_instance_id: m.group_instance_id.clone(),
                            client_id: m.client_id.clone(),
                            client_host: m.client_host.clone(),
                            metadata: if stable { m.metadata(&protocol) } else { Bytes::new() },
                            partitions: records::assignment_partitions(&assignment),
                            assignment,
                        }
                    })
                    .collect(),
            }
        };
        description.coordinator = self.group_coordinator(group_id).unwrap_or(-1);
        Some(description)
    }

    /// A group's committed offsets with their commit timestamps (`None` when unknown).
    pub fn committed_offsets(&self, group_id: &str) -> Option<BTreeMap<(String, i32), CommittedOffset>> {
        self.groups.lock().get(group_id).map(|g| g.offsets.clone())
    }

    /// DeleteGroups for one group: only an empty group may go; its offsets and metadata get
    /// tombstones.
    pub async fn delete_group(&self, broker: Option<i32>, group_id: &str) -> Result<(), ResponseError> {
        if !valid_group_id(group_id) {
            return Err(ResponseError::InvalidGroupId);
        }
        self.check_coordinator(broker, group_id)?;
        let tombstones = {
            let mut groups = self.groups.lock();
            let group = groups.get_mut(group_id).ok_or(ResponseError::GroupIdNotFound)?;
            match group.state {
                GroupState::Dead => return Err(ResponseError::GroupIdNotFound),
                GroupState::Empty if group.is_empty() => {}
                _ => return Err(ResponseError::NonEmptyGroup),
            }
            group.state = GroupState::Dead;
            let mut batch: Vec<(Bytes, Option<Bytes>)> =
                group.offsets.keys().map(|(t, p)| (records::offset_key(group_id, t, *p), None)).collect();
            // A group that only stored offsets never had a metadata record to delete (Kafka's rule).
            if group.generation_id > 0 {
                batch.push((records::group_key(group_id), None));
            }
            batch
        };
        let stored = self.store(group_id, &tombstones).await;
        let mut groups = self.groups.lock();
        match stored {
            Ok(_) => {
                groups.remove(group_id);
                tracing::info!(group = group_id, "deleted group");
                Ok(())
            }
            Err(e) => {
                if let Some(g) = groups.get_mut(group_id) {
                    g.state = GroupState::Empty;
                }
                Err(e)
            }
        }
    }

    /// Moves a group's committed offsets on every partition of `topic`; refused while the group
    /// has members. Returns the new offset of each partition.
    pub async fn reset_offsets(
        &self,
        group_id: &str,
        topic: &str,
        to: ResetTo,
    ) -> Result<BTreeMap<i32, i64>, AdminError> {
        if !valid_group_id(group_id) {
            return Err(AdminError::new(
                ResponseError::InvalidGroupId,
                format!("'{group_id}' is not a valid group id"),
            ));
        }
        let partitions = self.partition_count(topic).ok_or_else(|| {
            AdminError::new(ResponseError::UnknownTopicOrPartition, format!("topic '{topic}' does not exist"))
        })?;
        if let Some(group) = self.groups.lock().get(group_id) {
            if !group.is_empty() {
                return Err(AdminError::new(
                    ResponseError::NonEmptyGroup,
                    format!(
                        "group '{group_id}' has {} active member(s); stop its consumers before resetting offsets",
                        group.members.len()
                    ),
                ));
            }
        }
        let mut targets = BTreeMap::new();
        for partition in 0..partitions {
            let replica = self.leader_replica(topic, partition).ok_or_else(|| {
                AdminError::new(ResponseError::LeaderNotAvailable, format!("{topic}-{partition} has no leader"))
            })?;
            let (start, end) = (replica.log_start_offset(), replica.high_watermark());
            let offset = match to {
                ResetTo::Earliest => start,
                ResetTo::Latest => end,
                ResetTo::Offset(n) => n.clamp(start, end),
                ResetTo::Timestamp(ts) => replica
                    .offset_for_timestamp(ts)
                    .map_err(|e| AdminError::new(e, format!("cannot search {topic}-{partition} by time")))?
                    .map_or(end, |(offset, _)| offset),
            };
            targets.insert(partition, offset);
        }
        let commits = targets
            .iter()
            .map(|(p, o)| OffsetCommit {
                topic: topic.to_string(),
                partition: *p,
                offset: *o,
                leader_epoch: -1,
                metadata: None,
            })
            .collect();
        let results = self.commit_offsets(None, group_id, &Committer::standalone(), commits).await;
        if let Some(Err(e)) = results.into_iter().find(Result::is_err) {
            let message = match e {
                ResponseError::UnknownMemberId | ResponseError::RebalanceInProgress => {
                    format!("group '{group_id}' has active members; stop its consumers before resetting offsets")
                }
                e => format!("could not store the new offsets: {e}"),
            };
            return Err(AdminError::new(e, message));
        }
        tracing::info!(group = group_id, topic, to = ?to, "reset committed offsets");
        Ok(targets)
    }

    fn partition_count(&self, topic: &str) -> Option<i32> {
        self.metadata().topics.get(topic).map(|t| t.partitions.len() as i32)
    }

    /// Runs session and rebalance timeouts and offset expiry until the runtime ends.
    pub(crate) async fn run_group_ticker(self: Arc<Self>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_expiry = Instant::now();
        loop {
            tick.tick().await;
            let writes: Vec<GroupWrite> = {
                let mut groups = self.groups.lock();
                let (now, now_ms, delay) = (Instant::now(), now_ms(), self.config.groups.initial_rebalance_delay);
                groups.values_mut().flat_map(|g| g.tick(now, now_ms, delay)).collect()
            };
            self.store_group_writes(writes).await;
            if last_expiry.elapsed() >= self.config.groups.offsets_retention_check_interval {
                last_expiry = Instant::now();
                self.expire_offsets(now_ms()).await;
            }
        }
    }

    /// Kafka's offset expiry (2.1+): offsets of a consumer group that has been empty for
    /// `offsets_retention` expire together; offsets of a group that only stores offsets expire
    /// one by one, `offsets_retention` after their commit. An empty group left with no offsets
    /// is deleted. Every removal is a tombstone in `__consumer_offsets`.
    pub async fn expire_offsets(&self, now_ms: i64) {
        let retention = i64::try_from(self.config.groups.offsets_retention.as_millis()).unwrap_or(i64::MAX);
        // Per group: the offsets that expired, whether the group goes, whether it has a metadata
        // record to delete.
        type Plan = (String, Vec<(String, i32)>, bool, bool);
        let plans: Vec<Plan> = {
            let groups = self.groups.lock();
            groups
                .values()
                .filter_map(|g| {
                    let expired: Vec<(String, i32)> = match (g.state, g.protocol_type.is_some()) {
                        (GroupState::Empty, true) if now_ms - g.state_timestamp_ms >= retention => {
                            g.offsets.keys().cloned().collect()
                        }
                        (GroupState::Empty, false) => g
                            .offsets
                            .iter()
                            .filter(|(_, c)| match c.expire_timestamp_ms {
                                Some(expire) => now_ms >= expire,
                                None => now_ms - c.commit_timestamp_ms >= retention,
                            })
                            .map(|(k, _)| k.clone())
                            .collect(),
                        _ => Vec::new(),
                    };
                    let drop_group = g.state == GroupState::Empty && g.is_empty() && expired.len() == g.offsets.len();
                    (!expired.is_empty() || drop_group)
                        .then(|| (g.id.clone(), expired, drop_group, g.generation_id > 0))
                })
                .collect()
        };
        for (group_id, expired, drop_group, has_metadata) in plans {
            let mut batch: Vec<(Bytes, Option<Bytes>)> =
                expired.iter().map(|(t, p)| (records::offset_key(&group_id, t, *p), None)).collect();
            if drop_group && has_metadata {
                batch.push((records::group_key(&group_id), None));
            }
            if let Err(e) = self.store(&group_id, &batch).await {
                tracing::warn!(group = %group_id, error = %e, "could not store expired offsets; will retry");
                continue;
            }
            let mut groups = self.groups.lock();
            if let Some(g) = groups.get_mut(&group_id) {
                for key in &expired {
                    g.offsets.remove(key);
                }
                if drop_group && g.state == GroupState::Empty && g.is_empty() && g.offsets.is_empty() {
                    groups.remove(&group_id);
                }
            }
            tracing::info!(group = %group_id, offsets = expired.len(), deleted = drop_group, "expired committed offsets");
        }
    }

    async fn store_group_writes(&self, writes: Vec<GroupWrite>) {
        for write in writes {
            if let Err(e) = self.store_group(&write).await {
                tracing::warn!(group = %write.group_id, error = %e, "could not store group metadata");
            }
        }
    }

    async fn store_group(&self, write: &GroupWrite) -> Result<(), ResponseError> {
        let batch = [(records::group_key(&write.group_id), Some(records::group_value(&write.value)))];
        self.store(&write.group_id, &batch).await.map(|_| ())
    }

    /// Appends records to the group's `__consumer_offsets` partition and waits until the ISR has
    /// them. Returns the offset of the first record. Errors are mapped as Kafka's coordinator maps
    /// them, so clients retry or look the coordinator up again.
    async fn store(&self, group_id: &str, batch: &[(Bytes, Option<Bytes>)]) -> Result<i64, ResponseError> {
        self.store_as(group_id, batch, None).await
    }

    /// [`Cluster::store`] on behalf of a transactional producer (TxnOffsetCommit): the batch is
    /// part of its transaction, so the partition checks its epoch and the marker settles it.
    pub(super) async fn store_as(
        &self,
        group_id: &str,
        batch: &[(Bytes, Option<Bytes>)],
        producer: Option<batch::ProducerTag>,
    ) -> Result<i64, ResponseError> {
        let (replica, appended) = self.append_offsets(group_id, batch, producer)?;
        self.await_offsets(&replica, &appended).await
    }

    /// The append half of [`Cluster::store_as`]: synchronous, so a caller may record what it
    /// appended before anything else can follow it in the log.
    pub(super) fn append_offsets(
        &self,
        group_id: &str,
        batch: &[(Bytes, Option<Bytes>)],
        producer: Option<batch::ProducerTag>,
    ) -> Result<(std::sync::Arc<crate::partition::Partition>, crate::partition::Appended), ResponseError> {
        let partition = records::partition_for(group_id, OFFSETS_PARTITIONS);
        let replica = self.leader_replica(CONSUMER_OFFSETS, partition).ok_or(ResponseError::NotCoordinator)?;
        let plain = batch.iter().map(|(key, value)| PlainRecord {
            key: Some(key.clone()),
            value: value.clone(),
            headers: Vec::new(),
        });
        let bytes = batch::encode_as(plain, now_ms(), producer).map_err(|_| ResponseError::UnknownServerError)?;
        let appended = replica.append_as_leader(&bytes, -1).map_err(|r| coordinator_error(r.code))?;
        Ok((replica, appended))
    }

    /// The replication half of [`Cluster::store_as`]: the offset of the first record once the
    /// ISR has it.
    pub(super) async fn await_offsets(
        &self,
        replica: &crate::partition::Partition,
        appended: &crate::partition::Appended,
    ) -> Result<i64, ResponseError> {
        if self.config.flush_interval.is_zero() {
            replica.flush().map_err(|_| ResponseError::NotCoordinator)?;
        }
        let deadline = Instant::now() + self.config.groups.commit_timeout;
        match replica.await_replication(appended, deadline).await {
            None => Ok(appended.base_offset),
            Some(e) => Err(coordinator_error(e)),
        }
    }
}

/// A write's error as Kafka's group coordinator reports it, so clients retry or look the
/// coordinator up again.
fn coordinator_error(e: ResponseError) -> ResponseError {
    match e {
        ResponseError::UnknownTopicOrPartition
        | ResponseError::NotEnoughReplicas
        | ResponseError::NotEnoughReplicasAfterAppend
        | ResponseError::RequestTimedOut => ResponseError::CoordinatorNotAvailable,
        ResponseError::NotLeaderOrFollower | ResponseError::KafkaStorageError => ResponseError::NotCoordinator,
        ResponseError::MessageTooLarge | ResponseError::RecordListTooLarge => ResponseError::InvalidCommitOffsetSize,
        other => other,
    }
}

impl Cluster {
    /// Each commit's own checks: metadata within `offset.metadata.max.bytes`, a partition that
    /// exists.
    pub(super) fn check_commits(&self, commits: &[OffsetCommit]) -> Vec<Result<(), ResponseError>> {
        commits
            .iter()
            .map(|c| {
                if c.metadata.as_ref().is_some_and(|m| m.len() > MAX_METADATA_BYTES) {
                    Err(ResponseError::OffsetMetadataTooLarge)
                } else if self.partition_count(&c.topic).is_none_or(|n| c.partition < 0 || c.partition >= n) {
                    Err(ResponseError::UnknownTopicOrPartition)
                } else {
                    Ok(())
                }
            })
            .collect()
    }
}

/// The commits that passed their checks, as the values to store at `timestamp`.
pub(super) fn accepted_values(
    commits: Vec<OffsetCommit>,
    results: &[Result<(), ResponseError>],
    timestamp: i64,
) -> Vec<(String, i32, OffsetValue)> {
    commits
        .into_iter()
        .zip(results)
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
        .collect()
}

/// The `__consumer_offsets` records of a group's commits.
pub(super) fn offset_batch(group_id: &str, accepted: &[(String, i32, OffsetValue)]) -> Vec<(Bytes, Option<Bytes>)> {
    accepted.iter().map(|(t, p, v)| (records::offset_key(group_id, t, *p), Some(records::offset_value(v)))).collect()
}

/// A stored commit, at `record_offset` in `__consumer_offsets`.
pub(super) fn committed_at(v: OffsetValue, record_offset: i64) -> CommittedOffset {
    CommittedOffset {
        offset: v.offset,
        leader_epoch: v.leader_epoch,
        metadata: v.metadata,
        commit_timestamp_ms: v.commit_timestamp_ms,
        expire_timestamp_ms: None,
        record_offset,
    }
}

/// Drops a group entry that a refused first join created and nothing else refers to.
fn prune(groups: &mut std::collections::HashMap<String, Group>, group_id: &str) {
    if groups
        .get(group_id)
        .is_some_and(|g| g.state == GroupState::Empty && g.generation_id == 0 && g.is_empty() && g.offsets.is_empty())
    {
        groups.remove(group_id);
    }
}
