//! `warren console-consumer`: `kafka-console-consumer.sh`. Prints records of one topic to
//! stdout in Kafka's `DefaultMessageFormatter` layout until `--max-messages`, `--timeout-ms`
//! without a record, SIGINT/SIGTERM, or a closed stdout; then "Processed a total of N messages"
//! on stderr.
//!
//! With `--group` it is a real group member: JoinGroup/SyncGroup (`range` assignor), heartbeats
//! between fetches, commits of what it printed (every second, before a rebalance and at exit)
//! and LeaveGroup on the way out, so `consumer-groups --describe` shows it like any consumer.
//! The group's committed offsets say where to start; `--from-beginning` only matters for
//! partitions without one. Without a group it reads every partition (or `--partition`)
//! without committing anything; Kafka would invent a `console-consumer-NNNNN` group instead,
//! which only litters the monitor.

use std::collections::BTreeMap;
use std::io::Write;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use clap::Args;

use crate::kafka::{Client, ConsumedRecord, GroupMember, Liveness, MemberConfig, OffsetSpec};

/// How long one fetch waits for data.
const FETCH_WAIT: Duration = Duration::from_millis(500);
const PARTITION_MAX_BYTES: i32 = 1 << 20;
const COMMIT_INTERVAL: Duration = Duration::from_secs(1);
const OFFSET_OUT_OF_RANGE: i16 = 1;
const FAILED_FETCH_BACKOFF: Duration = Duration::from_millis(200);

#[derive(Args, Debug, Clone)]
pub struct ConsumerArgs {
    /// The cluster to talk to: HOST:PORT[,HOST:PORT...].
    #[arg(long, value_name = "HOST:PORT")]
    pub bootstrap_server: String,
    /// A Kafka client properties file for TLS and SASL (`security.protocol`, `sasl.mechanism`,
    /// `sasl.jaas.config`, `ssl.ca.location`, ...), as Kafka's tools take it.
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<std::path::PathBuf>,
    /// The topic to consume.
    #[arg(long)]
    pub topic: String,
    /// Start at the earliest offset when there is no committed one (default: the latest).
    #[arg(long)]
    pub from_beginning: bool,
    /// Consume as a member of this consumer group, committing what was printed.
    #[arg(long)]
    pub group: Option<String>,
    /// Exit after this many records.
    #[arg(long)]
    pub max_messages: Option<u64>,
    /// Exit when no record arrives for this long.
    #[arg(long)]
    pub timeout_ms: Option<u64>,
    /// Read only this partition (no group).
    #[arg(long, conflicts_with = "group")]
    pub partition: Option<i32>,
    /// With --partition: earliest, latest, or an offset.
    #[arg(long, requires = "partition")]
    pub offset: Option<String>,
    /// Formatter properties: print.key, print.timestamp, print.partition, print.offset,
    /// print.headers, print.value, key.separator, line.separator (repeatable).
    #[arg(long = "property", value_name = "KEY=VALUE")]
    pub properties: Vec<String>,
    /// Consumer properties: group.id, auto.offset.reset, isolation.level (repeatable).
    #[arg(long = "consumer-property", value_name = "KEY=VALUE")]
    pub consumer_properties: Vec<String>,
    /// read_committed: only records of committed transactions (and non-transactional ones), up
    /// to the last stable offset; read_uncommitted (the default): everything.
    #[arg(long, value_name = "LEVEL")]
    pub isolation_level: Option<String>,
}

/// Kafka's `DefaultMessageFormatter`: optional timestamp, partition, offset, headers and key,
/// each followed by the key separator, then the value and the line separator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Formatter {
    pub print_timestamp: bool,
    pub print_partition: bool,
    pub print_offset: bool,
    pub print_headers: bool,
    pub print_key: bool,
    pub print_value: bool,
    pub key_separator: String,
    pub line_separator: String,
}

impl Formatter {
    pub fn from_properties(properties: &BTreeMap<String, String>) -> anyhow::Result<Formatter> {
        let flag = |key: &str| super::bool_property(properties, key);
        Ok(Formatter {
            print_timestamp: flag("print.timestamp")?,
            print_partition: flag("print.partition")?,
            print_offset: flag("print.offset")?,
            print_headers: flag("print.headers")?,
            print_key: flag("print.key")?,
            print_value: properties.get("print.value").is_none_or(|v| !v.eq_ignore_ascii_case("false")),
            key_separator: super::unescape(properties.get("key.separator").map_or("\t", String::as_str)),
            line_separator: super::unescape(properties.get("line.separator").map_or("\n", String::as_str)),
        })
    }

