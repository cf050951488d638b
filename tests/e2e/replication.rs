//! Replication with real clients: the leader stops in the middle of an acks=all run (and the whole
//! process is killed in another), the ISR shrinks and grows, acks=all needs min.insync.replicas,
//! and a leader that appended records nobody copied returns as a follower with the new leader's
//! log exactly.

use std::collections::BTreeMap;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::Duration;

use broker_core::Cluster;
use broker_core::NewTopic;
use kafka_protocol::messages::{ApiKey, ProduceResponse};
use warren_tests::{eventually, free_ports, http, Options, Warren, WarrenProcess};

use crate::support::{assert_same, consume_all, produce, producer, record, Rec};
use crate::wire::{batch, call, produce as produce_request};

fn create(cluster: &Cluster, name: &str, partitions: i32, min_isr: &str) {
    let config = BTreeMap::from([("min.insync.replicas".to_string(), min_isr.to_string())]);
    let topic = NewTopic { name: name.into(), partitions: Some(partitions), replication_factor: Some(3), config };
    cluster.create_topic(&topic, false).expect("create topic");
}

fn leader(cluster: &Cluster, topic: &str, partition: i32) -> i32 {
    cluster.metadata().partition(topic, partition).expect("partition").leader
}

/// The ISR, sorted.
fn isr(cluster: &Cluster, topic: &str, partition: i32) -> Vec<i32> {
    let mut isr = cluster.metadata().partition(topic, partition).expect("partition").isr.clone();
    isr.sort_unstable();
    isr
}

