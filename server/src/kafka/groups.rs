//! Consumer groups as an administrator sees them: coordinators (FindCoordinator), ListGroups
//! (every broker asked, answers merged), DescribeGroups with the members' assignments decoded
//! from the consumer protocol, OffsetFetch, OffsetCommit and DeleteGroups.
//!
//! Every group request goes to the group's coordinator; NOT_COORDINATOR and friends make the
//! retry loop look the coordinator up again.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::{Buf, Bytes};
use kafka_protocol::messages::describe_groups_response::DescribedGroup;
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::offset_fetch_request::OffsetFetchRequestTopic;
use kafka_protocol::messages::{
    ApiKey, ConsumerProtocolAssignment, DeleteGroupsRequest, DescribeGroupsRequest, FindCoordinatorRequest, GroupId,
    ListGroupsRequest, OffsetCommitRequest, OffsetFetchRequest, TopicName,
};
use kafka_protocol::protocol::{Decodable, StrBytes};

use super::client::{retry, Client};
use super::error::{check, Error, Result};

/// GROUP_ID_NOT_FOUND.
const GROUP_ID_NOT_FOUND: i16 = 69;

/// A group as ListGroups reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupListing {
    pub group_id: String,
    /// `consumer` for Kafka consumers; empty for groups that only commit offsets.
    pub protocol_type: String,
    /// Kafka's state name when the broker reports it (ListGroups v4+), else empty.
    pub state: String,
    /// The broker that listed it: its coordinator.
    pub coordinator: i32,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberDescription {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    /// As the broker reports it, e.g. `/127.0.0.1`.
    pub client_host: String,
    /// Assigned (topic, partitions), decoded when the group speaks the consumer protocol.
    pub assignment: Vec<(String, Vec<i32>)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    pub group_id: String,
    /// `Stable`, `Empty`, `PreparingRebalance`, `CompletingRebalance`, or `Dead` for none.
    pub state: String,
    pub protocol_type: String,
    /// The chosen assignor, e.g. `range`.
    pub protocol: String,
    pub members: Vec<MemberDescription>,
}

/// The partitions in a consumer-protocol assignment (`i16 version` then the body); empty for
/// empty or undecodable bytes. Newer versions only append fields, so they are read as the
/// newest the codec knows.
pub fn decode_assignment(bytes: &Bytes) -> Vec<(String, Vec<i32>)> {
    let mut buf = bytes.clone();
    if buf.remaining() < 2 {
        return Vec::new();
    }
    let version = buf.get_i16().clamp(0, 3);
    match ConsumerProtocolAssignment::decode(&mut buf, version) {
        Ok(a) => a.assigned_partitions.into_iter().map(|tp| (tp.topic.0.to_string(), tp.partitions)).collect(),
        Err(_) => Vec::new(),
    }
}

fn describe(g: DescribedGroup) -> GroupDescription {
    let consumer = g.protocol_type.as_str() == "consumer";
    GroupDescription {
        group_id: g.group_id.0.to_string(),
        state: g.group_state.to_string(),
        protocol_type: g.protocol_type.to_string(),
        protocol: g.protocol_data.to_string(),
        members: g
            .members
            .into_iter()
            .map(|m| MemberDescription {
                member_id: m.member_id.to_string(),
                group_instance_id: m.group_instance_id.map(|i| i.to_string()),
                client_id: m.client_id.to_string(),
                client_host: m.client_host.to_string(),
                assignment: if consumer { decode_assignment(&m.member_assignment) } else { Vec::new() },
            })
            .collect(),
    }
}

fn group_id(group: &str) -> GroupId {
    GroupId(StrBytes::from_string(group.to_string()))
}

