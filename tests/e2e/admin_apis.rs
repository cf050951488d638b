//! The admin APIs real tools call: AlterConfigs and IncrementalAlterConfigs (rdkafka's admin
//! client, `warren configs`), DeleteRecords (rdkafka, `warren delete-records`), and by hand-built
//! requests DescribeCluster, OffsetForLeaderEpoch, DescribeLogDirs and ElectLeaders.

use std::net::TcpStream;
use std::process::Command;
use std::time::Duration;

use kafka_protocol::messages::*;
use kafka_protocol::protocol::StrBytes;
use rdkafka::admin::{AdminClient, AdminOptions, AlterConfig, NewTopic, ResourceSpecifier, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::producer::FutureRecord;
use rdkafka::TopicPartitionList;
use warren_tests::{warren_binary, Options, Warren};

use crate::support::producer;
use crate::wire::call;

fn admin(bootstrap: &str) -> AdminClient<DefaultClientContext> {
    ClientConfig::new().set("bootstrap.servers", bootstrap).create().expect("admin")
}

fn opts() -> AdminOptions {
    AdminOptions::new().operation_timeout(Some(Duration::from_secs(30))).request_timeout(Some(Duration::from_secs(30)))
}

/// Runs `warren-e2e ARGS...`; returns (exit code, stdout, stderr).
async fn tool(args: Vec<String>) -> (i32, String, String) {
    tokio::task::spawn_blocking(move || {
        let out = Command::new(warren_binary()).args(&args).env_remove("RUST_LOG").output().expect("run warren-e2e");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    })
    .await
    .expect("join")
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_string()).collect()
}

/// (low, high) watermarks of a partition, off the async workers.
async fn low_high(bootstrap: &str, topic: &str, partition: i32) -> (i64, i64) {
    let (b, t) = (bootstrap.to_string(), topic.to_string());
    tokio::task::spawn_blocking(move || watermarks(&b, &t, partition)).await.expect("join")
}

