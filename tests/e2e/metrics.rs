//! `/metrics` on a live warren: every kafka_exporter series with its labels (and its -1 for
//! partitions a group never committed), kafka-lag-exporter's lag seconds, Burrow's status,
//! warren's own request counters, and Prometheus' own linter (`promtool check metrics`).

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use broker_core::NewTopic;
use broker_core::{Committer, OffsetCommit};
use warren_tests::{http, Options, Warren};

use crate::support::{produce, producer};

/// Lines of `text` for `name` (exactly that family, not a longer name).
fn series<'a>(text: &'a str, name: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(&format!("{name}{{")) || l.starts_with(&format!("{name} "))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_carry_kafka_exporter_names_and_pass_promtool() {
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = "[monitor]\nsample_interval = \"1s\"";
    let warren = Warren::start(dir.path(), Options::brokers(3).with_toml(toml)).await.expect("start");
    let cluster = warren.cluster.clone();
    cluster
        .create_topic(&NewTopic { name: "metered".into(), partitions: Some(2), ..NewTopic::default() }, false)
        .expect("topic");
    produce(&producer(&warren.bootstrap(), &[]), "metered", 0..100).await;
    // One partition committed, one never: kafka_exporter reports -1 for the second.
    let commit = OffsetCommit { topic: "metered".into(), partition: 0, offset: 10, leader_epoch: -1, metadata: None };
    let results = cluster.commit_offsets(None, "metered-g", &Committer::standalone(), vec![commit]).await;
    assert!(results.iter().all(Result::is_ok));
    let mut text = String::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !text.contains("consumergroup=\"metered-g\"") && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        text = http(warren.http, "GET", "/metrics", None, &[]).await.expect("http").2;
    }
    let ready = text.contains("consumergroup=\"metered-g\"");
    assert!(ready, "the group reached /metrics:\n{text}");

    for (name, label) in [
        ("kafka_brokers", ""),
        ("kafka_broker_info", "address="),
        ("kafka_topic_partitions", "topic=\"metered\""),
        ("kafka_topic_partition_current_offset", "partition=\"0\""),
        ("kafka_topic_partition_oldest_offset", "topic=\"metered\""),
        ("kafka_topic_partition_leader", "topic=\"metered\""),
        ("kafka_topic_partition_replicas", "topic=\"metered\""),
        ("kafka_topic_partition_in_sync_replica", "topic=\"metered\""),
        ("kafka_topic_partition_leader_is_preferred", "topic=\"metered\""),
        ("kafka_topic_partition_under_replicated_partition", "topic=\"metered\""),
        ("kafka_consumergroup_current_offset", "consumergroup=\"metered-g\""),
        ("kafka_consumergroup_current_offset_sum", "consumergroup=\"metered-g\""),
        ("kafka_consumergroup_lag", "consumergroup=\"metered-g\""),
        ("kafka_consumergroup_lag_sum", "consumergroup=\"metered-g\""),
        ("kafka_consumergroup_members", "consumergroup=\"metered-g\""),
        ("kafka_consumergroup_group_lag_seconds", "group=\"metered-g\""),
        ("kafka_consumergroup_group_max_lag_seconds", "cluster_name=\"local\""),
        ("burrow_kafka_consumer_status", "consumer_group=\"metered-g\""),
        ("warren_requests_total", "api=\"Produce\""),
        ("warren_request_duration_seconds_bucket", "le=\"+Inf\""),
        ("warren_bytes_in_total", "broker="),
        ("warren_replica_lag_records", "broker="),
        ("warren_sampler_tick_seconds", "cluster_name=\"local\""),
        ("warren_database_bytes", ""),
    ] {
        let lines = series(&text, name);
        assert!(lines.iter().any(|l| l.contains(label)), "{name} with {label}: {lines:?}");
    }
    assert_eq!(series(&text, "kafka_brokers"), vec!["kafka_brokers 3"]);
    let offset = |p: &str| {
        series(&text, "kafka_consumergroup_current_offset")
            .into_iter()
            .find(|l| l.contains("consumergroup=\"metered-g\"") && l.contains(&format!("partition=\"{p}\"")))
            .and_then(|l| l.rsplit(' ').next())
            .map(str::to_string)
    };
    assert_eq!(offset("0").as_deref(), Some("10"));
    assert_eq!(offset("1").as_deref(), Some("-1"), "kafka_exporter's -1 for a partition never committed");
    let lag1 = series(&text, "kafka_consumergroup_lag")
        .into_iter()
        .find(|l| l.contains("metered-g") && l.contains("partition=\"1\""));
    assert!(lag1.is_some_and(|l| l.ends_with(" -1")), "{lag1:?}");

    // Prometheus' linter: no parse errors; the only notes are about names kept for compatibility
    // (kafka_exporter's `_sum` gauges, Burrow's `_total` gauge).
    let mut child = Command::new("promtool")
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("promtool (installed by .ci/run)");
    child.stdin.take().expect("stdin").write_all(text.as_bytes()).expect("write");
    let out = child.wait_with_output().expect("promtool");
    let report = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    let allowed =
        ["kafka_consumergroup_current_offset_sum ", "kafka_consumergroup_lag_sum ", "burrow_kafka_consumer_lag_total "];
    let problems: Vec<&str> =
        report.lines().filter(|l| !l.trim().is_empty() && !allowed.iter().any(|a| l.starts_with(a))).collect();
    assert!(problems.is_empty(), "promtool: {report}");
    assert!(matches!(out.status.code(), Some(0) | Some(3)), "promtool exit {:?}: {report}", out.status.code());
    warren.stop().await.expect("stop");
}
