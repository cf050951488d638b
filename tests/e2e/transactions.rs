//! Transactions with librdkafka (the rdkafka crate): committed and aborted transactions, what
//! read_committed and read_uncommitted consumers see, a zombie producer fenced by a new one, a
//! transaction aborted at its timeout, a leader failover in the middle of one, and offsets sent
//! to a transaction.

use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{BaseRecord, DefaultProducerContext, Producer, ThreadedProducer};
use rdkafka::{Offset, TopicPartitionList};
use warren_tests::{Options, Warren};

const T: Duration = Duration::from_secs(30);

type TxProducer = ThreadedProducer<DefaultProducerContext>;

pub fn tx_producer(bootstrap: &str, transactional_id: &str, extra: &[(&str, &str)]) -> TxProducer {
    let mut cfg = ClientConfig::new();
    cfg.set("bootstrap.servers", bootstrap).set("transactional.id", transactional_id).set("linger.ms", "5");
    for (k, v) in extra {
        cfg.set(*k, *v);
    }
    cfg.create().expect("transactional producer")
}

pub async fn create_topic(bootstrap: &str, name: &str, partitions: i32) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap).create().expect("admin");
    let opts = AdminOptions::new().operation_timeout(Some(T));
    let created = admin
        .create_topics(&[NewTopic::new(name, partitions, TopicReplication::Fixed(3))], &opts)
        .await
        .expect("create");
    assert!(created[0].is_ok(), "{created:?}");
}

/// Sends `values` to `topic` (round robin over `partitions`) inside one transaction, then commits
/// or aborts it. Blocking: call from a blocking thread.
fn transaction(producer: &TxProducer, topic: &str, partitions: i32, values: &[String], commit: bool) {
    producer.begin_transaction().expect("begin");
    for (i, v) in values.iter().enumerate() {
        let record = BaseRecord::<str, str>::to(topic).payload(v).key(v).partition(i as i32 % partitions);
        producer.send(record).map_err(|(e, _)| e).expect("send");
    }
    // Delivered first, so an aborted transaction leaves its records (and its marker) in the log:
    // librdkafka's abort drops what it has not sent yet.
    producer.flush(T).expect("flush");
    if commit {
        producer.commit_transaction(T).expect("commit");
    } else {
        producer.abort_transaction(T).expect("abort");
    }
}

/// Every value in `topic` up to the end of each partition (the last stable offset for
/// read_committed), read with `isolation`. Blocking.
pub fn read_all(bootstrap: &str, topic: &str, partitions: i32, isolation: &str) -> Vec<String> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("reader-{isolation}-{}", rand_suffix()))
        .set("isolation.level", isolation)
        .set("enable.partition.eof", "true")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning).expect("tpl");
    }
    consumer.assign(&tpl).expect("assign");
    let mut values = Vec::new();
    let mut at_end = std::collections::BTreeSet::new();
    let deadline = Instant::now() + T;
    while at_end.len() < partitions as usize {
        assert!(Instant::now() < deadline, "{isolation} reader did not reach the end; read {values:?}");
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                at_end.remove(&m.partition());
                values.push(String::from_utf8_lossy(m.payload().unwrap_or_default()).into_owned());
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            Some(Err(e)) => panic!("consumer error: {e}"),
            None => {}
        }
    }
    values.sort();
    values
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_nanos()
}

