//! Snapshots of an external Kafka-compatible cluster, read over the Kafka protocol with warren's
//! own client: the same `Snapshot` the embedded cluster gives, so the sampler, evaluator and
//! pages treat both alike.
//!
//! One snapshot is: Metadata (every topic and partition; brokers and the controller from
//! DescribeCluster where a broker offers it, fenced brokers down), ListOffsets latest (high watermark)
//! and earliest (log start) batched per leader, ListGroups on every broker, DescribeGroups
//! batched per coordinator (members, client ids, hosts, consumer-protocol assignments), and
//! OffsetFetch per group.
//!
//! Commit timestamps are not in OffsetFetch. Like Burrow, an `External` reads them from the
//! cluster's `__consumer_offsets` (`commit_log`), which tells a consumer that re-commits the same
//! offset (STALL) from one that stopped (STOP). Where that topic cannot be read (not there, not
//! authorised, still being read at first), it falls back to remembering, per group partition,
//! the committed offset it last saw and when it first saw it: a changed offset is stamped
//! `now_ms`, an unchanged one keeps its earlier stamp, so a re-commit looks like a stop.
//!
//! Lag in seconds needs the timestamp of the record at each committed offset. Like
//! klag-exporter, each tick fetches one record at every committed offset that changed (a single
//! Fetch per leader, no waiting) and keeps the answers for `record_timestamp`, which the sampler
//! calls synchronously.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::time::Duration;

use super::commit_log::{self, CommitLog};
use super::snapshot::{
    BrokerSnapshot, CommitSnapshot, GroupSnapshot, MemberSnapshot, Offsets, PartitionSnapshot, Problem, Snapshot,
    TopicSnapshot,
};
use crate::kafka::error::code_name;
use crate::kafka::{Broker, Client, ClusterDescription, Error, Metadata, OffsetSpec};

/// OffsetFetch requests in flight at once.
const PARALLEL_GROUPS: usize = 16;
/// Enough for the first batch at an offset (a larger batch still comes back whole, KIP-74).
const TIMESTAMP_FETCH_BYTES: i32 = 64 << 10;
/// Fetch rounds per tick for partitions where several groups sit at different offsets.
const TIMESTAMP_ROUNDS: usize = 4;

/// An external cluster: its client plus what one snapshot needs to remember for the next.
pub struct External {
    client: Client,
    memory: Mutex<Memory>,
    /// Held across the reads of `__consumer_offsets` (one snapshot at a time per cluster).
    commit_log: tokio::sync::Mutex<CommitLog>,
}

#[derive(Default)]
struct Memory {
    /// Every broker seen, as last seen.
    brokers: BTreeMap<i32, BrokerSnapshot>,
    /// Each group's last sample and the broker that listed it.
    groups: BTreeMap<String, GroupSnapshot>,
    coordinators: HashMap<String, i32>,
    /// (group, topic, partition) -> (committed offset, when that offset was first seen).
    commits: HashMap<(String, String, i32), (i64, i64)>,
    /// (topic, partition, offset) -> timestamp of the record there, for offsets still committed.
    record_timestamps: HashMap<(String, i32, i64), i64>,
}

