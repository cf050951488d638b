//! `--demo`: built-in traffic through the embedded broker, so a new user sees every state, chart
//! and alert within two minutes. A producer appends to `demo-orders` (6 partitions) and
//! `demo-payments` (3); five consumer groups commit through the real group coordinator and
//! `__consumer_offsets`, each behaving like one row of Burrow's verdict table:
//! `demo-healthy` keeps up (OK), `demo-lagging` falls further behind every interval (WARN),
//! `demo-stalled` commits the same offsets while the topic grows (STALL, ERR), `demo-stopping`
//! commits for ten seconds and then stops (STOP, ERR, once Burrow's window has moved past it),
//! `demo-rewinding` keeps up, then jumps back and stays there, every three minutes (REWIND, ERR).
//! Two stream jobs run over them (`demo_streams`): order amounts per customer in 10-second
//! tumbling windows, and payments joined with the `demo-customers` table (a GlobalKTable).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use broker_core::Cluster;
use broker_core::NewTopic;
use broker_core::{Committer, OffsetCommit};

const TOPICS: [(&str, i32); 2] = [("demo-orders", 6), ("demo-payments", 3)];
/// The table the demo's join reads: one record per customer.
const CUSTOMERS: &str = "demo-customers";
const COUNTRIES: [&str; 5] = ["DE", "FR", "NL", "SE", "IT"];

/// The demo's stream jobs, as if `[[streams]]` had them.
pub fn demo_streams(cluster: &str) -> Vec<crate::streams::JobSpec> {
    let text = r#"
        [[streams]]
        name = "demo-order-totals"
        source = ["demo-orders"]
        window = { type = "tumbling", size = "10s", grace = "2s" }
        aggregate = "sum"
        field = "/amount"
        sink = "demo-order-totals-10s"

        [[streams]]
        name = "demo-payments-enriched"
        source = ["demo-payments"]
        join = { global_table = "demo-customers", kind = "left" }
        sink = "demo-payments-enriched"
    "#;
    #[derive(serde::Deserialize)]
    struct Jobs {
        streams: Vec<crate::config::StreamsSection>,
    }
    let jobs: Jobs = match toml::from_str(text) {
        Ok(jobs) => jobs,
        Err(e) => {
            tracing::error!(error = %e, "demo: stream jobs do not parse");
            return Vec::new();
        }
    };
    jobs.streams.iter().filter_map(|s| crate::streams::JobSpec::from_section(s, cluster, true, &[]).ok()).collect()
}

