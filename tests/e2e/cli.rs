//! The Kafka-style tools (`warren topics`, `console-producer`, `console-consumer`,
//! `consumer-groups`) run as a separate process against warren, their output compared with what
//! the cluster itself says; and the monitor's external snapshot of a second warren process
//! compared with what that process reports about itself.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;
use server::kafka::metadata::topic_id_string;
use server::kafka::{Client, ClientConfig};
use server::monitor::external::External;
use warren_tests::{free_ports, http, warren_binary, Options, Warren, WarrenProcess};

const TOML: &str = "[groups]\ninitial_rebalance_delay = \"200ms\"";
const DESCRIBE_HEADER: [&str; 9] =
    ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"];
const RESET_HEADER: [&str; 4] = ["GROUP", "TOPIC", "PARTITION", "NEW-OFFSET"];

/// What one tool run left behind.
#[derive(Debug)]
struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

impl Run {
    /// Exit status 0 and a quiet stderr; returns stdout.
    fn ok(self) -> String {
        assert_eq!(self.code, 0, "{self:?}");
        self.stdout
    }

    /// A non-zero exit with exactly `line` (one line) on stderr.
    fn fails_with(self, line: &str) {
        assert_ne!(self.code, 0, "{self:?}");
        assert_eq!(self.stderr, format!("{line}\n"), "{self:?}");
    }
}

