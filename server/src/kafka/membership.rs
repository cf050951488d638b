//! Membership in a consumer group, the classic (eager) protocol: JoinGroup, SyncGroup with the
//! `range` assignor when this member leads, Heartbeat, OffsetCommit under the generation, and
//! LeaveGroup.
//!
//! The flow follows Kafka's consumer: a first JoinGroup with an empty member id may get
//! MEMBER_ID_REQUIRED (KIP-394) and is repeated with the id the coordinator handed out;
//! REBALANCE_IN_PROGRESS, ILLEGAL_GENERATION and UNKNOWN_MEMBER_ID from a heartbeat or commit
//! mean "join again". The owner of a `GroupMember` drives it: heartbeats at its own pace, and a
//! commit of its positions before it rejoins or leaves.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::{Buf, BufMut, Bytes, BytesMut};
use kafka_protocol::messages::consumer_protocol_assignment::TopicPartition;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    ConsumerProtocolAssignment, ConsumerProtocolSubscription, GroupId, HeartbeatRequest, JoinGroupRequest,
    LeaveGroupRequest, SyncGroupRequest, TopicName,
};
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};

use super::client::{Backoff, Client};
use super::error::{Error, Recovery, Result};
use super::groups::decode_assignment;

const ASSIGNOR: &str = "range";
const MEMBER_ID_REQUIRED: i16 = 79;
const UNKNOWN_MEMBER_ID: i16 = 25;
const ILLEGAL_GENERATION: i16 = 22;
const REBALANCE_IN_PROGRESS: i16 = 27;

/// Timeouts of a member, Kafka's consumer defaults but for a shorter session.
#[derive(Debug, Clone)]
pub struct MemberConfig {
    pub session_timeout: Duration,
    pub rebalance_timeout: Duration,
    pub heartbeat_interval: Duration,
}

impl Default for MemberConfig {
    fn default() -> MemberConfig {
        MemberConfig {
            session_timeout: Duration::from_secs(30),
            rebalance_timeout: Duration::from_secs(60),
            heartbeat_interval: Duration::from_secs(3),
        }
    }
}

/// What a heartbeat (or a commit) learned about the group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Liveness {
    Member,
    /// A rebalance started or this member was fenced: commit what is safe, then `join` again.
    MustRejoin,
}

pub struct GroupMember {
    client: Client,
    pub group: String,
    pub topics: Vec<String>,
    pub member_id: String,
    pub generation_id: i32,
    /// This generation's partitions.
    pub assignment: Vec<(String, Vec<i32>)>,
    pub config: MemberConfig,
}