fn values(prefix: &str, n: usize) -> Vec<String> {
    (0..n).map(|i| format!("{prefix}-{i:03}")).collect()
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn committed_and_aborted_transactions_as_each_isolation_level_sees_them() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(3)).await.expect("start");
    let b = warren.bootstrap();
    create_topic(&b, "tx", 2).await;
    let bb = b.clone();
    blocking(move || {
        let producer = tx_producer(&bb, "tx-1", &[]);
        producer.init_transactions(T).expect("init");
        transaction(&producer, "tx", 2, &values("c1", 10), true);
        transaction(&producer, "tx", 2, &values("ab", 5), false);
        transaction(&producer, "tx", 2, &values("c2", 3), true);
    })
    .await;
    let bb = b.clone();
    let committed = blocking(move || read_all(&bb, "tx", 2, "read_committed")).await;
    let mut want: Vec<String> = values("c1", 10).into_iter().chain(values("c2", 3)).collect();
    want.sort();
    assert_eq!(committed, want, "read_committed sees exactly the committed records");
    let bb = b.clone();
    let uncommitted = blocking(move || read_all(&bb, "tx", 2, "read_uncommitted")).await;
    let mut all = want.clone();
    all.extend(values("ab", 5));
    all.sort();
    assert_eq!(uncommitted, all, "read_uncommitted sees the aborted records too");
    let described = warren.cluster.describe_transaction("tx-1").expect("described");
    assert_eq!(described.state.name(), "CompleteCommit");
    // `warren console-consumer --isolation-level` reads the same as librdkafka.
    for (level, want) in [("read_committed", &want), ("read_uncommitted", &all)] {
        let args = [
            "console-consumer",
            "--bootstrap-server",
            &b,
            "--topic",
            "tx",
            "--from-beginning",
            "--isolation-level",
            level,
            "--timeout-ms",
            "3000",
        ];
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        let out = blocking(move || {
            std::process::Command::new(warren_tests::warren_binary()).args(&args).output().expect("console-consumer")
        })
        .await;
        let mut lines: Vec<String> = String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect();
        lines.sort();
        assert_eq!(&lines, want, "console-consumer {level}: {}", String::from_utf8_lossy(&out.stderr));
    }
    warren.stop().await.expect("stop");
}

/// A second producer with the same transactional id fences the first: the first one's open
/// transaction is aborted and its commit fails as fenced; the new one commits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_zombie_producer_is_fenced_by_its_successor() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(3)).await.expect("start");
    let b = warren.bootstrap();
    create_topic(&b, "fence", 1).await;
    let bb = b.clone();
    blocking(move || {
        let zombie = tx_producer(&bb, "fence-id", &[]);
        zombie.init_transactions(T).expect("init");
        zombie.begin_transaction().expect("begin");
        for v in values("zombie", 3) {
            zombie
                .send(BaseRecord::<str, str>::to("fence").payload(&v).partition(0))
                .map_err(|(e, _)| e)
                .expect("send");
        }
        zombie.flush(T).expect("flush");
        let successor = tx_producer(&bb, "fence-id", &[]);
        successor.init_transactions(T).expect("the successor's init aborts the zombie's transaction");
        transaction(&successor, "fence", 1, &values("successor", 4), true);
        let refused = zombie.commit_transaction(T).expect_err("the zombie is fenced");
        let fatal = matches!(&refused, KafkaError::Transaction(e) if e.is_fatal());
        assert!(fatal && refused.to_string().contains("fenced"), "{refused:?}");
        // Its records cannot reach the partition either.
        zombie.send(BaseRecord::<str, str>::to("fence").payload("late").partition(0)).ok();
        let _ = zombie.flush(Duration::from_secs(5));
    })
    .await;
    let bb = b.clone();
    let committed = blocking(move || read_all(&bb, "fence", 1, "read_committed")).await;
    assert_eq!(committed, values("successor", 4));
    let described = warren.cluster.describe_transaction("fence-id").expect("described");
    assert_eq!(described.state.name(), "CompleteCommit");
    assert!(described.producer_epoch >= 2, "the successor's epoch is bumped past the abort: {described:?}");
    warren.stop().await.expect("stop");
}

