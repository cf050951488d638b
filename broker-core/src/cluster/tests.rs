//! Controller and replica fetcher together, in process: brokers stop and start in the orders a
//! fault drill uses, and every replica must end up following its leader and back in the ISR.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use super::{Cluster, ClusterConfig, NewTopic};
use crate::log::batch::{encode_plain, PlainRecord};

const TOPIC: &str = "rf3";

struct Running {
    cluster: Arc<Cluster>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    _dir: tempfile::TempDir,
}

impl Drop for Running {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

/// Three brokers (no listeners: the test drives replicas directly) and topic `rf3`: 6 partitions,
/// RF 3, min.insync.replicas 2.
fn three_brokers(replica_lag_time_max: Duration) -> Running {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = ClusterConfig::new(dir.path().to_path_buf(), 3);
    config.replica_lag_time_max = replica_lag_time_max;
    let addrs: Vec<SocketAddr> = (0..3).map(|i| SocketAddr::from(([127, 0, 0, 1], 19_092 + i))).collect();
    let cluster = Cluster::open(config, &addrs).expect("open");
    let topic = NewTopic {
        name: TOPIC.into(),
        partitions: Some(6),
        replication_factor: Some(3),
        config: BTreeMap::from([("min.insync.replicas".into(), "2".into())]),
    };
    cluster.create_topic(&topic, false).expect("create");
    let tasks = cluster.spawn_background();
    Running { cluster, tasks, _dir: dir }
}

fn leader(cluster: &Cluster, index: i32) -> i32 {
    cluster.metadata().partition(TOPIC, index).expect("partition").leader
}

fn isr(cluster: &Cluster, index: i32) -> Vec<i32> {
    let mut isr = cluster.metadata().partition(TOPIC, index).expect("partition").isr.clone();
    isr.sort_unstable();
    isr
}

/// Appends `count` one-record batches to a partition's leader; with `acks = -1` waits for each.
async fn append(cluster: &Cluster, index: i32, count: usize, acks: i16) {
    let replica = cluster.leader_replica(TOPIC, index).expect("a leader");
    for i in 0..count {
        let record =
            PlainRecord { key: None, value: Some(bytes::Bytes::from(format!("record {i}"))), headers: Vec::new() };
        // Timestamped now: records from 1970 would roll a segment each and be retention's.
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis();
        let batch = encode_plain([record], now as i64).expect("encode");
        let appended = replica.append_as_leader(&batch, acks).expect("append");
        if acks == -1 {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            assert_eq!(replica.await_replication(&appended, deadline).await, None, "acks=all");
        }
    }
}

/// Polls `check` every 20 ms until it holds or `within` has passed.
async fn eventually(within: Duration, mut check: impl FnMut() -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        if check() {
            return true;
        }
        if tokio::time::Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Every replica of every partition has the leader's log end offset and high watermark: what a
/// cluster reaches when it has been left alone for a while (the "wait 6 s" of the report).
fn settled(cluster: &Cluster) -> bool {
    (0..6).all(|index| {
        let Some(lead) = cluster.leader_replica(TOPIC, index) else {
            return false;
        };
        cluster.brokers().iter().filter(|b| b.is_up()).all(|b| {
            b.partition(TOPIC, index).is_some_and(|r| {
                r.log_end_offset() == lead.log_end_offset() && r.high_watermark() == lead.high_watermark()
            })
        })
    })
}

/// The sequence from issue 12: stop broker 2, let things settle, stop broker 1, write with acks=1
/// to some partitions of the survivor (not to others), start 2 then 1. Partitions whose leader
/// (broker 3) never changed and that got no records meanwhile used to stay at ISR [3] forever:
/// the returning followers skipped them as "nothing to copy, the leader knows where we are".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn returning_followers_rejoin_partitions_whose_leader_never_changed() {
    for (first, second) in [(2, 1), (1, 2)] {
        let run = three_brokers(Duration::from_secs(30));
        let cluster = &run.cluster;
        for index in 0..6 {
            append(cluster, index, 50, -1).await;
        }
        assert!(eventually(Duration::from_secs(30), || settled(cluster)).await, "replicated");
        let stayed: Vec<i32> = (0..6).filter(|i| leader(cluster, *i) == 3).collect();
        assert!(!stayed.is_empty(), "some partitions are led by broker 3 from the start");

        cluster.stop_broker(2).expect("stop 2");
        assert!(eventually(Duration::from_secs(30), || settled(cluster)).await, "settled with broker 2 down");
        cluster.stop_broker(1).expect("stop 1");
        assert!((0..6).all(|i| leader(cluster, i) == 3 && isr(cluster, i) == vec![3]), "broker 3 leads everything");
        // Records with acks=1 to half the partitions only: the others stay exactly as they were.
        for index in (0..6).filter(|i| i % 2 == 0) {
            append(cluster, index, 20, 1).await;
        }

        cluster.start_broker(first).expect("start");
        cluster.start_broker(second).expect("start");
        let full = eventually(Duration::from_secs(10), || (0..6).all(|i| isr(cluster, i) == vec![1, 2, 3])).await;
        let isrs: Vec<Vec<i32>> = (0..6).map(|i| isr(cluster, i)).collect();
        assert!(full, "every ISR full within 10 s of the second start (started {first} then {second}): {isrs:?}");
        assert!(eventually(Duration::from_secs(10), || settled(cluster)).await, "every replica caught up");
        // acks=all works again everywhere.
        for index in 0..6 {
            append(cluster, index, 1, -1).await;
        }
    }
}

/// A follower that was removed from the ISR while it had everything (a stop, then nothing
/// written) must rejoin without any new record arriving to wake it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_follower_rejoins_without_new_records() {
    let run = three_brokers(Duration::from_secs(30));
    let cluster = &run.cluster;
    for index in 0..6 {
        append(cluster, index, 10, -1).await;
    }
    assert!(eventually(Duration::from_secs(30), || settled(cluster)).await, "replicated");
    for id in 1..=3 {
        cluster.stop_broker(id % 3 + 1).expect("stop");
        assert!(eventually(Duration::from_secs(30), || settled(cluster)).await, "settled");
        cluster.start_broker(id % 3 + 1).expect("start");
        let full = eventually(Duration::from_secs(10), || (0..6).all(|i| isr(cluster, i) == vec![1, 2, 3])).await;
        assert!(
            full,
            "ISR full after broker {} came back: {:?}",
            id % 3 + 1,
            (0..6).map(|i| isr(cluster, i)).collect::<Vec<_>>()
        );
    }
}