    pub fn write(&self, out: &mut Vec<u8>, partition: i32, r: &ConsumedRecord) {
        let sep = self.key_separator.as_bytes();
        if self.print_timestamp {
            let kind = if r.log_append_time { "LogAppendTime" } else { "CreateTime" };
            if r.timestamp_ms < 0 {
                out.extend_from_slice(b"NO_TIMESTAMP");
            } else {
                out.extend_from_slice(format!("{kind}:{}", r.timestamp_ms).as_bytes());
            }
            out.extend_from_slice(sep);
        }
        if self.print_partition {
            out.extend_from_slice(format!("Partition:{partition}").as_bytes());
            out.extend_from_slice(sep);
        }
        if self.print_offset {
            out.extend_from_slice(format!("Offset:{}", r.offset).as_bytes());
            out.extend_from_slice(sep);
        }
        if self.print_headers {
            if r.headers.is_empty() {
                out.extend_from_slice(b"NO_HEADERS");
            }
            for (i, (k, v)) in r.headers.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                out.extend_from_slice(k.as_bytes());
                out.push(b':');
                out.extend_from_slice(v.as_deref().unwrap_or(b"null"));
            }
            out.extend_from_slice(sep);
        }
        if self.print_key {
            out.extend_from_slice(r.key.as_deref().unwrap_or(b"null"));
            out.extend_from_slice(sep);
        }
        if self.print_value {
            out.extend_from_slice(r.value.as_deref().unwrap_or(b"null"));
            out.extend_from_slice(self.line_separator.as_bytes());
        }
    }
}

/// Where reading starts without a committed offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reset {
    Earliest,
    Latest,
}

impl Reset {
    fn spec(self) -> OffsetSpec {
        match self {
            Reset::Earliest => OffsetSpec::Earliest,
            Reset::Latest => OffsetSpec::Latest,
        }
    }
}

type Positions = BTreeMap<(String, i32), i64>;

/// The offsets of `partitions` per `spec`.
async fn offsets(client: &Client, partitions: &[(String, i32)], spec: OffsetSpec) -> anyhow::Result<Positions> {
    let mut out = BTreeMap::new();
    for (key, result) in client.list_offsets(partitions, spec).await {
        let offset = result.with_context(|| format!("cannot look up offsets of {}-{}", key.0, key.1))?;
        out.insert(key, offset);
    }
    Ok(out)
}

/// Committed offsets for the member's assignment, the reset policy for the rest.
async fn group_positions(client: &Client, member: &GroupMember, reset: Reset) -> anyhow::Result<Positions> {
    let assigned: Vec<(String, i32)> =
        member.assignment.iter().flat_map(|(t, ps)| ps.iter().map(move |p| (t.clone(), *p))).collect();
    let committed = client.offset_fetch(&member.group).await?;
    let missing: Vec<(String, i32)> = assigned.iter().filter(|k| !committed.contains_key(*k)).cloned().collect();
    let mut positions = offsets(client, &missing, reset.spec()).await?;
    for key in assigned {
        if let Some(offset) = committed.get(&key) {
            positions.insert(key, *offset);
        }
    }
    Ok(positions)
}

pub async fn run(args: ConsumerArgs) -> anyhow::Result<()> {
    let properties = super::parse_properties("--property", &args.properties)?;
    let consumer_properties = super::parse_properties("--consumer-property", &args.consumer_properties)?;
    let formatter = Formatter::from_properties(&properties)?;
    let reset = match consumer_properties.get("auto.offset.reset").map(String::as_str) {
        _ if args.from_beginning => Reset::Earliest,
        None | Some("latest") => Reset::Latest,
        Some("earliest") => Reset::Earliest,
        Some(other) => bail!("auto.offset.reset must be earliest or latest, not '{other}'"),
    };
    let group = args.group.clone().or_else(|| consumer_properties.get("group.id").cloned());
    let read_committed =
        match args.isolation_level.as_deref().or(consumer_properties.get("isolation.level").map(String::as_str)) {
            None | Some("read_uncommitted") => false,
            Some("read_committed") => true,
            Some(other) => bail!("isolation level must be read_committed or read_uncommitted, not '{other}'"),
        };
    let client = super::connect_with(&args.bootstrap_server, "console-consumer", args.command_config.as_deref(), |c| {
        c.read_committed = read_committed;
    })
    .await?;
    let metadata = client.metadata(Some(&[args.topic.as_str()])).await?;
    let partitions: Vec<(String, i32)> = match metadata.topics.get(&args.topic) {
        Some(t) if t.error_code == 0 => t.partitions.iter().map(|p| (args.topic.clone(), p.partition)).collect(),
        _ => bail!("topic '{}' does not exist", args.topic),
    };
    let mut session = Session {
        member: group.map(|g| GroupMember::new(client.clone(), &g, vec![args.topic.clone()], MemberConfig::default())),
        client,
        reset,
        positions: BTreeMap::new(),
        consumed: BTreeMap::new(),
        committed: BTreeMap::new(),
        printed: 0,
    };
    let interrupt = super::interrupted();
    tokio::pin!(interrupt);
    let result = tokio::select! {
        result = session.consume(&args, &partitions, &formatter) => result,
        () = &mut interrupt => Ok(()),
    };
    // Whatever ended the run: hand over what was printed and leave, so the group rebalances now.
    if let Some(m) = session.member.as_mut() {
        let _ = commit(m, &session.consumed, &mut session.committed).await;
        let _ = m.leave().await;
    }
    eprintln!("Processed a total of {} messages", session.printed);
    result
}

