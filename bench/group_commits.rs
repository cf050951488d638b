//! Group coordinator benchmark: G consumer groups, each one member that joined and synced for
//! real, committing P partitions once a second (and heartbeating every 3 s), for D seconds.
//! Reports commit latency percentiles and, with `--pid`, the broker's CPU time over the run.
//!
//! `group_commits BOOTSTRAP [--groups 1000] [--partitions 10] [--seconds 30] [--pid PID]`
//! Speaks the Kafka protocol directly (the `kafka-protocol` codec), one connection per group, so
//! the client stays light next to the broker on a small machine.

use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use bytes::{Bytes, BytesMut};
use clap::Parser;
use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::offset_commit_request::{OffsetCommitRequestPartition, OffsetCommitRequestTopic};
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, StrBytes};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Mutex;

#[derive(Parser)]
struct Args {
    bootstrap: String,
    #[arg(long, default_value_t = 1000)]
    groups: usize,
    #[arg(long, default_value_t = 10)]
    partitions: i32,
    #[arg(long, default_value_t = 30)]
    seconds: u64,
    /// The broker's process id, to report its CPU time over the measured run.
    #[arg(long)]
    pid: Option<u32>,
}

const TOPIC: &str = "bench-commits";

struct Conn {
    stream: TcpStream,
    correlation: i32,
}

