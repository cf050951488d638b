//! Stream jobs end to end: records with chosen timestamps (out of order, one late beyond the
//! grace) through every window type, compared with a reference computed here from Kafka
//! Streams' definitions; updates against final results; kill -9 in the middle of processing
//! (at least once and exactly once) and the state restored from the changelog; a KTable join
//! that sees the table as of each stream record; the co-partitioning error; a GlobalKTable join
//! across different partition counts; the pages, the API and `/metrics`.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::error::KafkaError;
use rdkafka::message::Message;
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use warren_tests::{http, Options, Warren, WarrenProcess};

/// Now, aligned to every window size used here: records older than the retention (7 days) would
/// be deleted under the test's feet.
fn t0() -> i64 {
    static T0: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *T0.get_or_init(|| {
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis();
        now as i64 / 100_000 * 100_000
    })
}
const WAIT: Duration = Duration::from_secs(120);

/// One record read back: key, value, timestamp.
#[derive(Debug, Clone)]
pub struct Out {
    pub key: Vec<u8>,
    pub value: Option<Vec<u8>>,
    pub timestamp: i64,
}

async fn create_topics(bootstrap: &str, topics: &[(&str, i32)]) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap).create().expect("admin");
    let new: Vec<NewTopic> = topics.iter().map(|(t, p)| NewTopic::new(t, *p, TopicReplication::Fixed(1))).collect();
    for result in admin.create_topics(&new, &AdminOptions::new()).await.expect("create topics") {
        result.expect("topic created");
    }
}

fn producer(bootstrap: &str) -> FutureProducer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("enable.idempotence", "true")
        .set("linger.ms", "2")
        .set("message.timeout.ms", "120000")
        .create()
        .expect("producer")
}

/// Produces `(key, value, timestamp)` in order, each acknowledged before the next.
async fn produce_in_order(p: &FutureProducer, topic: &str, records: &[(&str, String, i64)]) {
    for (key, value, ts) in records {
        p.send(FutureRecord::to(topic).key(*key).payload(value).timestamp(*ts), Duration::from_secs(30))
            .await
            .expect("delivered");
    }
}

/// Everything in `topic` up to each partition's end, read with `isolation`. Blocking.
pub fn read_topic(bootstrap: &str, topic: &str, isolation: &str) -> Vec<Out> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", format!("streams-reader-{topic}"))
        .set("isolation.level", isolation)
        .set("enable.partition.eof", "true")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let metadata = consumer.fetch_metadata(Some(topic), Duration::from_secs(10)).expect("metadata");
    let partitions = metadata.topics().first().map_or(0, |t| t.partitions().len()) as i32;
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition_offset(topic, p, Offset::Beginning).expect("tpl");
    }
    consumer.assign(&tpl).expect("assign");
    let mut out = Vec::new();
    let mut at_end = BTreeSet::new();
    let deadline = Instant::now() + Duration::from_secs(60);
    while at_end.len() < partitions as usize {
        assert!(Instant::now() < deadline, "reading {topic} did not reach its end");
        match consumer.poll(Duration::from_millis(200)) {
            Some(Ok(m)) => {
                at_end.remove(&m.partition());
                out.push(Out {
                    key: m.key().unwrap_or_default().to_vec(),
                    value: m.payload().map(<[u8]>::to_vec),
                    timestamp: m.timestamp().to_millis().unwrap_or(-1),
                });
            }
            Some(Err(KafkaError::PartitionEOF(p))) => {
                at_end.insert(p);
            }
            Some(Err(e)) => panic!("consumer error: {e}"),
            None => {}
        }
    }
    out
}

async fn read(bootstrap: &str, topic: &str, isolation: &str) -> Vec<Out> {
    let (b, t, i) = (bootstrap.to_string(), topic.to_string(), isolation.to_string());
    tokio::task::spawn_blocking(move || read_topic(&b, &t, &i)).await.expect("reader")
}