/// One consumer's state: where it reads, what it printed, what it committed.
struct Session {
    client: Client,
    member: Option<GroupMember>,
    reset: Reset,
    /// Next offset to fetch per partition.
    positions: Positions,
    /// Next offset after the last record printed (what a commit hands over).
    consumed: Positions,
    committed: Positions,
    printed: u64,
}

impl Session {
    /// Reads until `--max-messages`, `--timeout-ms` or a closed stdout (interrupts are the
    /// caller's: this future is simply dropped).
    async fn consume(
        &mut self,
        args: &ConsumerArgs,
        partitions: &[(String, i32)],
        formatter: &Formatter,
    ) -> anyhow::Result<()> {
        self.positions = match (&self.member, args.partition) {
            (Some(_), _) => self.join().await?,
            (None, Some(p)) => {
                let key = (args.topic.clone(), p);
                if !partitions.contains(&key) {
                    bail!("topic '{}' has no partition {p}", args.topic);
                }
                let spec = match args.offset.as_deref() {
                    None => self.reset.spec(),
                    Some("earliest") => OffsetSpec::Earliest,
                    Some("latest") => OffsetSpec::Latest,
                    Some(n) => {
                        let offset =
                            n.parse().with_context(|| format!("--offset '{n}' is not earliest, latest or a number"))?;
                        return self.print_from(args, formatter, BTreeMap::from([(key, offset)])).await;
                    }
                };
                offsets(&self.client, &[key], spec).await?
            }
            (None, None) => offsets(&self.client, partitions, self.reset.spec()).await?,
        };
        let positions = std::mem::take(&mut self.positions);
        self.print_from(args, formatter, positions).await
    }

    /// Joins (or rejoins) the group; returns where to read the new assignment from.
    async fn join(&mut self) -> anyhow::Result<Positions> {
        let Some(member) = self.member.as_mut() else { return Ok(BTreeMap::new()) };
        member.join().await?;
        let positions = group_positions(&self.client, member, self.reset).await?;
        self.consumed.retain(|k, _| positions.contains_key(k));
        Ok(positions)
    }