/// A transaction left open past its timeout is aborted by the coordinator: the last stable
/// offset moves past it, read_committed readers never see its records, its producer is fenced.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_transaction_open_past_its_timeout_is_aborted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(3)).await.expect("start");
    let b = warren.bootstrap();
    create_topic(&b, "slow", 1).await;
    let bb = b.clone();
    let producer = blocking(move || {
        let producer = tx_producer(&bb, "slow-id", &[("transaction.timeout.ms", "2000")]);
        producer.init_transactions(T).expect("init");
        producer.begin_transaction().expect("begin");
        for v in values("stale", 3) {
            producer
                .send(BaseRecord::<str, str>::to("slow").payload(&v).partition(0))
                .map_err(|(e, _)| e)
                .expect("send");
        }
        producer.flush(T).expect("flush");
        producer
    })
    .await;
    let leader = warren.cluster.leader_replica("slow", 0).expect("leader");
    assert_eq!(leader.last_stable_offset(), 0, "the open transaction holds the last stable offset");
    // ListOffsets latest: the last stable offset for read_committed, the high watermark otherwise.
    for (isolation, want) in [("read_committed", 0), ("read_uncommitted", 3)] {
        let bb = b.clone();
        let (_, high) = blocking(move || {
            let consumer: BaseConsumer = ClientConfig::new()
                .set("bootstrap.servers", &bb)
                .set("isolation.level", isolation)
                .create()
                .expect("consumer");
            consumer.fetch_watermarks("slow", 0, T).expect("watermarks")
        })
        .await;
        assert_eq!(high, want, "{isolation}");
    }
    let deadline = Instant::now() + T;
    while warren.cluster.describe_transaction("slow-id").is_none_or(|d| d.state.name() != "CompleteAbort") {
        assert!(Instant::now() < deadline, "not aborted: {:?}", warren.cluster.describe_transaction("slow-id"));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(leader.last_stable_offset(), leader.high_watermark(), "the abort marker released it");
    assert_eq!(leader.high_watermark(), 4, "three records and the abort marker");
    let refused = blocking(move || producer.commit_transaction(T)).await;
    assert!(refused.is_err(), "the timed-out producer cannot commit: {refused:?}");
    let bb = b.clone();
    let committed = blocking(move || read_all(&bb, "slow", 1, "read_committed")).await;
    assert!(committed.is_empty(), "{committed:?}");
    warren.stop().await.expect("stop");
}

/// The leader of a partition in an open transaction stops: the transaction commits through the
/// new leader, whole; and a restart keeps the aborted transactions hidden (the state is rebuilt
/// from the log).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_leader_failover_in_an_open_transaction_and_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(3)).await.expect("start");
    let b = warren.bootstrap();
    create_topic(&b, "fail", 2).await;
    let bb = b.clone();
    let producer = blocking(move || {
        let producer = tx_producer(&bb, "fail-id", &[]);
        producer.init_transactions(T).expect("init");
        transaction(&producer, "fail", 2, &values("aborted", 6), false);
        producer.begin_transaction().expect("begin");
        for (i, v) in values("first", 6).iter().enumerate() {
            producer
                .send(BaseRecord::<str, str>::to("fail").payload(v).partition(i as i32 % 2))
                .map_err(|(e, _)| e)
                .expect("send");
        }
        producer.flush(T).expect("flush");
        producer
    })
    .await;
    let leader = warren.cluster.metadata().partition("fail", 0).expect("p").leader;
    let stopping = std::sync::Arc::clone(&warren.cluster);
    blocking(move || stopping.stop_broker(leader)).await.expect("stop the leader");
    let committed_producer = blocking(move || {
        for (i, v) in values("second", 6).iter().enumerate() {
            producer
                .send(BaseRecord::<str, str>::to("fail").payload(v).partition(i as i32 % 2))
                .map_err(|(e, _)| e)
                .expect("send");
        }
        producer.commit_transaction(T).expect("commit through the new leader");
        producer
    })
    .await;
    drop(committed_producer);
    let mut want: Vec<String> = values("first", 6).into_iter().chain(values("second", 6)).collect();
    want.sort();
    let bb = b.clone();
    assert_eq!(blocking(move || read_all(&bb, "fail", 2, "read_committed")).await, want);
    let restarting = std::sync::Arc::clone(&warren.cluster);
    blocking(move || restarting.start_broker(leader)).await.expect("start");
    warren.stop().await.expect("stop");

    let warren = Warren::start(dir.path(), Options::brokers(3)).await.expect("restart");
    let b = warren.bootstrap();
    let bb = b.clone();
    assert_eq!(blocking(move || read_all(&bb, "fail", 2, "read_committed")).await, want, "after a restart");
    let bb = b.clone();
    assert_eq!(blocking(move || read_all(&bb, "fail", 2, "read_uncommitted")).await.len(), 18);
    warren.stop().await.expect("stop");
}