/// Runs `warren-e2e TOOL --bootstrap-server B ARGS...` with `stdin`, at most 60 s.
async fn tool(tool: &str, bootstrap: &str, args: &[&str], stdin: Option<&str>) -> Run {
    let mut argv = vec![tool.to_string()];
    if !bootstrap.is_empty() {
        argv.extend(["--bootstrap-server".to_string(), bootstrap.to_string()]);
    }
    argv.extend(args.iter().map(|a| (*a).to_string()));
    let stdin = stdin.map(str::to_string);
    tokio::task::spawn_blocking(move || {
        let mut child = Command::new(warren_binary())
            .args(&argv)
            .env_remove("RUST_LOG")
            .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn warren-e2e");
        // A tool that fails early closes its stdin; its exit status and stderr say why.
        let writer = match (stdin, child.stdin.take()) {
            (Some(input), Some(mut pipe)) => Some(std::thread::spawn(move || pipe.write_all(input.as_bytes()))),
            _ => None,
        };
        let pid = child.id();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        let out = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(out) => out.expect("wait"),
            Err(_) => {
                let _ = Command::new("kill").arg("-9").arg(pid.to_string()).status();
                panic!("warren-e2e {argv:?} ran for more than 60 s");
            }
        };
        if let Some(writer) = writer {
            let _ = writer.join();
        }
        Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
    .await
    .expect("tool task")
}

/// A tool left running (a live group member), stopped with SIGTERM like an operator would.
struct Background(Option<Child>);

impl Background {
    fn spawn(tool: &str, bootstrap: &str, args: &[&str]) -> Background {
        let child = Command::new(warren_binary())
            .arg(tool)
            .args(["--bootstrap-server", bootstrap])
            .args(args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn warren-e2e");
        Background(Some(child))
    }

    /// SIGTERM, then its stderr once it exited cleanly.
    fn terminate(mut self) -> String {
        let mut child = self.0.take().expect("child");
        let status = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().expect("kill");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                break status;
            }
            assert!(Instant::now() < deadline, "the tool did not exit within 20 s of SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        };
        let mut stderr = String::new();
        child.stderr.take().expect("stderr").read_to_string(&mut stderr).expect("read stderr");
        assert!(status.success(), "exit {status} after SIGTERM: {stderr}");
        stderr
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(mut child) = self.0.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The expected text of an aligned table: columns as wide as their widest cell, one space
/// apart, no trailing spaces.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let all: Vec<Vec<String>> =
        std::iter::once(header.iter().map(|h| (*h).to_string()).collect()).chain(rows.iter().cloned()).collect();
    let widths: Vec<usize> = (0..header.len()).map(|i| all.iter().map(|r| r[i].len()).max().unwrap_or(0)).collect();
    all.iter()
        .map(|r| {
            let cells: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            format!("{}\n", cells.join(" ").trim_end())
        })
        .collect()
}

fn join(ids: &[i32]) -> String {
    ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",")
}

/// `topics --describe` as the cluster's own metadata says it should read.
fn expected_describe(warren: &Warren, topic: &str, configs: &str) -> String {
    let metadata = warren.cluster.metadata();
    let t = &metadata.topics[topic];
    let mut text = format!(
        "Topic: {topic}\tTopicId: {}\tPartitionCount: {}\tReplicationFactor: {}\tConfigs: {configs}\n",
        topic_id_string(&t.id),
        t.partitions.len(),
        t.partitions[0].replicas.len()
    );
    for (i, p) in t.partitions.iter().enumerate() {
        text.push_str(&format!(
            "\tTopic: {topic}\tPartition: {i}\tLeader: {}\tReplicas: {}\tIsr: {}\n",
            p.leader,
            join(&p.replicas),
            join(&p.isr)
        ));
    }
    text
}

fn high_watermark(warren: &Warren, topic: &str, partition: i32) -> i64 {
    warren.cluster.leader_replica(topic, partition).expect("leader").high_watermark()
}

fn committed(warren: &Warren, group: &str) -> BTreeMap<(String, i32), i64> {
    warren.cluster.committed_offsets(group).unwrap_or_default().into_iter().map(|(k, c)| (k, c.offset)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topics_create_list_describe_alter_delete_like_kafka_topics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(3).with_toml(TOML)).await.expect("start");
    let b = warren.bootstrap();

    let create = ["--create", "--topic", "orders", "--partitions", "3", "--replication-factor", "3"];
    let config = ["--config", "retention.ms=86400000", "--config", "cleanup.policy=delete"];
    let out = tool("topics", &b, &[&create[..], &config[..]].concat(), None).await.ok();
    assert_eq!(out, "Created topic orders.\n");
    tool("topics", &b, &create, None).await.fails_with("Error: topic 'orders' already exists");
    assert_eq!(tool("topics", &b, &[&create[..], &["--if-not-exists"]].concat(), None).await.ok(), "");
    assert_eq!(tool("topics", &b, &["--create", "--topic", "dflt"], None).await.ok(), "Created topic dflt.\n");

    assert_eq!(tool("topics", &b, &["--list", "--exclude-internal"], None).await.ok(), "dflt\norders\n");
    let all = tool("topics", &b, &["--list"], None).await.ok();
    assert!(all.lines().any(|l| l == "orders") && all.lines().all(|l| !l.is_empty()), "{all}");

    let described = tool("topics", &b, &["--describe", "--topic", "orders"], None).await.ok();
    assert_eq!(described, expected_describe(&warren, "orders", "cleanup.policy=delete,retention.ms=86400000"));
    // Cluster defaults: 1 partition, replication factor min(3, brokers).
    let described = tool("topics", &b, &["--describe", "--topic", "dflt"], None).await.ok();
    assert_eq!(described, expected_describe(&warren, "dflt", ""));
    assert!(described.contains("\tPartitionCount: 1\tReplicationFactor: 3\t"), "{described}");
    let everything = tool("topics", &b, &["--describe", "--exclude-internal"], None).await.ok();
    let want = expected_describe(&warren, "dflt", "")
        + &expected_describe(&warren, "orders", "cleanup.policy=delete,retention.ms=86400000");
    assert_eq!(everything, want);

    assert_eq!(tool("topics", &b, &["--alter", "--topic", "orders", "--partitions", "5"], None).await.ok(), "");
    let described = tool("topics", &b, &["--describe", "--topic", "orders"], None).await.ok();
    assert_eq!(described, expected_describe(&warren, "orders", "cleanup.policy=delete,retention.ms=86400000"));
    assert!(described.contains("\tPartitionCount: 5\t"), "{described}");

    assert_eq!(tool("topics", &b, &["--delete", "--topic", "dflt"], None).await.ok(), "");
    assert_eq!(tool("topics", &b, &["--list", "--exclude-internal"], None).await.ok(), "orders\n");

    // Errors: one line on stderr, non-zero exit.
    tool("topics", &b, &["--describe", "--topic", "nope"], None).await.fails_with("Error: topic 'nope' does not exist");
    tool("topics", &b, &["--delete", "--topic", "dflt"], None).await.fails_with("Error: topic 'dflt' does not exist");
    assert_eq!(tool("topics", &b, &["--delete", "--topic", "dflt", "--if-exists"], None).await.ok(), "");
    let port = free_ports(1);
    let dead = format!("127.0.0.1:{port}");
    tool("topics", &dead, &["--list"], None)
        .await
        .fails_with(&format!("Error: cannot reach any bootstrap server ({dead}: connection refused)"));
    let usage = tool("topics", &b, &[], None).await;
    assert_eq!(usage.code, 2, "{usage:?}");
    assert_eq!(usage.stderr.lines().count(), 1, "{usage:?}");
    assert!(usage.stderr.starts_with("error: the following required arguments were not provided"), "{usage:?}");
    warren.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_producer_and_consumer_round_trip_keys_codecs_and_timeouts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(3).with_toml(TOML)).await.expect("start");
    let b = warren.bootstrap();
    tool("topics", &b, &["--create", "--topic", "events", "--partitions", "3"], None).await.ok();

    let input: String = (0..30).map(|i| format!("k{}:v{i}\n", i % 7)).collect();
    let keyed = ["--topic", "events", "--property", "parse.key=true", "--property", "key.separator=:"];
    let acks_all = [&keyed[..], &["--producer-property", "acks=all"]].concat();
    assert_eq!(tool("console-producer", &b, &acks_all, Some(&input)).await.ok(), "");

    let printing =
        ["--property", "print.partition=true", "--property", "print.offset=true", "--property", "print.key=true"];
    let run = tool(
        "console-consumer",
        &b,
        &[&["--topic", "events", "--from-beginning", "--max-messages", "30"][..], &printing[..]].concat(),
        None,
    )
    .await;
    assert_eq!(run.stderr, "Processed a total of 30 messages\n");
    let mut by_partition: BTreeMap<i32, Vec<i64>> = BTreeMap::new();
    let mut records = BTreeSet::new();
    for line in run.ok().lines() {
        // Partition:P<TAB>Offset:O<TAB>KEY<TAB>VALUE
        let fields: Vec<&str> = line.split('\t').collect();
        assert_eq!(fields.len(), 4, "{line}");
        let partition: i32 = fields[0].trim_start_matches("Partition:").parse().expect("partition");
        let offset: i64 = fields[1].trim_start_matches("Offset:").parse().expect("offset");
        // Keys pick partitions with Kafka's murmur2, as a Java producer would.
        assert_eq!(partition, server::tools::producer::key_partition(fields[2].as_bytes(), 3), "{line}");
        by_partition.entry(partition).or_default().push(offset);
        records.insert(format!("{}:{}", fields[2], fields[3]));
    }
    assert_eq!(records, input.lines().map(str::to_string).collect::<BTreeSet<_>>());
    for (p, offsets) in &by_partition {
        assert_eq!(*offsets, (0..offsets.len() as i64).collect::<Vec<_>>(), "partition {p} in order, no gaps");
    }

    // Every codec, read back by this consumer and by librdkafka.
    tool("topics", &b, &["--create", "--topic", "codecs", "--partitions", "1"], None).await.ok();
    let mut sent = Vec::new();
    for codec in ["none", "gzip", "snappy", "lz4", "zstd"] {
        let lines: Vec<String> = (0..20).map(|i| format!("{codec}-{i}-{}", "x".repeat(i * 7))).collect();
        let stdin = lines.join("\n") + "\n";
        let args = ["--topic", "codecs", "--producer-property", &format!("compression.type={codec}")];
        assert_eq!(tool("console-producer", &b, &args, Some(&stdin)).await.ok(), "");
        sent.extend(lines);
    }
    let out = tool("console-consumer", &b, &["--topic", "codecs", "--from-beginning", "--max-messages", "100"], None);
    assert_eq!(out.await.ok().lines().collect::<Vec<_>>(), sent);
    let b2 = b.clone();
    let read = tokio::task::spawn_blocking(move || {
        crate::support::consume_all(&b2, "codecs", 1, 100, Duration::from_secs(30))
    })
    .await
    .expect("rdkafka");
    let values: Vec<String> =
        read.values().map(|r| String::from_utf8_lossy(r.value.as_deref().unwrap_or_default()).into_owned()).collect();
    assert_eq!(values, sent);

    // --timeout-ms: nothing new arrives, so it exits cleanly after about that long.
    let started = Instant::now();
    let run = tool("console-consumer", &b, &["--topic", "events", "--timeout-ms", "1500"], None).await;
    assert_eq!((run.code, run.stdout.as_str(), run.stderr.as_str()), (0, "", "Processed a total of 0 messages\n"));
    assert!(started.elapsed() >= Duration::from_millis(1500), "{:?}", started.elapsed());

    // --partition/--offset reads one partition from an offset.
    let p0 = by_partition.get(&0).map_or(0, Vec::len) as i64;
    if p0 >= 2 {
        let args = ["--topic", "events", "--partition", "0", "--offset", "1", "--max-messages", "1"];
        let args = [&args[..], &["--property", "print.offset=true"]].concat();
        assert!(tool("console-consumer", &b, &args, None).await.ok().starts_with("Offset:1\t"));
    }

    tool("console-producer", &b, &keyed, Some("no separator here\n"))
        .await
        .fails_with("Error: No key separator found on line number 1: 'no separator here'");
    tool("console-producer", &b, &["--topic", "nope"], Some("x\n"))
        .await
        .fails_with("Error: topic 'nope' does not exist");
    tool("console-consumer", &b, &["--topic", "nope"], None).await.fails_with("Error: topic 'nope' does not exist");
    warren.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_groups_describe_reset_and_delete_around_a_live_member() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(3).with_toml(TOML)).await.expect("start");
    let b = warren.bootstrap();
    tool("topics", &b, &["--create", "--topic", "grp", "--partitions", "3"], None).await.ok();
    let input: String = (0..30).map(|i| format!("r{i}\n")).collect();
    tool("console-producer", &b, &["--topic", "grp"], Some(&input)).await.ok();
    let ends: BTreeMap<i32, i64> = (0..3).map(|p| (p, high_watermark(&warren, "grp", p))).collect();
    assert_eq!(ends.values().sum::<i64>(), 30);

    // g1: a group member that prints 12 records, commits exactly those and leaves.
    let run = tool(
        "console-consumer",
        &b,
        &["--topic", "grp", "--group", "g1", "--from-beginning", "--max-messages", "12"],
        None,
    );
    assert_eq!(run.await.ok().lines().count(), 12);
    let g1 = committed(&warren, "g1");
    assert_eq!(g1.values().sum::<i64>(), 12, "{g1:?}");
    let rows: Vec<Vec<String>> = g1
        .iter()
        .map(|((t, p), c)| {
            let end = ends[p];
            let cells =
                ["g1".to_string(), t.clone(), p.to_string(), c.to_string(), end.to_string(), (end - c).to_string()];
            cells.into_iter().chain(["-".into(), "-".into(), "-".into()]).collect()
        })
        .collect();
    let want = format!("\nConsumer group 'g1' has no active members.\n\n{}", table(&DESCRIBE_HEADER, &rows));
    assert_eq!(tool("consumer-groups", &b, &["--describe", "--group", "g1"], None).await.ok(), want);

    // live: a member that stays, reads everything and commits it.
    let live = Background::spawn("console-consumer", &b, &["--topic", "grp", "--group", "live", "--from-beginning"]);
    let cluster = std::sync::Arc::clone(&warren.cluster);
    let settled = warren_tests::eventually(Duration::from_secs(30), || {
        let stable = cluster.describe_group("live").is_some_and(|d| d.state.name() == "Stable" && d.members.len() == 1);
        let done = cluster.committed_offsets("live").is_some_and(|c| c.values().map(|c| c.offset).sum::<i64>() == 30);
        stable && done
    })
    .await;
    assert!(settled, "the live member joined and committed everything: {:?}", cluster.describe_group("live"));
    let member = warren.cluster.describe_group("live").expect("live").members.remove(0);
    let rows: Vec<Vec<String>> = (0..3)
        .map(|p| {
            let end = ends[&p].to_string();
            let owner = [member.member_id.clone(), member.client_host.clone(), member.client_id.clone()];
            ["live".to_string(), "grp".into(), p.to_string(), end.clone(), end, "0".into()]
                .into_iter()
                .chain(owner)
                .collect()
        })
        .collect();
    assert_eq!(member.client_id, "console-consumer");
    let want = format!("\n{}", table(&DESCRIBE_HEADER, &rows));
    assert_eq!(tool("consumer-groups", &b, &["--describe", "--group", "live"], None).await.ok(), want);
    assert_eq!(tool("consumer-groups", &b, &["--list"], None).await.ok(), "g1\nlive\n");

    // While it is a member: no reset, no delete.
    tool(
        "consumer-groups",
        &b,
        &["--reset-offsets", "--group", "live", "--topic", "grp", "--to-earliest", "--execute"],
        None,
    )
    .await
    .fails_with(
        "Error: Assignments can only be reset if the group 'live' is inactive, but the current state is Stable.",
    );
    tool("consumer-groups", &b, &["--delete", "--group", "live"], None).await.fails_with(
        "Error: Deletion of some consumer groups failed: group 'live' is not empty (it has active members)",
    );

    // SIGTERM: it commits, leaves the group (no session timeout to wait out) and says how much it read.
    assert_eq!(live.terminate(), "Processed a total of 30 messages\n");
    let empty = warren_tests::eventually(Duration::from_secs(5), || {
        cluster.describe_group("live").is_some_and(|d| d.state.name() == "Empty")
    })
    .await;
    assert!(empty, "LeaveGroup emptied the group at once");

    let reset = ["--reset-offsets", "--group", "live", "--topic", "grp"];
    let new_offsets = |offsets: [i64; 3]| {
        let rows: Vec<Vec<String>> = (0..3)
            .map(|p| vec!["live".to_string(), "grp".into(), p.to_string(), offsets[p as usize].to_string()])
            .collect();
        format!("\n{}", table(&RESET_HEADER, &rows))
    };
    let out = tool("consumer-groups", &b, &[&reset[..], &["--to-earliest", "--dry-run"]].concat(), None).await.ok();
    assert_eq!(out, new_offsets([0, 0, 0]));
    assert_eq!(committed(&warren, "live").values().sum::<i64>(), 30, "a dry run commits nothing");
    let without = tool("consumer-groups", &b, &[&reset[..], &["--to-earliest"]].concat(), None).await;
    assert!(without.stderr.starts_with("WARN: No action will be performed"), "{without:?}");
    assert_eq!(without.ok(), new_offsets([0, 0, 0]));

    let out = tool("consumer-groups", &b, &[&reset[..], &["--to-offset", "4", "--execute"]].concat(), None).await.ok();
    let four = ends.values().map(|e| 4.min(*e)).collect::<Vec<_>>();
    assert_eq!(out, new_offsets([four[0], four[1], four[2]]));
    assert_eq!(committed(&warren, "live").into_values().collect::<Vec<_>>(), four);
    let args = [&reset[..], &["--to-datetime", "2000-01-01T00:00:00Z", "--execute"]].concat();
    assert_eq!(tool("consumer-groups", &b, &args, None).await.ok(), new_offsets([0, 0, 0]));
    let out = tool("consumer-groups", &b, &[&reset[..], &["--to-latest", "--execute"]].concat(), None).await.ok();
    assert_eq!(out, new_offsets([ends[&0], ends[&1], ends[&2]]));
    assert_eq!(
        committed(&warren, "live").into_values().collect::<Vec<_>>(),
        ends.values().copied().collect::<Vec<_>>()
    );
    let args = ["--reset-offsets", "--group", "live", "--topic", "grp:1", "--to-earliest", "--execute"];
    let out = tool("consumer-groups", &b, &args, None).await.ok();
    assert_eq!(
        out,
        format!("\n{}", table(&RESET_HEADER, &[vec!["live".into(), "grp".into(), "1".into(), "0".into()]]))
    );
    tool("consumer-groups", &b, &[&reset[..], &["--to-datetime", "yesterday", "--execute"]].concat(), None)
        .await
        .fails_with("Error: 'yesterday' is not an ISO 8601 date-time like 2026-11-26T17:00:00Z");

    let out = tool("consumer-groups", &b, &["--delete", "--group", "g1"], None).await.ok();
    assert_eq!(out, "Deletion of requested consumer groups ('g1') was successful.\n");
    assert_eq!(tool("consumer-groups", &b, &["--list"], None).await.ok(), "live\n");
    tool("consumer-groups", &b, &["--describe", "--group", "nope"], None)
        .await
        .fails_with("Error: consumer group 'nope' does not exist");
    tool("consumer-groups", &b, &["--delete", "--group", "nope"], None)
        .await
        .fails_with("Error: Deletion of some consumer groups failed: group 'nope' does not exist");
    warren.stop().await.expect("stop");
}