async fn post(warren: &Warren, path: &str) {
    let (status, _, body) = http(warren.http, "POST", path, None, &[]).await.expect("http");
    assert_eq!(status, 200, "POST {path}: {body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_leader_mid_run_loses_no_acknowledged_record() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(3)).await.expect("start");
    create(&warren.cluster, "failover", 3, "2");
    let first_leader = leader(&warren.cluster, "failover", 0);
    let p = producer(&warren.bootstrap(), &[("acks", "all"), ("enable.idempotence", "true")]);
    let run = tokio::spawn(async move { produce(&p, "failover", 0..100_000).await });
    // Stop partition 0's leader (through the HTTP API) once part of the run is replicated.
    let cluster = Arc::clone(&warren.cluster);
    let replica = cluster.replica(first_leader, "failover", 0).expect("leader replica");
    assert!(eventually(Duration::from_secs(60), || replica.high_watermark() > 5_000).await, "the run started");
    post(&warren, &format!("/api/v1/brokers/{first_leader}/stop")).await;
    assert!(!run.is_finished(), "the leader stopped in the middle of the run");
    let new_leader = leader(&cluster, "failover", 0);
    assert!(new_leader != first_leader && new_leader > 0, "a new leader from the ISR: {new_leader}");
    assert!(!isr(&cluster, "failover", 0).contains(&first_leader));

    let acked = run.await.expect("producer");
    assert_eq!(acked.len(), 100_000, "an idempotent producer gets every record acknowledged");
    let read = consume_all(&warren.bootstrap(), "failover", 3, acked.len(), Duration::from_secs(60));
    assert_same(&acked, &read);
    // In order per partition: the producer's sequence numbers (header "seq") only grow.
    let mut last: BTreeMap<i32, u64> = BTreeMap::new();
    for ((p, _), rec) in &read {
        let seq = u64::from_be_bytes(rec.headers[0].1.clone().expect("seq").try_into().expect("8 bytes"));
        assert!(last.insert(*p, seq).is_none_or(|prev| prev < seq), "partition {p} out of order at seq {seq}");
    }

    // The old leader comes back, catches up, rejoins the ISR and is preferred again.
    post(&warren, &format!("/api/v1/brokers/{first_leader}/start")).await;
    let back = eventually(Duration::from_secs(30), || {
        isr(&cluster, "failover", 0).contains(&first_leader) && leader(&cluster, "failover", 0) == first_leader
    })
    .await;
    assert!(
        back,
        "preferred leader election: leader {} isr {:?}",
        leader(&cluster, "failover", 0),
        isr(&cluster, "failover", 0)
    );
    let replica = cluster.replica(first_leader, "failover", 0).expect("replica");
    let other = cluster.replica(new_leader, "failover", 0).expect("replica");
    assert_eq!(replica.log_end_offset(), other.log_end_offset());
    warren.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_acks_all_records_survive_kill_9_with_three_replicas() {
    let dir = tempfile::tempdir().expect("tempdir");
    let port = free_ports(3);
    let env = [("WARREN_CLUSTER__DEFAULT_PARTITIONS", "3"), ("WARREN_CLUSTER__MIN_INSYNC_REPLICAS", "2")];
    let warren = WarrenProcess::spawn(dir.path(), 3, port, &env).expect("spawn");
    let b = warren.bootstrap();
    let p = producer(&b, &[("acks", "all"), ("enable.idempotence", "true"), ("message.timeout.ms", "60000")]);
    let run = tokio::spawn(async move {
        // Every delivery report, failures included: only acknowledged records count.
        let mut futures = Vec::new();
        for i in 0..100_000u64 {
            let rec = record(i);
            let fr =
                rdkafka::producer::FutureRecord::<[u8], [u8]>::to("kill9").key(rec.key.as_deref().unwrap_or_default());
            let fr = match &rec.value {
                Some(v) => fr.payload(v.as_slice()),
                None => fr,
            };
            let future = p.send_result(fr).map_err(|(e, _)| e).expect("enqueue");
            futures.push((rec, future));
        }
        let mut acked = BTreeMap::new();
        for (rec, f) in futures {
            if let Ok(Ok(d)) = f.await {
                acked.insert((d.partition, d.offset), Rec { headers: Vec::new(), ..rec });
            }
        }
        acked
    });
    tokio::time::sleep(Duration::from_millis(400)).await;
    warren.kill9().expect("kill -9");
    let warren = WarrenProcess::spawn(dir.path(), 3, port, &env).expect("respawn");
    let acked = run.await.expect("producer");
    assert!(acked.len() > 1_000, "the run was acknowledged in part at least ({})", acked.len());
    let read = consume_all(&warren.bootstrap(), "kill9", 3, acked.len(), Duration::from_secs(60));
    assert_same(&acked, &read);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_isr_shrinks_and_grows_and_acks_all_needs_min_insync_replicas() {
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = "[cluster]\nreplica_lag_time_max = \"1s\"";
    let warren = Warren::start(dir.path(), Options::brokers(3).with_toml(toml)).await.expect("start");
    let cluster = Arc::clone(&warren.cluster);
    create(&cluster, "isr", 1, "2");
    let lead = leader(&cluster, "isr", 0);
    let followers: Vec<i32> = (1..=3).filter(|b| *b != lead).collect();
    let p = producer(&warren.bootstrap(), &[("acks", "1")]);
    produce(&p, "isr", 0..100).await;
    assert_eq!(isr(&cluster, "isr", 0), vec![1, 2, 3]);

    // A follower that stays up but stops copying leaves the ISR after replica_lag_time_max...
    let stuck = cluster.broker(followers[0]).expect("broker");
    stuck.set_replication_paused(true);
    produce(&p, "isr", 100..200).await;
    assert!(eventually(Duration::from_secs(10), || !isr(&cluster, "isr", 0).contains(&followers[0])).await, "shrinks");
    // ...and rejoins once it has caught up to the high watermark.
    stuck.set_replication_paused(false);
    assert!(eventually(Duration::from_secs(10), || isr(&cluster, "isr", 0).len() == 3).await, "grows back");

    // A stopped follower leaves at once and returns after a restart and catch-up.
    cluster.stop_broker(followers[0]).expect("stop");
    assert!(!isr(&cluster, "isr", 0).contains(&followers[0]));
    produce(&p, "isr", 200..300).await;
    broker_core::start_broker(&cluster, followers[0]).await.expect("start");
    assert!(eventually(Duration::from_secs(10), || isr(&cluster, "isr", 0).len() == 3).await, "rejoins");

    // Two of three down: acks=all is refused (NOT_ENOUGH_REPLICAS, nothing written), acks=1 works.
    cluster.stop_broker(followers[0]).expect("stop");
    cluster.stop_broker(followers[1]).expect("stop");
    assert_eq!(isr(&cluster, "isr", 0), vec![lead]);
    let addr = warren.kafka[(lead - 1) as usize];
    let replica = cluster.replica(lead, "isr", 0).expect("leader");
    let before = replica.log_end_offset();
    tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).expect("connect");
        let r: ProduceResponse = call(&mut s, ApiKey::Produce, 9, &produce_request("isr", -1, batch(-1, -1, 3)));
        assert_eq!(r.responses[0].partition_responses[0].error_code, 19, "NOT_ENOUGH_REPLICAS");
        let r: ProduceResponse = call(&mut s, ApiKey::Produce, 9, &produce_request("isr", 1, batch(-1, -1, 3)));
        assert_eq!(r.responses[0].partition_responses[0].error_code, 0, "acks=1 still works");
    })
    .await
    .expect("client");
    assert_eq!(replica.log_end_offset(), before + 3, "only the acks=1 batch was written");
    warren.stop().await.expect("stop");
}

