//! Debian's kcat (librdkafka 2.0.2) and python3-kafka (kafka-python 2.0.2) against warren.
//! Both are installed by `.ci/run`; a missing client is a test failure, not a skip.

use std::io::Write;
use std::process::{Command, Stdio};

use warren_tests::{Options, Warren};

const RECORDS: usize = 100_000;
const CODECS: [&str; 5] = ["none", "gzip", "snappy", "lz4", "zstd"];

fn run(cmd: &mut Command, stdin: Option<&[u8]>) -> String {
    let mut child = cmd
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {cmd:?} (installed by .ci/run): {e}"));
    let writer = stdin.map(|input| {
        let mut pipe = child.stdin.take().expect("stdin");
        let input = input.to_vec();
        // A client that exits early closes the pipe; its exit status and stderr tell why.
        std::thread::spawn(move || pipe.write_all(&input))
    });
    let out = child.wait_with_output().expect("wait");
    if let Some(writer) = writer {
        let _ = writer.join();
    }
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{cmd:?} failed: {}\n{stdout}", String::from_utf8_lossy(&out.stderr));
    stdout
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kcat_round_trips_every_codec() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(3).with_toml("[cluster]\ndefault_partitions = 3"))
        .await
        .expect("start");
    let b = warren.bootstrap();
    for codec in CODECS {
        let topic = format!("kcat-{codec}");
        let input: String = (0..RECORDS).map(|i| format!("key-{i}\tvalue-{i}-{}\n", "x".repeat(i % 50))).collect();
        let b2 = b.clone();
        let topic2 = topic.clone();
        let input2 = input.clone();
        tokio::task::spawn_blocking(move || {
            run(
                Command::new("kcat").args([
                    "-b",
                    &b2,
                    "-t",
                    &topic2,
                    "-P",
                    "-K",
                    "\t",
                    "-z",
                    codec,
                    "-H",
                    "origin=kcat",
                    "-X",
                    "acks=all",
                ]),
                Some(input2.as_bytes()),
            )
        })
        .await
        .expect("kcat produce");
        let b2 = b.clone();
        let out = tokio::task::spawn_blocking(move || {
            run(
                Command::new("kcat").args([
                    "-b",
                    &b2,
                    "-t",
                    &topic,
                    "-C",
                    "-e",
                    "-o",
                    "beginning",
                    "-q",
                    "-f",
                    "%p %o %k %s %h\n",
                ]),
                None,
            )
        })
        .await
        .expect("kcat consume");
        let mut per_partition: std::collections::BTreeMap<i32, Vec<i64>> = Default::default();
        let mut keys = std::collections::HashSet::new();
        for line in out.lines() {
            let parts: Vec<&str> = line.splitn(5, ' ').collect();
            assert_eq!(parts.len(), 5, "line {line:?}");
            let i: usize = parts[2].trim_start_matches("key-").parse().expect("key index");
            assert_eq!(parts[3], format!("value-{i}-{}", "x".repeat(i % 50)), "value of key-{i}");
            assert_eq!(parts[4], "origin=kcat");
            per_partition
                .entry(parts[0].parse().expect("partition"))
                .or_default()
                .push(parts[1].parse().expect("offset"));
            assert!(keys.insert(i), "key-{i} read twice");
        }
        assert_eq!(keys.len(), RECORDS, "codec {codec}");
        for (p, offsets) in per_partition {
            assert!(offsets.iter().copied().eq(0..offsets.len() as i64), "partition {p} offsets not contiguous");
        }
    }
    warren.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_python_round_trips_every_codec() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(3).with_toml("[cluster]\ndefault_partitions = 3"))
        .await
        .expect("start");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/kafka_python_roundtrip.py");
    for codec in CODECS {
        let b = warren.bootstrap();
        let topic = format!("py-{codec}");
        let out = tokio::task::spawn_blocking(move || {
            run(Command::new("/usr/bin/python3").args([script, &b, &topic, codec, &RECORDS.to_string()]), None)
        })
        .await
        .expect("python");
        assert!(out.contains(&format!("acked={RECORDS} read={RECORDS} errors=0")), "{out}");
    }
    warren.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kcat_balanced_consumer_reads_everything_and_commits_the_end() {
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = "[cluster]\ndefault_partitions = 3\n[groups]\ninitial_rebalance_delay = \"200ms\"";
    let warren = Warren::start(dir.path(), Options::brokers(3).with_toml(toml)).await.expect("start");
    let b = warren.bootstrap();
    let input: String = (0..3_000).map(|i| format!("k{i}\tv{i}\n")).collect();
    let b2 = b.clone();
    tokio::task::spawn_blocking(move || {
        run(Command::new("kcat").args(["-b", &b2, "-t", "kcat-g-topic", "-P", "-K", "\t"]), Some(input.as_bytes()))
    })
    .await
    .expect("produce");
    // -G: the balanced consumer (JoinGroup, SyncGroup, Heartbeat, OffsetCommit, LeaveGroup).
    let b2 = b.clone();
    let out = tokio::task::spawn_blocking(move || {
        run(
            Command::new("kcat").args([
                "-b",
                &b2,
                "-G",
                "kcat-g",
                "kcat-g-topic",
                "-o",
                "beginning",
                "-e",
                "-q",
                "-f",
                "%p %o %k\n",
                "-X",
                "auto.commit.interval.ms=100",
            ]),
            None,
        )
    })
    .await
    .expect("kcat -G");
    let mut ends: std::collections::BTreeMap<i32, i64> = Default::default();
    let mut keys = std::collections::HashSet::new();
    for line in out.lines() {
        let parts: Vec<&str> = line.split(' ').collect();
        let (p, o): (i32, i64) = (parts[0].parse().expect("partition"), parts[1].parse().expect("offset"));
        let end = ends.entry(p).or_insert(0);
        *end = (*end).max(o + 1);
        assert!(keys.insert(parts[2].to_string()), "{} read twice", parts[2]);
    }
    assert_eq!(keys.len(), 3_000);
    // kcat commits what it consumed when it leaves; the coordinator has exactly the ends.
    let committed = warren.cluster.committed_offsets("kcat-g").expect("kcat-g committed");
    assert!(committed.keys().all(|(t, _)| t == "kcat-g-topic"), "{committed:?}");
    let committed: std::collections::BTreeMap<i32, i64> = committed.iter().map(|((_, p), c)| (*p, c.offset)).collect();
    assert_eq!(committed, ends);
    let group = warren.cluster.describe_group("kcat-g").expect("group");
    assert_eq!((group.state.name(), group.members.len()), ("Empty", 0), "kcat left the group");
    warren.stop().await.expect("stop");
}