/// A new leader's own high watermark trails the old leader's by a fetch; it must start from the
/// committed offset instead, so that no client sees the high watermark move backwards.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_high_watermark_never_goes_backwards_across_a_leader_stop() {
    let run = three_brokers(Duration::from_secs(30));
    let cluster = &run.cluster;
    for round in 0..20 {
        let index = round % 6;
        append(cluster, index, 1, -1).await;
        let before = cluster.leader_replica(TOPIC, index).expect("leader").high_watermark();
        let old = leader(cluster, index);
        cluster.stop_broker(old).expect("stop");
        let after = cluster.leader_replica(TOPIC, index).expect("a new leader").high_watermark();
        assert!(after >= before, "round {round}: the high watermark went from {before} to {after}");
        cluster.start_broker(old).expect("start");
        assert!(eventually(Duration::from_secs(10), || isr(cluster, index).len() == 3).await, "back in the ISR");
    }
}

/// After a crash (no clean shutdown, checkpoints far behind) the leaders start from where their
/// ISR followers' logs end, not from the stale checkpointed high watermark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_high_watermark_after_a_crash_is_not_below_the_one_before() {
    let dir = tempfile::tempdir().expect("tempdir");
    let open = || {
        let mut config = ClusterConfig::new(dir.path().to_path_buf(), 3);
        config.flush_interval = Duration::from_secs(3600);
        let addrs: Vec<SocketAddr> = (0..3).map(|i| SocketAddr::from(([127, 0, 0, 1], 19_192 + i))).collect();
        Cluster::open(config, &addrs).expect("open")
    };
    let cluster = open();
    let topic =
        NewTopic { name: TOPIC.into(), partitions: Some(6), replication_factor: Some(3), ..NewTopic::default() };
    cluster.create_topic(&topic, false).expect("create");
    let tasks = cluster.spawn_background();
    for index in 0..6 {
        append(&cluster, index, 30, -1).await;
    }
    // Broker 2 stops: partitions it led move, and after the crash they must come back led.
    cluster.stop_broker(2).expect("stop");
    for index in 0..6 {
        append(&cluster, index, 5, -1).await;
    }
    let before: Vec<i64> = (0..6).map(|i| cluster.leader_replica(TOPIC, i).expect("leader").high_watermark()).collect();
    for task in tasks {
        task.abort();
        let _ = task.await;
    }
    drop(cluster);

    let cluster = open();
    let _tasks = cluster.spawn_background();
    for (index, before) in before.iter().enumerate() {
        let replica = cluster.leader_replica(TOPIC, index as i32).expect("every partition has a leader at start");
        assert!(replica.high_watermark() >= *before, "partition {index}: {} < {before}", replica.high_watermark());
    }
    assert!(
        eventually(Duration::from_secs(10), || (0..6).all(|i| isr(&cluster, i) == vec![1, 2, 3])).await,
        "broker 2 rejoins after the restart"
    );
}