    async fn print_from(&mut self, args: &ConsumerArgs, formatter: &Formatter, start: Positions) -> anyhow::Result<()> {
        self.positions = start;
        let timeout = args.timeout_ms.map(Duration::from_millis);
        let done = |printed: u64| args.max_messages.is_some_and(|max| printed >= max);
        let (mut last_record, mut last_heartbeat, mut last_commit) = (Instant::now(), Instant::now(), Instant::now());
        let mut stdout = std::io::stdout();
        while !done(self.printed) && timeout.is_none_or(|t| last_record.elapsed() < t) {
            if let Some(m) = self.member.as_mut() {
                let mut liveness = Liveness::Member;
                if last_heartbeat.elapsed() >= m.config.heartbeat_interval {
                    last_heartbeat = Instant::now();
                    liveness = m.heartbeat().await?;
                }
                if liveness == Liveness::Member && last_commit.elapsed() >= COMMIT_INTERVAL {
                    last_commit = Instant::now();
                    liveness = commit(m, &self.consumed, &mut self.committed).await?;
                }
                if liveness == Liveness::MustRejoin {
                    // Eager rebalance: hand over what was printed, then take the new assignment.
                    let _ = commit(m, &self.consumed, &mut self.committed).await;
                    self.positions = self.join().await?;
                    last_heartbeat = Instant::now();
                }
            }
            if self.positions.is_empty() {
                // A member without partitions stays in the group, heartbeating.
                tokio::time::sleep(FETCH_WAIT).await;
                continue;
            }
            let fetched = self.client.fetch(&self.positions, FETCH_WAIT, PARTITION_MAX_BYTES).await;
            let mut out = Vec::new();
            let (mut reset_needed, mut failed) = (Vec::new(), false);
            for (key, result) in fetched {
                let fetched = match result {
                    Ok(f) if f.error_code == 0 => f,
                    Ok(f) if f.error_code == OFFSET_OUT_OF_RANGE => {
                        reset_needed.push(key);
                        continue;
                    }
                    Ok(f) => {
                        failed = true;
                        self.client.recover(&crate::kafka::Error::kafka(f.error_code, ""));
                        continue;
                    }
                    Err(e) if e.is_retriable() => {
                        failed = true;
                        continue;
                    }
                    Err(e) => return Err(e.into()),
                };
                let mut all_printed = true;
                for r in &fetched.records {
                    if done(self.printed) {
                        all_printed = false;
                        break;
                    }
                    formatter.write(&mut out, key.1, r);
                    self.printed += 1;
                    self.positions.insert(key.clone(), r.offset + 1);
                    self.consumed.insert(key.clone(), r.offset + 1);
                    last_record = Instant::now();
                }
                let position = self.positions.get(&key).copied().unwrap_or(fetched.next_offset);
                if all_printed && fetched.next_offset > position {
                    // Past batches with nothing to print (transaction markers, emptied by
                    // compaction): the next fetch does not return them again, and the group's
                    // commit covers them as Kafka's consumers' does.
                    self.positions.insert(key.clone(), fetched.next_offset);
                    self.consumed.insert(key.clone(), fetched.next_offset);
                }
            }
            if !out.is_empty() && stdout.write_all(&out).and_then(|()| stdout.flush()).is_err() {
                return Ok(()); // stdout closed (`| head`): stop like an interrupt
            }
            if !reset_needed.is_empty() {
                self.positions.extend(offsets(&self.client, &reset_needed, self.reset.spec()).await?);
            }
            if failed {
                // Leaders moving or down: do not spin on metadata refreshes.
                tokio::time::sleep(FAILED_FETCH_BACKOFF).await;
            }
        }
        Ok(())
    }
}

/// Commits the positions that moved since the last commit.
async fn commit(member: &mut GroupMember, consumed: &Positions, committed: &mut Positions) -> anyhow::Result<Liveness> {
    let changed: Positions =
        consumed.iter().filter(|(k, v)| committed.get(*k) != Some(*v)).map(|(k, v)| (k.clone(), *v)).collect();
    let liveness = member.commit(&changed).await?;
    if liveness == Liveness::Member {
        committed.extend(changed);
    }
    Ok(liveness)
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn record(key: Option<&'static str>, value: Option<&'static str>) -> ConsumedRecord {
        ConsumedRecord {
            offset: 7,
            timestamp_ms: 1_700_000_000_000,
            log_append_time: false,
            key: key.map(|k| Bytes::from_static(k.as_bytes())),
            value: value.map(|v| Bytes::from_static(v.as_bytes())),
            headers: vec![("h".into(), Some(Bytes::from_static(b"x"))), ("n".into(), None)],
        }
    }

    fn check(properties: &[(&str, &str)], r: &ConsumedRecord, want: &str) {
        let properties = properties.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let formatter = Formatter::from_properties(&properties).expect("properties");
        let mut out = Vec::new();
        formatter.write(&mut out, 2, r);
        assert_eq!(String::from_utf8_lossy(&out), want);
    }

    #[test]
    fn formats_like_kafkas_default_message_formatter() {
        let r = record(Some("k"), Some("v"));
        check(&[], &r, "v\n");
        check(&[("print.key", "true")], &r, "k\tv\n");
        check(&[("print.key", "true")], &record(None, None), "null\tnull\n");
        check(&[("print.key", "true"), ("key.separator", ":")], &r, "k:v\n");
        check(
            &[
                ("print.timestamp", "true"),
                ("print.partition", "true"),
                ("print.offset", "true"),
                ("print.key", "true"),
            ],
            &r,
            "CreateTime:1700000000000\tPartition:2\tOffset:7\tk\tv\n",
        );
        check(&[("print.headers", "true")], &r, "h:x,n:null\tv\n");
        check(&[("print.value", "false"), ("print.key", "true")], &r, "k\t");
    }
}
