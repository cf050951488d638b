//! Crashes at the worst moment, made exact: a run writes its outputs and changelog and dies
//! before it commits the offsets; the next run commits a first part of the replay and dies too;
//! the third must end with the right latest value per window key, at least once and exactly
//! once. Against a real embedded broker, over the protocol.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use broker_core::{ClusterConfig, Embedded, NewTopic};
use bytes::Bytes;

use super::{Outputs, Run};
use crate::config::StreamsSection;
use crate::kafka::{Client, ClientConfig, OffsetSpec, ProduceRecord};
use crate::streams::{JobSpec, JobState};

const RECORDS: i64 = 300;

async fn cluster() -> (Embedded, tempfile::TempDir, String) {
    let dir = tempfile::tempdir().expect("tmp");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr").to_string();
    let config = ClusterConfig::new(dir.path().to_path_buf(), 1);
    let embedded = Embedded::start(config, vec![listener]).expect("cluster");
    (embedded, dir, addr)
}

fn spec(name: &str, guarantee: &str, rekey: bool) -> JobSpec {
    let key = if rekey { "key = \"/user\"\n" } else { "" };
    let section: StreamsSection = toml::from_str(&format!(
        "name = \"{name}\"\nsource = [\"in\"]\nwindow = {{ type = \"tumbling\", size = \"100ms\", grace = \"0s\" }}\n\
         sink = \"{name}-out\"\nprocessing_guarantee = \"{guarantee}\"\n{key}"
    ))
    .expect("toml");
    JobSpec::from_section(&section, "local", true, &[]).expect("spec")
}

/// Runs cycles until every input is processed and committed: the source to its end, then a
/// cycle with nothing left to do (the repartition topic drained too).
async fn drain(run: &mut Run) {
    for _ in 0..200 {
        let busy = run.cycle().await.expect("cycle");
        let committed = run.client.offset_fetch(&run.job.spec.name).await.expect("offsets");
        if !busy && committed.get(&("in".to_string(), 0)) == Some(&RECORDS) {
            return;
        }
    }
    panic!("the job did not catch up");
}

/// The latest count per (key, window start) in the sink.
async fn latest(client: &Client, topic: &str) -> BTreeMap<(String, i64), u64> {
    let end = client.list_offsets(&[(topic.to_string(), 0)], OffsetSpec::Latest).await;
    let end = *end.values().next().expect("end").as_ref().expect("end offset");
    let mut out = BTreeMap::new();
    let mut position = 0;
    while position < end {
        let fetched =
            client.fetch(&BTreeMap::from([((topic.to_string(), 0), position)]), Duration::ZERO, 1 << 20).await;
        let p = fetched.into_values().next().expect("partition").expect("fetch");
        for r in p.records {
            let key: serde_json::Value = serde_json::from_slice(r.key.as_deref().expect("key")).expect("json");
            let value: serde_json::Value = serde_json::from_slice(r.value.as_deref().expect("value")).expect("json");
            let k = (key["key"].as_str().expect("k").to_string(), key["start"].as_i64().expect("start"));
            out.insert(k, value["count"].as_u64().expect("count"));
        }
        position = p.next_offset;
    }
    out
}