impl Client {
    /// The broker coordinating `group` (cached until an error says it moved).
    pub async fn find_coordinator(&self, group: &str) -> Result<i32> {
        if let Some(id) = self.cached_coordinator(group) {
            return Ok(id);
        }
        let response = retry!(
            self,
            async {
                let response = self
                    .call_any(|_v| FindCoordinatorRequest::default().with_key(StrBytes::from_string(group.to_string())))
                    .await?;
                check(response.error_code, || format!("coordinator of group '{group}'"))?;
                Ok(response)
            }
            .await
        )?;
        let id = response.node_id.0;
        if !self.cached_metadata().brokers.contains_key(&id) {
            // A coordinator the cached metadata does not list yet: learn its address.
            self.metadata(Some(&[])).await?;
            if !self.cached_metadata().brokers.contains_key(&id) {
                let (host, port) = (&response.host, response.port);
                return Err(Error::Invalid(format!(
                    "coordinator {id} of group '{group}' ({host}:{port}) is not in the metadata"
                )));
            }
        }
        self.remember_coordinator(group, id);
        Ok(id)
    }

    /// Every group of the cluster: ListGroups to each broker, merged, sorted by id.
    pub async fn list_groups(&self) -> Result<Vec<GroupListing>> {
        let (groups, mut failures) = self.list_groups_each().await?;
        match failures.pop() {
            Some((_, e)) => Err(e),
            None => Ok(groups),
        }
    }

    /// ListGroups to each broker: the groups of those that answered, and the error of each
    /// broker that did not (a monitor keeps what it knew of that broker's groups).
    pub async fn list_groups_each(&self) -> Result<(Vec<GroupListing>, Vec<(i32, Error)>)> {
        let mut out = Vec::new();
        let mut failures = Vec::new();
        for broker in self.broker_ids().await? {
            let answer = retry!(
                self,
                async {
                    let response = self.call_broker(broker, Duration::ZERO, |_v| ListGroupsRequest::default()).await?;
                    check(response.error_code, || format!("listing the groups of broker {broker}"))?;
                    Ok(response)
                }
                .await
            );
            let response = match answer {
                Ok(response) => response,
                Err(e) => {
                    failures.push((broker, e));
                    continue;
                }
            };
            for g in response.groups {
                let group_id = g.group_id.0.to_string();
                self.remember_coordinator(&group_id, broker);
                out.push(GroupListing {
                    group_id,
                    protocol_type: g.protocol_type.to_string(),
                    state: g.group_state.to_string(),
                    coordinator: broker,
                });
            }
        }
        out.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        out.dedup_by(|a, b| a.group_id == b.group_id);
        Ok((out, failures))
    }

    /// DescribeGroups for each group, batched per coordinator, in the order asked.
    pub async fn describe_groups(&self, groups: &[String]) -> Result<Vec<GroupDescription>> {
        self.describe_groups_each(groups).await.into_iter().map(|(_, d)| d).collect()
    }

    /// DescribeGroups for each group, batched per coordinator: each group's description or the
    /// error that kept it (one group's error, or its coordinator's, costs only those groups).
    pub async fn describe_groups_each(&self, groups: &[String]) -> Vec<(String, Result<GroupDescription>)> {
        let mut by_coordinator: BTreeMap<i32, Vec<&String>> = BTreeMap::new();
        let mut results: BTreeMap<&String, Result<GroupDescription>> = BTreeMap::new();
        for g in groups {
            match self.find_coordinator(g).await {
                Ok(coordinator) => by_coordinator.entry(coordinator).or_default().push(g),
                Err(e) => {
                    results.insert(g, Err(e));
                }
            }
        }
        for batch in by_coordinator.into_values() {
            let mut pending = batch;
            let answer = retry!(
                self,
                async {
                    // The coordinator of a group may move between attempts.
                    let coordinator = self.find_coordinator(pending[0]).await?;
                    let response = self
                        .call_broker(coordinator, Duration::ZERO, |_v| {
                            DescribeGroupsRequest::default().with_groups(pending.iter().map(|g| group_id(g)).collect())
                        })
                        .await?;
                    let mut retriable = None;
                    for g in response.groups {
                        let Some(asked) = pending.iter().copied().find(|p| p.as_str() == g.group_id.0.as_str()) else {
                            continue;
                        };
                        match check(g.error_code, || format!("group '{}'", g.group_id.0)) {
                            Ok(()) => {
                                results.insert(asked, Ok(describe(g)));
                            }
                            Err(e) if e.is_retriable() => retriable = Some(e),
                            Err(e) => {
                                results.insert(asked, Err(e));
                            }
                        }
                    }
                    pending.retain(|g| !results.contains_key(g));
                    match retriable {
                        Some(e) if !pending.is_empty() => Err(e),
                        _ => Ok(()),
                    }
                }
                .await
            );
            for g in pending {
                let error = match &answer {
                    Err(e) => e.clone(),
                    Ok(()) => {
                        Error::kafka(GROUP_ID_NOT_FOUND, format!("group '{g}' (left out of the DescribeGroups answer)"))
                    }
                };
                results.insert(g, Err(error));
            }
        }
        groups
            .iter()
            .filter_map(|g| {
                let result = results.remove(g)?;
                Some((g.clone(), result))
            })
            .collect()
    }