/// An acks=all append waits for the high watermark, but only in the epoch it was appended under:
/// a leader that loses leadership becomes a follower, truncates what the new leader never had
/// and adopts the new leader's high watermark, which then covers a different record at the same
/// offset. Found by the fault drill (a preferred-leader election while a produce was waiting).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_all_is_not_acknowledged_by_a_high_watermark_from_another_epoch() {
    let run = three_brokers(Duration::from_secs(30));
    let cluster = &run.cluster;
    for broker in cluster.brokers() {
        broker.set_replication_paused(true);
    }
    let lead = leader(cluster, 0);
    let replica = cluster.replica(lead, TOPIC, 0).expect("leader replica");
    let ours = PlainRecord { key: None, value: Some(bytes::Bytes::from_static(b"ours")), headers: Vec::new() };
    let appended = replica.append_as_leader(&encode_plain([ours], 1).expect("encode"), -1).expect("append");
    let waiting = {
        let replica = Arc::clone(&replica);
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            replica.await_replication(&appended, deadline).await
        })
    };
    // Leadership moves to another broker, which never had the record and writes another one at
    // the same offset; the old leader follows it, truncates, copies, and adopts its HW.
    let md = cluster.metadata().partition(TOPIC, 0).expect("partition").clone();
    let other = *md.replicas.iter().find(|r| **r != lead).expect("a follower");
    let epoch = md.leader_epoch + 1;
    let assignment = |leader| crate::partition::Assignment {
        leader,
        leader_epoch: epoch,
        replicas: md.replicas.clone(),
        isr: md.replicas.clone(),
        committed: 0,
    };
    cluster.replica(other, TOPIC, 0).expect("replica").apply_assignment(&assignment(other));
    replica.apply_assignment(&assignment(other));
    let following = replica.following().expect("a follower now");
    replica.truncate_to(following, appended.base_offset).expect("truncate");
    let theirs = PlainRecord { key: None, value: Some(bytes::Bytes::from_static(b"theirs")), headers: Vec::new() };
    let mut batch = encode_plain([theirs], 2).expect("encode");
    crate::log::batch::stamp(&mut batch, appended.base_offset, epoch);
    replica.append_replicated(following, &batch, appended.next_offset).expect("copy");
    assert_eq!(replica.high_watermark(), appended.next_offset, "the old leader's HW now covers the offset");
    let outcome = waiting.await.expect("waiter");
    assert_eq!(outcome, Some(kafka_protocol::ResponseError::NotLeaderOrFollower), "never acknowledged");
}

/// A topic whose replicas cannot all be opened is not recorded anywhere: no metadata (in memory
/// or on disk), no replicas, no directories; and creating it again once the cause is gone works.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_topic_that_cannot_be_opened_is_rolled_back() {
    let run = three_brokers(Duration::from_secs(30));
    let cluster = &run.cluster;
    let request =
        NewTopic { name: "blocked".into(), partitions: Some(2), replication_factor: Some(3), ..NewTopic::default() };
    // A file where broker 2's partition directory would go.
    let obstacle = cluster.broker(2).expect("broker").partition_dir("blocked", 1);
    std::fs::write(&obstacle, b"not a directory").expect("obstacle");
    let err = cluster.create_topic(&request, false).expect_err("cannot open a replica");
    assert_eq!(err.code, kafka_protocol::ResponseError::KafkaStorageError, "{err}");
    assert!(!cluster.has_topic("blocked"));
    let on_disk = super::metadata::ClusterMetadata::load(&cluster.config.data_dir).expect("load").expect("metadata");
    assert!(!on_disk.topics.contains_key("blocked"), "not persisted");
    for broker in cluster.brokers() {
        assert!(broker.partition("blocked", 0).is_none() && broker.partition("blocked", 1).is_none());
        assert!(!broker.partition_dir("blocked", 0).exists(), "broker {} kept a directory", broker.id);
    }
    std::fs::remove_file(&obstacle).expect("remove the obstacle");
    cluster.create_topic(&request, false).expect("created once it can be");
    assert!(cluster.has_topic("blocked"));
}