impl Conn {
    async fn connect(addr: &str) -> anyhow::Result<Conn> {
        let stream = TcpStream::connect(addr).await.with_context(|| format!("connect {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Conn { stream, correlation: 0 })
    }

    async fn call<Req: Encodable, Resp: Decodable>(
        &mut self,
        api: ApiKey,
        version: i16,
        req: &Req,
    ) -> anyhow::Result<Resp> {
        self.correlation += 1;
        let header = RequestHeader::default()
            .with_request_api_key(api as i16)
            .with_request_api_version(version)
            .with_correlation_id(self.correlation)
            .with_client_id(Some(StrBytes::from_static_str("group-bench")));
        let mut buf = BytesMut::new();
        buf.extend_from_slice(&[0; 4]);
        header.encode(&mut buf, api.request_header_version(version))?;
        req.encode(&mut buf, version)?;
        let len = (buf.len() - 4) as i32;
        buf[..4].copy_from_slice(&len.to_be_bytes());
        self.stream.write_all(&buf).await?;
        let size = self.stream.read_i32().await?;
        let mut body = vec![0u8; usize::try_from(size)?];
        self.stream.read_exact(&mut body).await?;
        let mut body = Bytes::from(body);
        ResponseHeader::decode(&mut body, api.response_header_version(version))?;
        Resp::decode(&mut body, version)
    }
}

fn s(text: &str) -> StrBytes {
    StrBytes::from_string(text.to_string())
}

/// Joins `group` as its only member and syncs; returns (connection, member id, generation).
async fn join(bootstrap: &str, group: &str) -> anyhow::Result<(Conn, String, i32)> {
    let mut conn = Conn::connect(bootstrap).await?;
    let found: FindCoordinatorResponse =
        conn.call(ApiKey::FindCoordinator, 2, &FindCoordinatorRequest::default().with_key(s(group))).await?;
    if found.error_code != 0 {
        bail!("FindCoordinator {group}: error {}", found.error_code);
    }
    let mut conn = Conn::connect(&format!("{}:{}", found.host.as_str(), found.port)).await?;
    let mut member = String::new();
    for _ in 0..2 {
        let req = JoinGroupRequest::default()
            .with_group_id(GroupId(s(group)))
            .with_session_timeout_ms(30_000)
            .with_rebalance_timeout_ms(60_000)
            .with_member_id(s(&member))
            .with_protocol_type(s("consumer"))
            .with_protocols(vec![JoinGroupRequestProtocol::default()
                .with_name(s("range"))
                .with_metadata(Bytes::new())]);
        let resp: JoinGroupResponse = conn.call(ApiKey::JoinGroup, 5, &req).await?;
        member = resp.member_id.to_string();
        match resp.error_code {
            0 => {
                let sync = SyncGroupRequest::default()
                    .with_group_id(GroupId(s(group)))
                    .with_generation_id(resp.generation_id)
                    .with_member_id(s(&member))
                    .with_assignments(vec![SyncGroupRequestAssignment::default().with_member_id(s(&member))]);
                let synced: SyncGroupResponse = conn.call(ApiKey::SyncGroup, 3, &sync).await?;
                if synced.error_code != 0 {
                    bail!("SyncGroup {group}: error {}", synced.error_code);
                }
                return Ok((conn, member, resp.generation_id));
            }
            79 => continue, // MEMBER_ID_REQUIRED: join again with the id
            e => bail!("JoinGroup {group}: error {e}"),
        }
    }
    bail!("JoinGroup {group}: no generation after two tries")
}

fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut admin = Conn::connect(&args.bootstrap).await?;
    let create = CreateTopicsRequest::default().with_timeout_ms(10_000).with_topics(vec![CreatableTopic::default()
        .with_name(TopicName(s(TOPIC)))
        .with_num_partitions(args.partitions)
        .with_replication_factor(-1)]);
    let _: CreateTopicsResponse = admin.call(ApiKey::CreateTopics, 4, &create).await?;

    let joined = Instant::now();
    let mut tasks = Vec::new();
    for g in 0..args.groups {
        let bootstrap = args.bootstrap.clone();
        tasks.push(tokio::spawn(async move { join(&bootstrap, &format!("bench-group-{g}")).await }));
    }
    let mut members = Vec::new();
    for t in tasks {
        members.push(t.await??);
    }
    println!("{} groups joined and synced in {:.1} s", members.len(), joined.elapsed().as_secs_f64());

    let latencies = Arc::new(Mutex::new(Vec::with_capacity(args.groups * args.seconds as usize)));
    let cpu_before = args.pid.and_then(cpu_seconds);
    let started = Instant::now();
    let mut tasks = Vec::new();
    for (g, (mut conn, member, generation)) in members.into_iter().enumerate() {
        let latencies = Arc::clone(&latencies);
        let (partitions, seconds, groups) = (args.partitions, args.seconds, args.groups);
        tasks.push(tokio::spawn(async move {
            // Spread the groups over the second, as independent consumers would be.
            tokio::time::sleep(Duration::from_micros((g as u64 * 1_000_000) / groups as u64)).await;
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let group = format!("bench-group-{g}");
            for round in 0..seconds {
                tick.tick().await;
                let commit = OffsetCommitRequest::default()
                    .with_group_id(GroupId(s(&group)))
                    .with_generation_id_or_member_epoch(generation)
                    .with_member_id(s(&member))
                    .with_topics(vec![OffsetCommitRequestTopic::default()
                        .with_name(TopicName(s(TOPIC)))
                        .with_partitions(
                            (0..partitions)
                                .map(|p| {
                                    OffsetCommitRequestPartition::default()
                                        .with_partition_index(p)
                                        .with_committed_offset(round as i64 * 100 + i64::from(p))
                                })
                                .collect(),
                        )]);
                let sent = Instant::now();
                let resp: OffsetCommitResponse = conn.call(ApiKey::OffsetCommit, 8, &commit).await?;
                let took = sent.elapsed();
                if let Some(p) = resp.topics.iter().flat_map(|t| &t.partitions).find(|p| p.error_code != 0) {
                    bail!("OffsetCommit {group}: error {}", p.error_code);
                }
                latencies.lock().await.push(took);
                if round % 3 == 2 {
                    let hb = HeartbeatRequest::default()
                        .with_group_id(GroupId(s(&group)))
                        .with_generation_id(generation)
                        .with_member_id(s(&member));
                    let r: HeartbeatResponse = conn.call(ApiKey::Heartbeat, 3, &hb).await?;
                    if r.error_code != 0 {
                        bail!("Heartbeat {group}: error {}", r.error_code);
                    }
                }
            }
            Ok(())
        }));
    }
    for t in tasks {
        t.await??;
    }
    let wall = started.elapsed().as_secs_f64();
    let cpu = match (cpu_before, args.pid.and_then(cpu_seconds)) {
        (Some(a), Some(b)) => {
            format!("{:.2} CPU s over {wall:.1} s ({:.0}% of one core)", b - a, (b - a) / wall * 100.0)
        }
        _ => "not measured (pass --pid)".to_string(),
    };
    let mut l = latencies.lock().await.clone();
    l.sort_unstable();
    let pct = |q: f64| l[((l.len() as f64 * q) as usize).min(l.len() - 1)].as_secs_f64() * 1000.0;
    println!(
        "{} commits of {} partitions ({:.0} commits/s, {:.0} offsets/s): latency p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        l.len(),
        args.partitions,
        l.len() as f64 / wall,
        l.len() as f64 * f64::from(args.partitions) / wall,
        pct(0.50),
        pct(0.99),
        pct(1.0),
    );
    println!("broker: {cpu}");
    Ok(())
}