    /// The committed offsets of `group` ((topic, partition) -> offset); partitions never
    /// committed (offset -1) are left out.
    pub async fn offset_fetch(&self, group: &str) -> Result<BTreeMap<(String, i32), i64>> {
        let offsets = self.offset_fetch_with_metadata(group, false).await?;
        Ok(offsets.into_iter().map(|(k, (offset, _))| (k, offset)).collect())
    }

    /// [`Client::offset_fetch`] with each offset's commit metadata. `require_stable` (KIP-447,
    /// OffsetFetch v7+) makes the coordinator answer UNSTABLE_OFFSET_COMMIT for offsets a
    /// transaction still holds, which is then retried; so is any other per-partition error.
    pub async fn offset_fetch_with_metadata(
        &self,
        group: &str,
        require_stable: bool,
    ) -> Result<BTreeMap<(String, i32), (i64, String)>> {
        let response = retry!(
            self,
            async {
                let coordinator = self.find_coordinator(group).await?;
                let connection = self.broker(coordinator).await?;
                let version = connection.version(ApiKey::OffsetFetch)?;
                // v1 cannot ask for "all topics": name every partition the metadata knows.
                let topics = if version >= 2 {
                    None
                } else {
                    let metadata = self.metadata(None).await?;
                    Some(
                        metadata
                            .topics
                            .values()
                            .map(|t| {
                                OffsetFetchRequestTopic::default()
                                    .with_name(TopicName(StrBytes::from_string(t.name.clone())))
                                    .with_partition_indexes(t.partitions.iter().map(|p| p.partition).collect())
                            })
                            .collect(),
                    )
                };
                let request = OffsetFetchRequest::default()
                    .with_group_id(group_id(group))
                    .with_topics(topics)
                    .with_require_stable(require_stable && version >= 7);
                let response = connection.call(version, &request, self.config().request_timeout).await?;
                check(response.error_code, || format!("offsets of group '{group}'"))?;
                if require_stable {
                    for t in &response.topics {
                        for p in &t.partitions {
                            check(p.error_code, || {
                                format!("offset of {}-{} in group '{group}'", t.name.0, p.partition_index)
                            })?;
                        }
                    }
                }
                Ok(response)
            }
            .await
        )?;
        let mut out = BTreeMap::new();
        for t in response.topics {
            for p in t.partitions {
                // A per-partition error (e.g. UNSTABLE_OFFSET_COMMIT) leaves that partition unknown.
                if p.error_code == 0 && p.committed_offset >= 0 {
                    let metadata = p.metadata.as_ref().map(ToString::to_string).unwrap_or_default();
                    out.insert((t.name.0.to_string(), p.partition_index), (p.committed_offset, metadata));
                }
            }
        }
        Ok(out)
    }

    /// Commits `offsets` for `group`; a standalone commit uses generation -1 and no member id.
    pub async fn offset_commit(
        &self,
        group: &str,
        generation_id: i32,
        member_id: &str,
        offsets: &BTreeMap<(String, i32), i64>,
    ) -> Result<()> {
        let offsets = offsets.iter().map(|(k, o)| (k.clone(), (*o, None))).collect();
        self.offset_commit_with_metadata(group, generation_id, member_id, &offsets).await
    }

