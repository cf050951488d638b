//! Consumer groups with real clients: librdkafka (the `rdkafka` crate) and Debian's kcat split
//! partitions and fail over, commits survive a restart and a kill -9, and the group resumes
//! exactly where it committed.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use broker_core::NewTopic;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::message::Message;
use rdkafka::{Offset, TopicPartitionList};
use warren_tests::{free_ports, Options, Warren, WarrenProcess};

use crate::support::{produce, producer};

/// Group settings that keep the tests quick: a short initial delay, Kafka's minimum session.
pub const GROUPS_TOML: &str = "[groups]\ninitial_rebalance_delay = \"500ms\"";

pub fn group_consumer(bootstrap: &str, group: &str, extra: &[(&str, &str)]) -> BaseConsumer {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "earliest")
        .set("session.timeout.ms", "6000")
        .set("heartbeat.interval.ms", "500")
        .set("fetch.wait.max.ms", "100");
    for (k, v) in extra {
        cfg.set(*k, *v);
    }
    cfg.create().expect("consumer")
}

/// Polls `consumer` until `done` holds or `timeout` passes; returns whether it held.
fn poll_until(consumer: &BaseConsumer, timeout: Duration, mut done: impl FnMut(&BaseConsumer) -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Some(Err(e)) = consumer.poll(Duration::from_millis(100)) {
            panic!("consumer error: {e}");
        }
        if done(consumer) {
            return true;
        }
    }
    false
}

fn assigned(consumer: &BaseConsumer) -> usize {
    consumer.assignment().map(|a| a.count()).unwrap_or(0)
}

fn create_topic(warren: &Warren, name: &str, partitions: i32) {
    warren
        .cluster
        .create_topic(&NewTopic { name: name.into(), partitions: Some(partitions), ..NewTopic::default() }, false)
        .expect("create topic");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_members_split_six_partitions_and_the_survivor_takes_all_after_a_kill() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(3).with_toml(GROUPS_TOML)).await.expect("start");
    create_topic(&warren, "split", 6);
    let b = warren.bootstrap();
    produce(&producer(&b, &[]), "split", 0..600).await;

    // The member that gets killed: Debian's kcat (librdkafka 2.0.2) in the same group.
    let mut kcat = Command::new("kcat")
        .args(["-b", &b, "-G", "split-g", "split", "-q", "-X", "session.timeout.ms=6000", "-X"])
        .arg("heartbeat.interval.ms=500")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kcat (installed by .ci/run)");
    let cluster = std::sync::Arc::clone(&warren.cluster);
    let killed_after = tokio::task::spawn_blocking(move || {
        let consumer = group_consumer(&b, "split-g", &[]);
        consumer.subscribe(&["split"]).expect("subscribe");
        let split = poll_until(&consumer, Duration::from_secs(30), |c| {
            let d = cluster.describe_group("split-g");
            assigned(c) == 3
                && d.is_some_and(|d| {
                    d.members.len() == 2
                        && d.members.iter().all(|m| m.partitions.iter().map(|(_, p)| p.len()).sum::<usize>() == 3)
                })
        });
        assert!(split, "two members should hold three partitions each; rdkafka has {}", assigned(&consumer));
        kcat.kill().expect("kill -9 kcat");
        let _ = kcat.wait();
        let killed = Instant::now();
        let took_all = poll_until(&consumer, Duration::from_secs(20), |c| assigned(c) == 6);
        assert!(took_all, "the survivor should take all six partitions");
        let elapsed = killed.elapsed();
        let d = cluster.describe_group("split-g").expect("group");
        assert_eq!(d.members.len(), 1);
        consumer.unsubscribe();
        elapsed
    })
    .await
    .expect("consumer thread");
    eprintln!("survivor held all six partitions {killed_after:?} after the kill (session timeout 6 s)");
    // Detection takes the session timeout; the rebalance that follows must be quick.
    assert!(killed_after < Duration::from_secs(6 + 3), "failover took {killed_after:?}");
}

