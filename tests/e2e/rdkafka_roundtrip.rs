//! librdkafka (the `rdkafka` crate) against warren: round trips with every compression codec,
//! idempotent producers, restarts, timestamps and the admin API.

use std::time::Duration;

use rdkafka::admin::{AdminClient, AdminOptions, NewPartitions, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::TopicPartitionList;
use warren_tests::{Options, Warren};

use crate::support::{assert_same, consume_all, produce, producer};

const RECORDS: u64 = 100_000;

async fn roundtrip(codec: &str) {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(3).with_toml("[cluster]\ndefault_partitions = 3"))
        .await
        .expect("start");
    let topic = format!("rt-{codec}");
    let p = producer(&warren.bootstrap(), &[("compression.type", codec), ("acks", "all")]);
    let acked = produce(&p, &topic, 0..RECORDS).await;
    assert_eq!(acked.len() as u64, RECORDS);
    let read = consume_all(&warren.bootstrap(), &topic, 3, acked.len(), Duration::from_secs(60));
    assert_same(&acked, &read);
    assert_eq!(read.len(), acked.len());
    // Every partition got records: leaders spread over the brokers.
    for partition in 0..3 {
        assert!(acked.keys().any(|(p, _)| *p == partition), "partition {partition} got nothing");
    }

    // A graceful restart keeps everything.
    warren.stop().await.expect("stop");
    let warren = Warren::start(dir.path(), Options::brokers(3)).await.expect("restart");
    let again = consume_all(&warren.bootstrap(), &topic, 3, acked.len(), Duration::from_secs(60));
    assert_eq!(again, read);
    warren.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundtrip_uncompressed() {
    roundtrip("none").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundtrip_gzip() {
    roundtrip("gzip").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundtrip_snappy() {
    roundtrip("snappy").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundtrip_lz4() {
    roundtrip("lz4").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roundtrip_zstd() {
    roundtrip("zstd").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idempotent_producer_appends_exactly_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(1)).await.expect("start");
    let p = producer(&warren.bootstrap(), &[("enable.idempotence", "true")]);
    let acked = produce(&p, "idem", 0..20_000).await;
    let read = consume_all(&warren.bootstrap(), "idem", 1, acked.len(), Duration::from_secs(30));
    assert_same(&acked, &read);
    assert_eq!(read.len(), 20_000);
    // The broker itself saw sequenced batches from one producer id.
    let replica = warren.cluster.replica(1, "idem", 0).expect("replica");
    let headers = replica.batch_headers().expect("headers");
    assert!(headers.iter().all(|h| h.producer_id >= 0 && h.base_sequence >= 0));
    warren.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_by_timestamp_and_watermarks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(3)).await.expect("start");
    let p = producer(&warren.bootstrap(), &[("linger.ms", "0")]);
    use rdkafka::producer::FutureRecord;
    let mut sent = Vec::new();
    for (i, ts) in [1_000_000i64, 2_000_000, 3_000_000].iter().enumerate() {
        let d = p
            .send(
                FutureRecord::<str, str>::to("times").payload("v").key(&i.to_string()).timestamp(*ts),
                Duration::from_secs(10),
            )
            .await
            .map_err(|(e, _)| e)
            .expect("send");
        sent.push(d.offset);
    }
    let consumer: BaseConsumer =
        ClientConfig::new().set("bootstrap.servers", warren.bootstrap()).create().expect("consumer");
    let (low, high) = consumer.fetch_watermarks("times", 0, Duration::from_secs(10)).expect("watermarks");
    assert_eq!((low, high), (0, 3));
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("times", 0, rdkafka::Offset::Offset(2_500_000)).expect("tpl");
    let found = consumer.offsets_for_times(tpl, Duration::from_secs(10)).expect("offsets_for_times");
    assert_eq!(found.find_partition("times", 0).expect("p").offset(), rdkafka::Offset::Offset(sent[2]));
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("times", 0, rdkafka::Offset::Offset(9_000_000)).expect("tpl");
    let found = consumer.offsets_for_times(tpl, Duration::from_secs(10)).expect("offsets_for_times");
    assert_eq!(found.find_partition("times", 0).expect("p").offset(), rdkafka::Offset::End);
    warren.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_client_creates_grows_describes_and_deletes_topics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(3)).await.expect("start");
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", warren.bootstrap()).create().expect("admin");
    let opts = AdminOptions::new().operation_timeout(Some(Duration::from_secs(10)));
    let created = admin
        .create_topics(&[NewTopic::new("orders", 4, TopicReplication::Fixed(2)).set("retention.ms", "3600000")], &opts)
        .await
        .expect("create");
    assert!(created[0].is_ok(), "{created:?}");
    let again =
        admin.create_topics(&[NewTopic::new("orders", 4, TopicReplication::Fixed(2))], &opts).await.expect("create");
    assert!(matches!(&again[0], Err((_, rdkafka::types::RDKafkaErrorCode::TopicAlreadyExists))), "{again:?}");
    let bad =
        admin.create_topics(&[NewTopic::new("bad name!", 1, TopicReplication::Fixed(1))], &opts).await.expect("create");
    assert!(matches!(&bad[0], Err((_, rdkafka::types::RDKafkaErrorCode::InvalidTopic))), "{bad:?}");
    let too_many =
        admin.create_topics(&[NewTopic::new("rf4", 1, TopicReplication::Fixed(4))], &opts).await.expect("create");
    assert!(
        matches!(&too_many[0], Err((_, rdkafka::types::RDKafkaErrorCode::InvalidReplicationFactor))),
        "{too_many:?}"
    );

    let grown = admin.create_partitions(&[NewPartitions::new("orders", 6)], &opts).await.expect("partitions");
    assert!(grown[0].is_ok(), "{grown:?}");
    let md = warren.cluster.metadata();
    let orders = &md.topics["orders"];
    assert_eq!(orders.partitions.len(), 6);
    assert!(orders.partitions.iter().all(|p| p.replicas.len() == 2));

    let configs = admin.describe_configs(&[ResourceSpecifier::Topic("orders")], &opts).await.expect("describe");
    let config = configs[0].as_ref().expect("config");
    let retention = config.get("retention.ms").expect("retention.ms");
    assert_eq!(retention.value.as_deref(), Some("3600000"));
    assert!(!retention.is_default);
    assert!(config.get("segment.bytes").expect("segment.bytes").is_default);

    let deleted = admin.delete_topics(&["orders"], &opts).await.expect("delete");
    assert!(deleted[0].is_ok(), "{deleted:?}");
    assert!(!warren.cluster.has_topic("orders"));
    assert!(!dir.path().join("broker-1/orders-0").exists() && !dir.path().join("broker-2/orders-0").exists());
    warren.stop().await.expect("stop");
}