fn text(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

/// `i16 version` then a v0 ConsumerProtocolSubscription naming `topics`.
pub fn encode_subscription(topics: &[String]) -> Result<Bytes> {
    let subscription = ConsumerProtocolSubscription::default().with_topics(topics.iter().map(|t| text(t)).collect());
    let mut buf = BytesMut::new();
    buf.put_i16(0);
    subscription.encode(&mut buf, 0).map_err(|e| Error::Invalid(format!("cannot encode a subscription: {e}")))?;
    Ok(buf.freeze())
}

/// The topics of a member's subscription (any version; empty if undecodable).
pub fn decode_subscription(bytes: &Bytes) -> Vec<String> {
    let mut buf = bytes.clone();
    if buf.remaining() < 2 {
        return Vec::new();
    }
    let version = buf.get_i16().clamp(0, 3);
    ConsumerProtocolSubscription::decode(&mut buf, version)
        .map(|s| s.topics.into_iter().map(|t| t.to_string()).collect())
        .unwrap_or_default()
}

/// `i16 version` then a v0 ConsumerProtocolAssignment.
pub fn encode_assignment(assignment: &[(String, Vec<i32>)]) -> Result<Bytes> {
    let a = ConsumerProtocolAssignment::default().with_user_data(Some(Bytes::new())).with_assigned_partitions(
        assignment
            .iter()
            .map(|(t, ps)| TopicPartition::default().with_topic(TopicName(text(t))).with_partitions(ps.clone()))
            .collect(),
    );
    let mut buf = BytesMut::new();
    buf.put_i16(0);
    a.encode(&mut buf, 0).map_err(|e| Error::Invalid(format!("cannot encode an assignment: {e}")))?;
    Ok(buf.freeze())
}

/// Kafka's RangeAssignor: per topic, members subscribed to it in member-id order each get a
/// contiguous range; the first `partitions % members` get one extra.
pub fn range_assign(
    subscriptions: &BTreeMap<String, Vec<String>>,
    partition_counts: &BTreeMap<String, i32>,
) -> BTreeMap<String, Vec<(String, Vec<i32>)>> {
    let mut out: BTreeMap<String, Vec<(String, Vec<i32>)>> =
        subscriptions.keys().map(|m| (m.clone(), Vec::new())).collect();
    for (topic, count) in partition_counts {
        let members: Vec<&String> = subscriptions.iter().filter(|(_, ts)| ts.contains(topic)).map(|(m, _)| m).collect();
        if members.is_empty() {
            continue;
        }
        let n = members.len() as i32;
        let (per, extra) = (count / n, count % n);
        for (i, member) in members.into_iter().enumerate() {
            let i = i as i32;
            let start = i * per + i.min(extra);
            let len = per + i32::from(i < extra);
            if len > 0 {
                if let Some(list) = out.get_mut(member) {
                    list.push((topic.clone(), (start..start + len).collect()));
                }
            }
        }
    }
    out
}

impl GroupMember {
    pub fn new(client: Client, group: &str, topics: Vec<String>, config: MemberConfig) -> GroupMember {
        GroupMember {
            client,
            group: group.to_string(),
            topics,
            member_id: String::new(),
            generation_id: -1,
            assignment: Vec::new(),
            config,
        }
    }

    /// Joins (or rejoins) until a generation is complete and this member has its assignment.
    pub async fn join(&mut self) -> Result<()> {
        let mut backoff = Backoff::new(self.client.config());
        let deadline = Instant::now() + self.config.rebalance_timeout * 2;
        loop {
            let error = match self.join_once().await {
                Ok(true) => return Ok(()),
                Ok(false) if Instant::now() <= deadline => continue,
                Ok(false) => Error::Invalid(format!("group '{}' kept rebalancing; could not join", self.group)),
                Err(e) => e,
            };
            if !error.is_retriable() || Instant::now() > deadline {
                return Err(error);
            }
            self.client.recover(&error);
            match backoff.next_delay() {
                Some(delay) => tokio::time::sleep(delay).await,
                None => return Err(error),
            }
        }
    }

    /// One JoinGroup + SyncGroup round: `Ok(false)` when the coordinator asks for another.
    async fn join_once(&mut self) -> Result<bool> {
        let coordinator = self.client.find_coordinator(&self.group).await?;
        let metadata = encode_subscription(&self.topics)?;
        let (session_ms, rebalance_ms) = (
            super::client::millis_i32(self.config.session_timeout),
            super::client::millis_i32(self.config.rebalance_timeout),
        );
        let join = self
            .client
            .call_broker(coordinator, self.config.rebalance_timeout, |v| {
                let request = JoinGroupRequest::default()
                    .with_group_id(GroupId(text(&self.group)))
                    .with_session_timeout_ms(session_ms)
                    .with_member_id(text(&self.member_id))
                    .with_protocol_type(text("consumer"))
                    .with_protocols(vec![JoinGroupRequestProtocol::default()
                        .with_name(text(ASSIGNOR))
                        .with_metadata(metadata.clone())]);
                if v >= 1 {
                    request.with_rebalance_timeout_ms(rebalance_ms)
                } else {
                    request
                }
            })
            .await?;
        match join.error_code {
            0 => {}
            MEMBER_ID_REQUIRED => {
                self.member_id = join.member_id.to_string();
                return Ok(false);
            }
            UNKNOWN_MEMBER_ID => {
                self.member_id.clear();
                return Ok(false);
            }
            REBALANCE_IN_PROGRESS => return Ok(false),
            code => return Err(Error::kafka(code, format!("joining group '{}'", self.group))),
        }
        self.member_id = join.member_id.to_string();
        self.generation_id = join.generation_id;
        let protocol_name = join.protocol_name.clone().unwrap_or_else(|| text(ASSIGNOR));
        let assignments = if join.leader == join.member_id {
            let subscriptions: BTreeMap<String, Vec<String>> =
                join.members.iter().map(|m| (m.member_id.to_string(), decode_subscription(&m.metadata))).collect();
            let mut topics: Vec<&str> = subscriptions.values().flatten().map(String::as_str).collect();
            topics.sort_unstable();
            topics.dedup();
            let metadata = self.client.metadata(Some(&topics)).await?;
            let counts = metadata
                .topics
                .values()
                .filter(|t| t.error_code == 0)
                .map(|t| (t.name.clone(), t.partitions.len() as i32))
                .collect();
            let mut out = Vec::new();
            for (member, assignment) in range_assign(&subscriptions, &counts) {
                out.push(
                    SyncGroupRequestAssignment::default()
                        .with_member_id(text(&member))
                        .with_assignment(encode_assignment(&assignment)?),
                );
            }
            out
        } else {
            Vec::new()
        };
        let sync = self
            .client
            .call_broker(coordinator, self.config.rebalance_timeout, |v| {
                let request = SyncGroupRequest::default()
                    .with_group_id(GroupId(text(&self.group)))
                    .with_generation_id(self.generation_id)
                    .with_member_id(text(&self.member_id))
                    .with_assignments(assignments.clone());
                if v >= 5 {
                    request.with_protocol_type(Some(text("consumer"))).with_protocol_name(Some(protocol_name.clone()))
                } else {
                    request
                }
            })
            .await?;
        match sync.error_code {
            0 => {
                self.assignment = decode_assignment(&sync.assignment);
                Ok(true)
            }
            UNKNOWN_MEMBER_ID => {
                self.member_id.clear();
                Ok(false)
            }
            REBALANCE_IN_PROGRESS | ILLEGAL_GENERATION => Ok(false),
            code => Err(Error::kafka(code, format!("syncing group '{}'", self.group))),
        }
    }

    /// One heartbeat. Coordinator trouble is not fatal: the next heartbeat looks it up again.
    pub async fn heartbeat(&mut self) -> Result<Liveness> {
        let attempt = async {
            let coordinator = self.client.find_coordinator(&self.group).await?;
            let response = self
                .client
                .call_broker(coordinator, Duration::ZERO, |_v| {
                    HeartbeatRequest::default()
                        .with_group_id(GroupId(text(&self.group)))
                        .with_generation_id(self.generation_id)
                        .with_member_id(text(&self.member_id))
                })
                .await?;
            Ok::<i16, Error>(response.error_code)
        };
        match attempt.await {
            Ok(code) => self.liveness(code, "heartbeat"),
            Err(e) if e.is_retriable() => {
                self.client.recover(&e);
                Ok(Liveness::Member)
            }
            Err(e) => Err(e),
        }
    }

    fn liveness(&mut self, code: i16, what: &str) -> Result<Liveness> {
        match code {
            0 => Ok(Liveness::Member),
            REBALANCE_IN_PROGRESS | ILLEGAL_GENERATION => Ok(Liveness::MustRejoin),
            UNKNOWN_MEMBER_ID => {
                self.member_id.clear();
                Ok(Liveness::MustRejoin)
            }
            code if super::error::code_recovery(code) != Recovery::None => {
                self.client.recover(&Error::kafka(code, ""));
                Ok(Liveness::Member)
            }
            code => Err(Error::kafka(code, format!("{what} of group '{}'", self.group))),
        }
    }

    /// Commits `offsets` under this member's generation.
    pub async fn commit(&mut self, offsets: &BTreeMap<(String, i32), i64>) -> Result<Liveness> {
        if offsets.is_empty() {
            return Ok(Liveness::Member);
        }
        match self.client.offset_commit(&self.group, self.generation_id, &self.member_id, offsets).await {
            Ok(()) => Ok(Liveness::Member),
            Err(Error::Kafka { code, .. })
                if matches!(code, REBALANCE_IN_PROGRESS | ILLEGAL_GENERATION | UNKNOWN_MEMBER_ID) =>
            {
                self.liveness(code, "commit")
            }
            Err(e) => Err(e),
        }
    }

    /// Leaves the group so it rebalances now rather than after the session timeout.
    pub async fn leave(&mut self) -> Result<()> {
        if self.member_id.is_empty() {
            return Ok(());
        }
        let coordinator = self.client.find_coordinator(&self.group).await?;
        let response = self
            .client
            .call_broker(coordinator, Duration::ZERO, |v| {
                let request = LeaveGroupRequest::default().with_group_id(GroupId(text(&self.group)));
                if v >= 3 {
                    request.with_members(vec![MemberIdentity::default().with_member_id(text(&self.member_id))])
                } else {
                    request.with_member_id(text(&self.member_id))
                }
            })
            .await?;
        self.member_id.clear();
        match response.error_code {
            0 | UNKNOWN_MEMBER_ID => Ok(()),
            code => Err(Error::kafka(code, format!("leaving group '{}'", self.group))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Want<'a> = &'a [(&'a str, &'a [(&'a str, &'a [i32])])];

    fn check(members: &[(&str, &[&str])], counts: &[(&str, i32)], want: Want) {
        let subscriptions =
            members.iter().map(|(m, ts)| (m.to_string(), ts.iter().map(|t| t.to_string()).collect())).collect();
        let counts = counts.iter().map(|(t, n)| (t.to_string(), *n)).collect();
        let got = range_assign(&subscriptions, &counts);
        let want: BTreeMap<String, Vec<(String, Vec<i32>)>> = want
            .iter()
            .map(|(m, a)| (m.to_string(), a.iter().map(|(t, ps)| (t.to_string(), ps.to_vec())).collect()))
            .collect();
        assert_eq!(got, want);
    }

    #[test]
    fn range_assignor_matches_kafka() {
        // Kafka's RangeAssignor javadoc: t0, t1 with 3 partitions each, C0 and C1.
        check(
            &[("C0", &["t0", "t1"]), ("C1", &["t0", "t1"])],
            &[("t0", 3), ("t1", 3)],
            &[("C0", &[("t0", &[0, 1]), ("t1", &[0, 1])]), ("C1", &[("t0", &[2]), ("t1", &[2])])],
        );
        // More members than partitions: the last gets nothing.
        check(
            &[("a", &["t"]), ("b", &["t"]), ("c", &["t"])],
            &[("t", 2)],
            &[("a", &[("t", &[0])]), ("b", &[("t", &[1])]), ("c", &[])],
        );
        // Only subscribers share a topic.
        check(
            &[("a", &["t", "u"]), ("b", &["u"])],
            &[("t", 2), ("u", 4)],
            &[("a", &[("t", &[0, 1]), ("u", &[0, 1])]), ("b", &[("u", &[2, 3])])],
        );
    }

    #[test]
    fn protocol_bytes_round_trip() {
        let topics = vec!["a".to_string(), "b".to_string()];
        assert_eq!(decode_subscription(&encode_subscription(&topics).expect("encode")), topics);
        let assignment = vec![("a".to_string(), vec![0, 1]), ("b".to_string(), vec![2])];
        assert_eq!(decode_assignment(&encode_assignment(&assignment).expect("encode")), assignment);
        assert!(decode_subscription(&Bytes::from_static(&[0, 0, 0x7f])).is_empty());
    }
}