/// `flush_interval = "0s"` fsyncs every append; it used to turn the checkpoints off as well, so a
/// restart after a crash re-validated every log from the start and found no high watermark.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fsync_on_every_append_still_writes_checkpoints() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut config = ClusterConfig::new(dir.path().to_path_buf(), 1);
    config.flush_interval = Duration::ZERO;
    let cluster = Cluster::open(config, &[SocketAddr::from(([127, 0, 0, 1], 19_292))]).expect("open");
    let topic =
        NewTopic { name: TOPIC.into(), partitions: Some(1), replication_factor: Some(1), ..NewTopic::default() };
    cluster.create_topic(&topic, false).expect("create");
    let tasks = cluster.spawn_background();
    append(&cluster, 0, 5, 1).await;
    let broker_dir = cluster.broker(1).expect("broker").dir().to_path_buf();
    let key = (TOPIC.to_string(), 0);
    let written = eventually(Duration::from_secs(10), || {
        let points = super::checkpoint::read(&broker_dir, super::checkpoint::RECOVERY_POINT).unwrap_or_default();
        let hws = super::checkpoint::read(&broker_dir, super::checkpoint::HIGH_WATERMARK).unwrap_or_default();
        points.get(&key) == Some(&5) && hws.get(&key) == Some(&5)
    })
    .await;
    assert!(written, "recovery point and high watermark checkpointed");
    for task in tasks {
        task.abort();
    }
}

/// An acks=all wait answers NOT_LEADER_OR_FOLLOWER as soon as its replica stops leading, not at
/// its deadline: a client whose requests wait on the old leader would otherwise hold back the
/// partition (an idempotent producer sends nothing newer while they are in flight). Found by
/// the fault drill: a paused follower stayed in the ISR because nothing new was written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acks_all_waits_end_when_leadership_moves() {
    let run = three_brokers(Duration::from_secs(30));
    let cluster = &run.cluster;
    for broker in cluster.brokers() {
        broker.set_replication_paused(true);
    }
    let lead = leader(cluster, 0);
    let replica = cluster.replica(lead, TOPIC, 0).expect("leader replica");
    let record = PlainRecord { key: None, value: Some(bytes::Bytes::from_static(b"waits")), headers: Vec::new() };
    let appended = replica.append_as_leader(&encode_plain([record], 1).expect("encode"), -1).expect("append");
    let waiting = {
        let replica = Arc::clone(&replica);
        tokio::spawn(async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            replica.await_replication(&appended, deadline).await
        })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    let md = cluster.metadata().partition(TOPIC, 0).expect("partition").clone();
    let other = *md.replicas.iter().find(|r| **r != lead).expect("a follower");
    let started = tokio::time::Instant::now();
    replica.apply_assignment(&crate::partition::Assignment {
        leader: other,
        leader_epoch: md.leader_epoch + 1,
        replicas: md.replicas.clone(),
        isr: md.replicas.clone(),
        committed: 0,
    });
    let outcome = tokio::time::timeout(Duration::from_secs(5), waiting).await.expect("answered").expect("waiter");
    assert_eq!(outcome, Some(kafka_protocol::ResponseError::NotLeaderOrFollower));
    assert!(started.elapsed() < Duration::from_secs(2), "answered in {:?}", started.elapsed());
}