impl External {
    pub fn new(client: Client) -> External {
        External { client, memory: Mutex::new(Memory::default()), commit_log: Default::default() }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    fn memory(&self) -> std::sync::MutexGuard<'_, Memory> {
        self.memory.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether the last snapshot took its commit times from `__consumer_offsets`.
    pub async fn commit_times_from_offsets_topic(&self) -> bool {
        self.commit_log.lock().await.is_caught_up()
    }

    /// When the record at `offset` was written, if a snapshot has read it.
    pub fn record_timestamp(&self, topic: &str, partition: i32, offset: i64) -> Option<i64> {
        self.memory().record_timestamps.get(&(topic.to_string(), partition, offset)).copied()
    }

    /// Reads one snapshot, stamped `now_ms`. Only Metadata is needed: every other request that
    /// fails costs its own piece (a partition's offsets, a broker's group list, a group), which is
    /// listed in `problems`; a group that cannot be read keeps its last sample.
    pub async fn snapshot(&self, now_ms: i64) -> Result<Snapshot, String> {
        let metadata = self.client.metadata(None).await.map_err(|e| e.to_string())?;
        let mut problems = Vec::new();
        let described = match self.client.describe_cluster().await {
            Ok(described) => described,
            Err(e) => {
                problems.push(problem("DescribeCluster", "the cluster".into(), e));
                None
            }
        };
        let controller_id = described.as_ref().map_or(metadata.controller_id, |d| d.controller_id);
        let brokers = self.brokers(&metadata, described.as_ref());
        let up: BTreeSet<i32> = brokers.iter().filter(|b| b.up).map(|b| b.id).collect();
        let mut topics = BTreeMap::new();
        for t in metadata.topics.values() {
            if t.error_code != 0 {
                problems.push(problem("Metadata", format!("topic {}", t.name), code_name(t.error_code)));
            }
            let snapshot =
                TopicSnapshot { partitions: t.partitions.len() as i32, internal: t.internal, config: BTreeMap::new() };
            topics.insert(t.name.clone(), snapshot);
        }
        let led: Vec<(String, i32)> = metadata
            .topics
            .values()
            .flat_map(|t| t.partitions.iter().filter(|p| p.leader >= 0).map(|p| (t.name.clone(), p.partition)))
            .collect();
        let (ends, starts) = tokio::join!(
            self.client.list_offsets(&led, OffsetSpec::Latest),
            self.client.list_offsets(&led, OffsetSpec::Earliest)
        );
        let mut partitions = Vec::new();
        for t in metadata.topics.values() {
            for p in &t.partitions {
                let key = (t.name.clone(), p.partition);
                let offsets = match (ends.get(&key), starts.get(&key)) {
                    (Some(Ok(high_watermark)), Some(Ok(log_start_offset))) => Some(Offsets {
                        log_start_offset: *log_start_offset,
                        high_watermark: *high_watermark,
                        log_end_offset: None,
                        last_stable_offset: None,
                        data_end: None,
                    }),
                    (Some(Err(e)), _) | (_, Some(Err(e))) => {
                        problems.push(problem("ListOffsets", format!("{} partition {}", t.name, p.partition), e));
                        None
                    }
                    _ => None,
                };
                // Brokers before Metadata v5 do not name offline replicas: those not up are.
                let offline_replicas = if p.offline_replicas.is_empty() {
                    p.replicas.iter().copied().filter(|r| !up.contains(r)).collect()
                } else {
                    p.offline_replicas.clone()
                };
                partitions.push(PartitionSnapshot {
                    topic: t.name.clone(),
                    partition: p.partition,
                    internal: t.internal,
                    leader: if p.leader >= 0 && up.contains(&p.leader) { p.leader } else { -1 },
                    leader_epoch: (p.leader_epoch >= 0).then_some(p.leader_epoch),
                    replicas: p.replicas.clone(),
                    isr: p.isr.iter().copied().filter(|r| up.contains(r)).collect(),
                    offline_replicas,
                    offsets,
                    size_bytes: None,
                    follower_lag: Vec::new(),
                });
            }
        }

        let groups = self.groups(&metadata, now_ms, &mut problems).await?;
        let snapshot = Snapshot { ts_ms: now_ms, controller_id, brokers, topics, partitions, groups, problems };
        self.read_record_timestamps(&snapshot).await;
        Ok(snapshot)
    }

    /// Every broker seen so far: those in this Metadata (or DescribeCluster, where offered) are
    /// up unless fenced; one listed before (or named as a replica) and missing now is down.
    fn brokers(&self, metadata: &Metadata, described: Option<&ClusterDescription>) -> Vec<BrokerSnapshot> {
        let mut memory = self.memory();
        for b in memory.brokers.values_mut() {
            b.up = false;
        }
        let listed: Vec<(&Broker, bool)> = match described {
            Some(d) => d.brokers.iter().map(|(b, fenced)| (b, !fenced)).collect(),
            None => metadata.brokers.values().map(|b| (b, true)).collect(),
        };
        for (b, up) in listed {
            let seen = BrokerSnapshot {
                id: b.id,
                host: b.host.clone(),
                port: b.port,
                rack: b.rack.clone(),
                up,
                replication_paused: None,
                size_bytes: None,
            };
            memory.brokers.insert(b.id, seen);
        }
        let named = metadata.topics.values().flat_map(|t| t.partitions.iter().flat_map(|p| p.replicas.iter()));
        for id in named {
            memory.brokers.entry(*id).or_insert_with(|| BrokerSnapshot {
                id: *id,
                host: String::new(),
                port: 0,
                rack: None,
                up: false,
                replication_paused: None,
                size_bytes: None,
            });
        }
        memory.brokers.values().cloned().collect()
    }

    /// Every group with members and commits. A group that cannot be read this tick (its
    /// coordinator's ListGroups, its DescribeGroups or its OffsetFetch failed) keeps its last
    /// sample, and the failure is a problem.
    async fn groups(
        &self,
        metadata: &Metadata,
        now_ms: i64,
        problems: &mut Vec<Problem>,
    ) -> Result<Vec<GroupSnapshot>, String> {
        let (listed, failed_brokers) = self.client.list_groups_each().await.map_err(|e| e.to_string())?;
        let silent: BTreeSet<i32> = failed_brokers.iter().map(|(b, _)| *b).collect();
        for (broker, e) in failed_brokers {
            problems.push(problem("ListGroups", format!("broker {broker}"), e));
        }
        let ids: Vec<String> = listed.iter().map(|g| g.group_id.clone()).collect();
        let (descriptions, committed) =
            tokio::join!(self.client.describe_groups_each(&ids), self.committed_offsets(&ids));
        // After OffsetFetch: the end read now covers every commit it returned.
        let mut commit_log = self.commit_log.lock().await;
        if let Some(topic) = metadata.topics.get(commit_log::TOPIC) {
            let partitions: Vec<i32> = topic.partitions.iter().map(|p| p.partition).collect();
            commit_log.catch_up(&self.client, &partitions).await;
        }

        let mut memory = self.memory();
        let mut groups = Vec::with_capacity(descriptions.len());
        let mut live = HashMap::new();
        let mut coordinators: HashMap<String, i32> =
            listed.iter().map(|g| (g.group_id.clone(), g.coordinator)).collect();
        let mut unread: Vec<String> = Vec::new();
        for (group_id, description) in descriptions {
            let read = description.map_err(|e| ("DescribeGroups", e)).and_then(|d| match committed.get(&group_id) {
                Some(Ok(offsets)) => Ok((d, offsets)),
                Some(Err(e)) => Err(("OffsetFetch", e.clone())),
                None => Err(("OffsetFetch", crate::kafka::Error::Invalid("not asked".into()))),
            });
            let (d, offsets) = match read {
                Ok(read) => read,
                Err((request, e)) => {
                    problems.push(problem(request, format!("group {group_id}"), e));
                    unread.push(group_id);
                    continue;
                }
            };
            let mut commits = Vec::with_capacity(offsets.len());
            for ((topic, partition), offset) in offsets {
                let key = (group_id.clone(), topic.clone(), *partition);
                let commit_ts_ms = match commit_log.commit_timestamp(&group_id, topic, *partition, *offset) {
                    Some(ts) => ts,
                    None => match memory.commits.get(&key) {
                        Some((seen, ts)) if seen == offset => *ts,
                        _ => now_ms,
                    },
                };
                live.insert(key, (*offset, commit_ts_ms));
                commits.push(CommitSnapshot {
                    topic: topic.clone(),
                    partition: *partition,
                    offset: *offset,
                    commit_ts_ms,
                });
            }
            let members = d
                .members
                .into_iter()
                .map(|m| MemberSnapshot {
                    member_id: m.member_id,
                    client_id: m.client_id,
                    client_host: m.client_host,
                    partitions: m.assignment,
                })
                .collect();
            groups.push(GroupSnapshot {
                group_id: d.group_id,
                state: d.state,
                members,
                offsets: commits,
                read_committed: None,
            });
        }
        // Groups of a broker whose ListGroups failed keep their last sample too, until it answers.
        for (group_id, coordinator) in &memory.coordinators {
            if silent.contains(coordinator) && !coordinators.contains_key(group_id) {
                coordinators.insert(group_id.clone(), *coordinator);
                unread.push(group_id.clone());
            }
        }
        for group_id in unread {
            let Some(last) = memory.groups.get(&group_id) else { continue };
            for c in &last.offsets {
                live.insert((group_id.clone(), c.topic.clone(), c.partition), (c.offset, c.commit_ts_ms));
            }
            groups.push(last.clone());
        }
        groups.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        memory.coordinators = coordinators;
        memory.commits = live;
        memory.groups = groups.iter().map(|g| (g.group_id.clone(), g.clone())).collect();
        Ok(groups)
    }

    /// OffsetFetch for every group, a few in flight at once.
    async fn committed_offsets(
        &self,
        groups: &[String],
    ) -> BTreeMap<String, Result<BTreeMap<(String, i32), i64>, Error>> {
        let mut out = BTreeMap::new();
        for chunk in groups.chunks(PARALLEL_GROUPS) {
            let mut tasks = tokio::task::JoinSet::new();
            for group in chunk {
                let (client, group) = (self.client.clone(), group.clone());
                tasks.spawn(async move {
                    let offsets = client.offset_fetch(&group).await;
                    (group, offsets)
                });
            }
            while let Some(joined) = tasks.join_next().await {
                match joined {
                    Ok((group, offsets)) => {
                        out.insert(group, offsets);
                    }
                    Err(e) => tracing::error!(error = %e, "an OffsetFetch task failed"),
                }
            }
        }
        out
    }

    /// Reads the record timestamp at every committed offset below the high watermark that is
    /// not known yet, and forgets those no group sits at any more.
    async fn read_record_timestamps(&self, snapshot: &Snapshot) {
        let bounds: HashMap<(&str, i32), (i64, i64)> = snapshot
            .partitions
            .iter()
            .filter_map(|p| Some(((p.topic.as_str(), p.partition), (p.offsets?.log_start_offset, p.high_watermark()?))))
            .collect();
        let mut wanted: BTreeMap<(String, i32), BTreeSet<i64>> = BTreeMap::new();
        {
            let mut memory = self.memory();
            let mut still: HashMap<(String, i32, i64), i64> = HashMap::new();
            for g in &snapshot.groups {
                for c in &g.offsets {
                    let Some((start, end)) = bounds.get(&(c.topic.as_str(), c.partition)) else { continue };
                    if c.offset < *start || c.offset >= *end {
                        continue;
                    }
                    let key = (c.topic.clone(), c.partition, c.offset);
                    match memory.record_timestamps.get(&key) {
                        Some(ts) => {
                            still.insert(key, *ts);
                        }
                        None => {
                            wanted.entry((c.topic.clone(), c.partition)).or_default().insert(c.offset);
                        }
                    }
                }
            }
            memory.record_timestamps = still;
        }
        for _ in 0..TIMESTAMP_ROUNDS {
            // One offset per partition per Fetch round.
            let round: BTreeMap<(String, i32), i64> =
                wanted.iter_mut().filter_map(|(k, offsets)| Some((k.clone(), offsets.pop_first()?))).collect();
            if round.is_empty() {
                break;
            }
            let fetched = self.client.fetch(&round, Duration::ZERO, TIMESTAMP_FETCH_BYTES).await;
            let mut memory = self.memory();
            for (key, result) in fetched {
                let Some(offset) = round.get(&key) else { continue };
                let first = result.ok().and_then(|p| p.records.into_iter().find(|r| r.offset >= *offset));
                if let Some(record) = first {
                    memory.record_timestamps.insert((key.0, key.1, *offset), record.timestamp_ms);
                }
            }
        }
    }
}

fn problem(request: &str, subject: String, error: impl std::fmt::Display) -> Problem {
    Problem { request: request.to_string(), subject, error: error.to_string() }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::ClientConfig;

    /// The sampler runs in a spawned task: a snapshot must be `Send`.
    #[test]
    fn snapshots_can_run_in_a_spawned_task() {
        fn spawnable<T: Send>(_: &T) {}
        let external = External::new(Client::new(ClientConfig::new(["127.0.0.1:1"])));
        spawnable(&external.snapshot(0));
    }

    #[tokio::test]
    async fn an_unreachable_cluster_is_an_error_naming_it() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).map(|a| a.port());
        let addr = format!("127.0.0.1:{}", port.expect("free port"));
        let external = External::new(Client::new(ClientConfig::new([addr.clone()])));
        let error = external.snapshot(0).await.expect_err("nothing listens");
        assert_eq!(error, format!("cannot reach any bootstrap server ({addr}: connection refused)"));
        assert_eq!(external.record_timestamp("t", 0, 0), None);
    }

    /// A fake Kafka-compatible broker (one node; DescribeCluster also names a fenced second one)
    /// whose answers fail piece by piece: partition 1's offsets always, group `flaky`'s
    /// DescribeGroups from the second time on. Each failure costs only its own piece, is listed as
    /// a problem, and `flaky` keeps its last sample.
    #[tokio::test]
    async fn one_bad_answer_costs_only_its_own_piece() {
        use bytes::{Buf, BufMut, BytesMut};
        use kafka_protocol::messages::api_versions_response::ApiVersion;
        use kafka_protocol::messages::describe_groups_response::DescribedGroup;
        use kafka_protocol::messages::list_groups_response::ListedGroup;
        use kafka_protocol::messages::list_offsets_response::{ListOffsetsPartitionResponse, ListOffsetsTopicResponse};
        use kafka_protocol::messages::metadata_response::{
            MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
        };
        use kafka_protocol::messages::offset_fetch_response::{OffsetFetchResponsePartition, OffsetFetchResponseTopic};
        use kafka_protocol::messages::*;
        use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let describes = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = std::sync::Arc::clone(&describes);
        tokio::spawn(async move {
            while let Ok((mut stream, _)) = listener.accept().await {
                let counter = std::sync::Arc::clone(&counter);
                tokio::spawn(async move {
                    let str = |s: &str| StrBytes::from_string(s.to_string());
                    loop {
                        let Ok(size) = stream.read_i32().await else { return };
                        let mut frame = vec![0u8; size as usize];
                        if stream.read_exact(&mut frame).await.is_err() {
                            return;
                        }
                        let mut buf = bytes::Bytes::from(frame);
                        let (key, version, correlation) = (buf.get_i16(), buf.get_i16(), buf.get_i32());
                        let client_id = buf.get_i16().max(0) as usize;
                        buf.advance(client_id);
                        let mut out = BytesMut::new();
                        out.put_i32(correlation);
                        if key == ApiKey::DescribeCluster as i16 {
                            out.put_u8(0); // a flexible response's header: no tagged fields
                        }
                        let encoded = match ApiKey::try_from(key).expect("api key") {
                            ApiKey::ApiVersions => {
                                let apis = [
                                    (ApiKey::ApiVersions, 0, 3),
                                    (ApiKey::Metadata, 1, 1),
                                    (ApiKey::ListOffsets, 1, 1),
                                    (ApiKey::ListGroups, 0, 0),
                                    (ApiKey::FindCoordinator, 0, 0),
                                    (ApiKey::DescribeGroups, 0, 0),
                                    (ApiKey::OffsetFetch, 1, 1),
                                    (ApiKey::DescribeCluster, 2, 2),
                                ];
                                let keys = apis
                                    .iter()
                                    .map(|(k, min, max)| {
                                        ApiVersion::default()
                                            .with_api_key(*k as i16)
                                            .with_min_version(*min)
                                            .with_max_version(*max)
                                    })
                                    .collect();
                                ApiVersionsResponse::default().with_api_keys(keys).encode(&mut out, version)
                            }
                            ApiKey::Metadata => {
                                let partition = |p| {
                                    MetadataResponsePartition::default()
                                        .with_partition_index(p)
                                        .with_leader_id(BrokerId(1))
                                        .with_replica_nodes(vec![BrokerId(1)])
                                        .with_isr_nodes(vec![BrokerId(1)])
                                };
                                MetadataResponse::default()
                                    .with_brokers(vec![MetadataResponseBroker::default()
                                        .with_node_id(BrokerId(1))
                                        .with_host(str("127.0.0.1"))
                                        .with_port(i32::from(port))])
                                    .with_controller_id(BrokerId(1))
                                    .with_topics(vec![MetadataResponseTopic::default()
                                        .with_name(Some(TopicName(str("t"))))
                                        .with_partitions(vec![partition(0), partition(1)])])
                                    .encode(&mut out, version)
                            }
                            ApiKey::ListOffsets => {
                                let request = ListOffsetsRequest::decode(&mut buf, version).expect("request");
                                let latest = request.topics[0].partitions[0].timestamp == -1;
                                let answer = |p: i32| {
                                    let partition = ListOffsetsPartitionResponse::default().with_partition_index(p);
                                    match p {
                                        0 => partition.with_offset(if latest { 10 } else { 0 }),
                                        _ => partition.with_error_code(-1),
                                    }
                                };
                                ListOffsetsResponse::default()
                                    .with_topics(vec![ListOffsetsTopicResponse::default()
                                        .with_name(TopicName(str("t")))
                                        .with_partitions(vec![answer(0), answer(1)])])
                                    .encode(&mut out, version)
                            }
                            ApiKey::ListGroups => ListGroupsResponse::default()
                                .with_groups(
                                    ["flaky", "steady"]
                                        .iter()
                                        .map(|g| {
                                            ListedGroup::default()
                                                .with_group_id(GroupId(str(g)))
                                                .with_protocol_type(str("consumer"))
                                        })
                                        .collect(),
                                )
                                .encode(&mut out, version),
                            ApiKey::FindCoordinator => FindCoordinatorResponse::default()
                                .with_node_id(BrokerId(1))
                                .with_host(str("127.0.0.1"))
                                .with_port(i32::from(port))
                                .encode(&mut out, version),
                            ApiKey::DescribeGroups => {
                                let request = DescribeGroupsRequest::decode(&mut buf, version).expect("request");
                                let times = counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                                let groups = request
                                    .groups
                                    .iter()
                                    .map(|g| {
                                        let described = DescribedGroup::default()
                                            .with_group_id(g.clone())
                                            .with_group_state(str("Empty"))
                                            .with_protocol_type(str("consumer"));
                                        // GROUP_AUTHORIZATION_FAILED, from the second time on.
                                        match g.0.as_str() {
                                            "flaky" if times > 0 => described.with_error_code(30),
                                            _ => described,
                                        }
                                    })
                                    .collect();
                                DescribeGroupsResponse::default().with_groups(groups).encode(&mut out, version)
                            }
                            ApiKey::OffsetFetch => OffsetFetchResponse::default()
                                .with_topics(vec![OffsetFetchResponseTopic::default()
                                    .with_name(TopicName(str("t")))
                                    .with_partitions(vec![OffsetFetchResponsePartition::default()
                                        .with_partition_index(0)
                                        .with_committed_offset(4)])])
                                .encode(&mut out, version),
                            ApiKey::DescribeCluster => {
                                let broker = |id: i32, fenced| {
                                    describe_cluster_response::DescribeClusterBroker::default()
                                        .with_broker_id(BrokerId(id))
                                        .with_host(str("127.0.0.1"))
                                        .with_port(i32::from(port) + id - 1)
                                        .with_is_fenced(fenced)
                                };
                                DescribeClusterResponse::default()
                                    .with_controller_id(BrokerId(1))
                                    .with_brokers(vec![broker(1, false), broker(2, true)])
                                    .encode(&mut out, version)
                            }
                            other => panic!("unexpected {other:?}"),
                        };
                        encoded.expect("encode");
                        let mut framed = (out.len() as i32).to_be_bytes().to_vec();
                        framed.extend_from_slice(&out);
                        if stream.write_all(&framed).await.is_err() {
                            return;
                        }
                    }
                });
            }
        });

        let mut config = ClientConfig::new([format!("127.0.0.1:{port}")]);
        config.retry_timeout = Duration::from_millis(300);
        let external = External::new(Client::new(config));
        let first = external.snapshot(1_000).await.expect("first snapshot");
        assert_eq!(first.partitions.len(), 2, "both partitions, with or without offsets");
        assert_eq!(first.partitions[0].high_watermark(), Some(10));
        assert_eq!(first.partitions[1].offsets, None);
        assert_eq!(first.groups.iter().map(|g| g.group_id.as_str()).collect::<Vec<_>>(), ["flaky", "steady"]);
        let brokers: Vec<(i32, bool)> = first.brokers.iter().map(|b| (b.id, b.up)).collect();
        assert_eq!(brokers, [(1, true), (2, false)], "a fenced broker (DescribeCluster v2) is down");
        assert_eq!(first.problems.len(), 1, "{:?}", first.problems);
        assert_eq!(
            (first.problems[0].request.as_str(), first.problems[0].subject.as_str()),
            ("ListOffsets", "t partition 1")
        );

        let second = external.snapshot(2_000).await.expect("second snapshot");
        let flaky = second.groups.iter().find(|g| g.group_id == "flaky").expect("flaky keeps its last sample");
        assert_eq!(flaky, first.groups.iter().find(|g| g.group_id == "flaky").expect("first flaky"));
        assert!(second.groups.iter().any(|g| g.group_id == "steady"));
        let described = second.problems.iter().find(|p| p.request == "DescribeGroups").expect("the failure is listed");
        assert_eq!(described.subject, "group flaky");
        assert!(described.error.contains("GROUP_AUTHORIZATION_FAILED"), "{described:?}");
    }
}