async fn job(http_addr: std::net::SocketAddr, name: &str) -> Value {
    let (status, _, body) = http(http_addr, "GET", &format!("/api/v1/streams/{name}"), None, &[]).await.expect("api");
    assert_eq!(status, 200, "{body}");
    serde_json::from_str(&body).expect("json")
}

/// Polls the job's API until `pred` holds; the last answer either way.
async fn job_until(http_addr: std::net::SocketAddr, name: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let j = job(http_addr, name).await;
        if pred(&j) || Instant::now() > deadline {
            return j;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// (key, start, end) of a JSON window key.
fn json_window(key: &[u8]) -> (String, i64, i64) {
    let v: Value = serde_json::from_slice(key).expect("json key");
    (v["key"].as_str().expect("key").to_string(), v["start"].as_i64().expect("start"), v["end"].as_i64().expect("end"))
}

type Windows = BTreeMap<(String, i64, i64), (u64, i64)>;

/// Kafka Streams' windows of the accepted records, computed from the definitions: count and the
/// latest timestamp per (key, start, end).
fn reference(kind: &str, records: &[(&str, i64)]) -> Windows {
    let mut out: Windows = BTreeMap::new();
    let mut add = |key: &str, start: i64, end: i64, ts: i64| {
        let e = out.entry((key.to_string(), start, end)).or_insert((0, i64::MIN));
        e.0 += 1;
        e.1 = e.1.max(ts);
    };
    let mut by_key: BTreeMap<&str, Vec<i64>> = BTreeMap::new();
    for (k, ts) in records {
        by_key.entry(k).or_default().push(*ts);
    }
    for (key, mut times) in by_key {
        times.sort_unstable();
        match kind {
            "tumbling" => times.iter().for_each(|&t| add(key, t - t % 10_000, t - t % 10_000 + 10_000, t)),
            "hopping" => {
                for &t in &times {
                    let mut start = (t - 10_000 + 5_000).max(0) / 5_000 * 5_000;
                    while start <= t {
                        add(key, start, start + 10_000, t);
                        start += 5_000;
                    }
                }
            }
            "sliding" => {
                let d = 10_000;
                let mut windows = BTreeSet::new();
                for &t in &times {
                    windows.insert((t - d, t));
                    if times.iter().any(|&u| u > t && u <= t + 1 + d) {
                        windows.insert((t + 1, t + 1 + d));
                    }
                }
                for (s, e) in windows {
                    for &t in times.iter().filter(|&&t| t >= s && t <= e) {
                        add(key, s, e, t);
                    }
                }
            }
            "session" => {
                let gap = 5_000;
                let mut start = times[0];
                let mut last = times[0];
                let mut members = vec![times[0]];
                for &t in &times[1..] {
                    if t - last > gap {
                        members.iter().for_each(|&m| add(key, start, last, m));
                        members.clear();
                        start = t;
                    }
                    members.push(t);
                    last = t;
                }
                members.iter().for_each(|&m| add(key, start, last, m));
            }
            other => panic!("unknown window kind {other}"),
        }
    }
    out
}

/// The records of the windowed scenario, in arrival order (relative to t0): an out-of-order
/// record inside the grace (a@9800), one beyond it (a@5000), and a far-future record (z) that
/// closes every other window.
const ARRIVALS: [(&str, i64); 9] = [
    ("a", 1_000),
    ("a", 3_000),
    ("b", 4_000),
    ("a", 11_500),
    ("a", 9_800),
    ("b", 12_500),
    ("a", 25_000),
    ("a", 5_000),
    ("z", 100_000),
];
const LATE: (&str, i64) = ("a", 5_000);

fn windowed_jobs() -> String {
    let mut toml = String::from("[monitor]\nsample_interval = \"1s\"\n");
    for (name, window, extra) in [
        ("tumbling", r#"{ type = "tumbling", size = "10s", grace = "2s" }"#, "emit = \"final\""),
        ("hopping", r#"{ type = "hopping", size = "10s", advance = "5s", grace = "2s" }"#, "emit = \"final\""),
        ("sliding", r#"{ type = "sliding", difference = "10s", grace = "2s" }"#, "emit = \"final\""),
        ("session", r#"{ type = "session", gap = "5s", grace = "2s" }"#, "emit = \"final\"\nkey_format = \"windowed\""),
        ("updates", r#"{ type = "tumbling", size = "10s", grace = "2s" }"#, "emit = \"updates\""),
        ("session-updates", r#"{ type = "session", gap = "5s", grace = "2s" }"#, ""),
    ] {
        toml.push_str(&format!(
            "[[streams]]\nname = \"w-{name}\"\nsource = [\"events\"]\nwindow = {window}\naggregate = \"count\"\n\
             sink = \"out-{name}\"\n{extra}\n"
        ));
    }
    toml
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_window_type_matches_kafka_streams_definitions() {
    let dir = tempfile::tempdir().expect("tmp");
    let warren = Warren::start(dir.path(), Options::brokers(1).with_toml(&windowed_jobs())).await.expect("start");
    let b = warren.bootstrap();
    create_topics(&b, &[("events", 1)]).await;
    let p = producer(&b);
    let records: Vec<(&str, String, i64)> =
        ARRIVALS.iter().map(|(k, t)| (*k, format!(r#"{{"kind":"click","at":{t}}}"#), t0() + t)).collect();
    produce_in_order(&p, "events", &records).await;
    let accepted: Vec<(&str, i64)> =
        ARRIVALS.iter().filter(|r| **r != LATE && r.0 != "z").map(|(k, t)| (*k, t0() + t)).collect();

    for kind in ["tumbling", "hopping", "sliding", "session"] {
        let name = format!("w-{kind}");
        let j = job_until(warren.http, &name, |j| j["records_in"] == ARRIVALS.len()).await;
        assert_eq!(j["status"], "RUNNING", "{j}");
        assert_eq!(j["records_in"], ARRIVALS.len(), "{j}");
        assert_eq!(j["late_records_dropped"], 1, "{kind}: the record beyond the grace is counted: {j}");
        let want = reference(kind, &accepted);
        // Final results: each window once, when stream time passes its end + grace.
        let deadline = Instant::now() + WAIT;
        let got = loop {
            let sink = read(&b, &format!("out-{kind}"), "read_uncommitted").await;
            if sink.len() >= want.len() || Instant::now() > deadline {
                break sink;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        let mut windows: Windows = BTreeMap::new();
        for r in &got {
            let window = if kind == "session" {
                // Kafka Streams' session-windowed bytes: key, end, start.
                let n = r.key.len() - 16;
                let end = i64::from_be_bytes(r.key[n..n + 8].try_into().expect("8"));
                let start = i64::from_be_bytes(r.key[n + 8..].try_into().expect("8"));
                (String::from_utf8(r.key[..n].to_vec()).expect("utf8"), start, end)
            } else {
                json_window(&r.key)
            };
            let value: Value = serde_json::from_slice(r.value.as_deref().expect("value")).expect("json value");
            let count = value["count"].as_u64().expect("count");
            assert!(windows.insert(window.clone(), (count, r.timestamp)).is_none(), "{kind}: {window:?} emitted twice");
        }
        assert_eq!(windows, want, "{kind}: final windows (count, timestamp)");
    }

    // emit = updates: the latest value per window key is the final result (z's window is open).
    let want = reference("tumbling", &accepted);
    let deadline = Instant::now() + WAIT;
    loop {
        let sink = read(&b, "out-updates", "read_uncommitted").await;
        let mut latest: Windows = BTreeMap::new();
        for r in &sink {
            let w = json_window(&r.key);
            let value: Value = serde_json::from_slice(r.value.as_deref().expect("value")).expect("json");
            latest.insert(w, (value["count"].as_u64().expect("count"), r.timestamp));
        }
        latest.retain(|(k, _, _), _| k != "z");
        if latest == want {
            break;
        }
        assert!(Instant::now() < deadline, "updates: latest per window {latest:?}, want {want:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // Sessions with emit = updates: a merged-away session's key gets a tombstone, so the latest
    // value per key is the final sessions (a@11500 alone, then merged into [9800, 11500]).
    let want = reference("session", &accepted);
    let deadline = Instant::now() + WAIT;
    loop {
        let sink = read(&b, "out-session-updates", "read_uncommitted").await;
        let mut latest: Windows = BTreeMap::new();
        let mut tombstones = 0;
        for r in &sink {
            let w = json_window(&r.key);
            match r.value.as_deref() {
                Some(v) => {
                    let value: Value = serde_json::from_slice(v).expect("json");
                    latest.insert(w, (value["count"].as_u64().expect("count"), r.timestamp));
                }
                None => {
                    tombstones += 1;
                    latest.remove(&w);
                }
            }
        }
        latest.retain(|(k, _, _), _| k != "z");
        if latest == want && tombstones >= 1 {
            break;
        }
        assert!(Instant::now() < deadline, "session updates: {latest:?} ({tombstones} tombstones), want {want:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }

    let j = job(warren.http, "w-updates").await;
    assert_eq!(j["late_records_dropped"], 1, "{j}");
    assert_eq!(j["open_windows"], 1, "only z's window stays open: {j}");
    assert_eq!(j["stream_time"]["0"], t0() + 100_000, "{j}");

    // Reset, Kafka's way: refused while running; once stopped, the group's offsets and the
    // internal topics go, and the next start reads the inputs again from the beginning.
    let (status, _, body) =
        http(warren.http, "POST", "/api/v1/streams/w-updates/reset", None, &[]).await.expect("reset");
    assert_eq!(status, 409, "{body}");
    let (status, _, body) = http(warren.http, "POST", "/api/v1/streams/w-updates/stop", None, &[]).await.expect("stop");
    assert_eq!(status, 200, "{body}");
    job_until(warren.http, "w-updates", |j| j["status"] == "STOPPED").await;
    let (status, _, body) =
        http(warren.http, "POST", "/api/v1/streams/w-updates/reset", None, &[]).await.expect("reset");
    assert_eq!(status, 200, "{body}");
    assert!(!warren.cluster.has_topic("w-updates-aggregate-store-changelog"), "the changelog is deleted");
    let (status, _, body) =
        http(warren.http, "POST", "/api/v1/streams/w-updates/start", None, &[]).await.expect("start");
    assert_eq!(status, 200, "{body}");
    let j = job_until(warren.http, "w-updates", |j| j["records_in"] == 2 * ARRIVALS.len()).await;
    assert_eq!(j["records_in"], 2 * ARRIVALS.len(), "read again from the beginning: {j}");
    assert_eq!(j["late_records_dropped"], 2, "with fresh state the same record is late again: {j}");
    let (status, _, _) = http(warren.http, "POST", "/api/v1/streams/nope/stop", None, &[]).await.expect("404");
    assert_eq!(status, 404);

    // The pages, the API list and /metrics show the jobs.
    let (status, _, page) = http(warren.http, "GET", "/streams", None, &[]).await.expect("page");
    assert_eq!(status, 200);
    assert!(page.contains("w-tumbling") && page.contains("RUNNING"), "{page}");
    let (status, _, page) = http(warren.http, "GET", "/streams/w-session", None, &[]).await.expect("page");
    assert_eq!(status, 200);
    assert!(page.contains("session gap 5000 ms") && page.contains("out-session"), "{page}");
    let (status, _, _) = http(warren.http, "GET", "/streams/nope", None, &[]).await.expect("page");
    assert_eq!(status, 404);
    let (_, _, metrics) = http(warren.http, "GET", "/metrics", None, &[]).await.expect("metrics");
    assert!(metrics.contains(r#"warren_streams_records_total{app="w-tumbling",direction="in"} 9"#), "{metrics}");
    assert!(metrics.contains(r#"warren_streams_late_records_dropped_total{app="w-sliding"} 1"#), "{metrics}");
    let stream_time =
        format!(r#"warren_streams_stream_time_seconds{{app="w-hopping",partition="0"}} {}"#, (t0() + 100_000) / 1000);
    assert!(metrics.contains(&stream_time), "{metrics}");
    // The job's group is a group like any other, with a Burrow verdict once sampled.
    let j = job_until(warren.http, "w-tumbling", |j| j["lag"] == 0).await;
    assert_eq!(j["lag"], 0, "{j}");
    assert_eq!(j["group"], "w-tumbling");
    warren.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn joins_see_the_table_as_of_each_record_and_check_co_partitioning() {
    let dir = tempfile::tempdir().expect("tmp");
    let toml = "[[streams]]\nname = \"j-left\"\nsource = [\"orders\"]\njoin = { table = \"customers\", kind = \"left\" }\nsink = \"enriched\"\n\
                [[streams]]\nname = \"j-inner\"\nsource = [\"orders\"]\njoin = { table = \"customers\" }\nsink = \"enriched-inner\"\n\
                [[streams]]\nname = \"j-bad\"\nsource = [\"orders3\"]\njoin = { table = \"customers\" }\nsink = \"never\"\n\
                [[streams]]\nname = \"j-global\"\nsource = [\"orders3\"]\njoin = { global_table = \"countries\", key = \"/country\" }\nsink = \"by-country\"\n";
    let warren = Warren::start(dir.path(), Options::brokers(1).with_toml(toml)).await.expect("start");
    // The co-partitioned jobs start once everything is written, so the table's history is all
    // there to be read in timestamp order.
    for name in ["j-left", "j-inner"] {
        let (status, _, body) =
            http(warren.http, "POST", &format!("/api/v1/streams/{name}/stop"), None, &[]).await.expect("stop");
        assert_eq!(status, 200, "{body}");
    }
    let b = warren.bootstrap();
    create_topics(&b, &[("orders", 2), ("customers", 2), ("orders3", 3), ("countries", 2)]).await;
    let p = producer(&b);
    // The table changes at 1 s and 3 s; written before the orders, but later in event time.
    produce_in_order(
        &p,
        "customers",
        &[
            ("c1", r#"{"tier":"gold"}"#.into(), t0() + 1_000),
            ("c1", r#"{"tier":"platinum"}"#.into(), t0() + 3_000),
            ("c2", r#"{"tier":"silver"}"#.into(), t0() + 1_000),
        ],
    )
    .await;
    produce_in_order(
        &p,
        "orders",
        &[
            ("c1", r#"{"order":1}"#.into(), t0() + 500),
            ("c1", r#"{"order":2}"#.into(), t0() + 2_000),
            ("c1", r#"{"order":3}"#.into(), t0() + 4_000),
            ("c2", r#"{"order":4}"#.into(), t0() + 2_000),
            ("c3", r#"{"order":5}"#.into(), t0() + 2_000),
        ],
    )
    .await;
    for name in ["j-left", "j-inner"] {
        let (status, _, body) =
            http(warren.http, "POST", &format!("/api/v1/streams/{name}/start"), None, &[]).await.expect("start");
        assert_eq!(status, 200, "{body}");
    }
    let tier_of = |v: &Value| v["right"]["tier"].as_str().map(str::to_string);
    let mut want: BTreeMap<i64, Option<String>> = BTreeMap::new();
    want.insert(1, None);
    want.insert(2, Some("gold".into()));
    want.insert(3, Some("platinum".into()));
    want.insert(4, Some("silver".into()));
    want.insert(5, None);
    for (sink, inner) in [("enriched", false), ("enriched-inner", true)] {
        let expected: BTreeMap<i64, Option<String>> =
            want.iter().filter(|(_, t)| !inner || t.is_some()).map(|(k, v)| (*k, v.clone())).collect();
        let deadline = Instant::now() + WAIT;
        loop {
            let got: BTreeMap<i64, Option<String>> = read(&b, sink, "read_uncommitted")
                .await
                .iter()
                .map(|r| {
                    let v: Value = serde_json::from_slice(r.value.as_deref().expect("value")).expect("json");
                    (v["left"]["order"].as_i64().expect("order"), tier_of(&v))
                })
                .collect();
            if got == expected {
                break;
            }
            assert!(Instant::now() < deadline, "{sink}: {got:?}, want {expected:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    // orders3 (3 partitions) and customers (2) are not co-partitioned: Kafka's error.
    let j = job_until(warren.http, "j-bad", |j| j["status"] == "ERROR" && !j["error"].is_null()).await;
    assert_eq!(j["status"], "ERROR", "{j}");
    let error = j["error"].as_str().unwrap_or_default();
    assert!(
        error.starts_with("Invalid topology:") && error.contains("Topics not co-partitioned: [orders3,customers]"),
        "{j}"
    );

    // A GlobalKTable needs no co-partitioning: 3 stream partitions, 2 table partitions.
    produce_in_order(
        &p,
        "countries",
        &[("DE", r#"{"name":"Germany"}"#.into(), t0()), ("FR", r#"{"name":"France"}"#.into(), t0())],
    )
    .await;
    // Give the global table time to be read before the orders come (a GlobalKTable is always as
    // new as it can be, not time-synchronized).
    job_until(warren.http, "j-global", |j| j["status"] == "RUNNING").await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let orders: Vec<(String, String, i64)> = (0..30)
        .map(|i| {
            (format!("o{i}"), format!(r#"{{"n":{i},"country":"{}"}}"#, ["DE", "FR", "XX"][i % 3]), t0() + i as i64)
        })
        .collect();
    let refs: Vec<(&str, String, i64)> = orders.iter().map(|(k, v, t)| (k.as_str(), v.clone(), *t)).collect();
    produce_in_order(&p, "orders3", &refs).await;
    let deadline = Instant::now() + WAIT;
    loop {
        let got = read(&b, "by-country", "read_uncommitted").await;
        let names: BTreeMap<i64, String> = got
            .iter()
            .map(|r| {
                let v: Value = serde_json::from_slice(r.value.as_deref().expect("value")).expect("json");
                (v["left"]["n"].as_i64().expect("n"), v["right"]["name"].as_str().unwrap_or("?").to_string())
            })
            .collect();
        let expected: BTreeMap<i64, String> = (0..30)
            .filter(|i| i % 3 != 2)
            .map(|i| (i, if i % 3 == 0 { "Germany" } else { "France" }.to_string()))
            .collect();
        if names == expected {
            break;
        }
        assert!(Instant::now() < deadline, "global join: {names:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    warren.stop().await.expect("stop");
}

/// The committed offset of `group` for every partition of `topic` (-1 when none).
fn committed(bootstrap: &str, group: &str, topic: &str, partitions: i32) -> Vec<i64> {
    let consumer: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let mut tpl = TopicPartitionList::new();
    for p in 0..partitions {
        tpl.add_partition(topic, p);
    }
    match consumer.committed_offsets(tpl, Duration::from_secs(10)) {
        Ok(list) => list.elements().iter().map(|e| e.offset().to_raw().unwrap_or(-1)).collect(),
        Err(_) => vec![-1; partitions as usize],
    }
}

fn end_offsets(bootstrap: &str, topic: &str, partitions: i32) -> Vec<i64> {
    let consumer: BaseConsumer = ClientConfig::new().set("bootstrap.servers", bootstrap).create().expect("consumer");
    (0..partitions)
        .map(|p| consumer.fetch_watermarks(topic, p, Duration::from_secs(10)).expect("watermarks").1)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_stream_restores_state_from_the_changelog() {
    let dir = tempfile::tempdir().expect("tmp");
    let config = dir.path().join("warren.toml");
    let mut toml = String::new();
    for (name, guarantee) in [("k-alos", "at_least_once"), ("k-eos", "exactly_once_v2")] {
        toml.push_str(&format!(
            "[[streams]]\nname = \"{name}\"\nsource = [\"clicks\"]\nkey = \"/user\"\n\
             window = {{ type = \"tumbling\", size = \"1s\", grace = \"30s\" }}\naggregate = \"count\"\n\
             sink = \"{name}-out\"\nprocessing_guarantee = \"{guarantee}\"\n"
        ));
    }
    std::fs::write(&config, toml).expect("config");
    let config = config.to_string_lossy().into_owned();
    let data = dir.path().join("data");
    let port = warren_tests::free_ports(3);
    let env = [("WARREN_CONFIG", config.as_str())];
    let warren = WarrenProcess::spawn(&data, 3, port, &env).expect("spawn");
    let b = warren.bootstrap();
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", &b).create().expect("admin");
    for r in admin
        .create_topics(&[NewTopic::new("clicks", 2, TopicReplication::Fixed(3))], &AdminOptions::new())
        .await
        .expect("create")
    {
        r.expect("clicks");
    }
    // A paced producer (about 8,000 records a second) keeps going through the kill; its
    // idempotent retries land once the restarted brokers answer.
    const N: i64 = 24_000;
    let bp = b.clone();
    let production = tokio::spawn(async move {
        let p = ClientConfig::new()
            .set("bootstrap.servers", &bp)
            .set("enable.idempotence", "true")
            .set("acks", "all")
            .set("linger.ms", "5")
            .set("message.timeout.ms", "180000")
            .create::<FutureProducer>()
            .expect("producer");
        let mut pending = Vec::new();
        for i in 0..N {
            let value = format!(r#"{{"user":"u{}","i":{i}}}"#, i % 7);
            let key = format!("k{}", i % 13);
            let record = FutureRecord::to("clicks").key(&key).payload(&value).timestamp(t0() + i);
            pending.push(p.send_result(record).map_err(|(e, _)| e).expect("queued"));
            if i % 400 == 399 {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        for f in pending {
            f.await.expect("delivery future").expect("delivered");
        }
    });
    // Kill while both jobs are mid-stream.
    let started = Instant::now();
    loop {
        let a = job(warren.http, "k-alos").await;
        let e = job(warren.http, "k-eos").await;
        let mid = |j: &Value| j["records_in"].as_i64().unwrap_or(0) > 2_000;
        if (mid(&a) && mid(&e)) || started.elapsed() > WAIT {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(!production.is_finished(), "the kill must land while records still arrive");
    warren.kill9().expect("kill -9");
    let warren = WarrenProcess::spawn(&data, 3, port, &env).expect("respawn");
    production.await.expect("producer");

    // The reference: counts per (user, 1 s window) of what the source topic holds.
    let ends = end_offsets(&b, "clicks", 2);
    let source = read(&b, "clicks", "read_uncommitted").await;
    assert_eq!(ends.iter().sum::<i64>(), N, "end offsets {ends:?}");
    assert_eq!(source.len() as i64, N, "the idempotent producer wrote each record once");
    let mut want: BTreeMap<(String, i64, i64), u64> = BTreeMap::new();
    for r in &source {
        let v: Value = serde_json::from_slice(r.value.as_deref().expect("value")).expect("json");
        let user = v["user"].as_str().expect("user").to_string();
        let start = r.timestamp - r.timestamp % 1_000;
        *want.entry((user, start, start + 1_000)).or_default() += 1;
    }
    for (name, isolation) in [("k-alos", "read_uncommitted"), ("k-eos", "read_committed")] {
        let deadline = Instant::now() + WAIT;
        loop {
            let (bb, g) = (b.clone(), name.to_string());
            let done = tokio::task::spawn_blocking(move || committed(&bb, &g, "clicks", 2)).await.expect("committed");
            if done == ends {
                break;
            }
            assert!(Instant::now() < deadline, "{name}: committed {done:?}, end {ends:?}");
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        // The source is done; a cycle with nothing to do after that means the repartition
        // topic is drained too.
        let j = job_until(warren.http, name, |j| j["caught_up"] == true).await;
        assert_eq!(j["caught_up"], true, "{j}");
        let mut latest: BTreeMap<(String, i64, i64), u64> = BTreeMap::new();
        for r in read(&b, &format!("{name}-out"), isolation).await {
            let value: Value = serde_json::from_slice(r.value.as_deref().expect("value")).expect("json");
            latest.insert(json_window(&r.key), value["count"].as_u64().expect("count"));
        }
        assert_eq!(latest.len(), want.len(), "{name}: window keys");
        let wrong: Vec<_> = want.iter().filter(|(k, v)| latest.get(*k) != Some(*v)).take(5).collect();
        assert!(wrong.is_empty(), "{name}: wrong latest values (want, got): {wrong:?} vs {:?}", {
            wrong.iter().map(|(k, _)| latest.get(*k)).collect::<Vec<_>>()
        });
    }
    warren.terminate().expect("terminate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_job_runs_against_an_external_cluster() {
    let dir = tempfile::tempdir().expect("tmp");
    let kafka = Warren::start(&dir.path().join("kafka"), Options::brokers(1)).await.expect("kafka");
    let b = kafka.bootstrap();
    create_topics(&b, &[("ext-in", 2)]).await;
    let toml = format!(
        "[cluster]\nembedded = false\n[monitor]\nsample_interval = \"1s\"\n\
         [[clusters]]\nname = \"prod\"\nbootstrap_servers = [\"{b}\"]\n\
         [[streams]]\nname = \"ext\"\ncluster = \"prod\"\nsource = [\"ext-in\"]\n\
         filter = {{ pointer = \"/kind\", equals = \"click\" }}\nsink = \"ext-out\"\n"
    );
    let monitor = warren_tests::MonitorOnly::start(&dir.path().join("monitor"), &toml).await.expect("monitor");
    let p = producer(&b);
    let records: Vec<(String, String, i64)> = (0..10)
        .map(|i| (format!("k{i}"), format!(r#"{{"kind":"{}","i":{i}}}"#, ["click", "view"][i % 2]), t0() + i as i64))
        .collect();
    let refs: Vec<(&str, String, i64)> = records.iter().map(|(k, v, t)| (k.as_str(), v.clone(), *t)).collect();
    produce_in_order(&p, "ext-in", &refs).await;
    let deadline = Instant::now() + WAIT;
    loop {
        let mut got: Vec<i64> = read(&b, "ext-out", "read_uncommitted")
            .await
            .iter()
            .map(|r| {
                serde_json::from_slice::<Value>(r.value.as_deref().expect("value")).expect("json")["i"]
                    .as_i64()
                    .expect("i")
            })
            .collect();
        got.sort_unstable();
        if got == [0, 2, 4, 6, 8] {
            break;
        }
        assert!(Instant::now() < deadline, "filtered pass-through on the external cluster: {got:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The job's group is sampled on its cluster like any group there.
    let j = job_until(monitor.http, "ext", |j| j["lag"] == 0 && j["lag_status"] == "OK").await;
    assert_eq!(
        (j["cluster"].as_str(), j["status"].as_str(), j["lag"].as_i64()),
        (Some("prod"), Some("RUNNING"), Some(0)),
        "{j}"
    );
    assert_eq!(j["skipped_records"], 0, "{j}");
    monitor.stop().await.expect("monitor stop");
    kafka.stop().await.expect("kafka stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_runs_a_windowed_job_and_a_join() {
    let dir = tempfile::tempdir().expect("tmp");
    let options = Options { demo: true, ..Options::brokers(1) };
    let warren = Warren::start(dir.path(), options).await.expect("start");
    for name in ["demo-order-totals", "demo-payments-enriched"] {
        let j =
            job_until(warren.http, name, |j| j["status"] == "RUNNING" && j["records_out"].as_u64() > Some(10)).await;
        assert_eq!(j["status"], "RUNNING", "{j}");
        assert!(j["records_out"].as_u64() > Some(10), "{name} writes results: {j}");
        assert_eq!(j["skipped_records"], 0, "{j}");
    }
    let enriched = read(&warren.bootstrap(), "demo-payments-enriched", "read_uncommitted").await;
    let first: Value = serde_json::from_slice(enriched[0].value.as_deref().expect("value")).expect("json");
    assert!(first["right"]["country"].is_string() && first["left"]["amount"].is_number(), "{first}");
    warren.stop().await.expect("stop");
}