/// A topic config change takes effect on every replica at once (a batch over the new
/// `max.message.bytes` is refused; `min.insync.replicas` counts), is refused as a whole when a
/// value is bad, and survives a reopen.
#[tokio::test]
async fn topic_configs_change_live_and_persist() {
    let running = three_brokers(Duration::from_secs(30));
    let cluster = &running.cluster;
    let big = |size: usize| {
        let record = PlainRecord { key: None, value: Some(bytes::Bytes::from(vec![b'x'; size])), headers: Vec::new() };
        encode_plain([record], 1).expect("encode")
    };
    let replica = cluster.leader_replica(TOPIC, 0).expect("leader");
    replica.append_as_leader(&big(2_000), 1).expect("2 kB fits the default");
    let overrides = BTreeMap::from([
        ("max.message.bytes".to_string(), "1000".to_string()),
        ("min.insync.replicas".to_string(), "3".to_string()),
    ]);
    let bad = BTreeMap::from([("retention.ms".to_string(), "soon".to_string())]);
    let refused = cluster.alter_topic_config(TOPIC, bad, false).expect_err("bad value");
    assert_eq!(refused.code, kafka_protocol::ResponseError::InvalidConfig);
    assert!(refused.message.contains("retention.ms"), "{}", refused.message);
    cluster.alter_topic_config(TOPIC, overrides.clone(), true).expect("validate only");
    assert!(
        cluster.metadata().topics[TOPIC].config.contains_key("min.insync.replicas"),
        "validate_only changes nothing"
    );
    assert_eq!(cluster.metadata().topics[TOPIC].config.get("max.message.bytes"), None);
    cluster.alter_topic_config(TOPIC, overrides.clone(), false).expect("alter");
    for index in 0..6 {
        let leader = cluster.leader_replica(TOPIC, index).expect("leader");
        let refusal = leader.append_as_leader(&big(2_000), 1).expect_err("over max.message.bytes");
        assert_eq!(refusal.code, kafka_protocol::ResponseError::MessageTooLarge, "{refusal}");
        leader.append_as_leader(&big(10), 1).expect("small record");
    }
    cluster.stop_broker(3).expect("stop");
    let leader = cluster.leader_replica(TOPIC, 1).expect("leader");
    let refusal = leader.append_as_leader(&big(10), -1).expect_err("ISR 2 < min.insync.replicas 3");
    assert_eq!(refusal.code, kafka_protocol::ResponseError::NotEnoughReplicas);
    let saved = super::metadata::ClusterMetadata::load(&cluster.config.data_dir).expect("load").expect("saved");
    assert_eq!(saved.topics[TOPIC].config, overrides);
}

/// DeleteRecords: the leader's log start moves, every in-sync follower follows, reads below it
/// are out of range, and an offset past the high watermark is refused.
#[tokio::test]
async fn delete_records_moves_every_replicas_log_start() {
    let running = three_brokers(Duration::from_secs(30));
    let cluster = &running.cluster;
    append(cluster, 2, 20, -1).await;
    let leader = cluster.leader_replica(TOPIC, 2).expect("leader");
    let refused = leader.delete_records(21).expect_err("past the high watermark");
    assert_eq!(refused.code, kafka_protocol::ResponseError::OffsetOutOfRange);
    assert_eq!(leader.delete_records(12).expect("delete"), 12);
    let low = cluster.await_log_start(TOPIC, 2, 12, Duration::from_secs(30)).await;
    assert_eq!(low, Some(12), "every ISR replica starts at 12");
    for broker in 1..=3 {
        let replica = cluster.replica(broker, TOPIC, 2).expect("replica");
        assert_eq!(replica.log_start_offset(), 12, "broker {broker}");
    }
    assert_eq!(
        leader.read_committed(11, 1 << 20).expect_err("below the start"),
        kafka_protocol::ResponseError::OffsetOutOfRange
    );
    assert_eq!(leader.delete_records(-1).expect("to the high watermark"), 20);
}

/// ElectLeaders: nothing to do while the preferred replica leads; after a stop and start, the
/// preferred leader takes over again (automatically once back in the ISR, so the request is
/// answered ELECTION_NOT_NEEDED or moves it itself).
#[tokio::test]
async fn preferred_leader_election_on_request() {
    let running = three_brokers(Duration::from_secs(30));
    let cluster = &running.cluster;
    let e = cluster.elect_preferred_leader(TOPIC, 0).expect_err("already preferred");
    assert_eq!(e.code, kafka_protocol::ResponseError::ElectionNotNeeded);
    let preferred = cluster.metadata().partition(TOPIC, 0).expect("p").replicas[0];
    cluster.stop_broker(preferred).expect("stop");
    let e = cluster.elect_preferred_leader(TOPIC, 0).expect_err("preferred is down");
    assert_eq!(e.code, kafka_protocol::ResponseError::PreferredLeaderNotAvailable);
    cluster.start_broker(preferred).expect("start");
    assert!(
        eventually(Duration::from_secs(60), || {
            let _ = cluster.elect_preferred_leader(TOPIC, 0);
            leader(cluster, 0) == preferred
        })
        .await,
        "the preferred leader leads again"
    );
}