/// Differences between the external snapshot and the other process's own view of `group`.
fn differences(snapshot: &server::monitor::snapshot::Snapshot, group: &str, view: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let Some(g) = snapshot.groups.iter().find(|g| g.group_id == group) else {
        return vec![format!("{group}: not in the snapshot")];
    };
    let hw: BTreeMap<(&str, i32), i64> = snapshot
        .partitions
        .iter()
        .filter_map(|p| Some(((p.topic.as_str(), p.partition), p.high_watermark()?)))
        .collect();
    let mut owners: BTreeMap<(&str, i32), (&str, &str)> = BTreeMap::new();
    for m in &g.members {
        for (t, ps) in &m.partitions {
            for p in ps {
                owners.insert((t.as_str(), *p), (m.client_host.as_str(), m.client_id.as_str()));
            }
        }
    }
    // Its view also lists partitions the group owned once but never committed (offset null).
    let listed: Vec<Value> = view["partitions"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| !p["committed_offset"].is_null())
        .cloned()
        .collect();
    if listed.len() != g.offsets.len() {
        out.push(format!(
            "{group}: {} partitions in its view, {} committed in the snapshot",
            listed.len(),
            g.offsets.len()
        ));
    }
    for p in listed {
        let (topic, partition) = (p["topic"].as_str().unwrap_or(""), p["partition"].as_i64().unwrap_or(-1) as i32);
        let Some(c) = g.offsets.iter().find(|c| c.topic == topic && c.partition == partition) else {
            out.push(format!("{group} {topic}-{partition}: no commit in the snapshot"));
            continue;
        };
        let end = hw.get(&(topic, partition)).copied().unwrap_or(-1);
        let (owner, client) = owners.get(&(topic, partition)).copied().unzip();
        let theirs = (
            p["committed_offset"].as_i64(),
            p["end_offset"].as_i64(),
            p["lag"].as_i64(),
            p["owner"].as_str(),
            p["client_id"].as_str(),
        );
        let ours = (Some(c.offset), Some(end), Some(end - c.offset), owner, client);
        if theirs != ours {
            out.push(format!("{group} {topic}-{partition}: it says {theirs:?}, the snapshot {ours:?}"));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn external_snapshot_sees_what_the_other_warren_reports_about_itself() {
    let test_started_ms = server::monitor::now_ms();
    let dir = tempfile::tempdir().expect("tempdir");
    let env = [("WARREN_MONITOR__SAMPLE_INTERVAL", "1s"), ("WARREN_GROUPS__INITIAL_REBALANCE_DELAY", "200ms")];
    let other = WarrenProcess::spawn(dir.path(), 3, free_ports(3), &env).expect("spawn the external warren");
    let b = other.bootstrap();
    tool("topics", &b, &["--create", "--topic", "ext", "--partitions", "3"], None).await.ok();
    let input: String = (0..60).map(|i| format!("e{i}\n")).collect();
    tool("console-producer", &b, &["--topic", "ext"], Some(&input)).await.ok();
    // ext-a: read 25 and left; ext-b: offsets only; ext-live: a member that read everything.
    tool(
        "console-consumer",
        &b,
        &["--topic", "ext", "--group", "ext-a", "--from-beginning", "--max-messages", "25"],
        None,
    )
    .await
    .ok();
    tool(
        "consumer-groups",
        &b,
        &["--reset-offsets", "--group", "ext-b", "--topic", "ext", "--to-offset", "3", "--execute"],
        None,
    )
    .await
    .ok();
    let live =
        Background::spawn("console-consumer", &b, &["--topic", "ext", "--group", "ext-live", "--from-beginning"]);

    let external = External::new(Client::new(ClientConfig::new([b.clone()])));
    let groups = ["ext-a", "ext-b", "ext-live"];
    let deadline = Instant::now() + Duration::from_secs(40);
    let (first, diffs) = loop {
        let snapshot = external.snapshot(server::monitor::now_ms()).await.expect("snapshot");
        let mut diffs = Vec::new();
        for group in groups {
            let (status, _, body) =
                http(other.http, "GET", &format!("/api/v1/groups/{group}"), None, &[]).await.expect("http");
            let view: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            if status != 200 {
                diffs.push(format!("{group}: HTTP {status} {body}"));
            } else {
                diffs.extend(differences(&snapshot, group, &view));
            }
        }
        let live_done = snapshot
            .groups
            .iter()
            .find(|g| g.group_id == "ext-live")
            .is_some_and(|g| g.members.len() == 1 && g.offsets.iter().map(|c| c.offset).sum::<i64>() == 60);
        if !live_done {
            diffs.push("ext-live has not committed everything yet".into());
        }
        if diffs.is_empty() || Instant::now() > deadline {
            break (snapshot, diffs);
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    };
    assert!(diffs.is_empty(), "the snapshot disagrees with the other warren: {diffs:#?}");
    assert_eq!(first.topics.get("ext").map(|t| t.partitions), Some(3));
    let (_, _, body) = http(other.http, "GET", "/api/v1/topics/ext", None, &[]).await.expect("http");
    let topic: Value = serde_json::from_str(&body).expect("topic json");
    for p in topic["partitions"].as_array().expect("partitions") {
        let partition = p["partition"].as_i64().expect("partition") as i32;
        let s =
            first.partitions.iter().find(|s| s.topic == "ext" && s.partition == partition).expect("in the snapshot");
        assert_eq!(
            (s.offsets.map(|o| o.log_start_offset), s.high_watermark()),
            (p["log_start_offset"].as_i64(), p["high_watermark"].as_i64())
        );
    }
    let live_group = first.groups.iter().find(|g| g.group_id == "ext-live").expect("ext-live");
    assert_eq!(live_group.state, "Stable");
    assert_eq!(live_group.members[0].client_id, "console-consumer");

    // Record timestamps at the committed offsets that still have a record there (ext-b's 3s do).
    let hw: BTreeMap<(&str, i32), i64> =
        first.partitions.iter().filter_map(|p| Some(((p.topic.as_str(), p.partition), p.high_watermark()?))).collect();
    for g in &first.groups {
        for c in
            g.offsets.iter().filter(|c| hw.get(&(c.topic.as_str(), c.partition)).is_some_and(|end| c.offset < *end))
        {
            let ts = external.record_timestamp(&c.topic, c.partition, c.offset);
            assert!(
                ts.is_some_and(|ts| ts >= test_started_ms - 1000 && ts <= server::monitor::now_ms()),
                "{} {}-{} @{}: {ts:?}",
                g.group_id,
                c.topic,
                c.partition,
                c.offset
            );
        }
    }

    // Commit timestamps: kept while an offset stays, the commit's own time (read from the other
    // warren's __consumer_offsets) when it moves.
    let stamps = |s: &server::monitor::snapshot::Snapshot| -> BTreeMap<(String, String, i32), (i64, i64)> {
        s.groups
            .iter()
            .flat_map(|g| {
                g.offsets
                    .iter()
                    .map(|c| ((g.group_id.clone(), c.topic.clone(), c.partition), (c.offset, c.commit_ts_ms)))
            })
            .collect()
    };
    let second = external.snapshot(server::monitor::now_ms()).await.expect("snapshot");
    assert_eq!(stamps(&second), stamps(&first), "nothing moved, nothing restamped");
    let before_reset = server::monitor::now_ms();
    tool(
        "consumer-groups",
        &b,
        &["--reset-offsets", "--group", "ext-b", "--topic", "ext:0", "--to-offset", "7", "--execute"],
        None,
    )
    .await
    .ok();
    let now = server::monitor::now_ms();
    let third = stamps(&external.snapshot(now).await.expect("snapshot"));
    for (key, (offset, ts)) in &stamps(&second) {
        let (new_offset, new_ts) = third[key];
        if key.0 == "ext-b" && key.2 == 0 {
            assert_eq!(new_offset, 7, "{key:?} moved");
            assert!((before_reset..=now).contains(&new_ts), "{key:?} stamped when committed: {new_ts}");
        } else {
            assert_eq!((new_offset, new_ts), (*offset, *ts), "{key:?} stayed");
        }
    }

    let unreachable = External::new(Client::new(ClientConfig::new([format!("127.0.0.1:{}", free_ports(1))])));
    let error = unreachable.snapshot(now).await.expect_err("nothing listens there");
    assert!(error.starts_with("cannot reach any bootstrap server (127.0.0.1:"), "{error}");

    assert_eq!(live.terminate(), "Processed a total of 60 messages\n");
    other.terminate().expect("terminate");
}