async fn crash_between_write_and_commit(guarantee: &str, rekey: bool) {
    let (embedded, _dir, addr) = cluster().await;
    let topic = NewTopic { name: "in".into(), partitions: Some(1), ..NewTopic::default() };
    embedded.cluster.create_topic(&topic, false).expect("topic");
    let client = Client::new(ClientConfig::new([addr.clone()]));
    let now = crate::monitor::now_ms() / 1000 * 1000;
    let mut want: BTreeMap<(String, i64), u64> = BTreeMap::new();
    // Ten batches: a small fetch takes one at a time.
    for batch in 0..10 {
        let records: Vec<ProduceRecord> = (batch * RECORDS / 10..(batch + 1) * RECORDS / 10)
            .map(|i| {
                let (key, ts) = (format!("k{}", i % 5), now + i);
                *want.entry((key.clone(), ts - ts % 100)).or_default() += 1;
                // Re-keyed jobs take the same key from the value.
                let value = format!(r#"{{"user":"{key}"}}"#);
                ProduceRecord {
                    key: Some(Bytes::from(format!("record-{i}"))).filter(|_| rekey).or(Some(Bytes::from(key))),
                    value: Some(Bytes::from(value)),
                    headers: Vec::new(),
                    timestamp_ms: ts,
                }
            })
            .collect();
        let batches = BTreeMap::from([(0, records)]);
        client.produce("in", &batches, -1, crate::kafka::Compression::None).await.expect("produce");
    }
    let job = Arc::new(JobState::new(spec(&format!("crash-{guarantee}-{rekey}"), guarantee, rekey)));
    let sink = job.spec.sink.clone();

    // The first run processes everything and writes its outputs, then dies before committing.
    let mut first = Run::setup(Arc::clone(&job), ClientConfig::new([addr.clone()])).await.expect("setup");
    let out = first.poll_and_process().await.expect("process").expect("records to process");
    first.write(out).await.expect("write");
    drop(first);

    // The second run commits its first batch of the replay, then dies: what the first run wrote
    // past that commit must not count at the third start.
    let mut second = Run::setup(Arc::clone(&job), ClientConfig::new([addr.clone()])).await.expect("restart");
    second.fetch_bytes = 1;
    let mut committed = 0;
    for _ in 0..20 {
        second.cycle().await.expect("cycle");
        let offsets = second.client.offset_fetch(&job.spec.name).await.expect("offsets");
        committed = offsets.get(&("in".to_string(), 0)).copied().unwrap_or(0);
        if committed > 0 {
            break;
        }
    }
    assert!(committed > 0 && committed < RECORDS, "a part of the input committed: {committed}");
    drop(second);

    let mut third = Run::setup(Arc::clone(&job), ClientConfig::new([addr.clone()])).await.expect("restart");
    drain(&mut third).await;
    let mut reader = ClientConfig::new([addr.clone()]);
    reader.read_committed = true;
    let got = latest(&Client::new(reader), &sink).await;
    assert_eq!(got, want, "{guarantee}, re-keyed {rekey}: latest count per window after the crash");
    embedded.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_neither_loses_nor_double_counts_after_a_crash_before_the_commit() {
    crash_between_write_and_commit("at_least_once", false).await;
}

/// The replayed re-keying writes its records into the repartition topic twice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn at_least_once_counts_a_replayed_rekeying_once() {
    crash_between_write_and_commit("at_least_once", true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_once_aborts_what_a_crash_left_open() {
    crash_between_write_and_commit("exactly_once_v2", false).await;
    crash_between_write_and_commit("exactly_once_v2", true).await;
}

/// A cycle's output, however large, is written in batches under the cap, in order.
#[test]
fn outputs_are_cut_into_batches_under_the_cap() {
    let mut out = Outputs::default();
    for i in 0..3_000u32 {
        out.push("sink", 0, None, Some(Bytes::from(vec![b'x'; 500])), i64::from(i));
    }
    out.push("other", 1, None, Some(Bytes::from_static(b"small")), 0);
    out.push("huge", 0, None, Some(Bytes::from(vec![b'y'; 2 << 20])), 0);
    let rounds = out.into_rounds(64 * 1024);
    let sink: Vec<i64> =
        rounds.iter().filter_map(|r| r.get(&("sink".to_string(), 0))).flatten().map(|r| r.timestamp_ms).collect();
    assert_eq!(sink, (0..3_000).collect::<Vec<i64>>(), "every record once, in order");
    for round in &rounds {
        for ((topic, _), batch) in round {
            let bytes: usize = batch.iter().map(super::record_bytes).sum();
            assert!(bytes <= 64 * 1024 || batch.len() == 1, "{topic}: {bytes} bytes in {} records", batch.len());
        }
    }
    assert!(rounds.len() > 20, "{} rounds", rounds.len());
}