/// A record as (offset, key, value).
type LogRecord = (i64, Option<Vec<u8>>, Option<Vec<u8>>);

/// Every record of a replica, read straight from its log.
fn log_records(cluster: &Cluster, broker: i32, topic: &str) -> Vec<LogRecord> {
    let replica = cluster.replica(broker, topic, 0).expect("replica");
    let mut out = Vec::new();
    let mut offset = replica.log_start_offset();
    while offset < replica.log_end_offset() {
        let bytes = replica.read_to_log_end(offset, 1 << 20).expect("read");
        let batches = broker_core::formats::decode_batches(bytes, 1 << 20).expect("decode");
        for r in batches.into_iter().flat_map(|b| b.records) {
            offset = r.offset + 1;
            out.push((r.offset, r.key.map(|k| k.to_vec()), r.value.map(|v| v.to_vec())));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_with_an_uncopied_tail_returns_as_a_follower_with_the_new_leaders_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(3)).await.expect("start");
    let cluster = Arc::clone(&warren.cluster);
    create(&cluster, "diverge", 1, "1");
    let old = leader(&cluster, "diverge", 0);
    let followers: Vec<i32> = (1..=3).filter(|b| *b != old).collect();
    produce(&producer(&warren.bootstrap(), &[("acks", "all")]), "diverge", 0..100).await;
    assert!(
        eventually(Duration::from_secs(10), || followers.iter().all(|f| cluster
            .replica(*f, "diverge", 0)
            .expect("r")
            .log_end_offset()
            == 100))
        .await
    );

    // The followers stop copying; the leader takes 10 records (acks=1) that nobody else has.
    for f in &followers {
        cluster.broker(*f).expect("broker").set_replication_paused(true);
    }
    let addr = warren.kafka[(old - 1) as usize];
    tokio::task::spawn_blocking(move || {
        let mut s = TcpStream::connect(addr).expect("connect");
        let r: ProduceResponse = call(&mut s, ApiKey::Produce, 9, &produce_request("diverge", 1, batch(-1, -1, 10)));
        assert_eq!(r.responses[0].partition_responses[0].error_code, 0);
    })
    .await
    .expect("client");
    assert_eq!(cluster.replica(old, "diverge", 0).expect("r").log_end_offset(), 110);

    // The leader dies; a follower from the ISR takes over and gets different records.
    cluster.stop_broker(old).expect("stop");
    let new = leader(&cluster, "diverge", 0);
    assert!(followers.contains(&new));
    for f in &followers {
        cluster.broker(*f).expect("broker").set_replication_paused(false);
    }
    let p = producer(&warren.bootstrap(), &[("acks", "all")]);
    produce(&p, "diverge", 1_000..1_020).await;
    assert_eq!(cluster.replica(new, "diverge", 0).expect("r").log_end_offset(), 120);

    // The old leader returns: it truncates its divergent tail to the epoch boundary and copies
    // the new leader's records; afterwards the two logs hold exactly the same records.
    broker_core::start_broker(&cluster, old).await.expect("start");
    let caught_up = eventually(Duration::from_secs(20), || {
        cluster.replica(old, "diverge", 0).expect("r").log_end_offset() == 120
            && isr(&cluster, "diverge", 0).contains(&old)
    })
    .await;
    assert!(caught_up, "the old leader caught up");
    let theirs = log_records(&cluster, new, "diverge");
    let mine = log_records(&cluster, old, "diverge");
    assert_eq!(mine.len(), 120);
    assert_eq!(mine, theirs, "the returning replica's log matches the new leader's exactly");
    assert!(
        mine[100..].iter().all(|(_, k, _)| k.as_deref().is_some_and(|k| k.starts_with(b"key-1"))),
        "the uncopied tail is gone"
    );
    warren.stop().await.expect("stop");
}