fn python(script: &str, args: &[&str]) -> serde_json::Value {
    let path = format!("{}/clients/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = run(Command::new("/usr/bin/python3").arg(path).args(args), None);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{script} printed no JSON ({e}): {out}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_python_group_member_and_admin_client() {
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = "[cluster]\ndefault_partitions = 3\n[groups]\ninitial_rebalance_delay = \"200ms\"";
    let warren = Warren::start(dir.path(), Options::brokers(3).with_toml(toml)).await.expect("start");
    let b = warren.bootstrap();
    let acked = crate::support::produce(&crate::support::producer(&b, &[]), "py-groups", 0..500).await;
    let mut ends: std::collections::BTreeMap<String, i64> = Default::default();
    for (p, o) in acked.keys() {
        let end = ends.entry(p.to_string()).or_insert(0);
        *end = (*end).max(o + 1);
    }
    let b2 = b.clone();
    let out = tokio::task::spawn_blocking(move || python("kafka_python_groups.py", &[&b2, "py-groups", "py-g", "500"]))
        .await
        .expect("kafka-python");
    assert_eq!(out["consumed"], 500);
    let as_map = |v: &serde_json::Value| -> std::collections::BTreeMap<String, i64> {
        serde_json::from_value(v.clone()).expect("partition map")
    };
    assert_eq!(as_map(&out["committed"]), ends, "the member's commit");
    assert_eq!(as_map(&out["admin_offsets"]), ends, "the admin client's OffsetFetch");
    assert!(out["listed"].as_array().expect("listed").iter().any(|g| g[0] == "py-g" && g[1] == "consumer"), "{out}");
    let d = &out["described"];
    assert_eq!(
        (d["state"].as_str(), d["protocol_type"].as_str(), d["protocol"].as_str()),
        (Some("Stable"), Some("consumer"), Some("range"))
    );
    let members = d["members"].as_array().expect("members");
    assert_eq!(members.len(), 1);
    assert_eq!(members[0]["client_host"], "/127.0.0.1");
    assert_eq!(members[0]["assignment"]["py-groups"], serde_json::json!([0, 1, 2]));
    // The coordinator agrees about what kafka-python committed.
    let committed = warren.cluster.committed_offsets("py-g").expect("py-g");
    let mine: std::collections::BTreeMap<String, i64> =
        committed.iter().map(|((_, p), c)| (p.to_string(), c.offset)).collect();
    assert_eq!(mine, ends);
    warren.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_independent_reader_finds_every_commit_in_consumer_offsets() {
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = "[cluster]\ndefault_partitions = 2\n[groups]\ninitial_rebalance_delay = \"200ms\"";
    let warren = Warren::start(dir.path(), Options::brokers(3).with_toml(toml)).await.expect("start");
    let b = warren.bootstrap();
    crate::support::produce(&crate::support::producer(&b, &[]), "audited", 0..200).await;
    // A consumer group (rdkafka, with metadata), a kafka-python group and a standalone commit.
    let b2 = b.clone();
    let rdkafka_commits =
        tokio::task::spawn_blocking(move || crate::groups::consume_and_commit(&b2, "audit-rd", "audited", 200))
            .await
            .expect("rdkafka");
    let b2 = b.clone();
    tokio::task::spawn_blocking(move || python("kafka_python_groups.py", &[&b2, "audited", "audit-py", "200"]))
        .await
        .expect("py");
    let standalone = broker_core::OffsetCommit {
        topic: "audited".into(),
        partition: 1,
        offset: 7,
        leader_epoch: -1,
        metadata: Some("by hand".into()),
    };
    let r = warren
        .cluster
        .commit_offsets(None, "polygenelubricants", &broker_core::Committer::standalone(), vec![standalone])
        .await;
    assert_eq!(r, vec![Ok(())]);

    let b2 = b.clone();
    let log = tokio::task::spawn_blocking(move || python("read_consumer_offsets.py", &[&b2])).await.expect("reader");
    assert_eq!(log["undecodable"], 0, "{log}");
    assert_eq!(log["misplaced"], serde_json::json!([]), "every group sits in abs(hashCode) % 50");
    let commits = log["commits"].as_array().expect("commits");
    let find = |group: &str, p: i64| {
        commits.iter().rev().find(|c| c["group"] == group && c["topic"] == "audited" && c["partition"] == p)
    };
    for (p, o) in &rdkafka_commits {
        let c = find("audit-rd", i64::from(*p)).unwrap_or_else(|| panic!("no commit of audit-rd/{p} in {log}"));
        assert_eq!(c["offset"], *o);
        assert_eq!(c["metadata"], format!("meta-audit-rd-{p}"));
        assert_eq!(c["value_version"], 3);
    }
    // The coordinator's every cached offset is in the log, with its commit timestamp.
    for group in ["audit-rd", "audit-py", "polygenelubricants"] {
        for ((topic, p), cached) in warren.cluster.committed_offsets(group).expect("group") {
            let c = find(group, i64::from(p)).unwrap_or_else(|| panic!("no commit of {group}/{topic}/{p}"));
            assert_eq!(
                (c["offset"].as_i64(), c["commit_timestamp"].as_i64()),
                (Some(cached.offset), Some(cached.commit_timestamp_ms))
            );
        }
    }
    assert_eq!(
        find("polygenelubricants", 1).expect("standalone")["record_partition"],
        0,
        "hashCode MIN_VALUE maps to 0"
    );
    // Group metadata v3 with the members and their assignments.
    let groups = log["groups"].as_array().expect("groups");
    let rd = groups.iter().find(|g| g["group"] == "audit-rd" && g["generation"] == 1).expect("audit-rd generation 1");
    assert_eq!((rd["value_version"].as_i64(), rd["protocol_type"].as_str()), (Some(3), Some("consumer")));
    assert_eq!(rd["members"][0]["assignment"]["audited"], serde_json::json!([0, 1]));
    warren.stop().await.expect("stop");
}