    /// [`Client::offset_commit`] with commit metadata per offset.
    pub async fn offset_commit_with_metadata(
        &self,
        group: &str,
        generation_id: i32,
        member_id: &str,
        offsets: &BTreeMap<(String, i32), (i64, Option<String>)>,
    ) -> Result<()> {
        let mut topics: BTreeMap<&str, Vec<OffsetCommitRequestPartition>> = BTreeMap::new();
        for ((t, p), (offset, metadata)) in offsets {
            topics.entry(t.as_str()).or_default().push(
                OffsetCommitRequestPartition::default()
                    .with_partition_index(*p)
                    .with_committed_offset(*offset)
                    .with_committed_leader_epoch(-1)
                    .with_committed_metadata(metadata.clone().map(StrBytes::from_string)),
            );
        }
        let build = |_v: i16| {
            OffsetCommitRequest::default()
                .with_group_id(group_id(group))
                .with_generation_id_or_member_epoch(generation_id)
                .with_member_id(StrBytes::from_string(member_id.to_string()))
                .with_topics(
                    topics
                        .iter()
                        .map(|(t, ps)| {
                            OffsetCommitRequestTopic::default()
                                .with_name(TopicName(StrBytes::from_string((*t).to_string())))
                                .with_partitions(ps.clone())
                        })
                        .collect(),
                )
        };
        retry!(
            self,
            async {
                let coordinator = self.find_coordinator(group).await?;
                let response = self.call_broker(coordinator, Duration::ZERO, build).await?;
                for t in &response.topics {
                    for p in &t.partitions {
                        check(p.error_code, || {
                            format!("committing {}-{} for group '{group}'", t.name.0, p.partition_index)
                        })?;
                    }
                }
                Ok(())
            }
            .await
        )
    }

    /// Deletes groups; each result says whether that group went (NON_EMPTY_GROUP while it has
    /// members, GROUP_ID_NOT_FOUND for none).
    pub async fn delete_groups(&self, groups: &[String]) -> Result<Vec<(String, Result<()>)>> {
        let mut out = Vec::new();
        for group in groups {
            let code = retry!(
                self,
                async {
                    let coordinator = self.find_coordinator(group).await?;
                    let response = self
                        .call_broker(coordinator, Duration::ZERO, |_v| {
                            DeleteGroupsRequest::default().with_groups_names(vec![group_id(group)])
                        })
                        .await?;
                    let code = response.results.first().map_or(0, |r| r.error_code);
                    // A moved coordinator is retried here; any other code is the answer.
                    match Error::kafka(code, "") {
                        e if code != 0 && e.is_retriable() => Err(e),
                        _ => Ok(code),
                    }
                }
                .await
            )?;
            out.push((group.clone(), check(code, || format!("group '{group}'"))));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::{BufMut, BytesMut};
    use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition;
    use kafka_protocol::protocol::Encodable;

    fn assignment_bytes(version: i16, parts: &[(&str, &[i32])]) -> Bytes {
        let a = ConsumerProtocolAssignment::default().with_assigned_partitions(
            parts
                .iter()
                .map(|(t, ps)| {
                    TopicPartition::default()
                        .with_topic(TopicName(StrBytes::from_string((*t).to_string())))
                        .with_partitions(ps.to_vec())
                })
                .collect(),
        );
        let mut buf = BytesMut::new();
        buf.put_i16(version);
        a.encode(&mut buf, version.clamp(0, 3)).expect("encode");
        buf.freeze()
    }

    #[test]
    fn assignments_decode_in_every_version_and_garbage_is_empty() {
        for version in [0, 1, 3] {
            let bytes = assignment_bytes(version, &[("a", &[0, 2]), ("b", &[1])]);
            assert_eq!(decode_assignment(&bytes), vec![("a".to_string(), vec![0, 2]), ("b".to_string(), vec![1])]);
        }
        assert!(decode_assignment(&Bytes::new()).is_empty());
        assert!(decode_assignment(&Bytes::from_static(&[0, 0, 0xff, 0xff, 0xff, 0x7f])).is_empty());
        assert!(decode_assignment(&Bytes::from_static(&[7])).is_empty());
    }
}