/// Exactly once: a consume-transform-produce loop (`txn-loop`: offsets sent to each
/// transaction) is killed with SIGKILL halfway and started again; read_committed readers of
/// its output see every input exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consume_transform_produce_killed_halfway_outputs_each_input_once() {
    use std::io::BufRead;
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(3)).await.expect("start");
    let b = warren.bootstrap();
    create_topic(&b, "ctp-in", 2).await;
    create_topic(&b, "ctp-out", 2).await;
    let inputs = values("in", 300);
    let producer = crate::support::producer(&b, &[("acks", "all")]);
    for v in &inputs {
        producer.send(rdkafka::producer::FutureRecord::to("ctp-in").payload(v).key(v), T).await.expect("input");
    }
    let bin = warren_tests::warren_binary().with_file_name("txn-loop");
    let spawn = |b: &str| {
        std::process::Command::new(&bin)
            .args([b, "ctp-in", "ctp-out", "ctp-group", "ctp-txn"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::inherit())
            .spawn()
            .expect("spawn txn-loop")
    };
    let mut first = spawn(&b);
    let stdout = first.stdout.take().expect("stdout");
    let progressed = blocking(move || {
        let mut last = 0usize;
        for line in std::io::BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            last = line.trim_start_matches("committed ").parse().unwrap_or(last);
            if last >= 100 {
                break;
            }
        }
        last
    })
    .await;
    assert!(progressed >= 100, "the loop committed {progressed} records before the kill");
    first.kill().expect("SIGKILL");
    first.wait().expect("reaped");
    let mut second = spawn(&b);
    let finished = blocking(move || {
        let deadline = Instant::now() + Duration::from_secs(180);
        loop {
            if let Some(status) = second.try_wait().expect("wait") {
                return status.success();
            }
            if Instant::now() > deadline {
                let _ = second.kill();
                return false;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    })
    .await;
    assert!(finished, "the restarted loop finished the input");
    let bb = b.clone();
    let output = blocking(move || read_all(&bb, "ctp-out", 2, "read_committed")).await;
    let mut want: Vec<String> = inputs.iter().map(|v| format!("out:{v}")).collect();
    want.sort();
    assert_eq!(output.len(), want.len(), "every input once: {} outputs for {} inputs", output.len(), want.len());
    assert_eq!(output, want);
    let committed = warren.cluster.committed_offsets("ctp-group").expect("group offsets");
    let total: i64 = committed.values().map(|c| c.offset).sum();
    assert_eq!(total, 300, "the group's offsets, committed in the transactions, cover the input");
    warren.stop().await.expect("stop");
    // After a restart, `__consumer_offsets` replays them: transactional commits count from their
    // commit marker, the killed loop's aborted ones do not.
    let warren = Warren::start(dir.path(), Options::brokers(3)).await.expect("restart");
    let committed = warren.cluster.committed_offsets("ctp-group").expect("group offsets after the restart");
    assert_eq!(committed.values().map(|c| c.offset).sum::<i64>(), 300);
    assert!(!warren.cluster.has_pending_txn_offsets("ctp-group"), "no offset waits for a marker");
    warren.stop().await.expect("stop");
}

/// Burrow's long-standing complaint (linkedin/Burrow#591): a group that consumed everything of
/// a transactional partition and committed just past its last record sits before the commit
/// marker. warren shows lag 0 and status OK, and says the lag of a read_committed group is
/// measured against the last stable offset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_group_at_the_end_of_a_transactional_partition_has_lag_zero() {
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = "[monitor]\nsample_interval = \"1s\"\n[groups]\ninitial_rebalance_delay = \"0s\"";
    let warren = Warren::start(dir.path(), Options::brokers(3).with_toml(toml)).await.expect("start");
    let b = warren.bootstrap();
    create_topic(&b, "eot", 1).await;
    let bb = b.clone();
    blocking(move || {
        let producer = tx_producer(&bb, "eot-id", &[]);
        producer.init_transactions(T).expect("init");
        transaction(&producer, "eot", 1, &values("v", 10), true);
    })
    .await;
    let leader = warren.cluster.leader_replica("eot", 0).expect("leader");
    assert_eq!(leader.high_watermark(), 11, "ten records and the commit marker");
    // A consumer that commits the last record's offset + 1 (as the Java client's commitSync of
    // a record does): 10, one before the high watermark.
    let bb = b.clone();
    let consumer = blocking(move || {
        let consumer: BaseConsumer = ClientConfig::new()
            .set("bootstrap.servers", &bb)
            .set("group.id", "eot-group")
            .set("isolation.level", "read_committed")
            .set("enable.auto.commit", "false")
            .set("auto.offset.reset", "earliest")
            .create()
            .expect("consumer");
        consumer.subscribe(&["eot"]).expect("subscribe");
        let mut last = -1;
        let deadline = Instant::now() + T;
        while last < 9 {
            assert!(Instant::now() < deadline, "consumed up to {last}");
            if let Some(Ok(m)) = consumer.poll(Duration::from_millis(200)) {
                last = m.offset();
            }
        }
        let mut tpl = TopicPartitionList::new();
        tpl.add_partition_offset("eot", 0, Offset::Offset(last + 1)).expect("tpl");
        consumer.commit(&tpl, rdkafka::consumer::CommitMode::Sync).expect("commit");
        consumer
    })
    .await;
    let deadline = Instant::now() + Duration::from_secs(60);
    let group = loop {
        let (status, _, body) =
            warren_tests::http(warren.http, "GET", "/api/v1/groups/eot-group", None, &[]).await.expect("http");
        let json: serde_json::Value = serde_json::from_str(&body).unwrap_or_default();
        let committed = json["partitions"][0]["committed_offset"].as_i64();
        if status == 200 && committed == Some(10) && json["status"] == "OK" {
            break json;
        }
        assert!(Instant::now() < deadline, "group never settled: {status} {body}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    };
    assert_eq!(group["total_lag"], 0, "{group}");
    assert_eq!(group["partitions"][0]["lag"], 0, "{group}");
    assert_eq!(group["lag_measured_against"], "last_stable_offset", "{group}");
    drop(consumer);
    warren.stop().await.expect("stop");
}

/// A record batch with the given flags, as a hand-built client would send it.
fn flagged_batch(pid: i64, transactional: bool, control: bool) -> bytes::Bytes {
    use kafka_protocol::records::{Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType};
    let record = Record {
        transactional,
        control,
        partition_leader_epoch: 0,
        producer_id: pid,
        producer_epoch: 0,
        timestamp_type: TimestampType::Creation,
        offset: 0,
        sequence: 0,
        timestamp: 1_700_000_000_000,
        // A forged commit marker's key and value when `control`.
        key: Some(bytes::Bytes::from_static(&[0, 0, 0, 1])),
        value: Some(bytes::Bytes::from_static(&[0, 0, 0, 0, 0, 0])),
        headers: Default::default(),
        delete_horizon: false,
    };
    let mut buf = bytes::BytesMut::new();
    RecordBatchEncoder::encode(
        &mut buf,
        &[record],
        &RecordEncodeOptions { version: 2, compression: Compression::None },
    )
    .expect("encode");
    buf.freeze()
}

/// Bad transactional requests get Kafka's answers and change nothing: a forged marker from a
/// client, a transactional batch without a transactional id, transaction APIs for an unknown id
/// or partition, a timeout past the maximum; Describe/ListTransactions answer for real ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_transactional_requests_get_kafkas_errors() {
    use kafka_protocol::messages::add_partitions_to_txn_request::AddPartitionsToTxnTopic;
    use kafka_protocol::messages::*;
    use kafka_protocol::protocol::StrBytes;
    use kafka_protocol::ResponseError as E;
    use std::net::TcpStream;
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(1)).await.expect("start");
    let b = warren.bootstrap();
    warren
        .cluster
        .create_topic(&broker_core::NewTopic { name: "hostile".into(), ..Default::default() }, false)
        .expect("topic");
    let bb = b.clone();
    blocking(move || {
        let producer = tx_producer(&bb, "real-id", &[]);
        producer.init_transactions(T).expect("init");
        transaction(&producer, "hostile", 1, &values("ok", 2), true);
    })
    .await;
    let mut s = TcpStream::connect(warren.kafka[0]).expect("connect");
    s.set_read_timeout(Some(T)).expect("timeout");
    let produce = |records: bytes::Bytes, txid: Option<&str>| {
        crate::wire::produce("hostile", -1, records)
            .with_transactional_id(txid.map(|t| TransactionalId(StrBytes::from_string(t.to_string()))))
    };
    let code = |r: &ProduceResponse| r.responses[0].partition_responses[0].error_code;
    let end = warren.cluster.leader_replica("hostile", 0).expect("leader").log_end_offset();
    let r: ProduceResponse =
        crate::wire::call(&mut s, ApiKey::Produce, 9, &produce(flagged_batch(5, true, true), Some("real-id")));
    assert_eq!(code(&r), E::InvalidRecord.code(), "a client's control batch (a forged marker)");
    let r: ProduceResponse =
        crate::wire::call(&mut s, ApiKey::Produce, 9, &produce(flagged_batch(5, true, false), None));
    assert_eq!(code(&r), E::TransactionalIdAuthorizationFailed.code(), "transactional without an id");
    // A late write of a real producer whose transaction is over (a retry after its commit):
    // refused, so it cannot open a transaction nobody will end.
    let real = warren.cluster.describe_transaction("real-id").expect("real-id");
    assert_eq!(real.producer_epoch, 0);
    let r: ProduceResponse = crate::wire::call(
        &mut s,
        ApiKey::Produce,
        9,
        &produce(flagged_batch(real.producer_id, true, false), Some("real-id")),
    );
    assert_eq!(code(&r), E::InvalidTxnState.code(), "no open transaction holds hostile-0");
    assert_eq!(warren.cluster.leader_replica("hostile", 0).expect("leader").log_end_offset(), end, "nothing appended");
    let leader = warren.cluster.leader_replica("hostile", 0).expect("leader");
    assert_eq!(leader.last_stable_offset(), leader.high_watermark(), "nothing holds the last stable offset");

    let add = |id: &str, topic: &str, partition: i32| {
        AddPartitionsToTxnRequest::default()
            .with_v3_and_below_transactional_id(TransactionalId(StrBytes::from_string(id.to_string())))
            .with_v3_and_below_producer_id(ProducerId(12345))
            .with_v3_and_below_producer_epoch(0)
            .with_v3_and_below_topics(vec![AddPartitionsToTxnTopic::default()
                .with_name(TopicName(StrBytes::from_string(topic.to_string())))
                .with_partitions(vec![0, partition])])
    };
    let r: AddPartitionsToTxnResponse =
        crate::wire::call(&mut s, ApiKey::AddPartitionsToTxn, 0, &add("real-id", "hostile", 0));
    assert_eq!(
        r.results_by_topic_v3_and_below[0].results_by_partition[0].partition_error_code,
        E::InvalidProducerIdMapping.code()
    );
    let r: AddPartitionsToTxnResponse =
        crate::wire::call(&mut s, ApiKey::AddPartitionsToTxn, 0, &add("real-id", "hostile", 7));
    let codes: Vec<i16> =
        r.results_by_topic_v3_and_below[0].results_by_partition.iter().map(|p| p.partition_error_code).collect();
    assert_eq!(codes, vec![E::OperationNotAttempted.code(), E::UnknownTopicOrPartition.code()]);
    let end_txn = EndTxnRequest::default()
        .with_transactional_id(TransactionalId(StrBytes::from_static_str("never-seen")))
        .with_producer_id(ProducerId(1))
        .with_producer_epoch(0)
        .with_committed(true);
    let r: EndTxnResponse = crate::wire::call(&mut s, ApiKey::EndTxn, 1, &end_txn);
    assert!(
        [E::InvalidProducerIdMapping.code(), E::NotCoordinator.code()].contains(&r.error_code),
        "unknown id: {}",
        r.error_code
    );
    let init = InitProducerIdRequest::default()
        .with_transactional_id(Some(TransactionalId(StrBytes::from_static_str("real-id"))))
        .with_transaction_timeout_ms(3_600_000);
    let r: InitProducerIdResponse = crate::wire::call(&mut s, ApiKey::InitProducerId, 2, &init);
    assert_eq!(r.error_code, E::InvalidTransactionTimeout.code());

    let describe = DescribeTransactionsRequest::default().with_transactional_ids(vec![
        TransactionalId(StrBytes::from_static_str("real-id")),
        TransactionalId(StrBytes::from_static_str("never-seen")),
    ]);
    let r: DescribeTransactionsResponse = crate::wire::call(&mut s, ApiKey::DescribeTransactions, 0, &describe);
    assert_eq!(r.transaction_states[0].error_code, 0);
    assert_eq!(r.transaction_states[0].transaction_state.as_str(), "CompleteCommit");
    assert!(r.transaction_states[0].producer_epoch >= 0);
    assert!([E::TransactionalIdNotFound.code(), E::NotCoordinator.code()].contains(&r.transaction_states[1].error_code));
    let list = ListTransactionsRequest::default()
        .with_state_filters(vec![StrBytes::from_static_str("CompleteCommit"), StrBytes::from_static_str("Bogus")]);
    let r: ListTransactionsResponse = crate::wire::call(&mut s, ApiKey::ListTransactions, 1, &list);
    assert_eq!(r.unknown_state_filters.iter().map(|f| f.as_str()).collect::<Vec<_>>(), vec!["Bogus"]);
    assert_eq!(r.transaction_states.len(), 1);
    assert_eq!(r.transaction_states[0].transactional_id.as_str(), "real-id");
    warren.stop().await.expect("stop");
}

