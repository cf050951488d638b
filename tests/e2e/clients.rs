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