/// (low, high) watermarks of a partition as a client sees them.
fn watermarks(bootstrap: &str, topic: &str, partition: i32) -> (i64, i64) {
    let consumer: BaseConsumer = ClientConfig::new().set("bootstrap.servers", bootstrap).create().expect("consumer");
    consumer.fetch_watermarks(topic, partition, Duration::from_secs(10)).expect("watermarks")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_configs_change_live_persist_and_describe_with_their_source() {
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = "[log]\nretention_check_interval = \"500ms\"";
    let warren = Warren::start(dir.path(), Options::brokers(3).with_toml(toml)).await.expect("start");
    let b = warren.bootstrap();
    let admin = admin(&b);
    let created =
        admin.create_topics(&[NewTopic::new("cfg", 1, TopicReplication::Fixed(3))], &opts()).await.expect("create");
    assert!(created[0].is_ok(), "{created:?}");

    // AlterConfigs (rdkafka's alter_configs): max.message.bytes is enforced at once.
    let producer = producer(&b, &[("message.max.bytes", "100000"), ("compression.type", "none")]);
    let send = |size: usize| {
        let producer = producer.clone();
        async move {
            let value = vec![b'v'; size];
            producer.send(FutureRecord::<(), _>::to("cfg").payload(&value), Duration::from_secs(30)).await
        }
    };
    send(20_000).await.expect("20 kB fits the default max.message.bytes");
    let change = AlterConfig::new(ResourceSpecifier::Topic("cfg")).set("max.message.bytes", "10000");
    let altered = admin.alter_configs(&[change], &opts()).await.expect("alter");
    assert!(altered[0].is_ok(), "{altered:?}");
    let refused = send(20_000).await.expect_err("over the new max.message.bytes");
    assert_eq!(
        refused.0.rdkafka_error_code(),
        Some(rdkafka::types::RDKafkaErrorCode::MessageSizeTooLarge),
        "{refused:?}"
    );
    send(100).await.expect("a small record");

    // A bad value is refused and nothing changes (the rdkafka crate drops per-resource errors of
    // alter_configs, so look at the result; `warren configs` below shows the error itself).
    let bad = AlterConfig::new(ResourceSpecifier::Topic("cfg")).set("retention.ms", "soon");
    admin.alter_configs(&[bad], &opts()).await.expect("alter");
    let described = admin.describe_configs(&[ResourceSpecifier::Topic("cfg")], &opts()).await.expect("describe");
    let config = described[0].as_ref().expect("config");
    assert_eq!(config.get("max.message.bytes").and_then(|e| e.value.as_deref()), Some("10000"));
    assert_eq!(config.get("retention.ms").map(|e| &e.source), Some(&rdkafka::admin::ConfigSource::Default));

    // IncrementalAlterConfigs through `warren configs`, then its --describe.
    let (code, stdout, stderr) = tool(args(&[
        "configs",
        "--bootstrap-server",
        &b,
        "--entity-type",
        "topics",
        "--entity-name",
        "cfg",
        "--alter",
        "--add-config",
        "retention.ms=1000,cleanup.policy=[delete]",
    ]))
    .await;
    assert_eq!((code, stdout.as_str()), (0, "Completed updating config for topic cfg.\n"), "{stderr}");
    let (code, stdout, stderr) =
        tool(args(&["configs", "--bootstrap-server", &b, "--topic", "cfg", "--describe"])).await;
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(lines[0], "Dynamic configs for topic cfg are:");
    assert!(lines.contains(&"  max.message.bytes=10000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:max.message.bytes=10000, STATIC_BROKER_CONFIG:message.max.bytes=1048588}"), "{stdout}");
    assert!(
        lines
            .iter()
            .any(|l| l
                .starts_with("  retention.ms=1000 sensitive=false synonyms={DYNAMIC_TOPIC_CONFIG:retention.ms=1000")),
        "{stdout}"
    );
    assert_eq!(lines.len(), 4, "three dynamic configs: {stdout}");
    let (code, _, stderr) = tool(args(&[
        "configs",
        "--bootstrap-server",
        &b,
        "--topic",
        "cfg",
        "--alter",
        "--add-config",
        "min.insync.replicas=0",
    ]))
    .await;
    assert_eq!(code, 1);
    assert!(stderr.contains("min.insync.replicas: must be at least 1"), "{stderr}");

    // Retention shrinks the log: records an hour old are deleted once segments roll.
    let old = chrono_ms() - 3_600_000;
    for i in 0..5 {
        let value = vec![b'r'; 50];
        producer
            .send(FutureRecord::<(), _>::to("cfg").payload(&value).timestamp(old + i), Duration::from_secs(30))
            .await
            .expect("old record");
    }
    let (code, _, stderr) = tool(args(&[
        "configs",
        "--bootstrap-server",
        &b,
        "--topic",
        "cfg",
        "--alter",
        "--add-config",
        "segment.ms=200",
    ]))
    .await;
    assert_eq!(code, 0, "{stderr}");
    let high = low_high(&b, "cfg", 0).await.1;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    loop {
        // A fresh record rolls the aged segment; retention then deletes it.
        send(10).await.expect("a fresh record");
        let (low, _) = low_high(&b, "cfg", 0).await;
        if low >= high {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "retention.ms=1000 deleted the old records: low {low}, was high {high}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Delete a config: back to the default (source DEFAULT_CONFIG).
    let (code, _, stderr) = tool(args(&[
        "configs",
        "--bootstrap-server",
        &b,
        "--topic",
        "cfg",
        "--alter",
        "--delete-config",
        "segment.ms",
    ]))
    .await;
    assert_eq!(code, 0, "{stderr}");
    warren.stop().await.expect("stop");

    // After a restart: the overrides are still there, described with their source.
    let warren = Warren::start(dir.path(), Options::brokers(3).with_toml(toml)).await.expect("restart");
    let admin = self::admin(&warren.bootstrap());
    let described = admin.describe_configs(&[ResourceSpecifier::Topic("cfg")], &opts()).await.expect("describe");
    let config = described[0].as_ref().expect("config");
    let entry = |name: &str| config.get(name).unwrap_or_else(|| panic!("{name} described"));
    assert_eq!(entry("max.message.bytes").value.as_deref(), Some("10000"));
    assert_eq!(entry("max.message.bytes").source, rdkafka::admin::ConfigSource::DynamicTopic);
    assert_eq!(entry("retention.ms").value.as_deref(), Some("1000"));
    assert_eq!(entry("segment.ms").source, rdkafka::admin::ConfigSource::Default);
    let big = producer_for(&warren.bootstrap());
    let refused = big
        .send(FutureRecord::<(), _>::to("cfg").payload(&vec![b'v'; 20_000]), Duration::from_secs(30))
        .await
        .expect_err("max.message.bytes still enforced after the restart");
    assert_eq!(refused.0.rdkafka_error_code(), Some(rdkafka::types::RDKafkaErrorCode::MessageSizeTooLarge));
    warren.stop().await.expect("stop");
}

fn producer_for(bootstrap: &str) -> rdkafka::producer::FutureProducer {
    producer(bootstrap, &[("message.max.bytes", "100000"), ("compression.type", "none")])
}

fn chrono_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_records_moves_the_log_start_on_every_replica() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(3)).await.expect("start");
    let b = warren.bootstrap();
    let admin = admin(&b);
    let created =
        admin.create_topics(&[NewTopic::new("del", 2, TopicReplication::Fixed(3))], &opts()).await.expect("create");
    assert!(created[0].is_ok(), "{created:?}");
    let producer = producer(&b, &[("acks", "all")]);
    for i in 0..100 {
        producer
            .send(FutureRecord::to("del").key(&format!("{i}")).payload("x").partition(i % 2), Duration::from_secs(30))
            .await
            .expect("send");
    }
    // rdkafka's admin client.
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("del", 0, rdkafka::Offset::Offset(30)).expect("tpl");
    let deleted = admin.delete_records(&tpl, &opts()).await.expect("delete records");
    let p0 = deleted.find_partition("del", 0).expect("p0");
    assert_eq!((p0.error(), p0.offset()), (Ok(()), rdkafka::Offset::Offset(30)));
    assert_eq!(low_high(&b, "del", 0).await, (30, 50));
    for broker in 1..=3 {
        let replica = warren.cluster.replica(broker, "del", 0).expect("replica");
        assert_eq!(replica.log_start_offset(), 30, "broker {broker} follows the leader's log start");
    }
    // Past the high watermark: OFFSET_OUT_OF_RANGE, nothing moves.
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset("del", 0, rdkafka::Offset::Offset(51)).expect("tpl");
    let deleted = admin.delete_records(&tpl, &opts()).await.expect("delete records");
    let p0 = deleted.find_partition("del", 0).expect("p0");
    assert_eq!(
        p0.error().err().and_then(|e| e.rdkafka_error_code()),
        Some(rdkafka::types::RDKafkaErrorCode::OffsetOutOfRange)
    );
    assert_eq!(low_high(&b, "del", 0).await.0, 30);

    // `warren delete-records` with Kafka's JSON file; -1 means up to the high watermark.
    let file = dir.path().join("offsets.json");
    std::fs::write(
        &file,
        r#"{"partitions":[{"topic":"del","partition":0,"offset":40},{"topic":"del","partition":1,"offset":-1}],"version":1}"#,
    )
    .expect("write");
    let (code, stdout, stderr) =
        tool(args(&["delete-records", "--bootstrap-server", &b, "--offset-json-file", file.to_str().expect("utf8")]))
            .await;
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(
        stdout,
        "Executing records delete operation\nRecords delete operation completed:\npartition: del-0\tlow_watermark: 40\npartition: del-1\tlow_watermark: 50\n"
    );
    assert_eq!(low_high(&b, "del", 1).await, (50, 50));
    // Internal topics refuse it.
    std::fs::write(&file, r#"{"partitions":[{"topic":"__consumer_offsets","partition":0,"offset":0}]}"#)
        .expect("write");
    let (code, stdout, _) =
        tool(args(&["delete-records", "--bootstrap-server", &b, "--offset-json-file", file.to_str().expect("utf8")]))
            .await;
    assert_eq!(code, 1);
    assert!(stdout.contains("partition: __consumer_offsets-0\terror:"), "{stdout}");
    warren.stop().await.expect("stop");

    // The deleted records stay deleted after a restart (the log start was checkpointed).
    let warren = Warren::start(dir.path(), Options::brokers(3)).await.expect("restart");
    assert_eq!(low_high(&warren.bootstrap(), "del", 0).await, (40, 50));
    warren.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cluster_epoch_log_dir_and_election_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(3)).await.expect("start");
    let b = warren.bootstrap();
    let created =
        admin(&b).create_topics(&[NewTopic::new("ep", 1, TopicReplication::Fixed(3))], &opts()).await.expect("create");
    assert!(created[0].is_ok(), "{created:?}");
    let producer = producer(&b, &[("acks", "all")]);
    for _ in 0..10 {
        producer.send(FutureRecord::<(), _>::to("ep").payload("x"), Duration::from_secs(30)).await.expect("send");
    }
    let pm = warren.cluster.metadata().partition("ep", 0).expect("p").clone();
    let leader_addr = warren.kafka[(pm.leader - 1) as usize];
    let mut s = TcpStream::connect(leader_addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");

    // DescribeCluster v2 with fenced brokers: all three, none fenced, and the controller.
    let described: DescribeClusterResponse =
        call(&mut s, ApiKey::DescribeCluster, 2, &DescribeClusterRequest::default().with_include_fenced_brokers(true));
    assert_eq!(described.brokers.len(), 3);
    assert!(described.brokers.iter().all(|b| !b.is_fenced));
    assert_eq!(described.controller_id.0, 1);

    // OffsetForLeaderEpoch v4: epoch 0 ends at the log end; a newer current epoch than the
    // leader's is UNKNOWN_LEADER_EPOCH.
    let ask = |current: i32, epoch: i32| {
        use kafka_protocol::messages::offset_for_leader_epoch_request::{
            OffsetForLeaderPartition, OffsetForLeaderTopic,
        };
        OffsetForLeaderEpochRequest::default().with_replica_id(BrokerId(-1)).with_topics(vec![
            OffsetForLeaderTopic::default().with_topic(TopicName(StrBytes::from_static_str("ep"))).with_partitions(
                vec![OffsetForLeaderPartition::default()
                    .with_partition(0)
                    .with_current_leader_epoch(current)
                    .with_leader_epoch(epoch)],
            ),
        ])
    };
    let r: OffsetForLeaderEpochResponse = call(&mut s, ApiKey::OffsetForLeaderEpoch, 4, &ask(pm.leader_epoch, 0));
    let p = &r.topics[0].partitions[0];
    assert_eq!((p.error_code, p.leader_epoch, p.end_offset), (0, 0, 10));
    let r: OffsetForLeaderEpochResponse = call(&mut s, ApiKey::OffsetForLeaderEpoch, 4, &ask(pm.leader_epoch + 5, 0));
    assert_eq!(r.topics[0].partitions[0].error_code, kafka_protocol::ResponseError::UnknownLeaderEpoch.code());

    // DescribeLogDirs: this broker's directory and each replica's size on disk.
    let r: DescribeLogDirsResponse =
        call(&mut s, ApiKey::DescribeLogDirs, 4, &DescribeLogDirsRequest::default().with_topics(None));
    assert_eq!(r.results.len(), 1);
    let dir_result = &r.results[0];
    assert!(dir_result.log_dir.as_str().ends_with(&format!("broker-{}", pm.leader)), "{:?}", dir_result.log_dir);
    let ep = dir_result.topics.iter().find(|t| t.name.as_str() == "ep").expect("ep listed");
    let size = ep.partitions[0].partition_size;
    let replica = warren.cluster.replica(pm.leader, "ep", 0).expect("replica");
    assert!(size > 0 && size as u64 == replica.size_bytes(), "{size}");

    // ElectLeaders: the preferred leader leads already.
    use kafka_protocol::messages::elect_leaders_request::TopicPartitions;
    let elect =
        ElectLeadersRequest::default().with_election_type(0).with_timeout_ms(10_000).with_topic_partitions(Some(vec![
            TopicPartitions::default().with_topic(TopicName(StrBytes::from_static_str("ep"))).with_partitions(vec![0]),
        ]));
    let r: ElectLeadersResponse = call(&mut s, ApiKey::ElectLeaders, 2, &elect);
    let result = &r.replica_election_results[0].partition_result[0];
    assert_eq!(result.error_code, kafka_protocol::ResponseError::ElectionNotNeeded.code(), "{result:?}");
    warren.stop().await.expect("stop");
}

/// The broker configs warren changes at run time, cluster-wide (`--entity-default`): they become
/// the defaults of every topic that does not override them, at once (a raised
/// `min.insync.replicas` refuses acks=all with too few replicas), survive a restart and are
/// described with their source; the static ones are refused with the key named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamic_broker_defaults_apply_to_every_topic() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(3)).await.expect("start");
    let b = warren.bootstrap();
    let created = admin(&b)
        .create_topics(
            &[
                NewTopic::new("plain", 1, TopicReplication::Fixed(3)),
                NewTopic::new("own", 1, TopicReplication::Fixed(3)).set("retention.ms", "60000"),
            ],
            &opts(),
        )
        .await
        .expect("create");
    assert!(created.iter().all(Result::is_ok), "{created:?}");
    let (code, stdout, stderr) = tool(args(&[
        "configs",
        "--bootstrap-server",
        &b,
        "--entity-type",
        "brokers",
        "--entity-default",
        "--alter",
        "--add-config",
        "log.retention.ms=3600000,min.insync.replicas=3",
    ]))
    .await;
    assert_eq!(
        (code, stdout.as_str()),
        (0, "Completed updating default config for brokers in the cluster.\n"),
        "{stderr}"
    );
    let (code, stdout, _) = tool(args(&[
        "configs",
        "--bootstrap-server",
        &b,
        "--entity-type",
        "brokers",
        "--entity-default",
        "--describe",
    ]))
    .await;
    assert_eq!(code, 0);
    assert!(stdout.starts_with("Default configs for brokers in the cluster are:\n"), "{stdout}");
    assert!(stdout.contains("  log.retention.ms=3600000 sensitive=false"), "{stdout}");
    let described = admin(&b)
        .describe_configs(&[ResourceSpecifier::Topic("plain"), ResourceSpecifier::Topic("own")], &opts())
        .await
        .expect("describe");
    let plain = described[0].as_ref().expect("plain");
    let own = described[1].as_ref().expect("own");
    assert_eq!(plain.get("retention.ms").and_then(|e| e.value.as_deref()), Some("3600000"));
    assert_eq!(plain.get("retention.ms").map(|e| &e.source), Some(&rdkafka::admin::ConfigSource::DynamicDefaultBroker));
    assert_eq!(own.get("retention.ms").and_then(|e| e.value.as_deref()), Some("60000"), "the topic's own value wins");
    // min.insync.replicas 3 is in force: with a broker stopped, acks=all is refused.
    let stopping = std::sync::Arc::clone(&warren.cluster);
    let leader = warren.cluster.metadata().partition("plain", 0).expect("p").leader;
    // Not broker 1: the tools below bootstrap through it.
    let other = (2..=3).find(|id| *id != leader).expect("another broker");
    tokio::task::spawn_blocking(move || stopping.stop_broker(other)).await.expect("join").expect("stop");
    let record = broker_core::formats::PlainRecord { key: None, value: Some("x".into()), headers: Vec::new() };
    let batch = broker_core::formats::encode_plain([record], 1).expect("encode");
    let replica = warren.cluster.leader_replica("plain", 0).expect("leader");
    let refused = replica.append_as_leader(&batch, -1).expect_err("two in-sync replicas of three");
    assert_eq!(refused.code, kafka_protocol::ResponseError::NotEnoughReplicas, "{refused}");
    let starting = std::sync::Arc::clone(&warren.cluster);
    tokio::task::spawn_blocking(move || starting.start_broker(other)).await.expect("join").expect("start");
    // Static broker configs and other brokers' entities are refused with the reason.
    let (code, _, stderr) = tool(args(&[
        "configs",
        "--bootstrap-server",
        &b,
        "--entity-type",
        "brokers",
        "--entity-default",
        "--alter",
        "--add-config",
        "num.partitions=3",
    ]))
    .await;
    assert_eq!(code, 1);
    assert!(stderr.contains("num.partitions cannot be changed while warren runs"), "{stderr}");
    let (code, _, stderr) = tool(args(&[
        "configs",
        "--bootstrap-server",
        &b,
        "--broker",
        "1",
        "--alter",
        "--add-config",
        "log.retention.ms=1",
    ]))
    .await;
    assert_eq!(code, 1);
    assert!(stderr.contains("--entity-default"), "{stderr}");
    let (code, _, stderr) = tool(args(&[
        "configs",
        "--bootstrap-server",
        &b,
        "--entity-type",
        "brokers",
        "--entity-default",
        "--alter",
        "--add-config",
        "log.segment.bytes=10",
    ]))
    .await;
    assert_eq!(code, 1);
    assert!(stderr.contains("log.segment.bytes: must be at least 65536"), "{stderr}");
    warren.stop().await.expect("stop");

    let warren = Warren::start(dir.path(), Options::brokers(3)).await.expect("restart");
    assert_eq!(warren.cluster.broker_config().get("log.retention.ms").map(String::as_str), Some("3600000"));
    let described =
        admin(&warren.bootstrap()).describe_configs(&[ResourceSpecifier::Broker(1)], &opts()).await.expect("describe");
    let broker = described[0].as_ref().expect("broker 1");
    let entry = broker.get("log.retention.ms").expect("log.retention.ms");
    assert_eq!(
        (entry.value.as_deref(), &entry.source),
        (Some("3600000"), &rdkafka::admin::ConfigSource::DynamicDefaultBroker)
    );
    assert!(broker.get("num.partitions").expect("num.partitions").is_read_only);
    warren.stop().await.expect("stop");
}