/// kafka-python 2.0.2 (Debian's), where it can: it has no transactional producer and reads
/// read_uncommitted only, so it alters and describes a topic config (AlterConfigs,
/// DescribeConfigs), and reads a partition holding committed and aborted transactions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kafka_python_reads_transactional_partitions_and_alters_configs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(3)).await.expect("start");
    let b = warren.bootstrap();
    create_topic(&b, "py-tx", 1).await;
    create_topic(&b, "py-cfg", 1).await;
    let bb = b.clone();
    blocking(move || {
        let producer = tx_producer(&bb, "py-id", &[]);
        producer.init_transactions(T).expect("init");
        transaction(&producer, "py-tx", 1, &values("kept", 3), true);
        transaction(&producer, "py-tx", 1, &values("dropped", 2), false);
        transaction(&producer, "py-tx", 1, &values("last", 1), true);
    })
    .await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/kafka_python_admin_txn.py");
    let bb = b.clone();
    let out = blocking(move || {
        std::process::Command::new("/usr/bin/python3")
            .args([script, &bb, "py-cfg", "py-tx"])
            .output()
            .expect("python3 (installed by .ci/run)")
    })
    .await;
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("JSON");
    assert_eq!(json["retention_ms"], "7200000", "{json}");
    assert_eq!(json["source"], 1, "DYNAMIC_TOPIC_CONFIG: {json}");
    let read: Vec<String> =
        json["values"].as_array().expect("values").iter().map(|v| v.as_str().unwrap_or_default().to_string()).collect();
    // kafka-python 2.0.2 passes markers on as records (a client bug, fixed in later versions;
    // Kafka's brokers send the same bytes): the three markers' values, version 0 and coordinator
    // epoch 0, between the data records, which all arrive in order.
    let marker = "\0".repeat(6);
    assert_eq!(read.iter().filter(|v| **v == marker).count(), 3, "{read:?}");
    let data: Vec<String> = read.into_iter().filter(|v| *v != marker).collect();
    let want: Vec<String> =
        values("kept", 3).into_iter().chain(values("dropped", 2)).chain(values("last", 1)).collect();
    assert_eq!(data, want, "read_uncommitted: every data record in order");
    warren.stop().await.expect("stop");
}