/// Consumes `n` records from `group` and commits them (with metadata), returning the committed
/// offset of every partition.
pub fn consume_and_commit(bootstrap: &str, group: &str, topic: &str, n: usize) -> BTreeMap<i32, i64> {
    let consumer = group_consumer(bootstrap, group, &[]);
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut next: BTreeMap<i32, i64> = BTreeMap::new();
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen < n && Instant::now() < deadline {
        match consumer.poll(Duration::from_millis(100)) {
            Some(Ok(m)) => {
                next.insert(m.partition(), m.offset() + 1);
                seen += 1;
            }
            Some(Err(e)) => panic!("consumer error: {e}"),
            None => {}
        }
    }
    assert_eq!(seen, n, "consumed {seen} of {n}");
    let mut tpl = TopicPartitionList::new();
    for (p, o) in &next {
        tpl.add_partition_offset(topic, *p, Offset::Offset(*o)).expect("tpl");
        tpl.find_partition(topic, *p).expect("just added").set_metadata(format!("meta-{group}-{p}"));
    }
    consumer.commit(&tpl, CommitMode::Sync).expect("commit");
    drop(consumer);
    next
}

/// What a new member of `group` finds: the committed offsets (with metadata) and the first
/// offset it is handed on each partition.
fn resume(
    bootstrap: &str,
    group: &str,
    topic: &str,
    partitions: i32,
) -> (BTreeMap<i32, (i64, String)>, BTreeMap<i32, i64>) {
    let consumer = group_consumer(bootstrap, group, &[]);
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    let committed = consumer.committed_offsets(tpl, Duration::from_secs(10)).expect("committed");
    let committed = committed
        .elements()
        .iter()
        .filter_map(|e| match e.offset() {
            Offset::Offset(o) => Some((e.partition(), (o, e.metadata().to_string()))),
            _ => None,
        })
        .collect();
    consumer.subscribe(&[topic]).expect("subscribe");
    let mut first: BTreeMap<i32, i64> = BTreeMap::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while first.len() < partitions as usize && Instant::now() < deadline {
        if let Some(Ok(m)) = consumer.poll(Duration::from_millis(100)) {
            first.entry(m.partition()).or_insert(m.offset());
        }
    }
    (committed, first)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commits_survive_a_restart_and_a_kill_9_and_the_group_resumes_there() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_ports(3);
    let env = [("WARREN_GROUPS__INITIAL_REBALANCE_DELAY", "500ms"), ("WARREN_CLUSTER__DEFAULT_PARTITIONS", "3")];
    let warren = WarrenProcess::spawn(dir.path(), 3, port, &env).expect("spawn");
    let b = warren.bootstrap();
    produce(&producer(&b, &[("acks", "all")]), "resume", 0..3_000).await;

    let b2 = b.clone();
    let committed = tokio::task::spawn_blocking(move || consume_and_commit(&b2, "resume-g", "resume", 1_000))
        .await
        .expect("consumer");
    warren.terminate().expect("SIGTERM");

    // A clean restart: the same offsets, and a new member starts exactly there.
    let warren = WarrenProcess::spawn(dir.path(), 3, port, &env).expect("restart");
    // More records, so every partition has something past its commit.
    produce(&producer(&b, &[("acks", "all")]), "resume", 3_000..6_000).await;
    let b2 = b.clone();
    let (found, first) =
        tokio::task::spawn_blocking(move || resume(&b2, "resume-g", "resume", 3)).await.expect("resume");
    for (p, o) in &committed {
        assert_eq!(found.get(p), Some(&(*o, format!("meta-resume-g-{p}"))), "partition {p} after restart");
        assert_eq!(first.get(p), Some(o), "partition {p} resumes at its commit");
    }

    // Commit further, then kill -9 right after the commit is acknowledged.
    let b2 = b.clone();
    let committed = tokio::task::spawn_blocking(move || consume_and_commit(&b2, "resume-g", "resume", 1_000))
        .await
        .expect("consumer");
    warren.kill9().expect("kill -9");
    let warren = WarrenProcess::spawn(dir.path(), 3, port, &env).expect("respawn");
    produce(&producer(&b, &[("acks", "all")]), "resume", 6_000..9_000).await;
    let b2 = warren.bootstrap();
    let (found, first) =
        tokio::task::spawn_blocking(move || resume(&b2, "resume-g", "resume", 3)).await.expect("resume");
    for (p, o) in &committed {
        assert_eq!(found.get(p).map(|(o, _)| *o), Some(*o), "partition {p} after kill -9");
        assert_eq!(first.get(p), Some(o), "partition {p} resumes at its commit after kill -9");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_reset_for_an_idle_group_and_refused_while_members_are_active() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(3).with_toml(GROUPS_TOML)).await.expect("start");
    create_topic(&warren, "reset", 2);
    let b = warren.bootstrap();
    let acked = produce(&producer(&b, &[("acks", "all")]), "reset", 0..400).await;
    let ends: BTreeMap<i32, i64> = acked.keys().fold(BTreeMap::new(), |mut m, (p, o)| {
        let e = m.entry(*p).or_insert(0);
        *e = (*e).max(o + 1);
        m
    });
    let b2 = b.clone();
    tokio::task::spawn_blocking(move || consume_and_commit(&b2, "reset-g", "reset", 400)).await.expect("consume");
    let cluster = &warren.cluster;
    let committed = cluster.committed_offsets("reset-g").expect("group");
    assert_eq!(committed.iter().map(|((_, p), c)| (*p, c.offset)).collect::<BTreeMap<_, _>>(), ends);
    assert!(
        committed.values().all(|c| c.commit_timestamp_ms > 1_600_000_000_000),
        "commit timestamps are wall-clock ms"
    );

    let to_earliest = cluster.reset_offsets("reset-g", "reset", broker_core::ResetTo::Earliest).await.expect("reset");
    assert_eq!(to_earliest, BTreeMap::from([(0, 0), (1, 0)]));
    let to_offset = cluster.reset_offsets("reset-g", "reset", broker_core::ResetTo::Offset(50)).await.expect("reset");
    assert_eq!(to_offset.values().copied().collect::<Vec<_>>(), vec![50.min(ends[&0]), 50.min(ends[&1])]);
    let future = broker_core::ResetTo::Timestamp(i64::MAX / 2);
    assert_eq!(
        cluster.reset_offsets("reset-g", "reset", future).await.expect("reset"),
        ends,
        "past the last record: the end"
    );

    // A member holds the group: resets are refused, with a message that says why.
    let b2 = b.clone();
    let (held_tx, held_rx) = std::sync::mpsc::channel();
    let (release_tx, release_rx) = std::sync::mpsc::channel::<()>();
    let holder = std::thread::spawn(move || {
        let consumer = group_consumer(&b2, "reset-g", &[]);
        consumer.subscribe(&["reset"]).expect("subscribe");
        assert!(poll_until(&consumer, Duration::from_secs(30), |c| assigned(c) == 2));
        held_tx.send(()).expect("signal");
        while release_rx.try_recv().is_err() {
            consumer.poll(Duration::from_millis(100));
        }
    });
    tokio::task::spawn_blocking(move || held_rx.recv_timeout(Duration::from_secs(40)))
        .await
        .expect("join")
        .expect("member joined");
    let refused = cluster.reset_offsets("reset-g", "reset", broker_core::ResetTo::Earliest).await.expect_err("refused");
    assert_eq!(refused.code, kafka_protocol::ResponseError::NonEmptyGroup);
    assert!(refused.message.contains("active member"), "{}", refused.message);
    release_tx.send(()).expect("release");
    holder.join().expect("holder");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_of_an_empty_group_expire_with_tombstones_that_outlive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = format!("{GROUPS_TOML}\noffsets_retention = \"2s\"\noffsets_retention_check_interval = \"200ms\"");
    let warren = Warren::start(dir.path(), Options::brokers(3).with_toml(&toml)).await.expect("start");
    create_topic(&warren, "expiring", 1);
    let b = warren.bootstrap();
    produce(&producer(&b, &[]), "expiring", 0..10).await;
    let b2 = b.clone();
    tokio::task::spawn_blocking(move || consume_and_commit(&b2, "expiring-g", "expiring", 10)).await.expect("consume");
    let cluster = std::sync::Arc::clone(&warren.cluster);
    assert!(cluster.committed_offsets("expiring-g").is_some_and(|o| o.len() == 1));
    let started = Instant::now();
    while cluster.describe_group("expiring-g").is_some() && started.elapsed() < Duration::from_secs(20) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(cluster.describe_group("expiring-g").is_none(), "the group and its offsets expired");
    assert!(started.elapsed() >= Duration::from_millis(1500), "not before the retention ({:?})", started.elapsed());
    warren.stop().await.expect("stop");
    let warren = Warren::start(dir.path(), Options::brokers(3).with_toml(&toml)).await.expect("restart");
    assert!(warren.cluster.describe_group("expiring-g").is_none(), "tombstones keep it gone after a restart");
    assert!(warren.cluster.committed_offsets("expiring-g").is_none());
}