/// Runs the demo until the task is aborted.
pub async fn run(cluster: Arc<Cluster>) {
    for (name, partitions) in TOPICS {
        let topic = NewTopic { name: name.into(), partitions: Some(partitions), ..NewTopic::default() };
        if let Err(e) = cluster.create_topic(&topic, false) {
            if e.code != kafka_protocol::ResponseError::TopicAlreadyExists {
                tracing::warn!(topic = name, error = %e, "demo: cannot create topic");
            }
        }
    }
    let topic = NewTopic { name: CUSTOMERS.into(), partitions: Some(3), ..NewTopic::default() };
    match cluster.create_topic(&topic, false) {
        Ok(_) => {
            for n in 0..97 {
                let key = bytes::Bytes::from(format!("customer-{n}"));
                let country = COUNTRIES[n % COUNTRIES.len()];
                let value = bytes::Bytes::from(format!(r#"{{"name":"Customer {n}","country":"{country}"}}"#));
                let partition = crate::tools::producer::key_partition(&key, 3);
                if let Err(e) = cluster.produce_record(CUSTOMERS, partition, Some(key), Some(value), Vec::new()).await {
                    tracing::debug!(error = %e, "demo: cannot write a customer");
                }
            }
        }
        Err(e) if e.code == kafka_protocol::ResponseError::TopicAlreadyExists => {}
        Err(e) => tracing::warn!(topic = CUSTOMERS, error = %e, "demo: cannot create topic"),
    }
    tracing::info!("demo traffic started: topics demo-orders, demo-payments and demo-customers, groups demo-*");
    let producer = tokio::spawn(produce(Arc::clone(&cluster)));
    let consumers = tokio::spawn(consume(Arc::clone(&cluster)));
    let _ = tokio::join!(producer, consumers);
}

/// About 40 records a second, spread over the partitions, with JSON values and a header.
async fn produce(cluster: Arc<Cluster>) {
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut n: u64 = 0;
    loop {
        tick.tick().await;
        for (topic, partitions) in TOPICS {
            for _ in 0..2 {
                n += 1;
                let partition = (n % partitions as u64) as i32;
                let key = bytes::Bytes::from(format!("customer-{}", n % 97));
                let value =
                    bytes::Bytes::from(format!(r#"{{"id":{n},"amount":{}.{:02},"currency":"EUR"}}"#, n % 500, n % 100));
                let headers = vec![("source".to_string(), Some(bytes::Bytes::from_static(b"warren-demo")))];
                if let Err(e) = cluster.produce_record(topic, partition, Some(key), Some(value), headers).await {
                    tracing::debug!(topic, partition, error = %e, "demo: produce failed");
                }
            }
        }
    }
}

/// The five groups, each committing every two seconds in its own way.
async fn consume(cluster: Arc<Cluster>) {
    let mut tick = tokio::time::interval(Duration::from_secs(2));
    let started = tokio::time::Instant::now();
    let mut lagging: BTreeMap<(String, i32), (i64, i64)> = BTreeMap::new();
    let mut stalled: BTreeMap<(String, i32), i64> = BTreeMap::new();
    let mut rewinding: BTreeMap<(String, i32), i64> = BTreeMap::new();
    let mut round: u64 = 0;
    loop {
        tick.tick().await;
        round += 1;
        let elapsed = started.elapsed();
        let mut healthy = Vec::new();
        let (mut lag, mut stall, mut stop, mut rewind) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (topic, partitions) in TOPICS {
            for p in 0..partitions {
                let Some(hw) = cluster.leader_replica(topic, p).map(|r| r.high_watermark()) else {
                    continue;
                };
                let key = (topic.to_string(), p);
                healthy.push(commit(topic, p, hw));
                // Half the producer's pace: lag grows every interval.
                let (l, seen) = lagging.entry(key.clone()).or_insert((hw / 2, hw));
                *l = (*l + (hw - *seen) / 2).min(hw);
                *seen = hw;
                lag.push(commit(topic, p, *l));
                // The same offset forever, once the topic has moved past it.
                let s = *stalled.entry(key.clone()).or_insert(hw);
                stall.push(commit(topic, p, s));
                if elapsed < Duration::from_secs(10) {
                    stop.push(commit(topic, p, hw));
                }
                // A three-minute cycle: keep up for 30 s, then jump back to half and stay there
                // (a consumer re-reading a stretch of history). The jump is an unrecovered rewind,
                // REWIND until it leaves Burrow's window.
                let r = rewinding.entry(key).or_insert(0);
                *r = match round % 90 {
                    0..=14 => (hw - 50).max(0),
                    15 => *r / 2,
                    _ => *r,
                };
                rewind.push(commit(topic, p, *r));
            }
        }
        for (group, commits) in [
            ("demo-healthy", healthy),
            ("demo-lagging", lag),
            ("demo-stalled", stall),
            ("demo-stopping", stop),
            ("demo-rewinding", rewind),
        ] {
            if commits.is_empty() {
                continue;
            }
            for result in cluster.commit_offsets(None, group, &Committer::standalone(), commits).await {
                if let Err(e) = result {
                    tracing::debug!(group, error = %e, "demo: commit failed");
                }
            }
        }
    }
}

fn commit(topic: &str, partition: i32, offset: i64) -> OffsetCommit {
    OffsetCommit { topic: topic.to_string(), partition, offset, leader_epoch: -1, metadata: Some("warren demo".into()) }
}
