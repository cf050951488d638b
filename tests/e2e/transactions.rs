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
    warren.stop().await.expect("stop");
}
