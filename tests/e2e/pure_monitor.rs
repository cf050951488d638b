//! `[cluster] embedded = false`: warren as a pure monitor of external clusters reached only over
//! the Kafka protocol. A second warren process is the external cluster; a third address refuses
//! connections, and its cluster shows as unreachable with the error while the other keeps going.

use std::time::{Duration, Instant};

use serde_json::Value;
use warren_tests::{free_ports, http, MonitorOnly, WarrenProcess};

use crate::support::{produce, producer};

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let (status, _, body) = http(addr, "GET", path, None, &[]).await.expect("http");
    (status, body)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pure_monitor_watches_external_clusters_and_reports_the_unreachable_one() {
    let external_dir = tempfile::tempdir().expect("tempdir");
    let port = free_ports(3);
    let external = WarrenProcess::spawn(external_dir.path(), 3, port, &[("WARREN_CLUSTER__DEFAULT_PARTITIONS", "2")])
        .expect("external warren");
    let bootstrap = external.bootstrap();
    produce(&producer(&bootstrap, &[]), "remote", 0..200).await;
    // A group commits through the protocol (rdkafka), behind by some records.
    let b = bootstrap.clone();
    tokio::task::spawn_blocking(move || crate::groups::consume_and_commit(&b, "remote-g", "remote", 120))
        .await
        .expect("commit");

    let dead = free_ports(1);
    let toml = format!(
        "[cluster]\nembedded = false\n[monitor]\nsample_interval = \"1s\"\n\
         [[clusters]]\nname = \"prod\"\nbootstrap_servers = [\"{bootstrap}\"]\n\
         [[clusters]]\nname = \"gone\"\nbootstrap_servers = [\"127.0.0.1:{dead}\"]\n"
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let monitor = MonitorOnly::start(dir.path(), &toml).await.expect("monitor");
    let deadline = Instant::now() + Duration::from_secs(30);
    let group = loop {
        let (status, body) = get(monitor.http, "/api/v1/groups/remote-g?cluster=prod").await;
        if status == 200 {
            break serde_json::from_str::<Value>(&body).expect("json");
        }
        assert!(Instant::now() < deadline, "the external group never showed up: {status} {body}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(group["cluster"], "prod");
    assert_eq!(group["total_lag"], 80, "200 records, 120 committed: {group}");
    // What the external warren says about itself matches.
    let deadline = Instant::now() + Duration::from_secs(15);
    let own = loop {
        let (status, body) = get(external.http, "/api/v1/groups/remote-g").await;
        if status == 200 {
            break serde_json::from_str::<Value>(&body).expect("json");
        }
        assert!(Instant::now() < deadline, "the external warren never reported its group");
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    assert_eq!(own["total_lag"], group["total_lag"]);

    // The unreachable cluster is shown as such, with the reason, and did not hold up "prod".
    let (_, overview) = get(monitor.http, "/?cluster=gone").await;
    assert!(overview.contains("Cannot sample this cluster"), "{overview}");
    let (_, burrow) = get(monitor.http, "/v3/kafka").await;
    let burrow: Value = serde_json::from_str(&burrow).expect("json");
    assert_eq!(burrow["clusters"], serde_json::json!(["gone", "prod"]));
    let (_, prod) = get(monitor.http, "/v3/kafka/prod").await;
    assert!(prod.contains(&bootstrap), "Burrow's module lists the bootstrap servers: {prod}");

    // An external cluster gets the same pages and JSON as an embedded one; actions that only an
    // embedded cluster can do say why not.
    let (status, body) = get(monitor.http, "/api/v1/cluster?cluster=prod").await;
    assert_eq!(status, 200, "{body}");
    let cluster: Value = serde_json::from_str(&body).expect("json");
    assert_eq!(cluster["brokers"].as_array().map(Vec::len), Some(3), "{cluster}");
    assert!(cluster["brokers"].as_array().expect("brokers").iter().all(|b| b["status"] == "up"), "{cluster}");
    let (status, topic) = get(monitor.http, "/api/v1/topics/remote?cluster=prod").await;
    assert_eq!(status, 200, "{topic}");
    let (status, page) = get(monitor.http, "/brokers?cluster=prod").await;
    assert_eq!(status, 200);
    assert!(page.contains("data-broker=\"3\"") && !page.contains(">Stop<"), "{page}");
    let (status, page) = get(monitor.http, "/topics/remote/messages?cluster=prod&partition=0&offset=0&limit=5").await;
    assert_eq!(status, 200);
    assert_eq!(page.matches("class=\"record\"").count(), 5, "read over the protocol: {page}");
    let (status, _, body) =
        http(monitor.http, "POST", "/api/v1/brokers/1/stop?cluster=prod", None, &[]).await.expect("http");
    assert_eq!(status, 409);
    assert!(body.contains("external cluster"), "{body}");
    let (status, page) = get(monitor.http, "/brokers?cluster=nope").await;
    assert_eq!(status, 404);
    assert!(page.contains("no monitored cluster named"), "{page}");
    let (status, metrics) = get(monitor.http, "/metrics").await;
    assert_eq!(status, 200);
    assert!(metrics.contains("kafka_consumergroup_lag{consumergroup=\"remote-g\""), "per-cluster series");
    assert!(metrics.contains("cluster=\"prod\""), "a cluster label with several clusters");
    assert!(metrics.contains("warren_cluster_reachable{cluster_name=\"gone\"} 0"), "{metrics}");
    monitor.stop().await.expect("stop");
}

/// A leader of more partitions than a broker takes in one request (warren refuses more than
/// `max_partitions_per_request` entries) is read in several requests: every partition's offsets
/// come back, none is lost to a closed connection.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_of_many_partitions_go_in_requests_a_broker_accepts() {
    let dir = tempfile::tempdir().expect("tempdir");
    let options = warren_tests::Options::brokers(1).with_toml("[broker]\nmax_partitions_per_request = 60");
    let warren = warren_tests::Warren::start(dir.path(), options).await.expect("warren");
    // Two topics of 60 partitions (what one request may create), led by the one broker.
    let mut keys = Vec::new();
    for name in ["wide-a", "wide-b"] {
        let topic = broker_core::NewTopic { name: name.into(), partitions: Some(60), ..Default::default() };
        warren.cluster.create_topic(&topic, false).expect("topic");
        for p in 0..60 {
            warren.cluster.produce_record(name, p, None, Some(bytes::Bytes::from("x")), vec![]).await.expect("produce");
            keys.push((name.to_string(), p));
        }
    }
    let requests = |cluster: &broker_core::Cluster| {
        cluster.stats.apis().iter().find(|a| a.api_key == 2).map_or(0, |a| a.requests)
        // ListOffsets
    };
    let before = requests(&warren.cluster);
    let client = |per_request| {
        let mut config = server::kafka::ClientConfig::new([warren.bootstrap()]);
        config.partitions_per_request = per_request;
        config.retry_timeout = Duration::from_secs(1);
        server::kafka::Client::new(config)
    };
    let ends = client(50).list_offsets(&keys, server::kafka::OffsetSpec::Latest).await;
    assert_eq!(ends.len(), 120);
    assert!(ends.values().all(|r| r.as_ref().is_ok_and(|end| *end == 1)), "{ends:?}");
    assert_eq!(requests(&warren.cluster) - before, 3, "120 partitions, 50 per request");
    // In one request the broker refuses them (and closes the connection): what chunking avoids.
    let ends = client(1000).list_offsets(&keys, server::kafka::OffsetSpec::Latest).await;
    assert!(ends.values().all(Result::is_err), "one request of 120 entries is refused");
    warren.stop().await.expect("stop");
}
