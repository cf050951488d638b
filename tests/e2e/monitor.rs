//! The lag monitor end to end: real rdkafka consumers behave like the groups of Burrow's verdict
//! table while a producer keeps writing, and the monitor, sampling every second, reaches Burrow's
//! verdicts, lag in seconds, stored history, and Burrow's own API shapes; a second monitor that
//! sees the cluster only over the protocol reaches the same verdicts.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::producer::{FutureProducer, FutureRecord};
use rdkafka::{Offset, TopicPartitionList};
use serde_json::Value;
use warren_tests::{http, MonitorOnly, Options, Warren};

const MONITOR_TOML: &str = "[monitor]\nsample_interval = \"1s\"\n[groups]\ninitial_rebalance_delay = \"200ms\"";

fn standalone(bootstrap: &str, group: &str) -> BaseConsumer {
    ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", group)
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer")
}

/// Commits `offset` on partition 0 of `topic` for `group` (a consumer that only stores offsets),
/// retrying while librdkafka is still looking up the coordinator.
fn commit(consumer: &BaseConsumer, topic: &str, offset: i64) {
    let mut tpl = TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, Offset::Offset(offset)).expect("tpl");
    // Generous: on a loaded machine librdkafka may wait seconds for the coordinator.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        match consumer.commit(&tpl, CommitMode::Sync) {
            Ok(()) => return,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                consumer.poll(Duration::from_millis(50));
            }
            Err(e) => panic!("commit: {e}"),
        }
    }
}

async fn get(warren: &Warren, path: &str) -> (u16, Value) {
    get_at(warren.http, path).await
}

async fn get_at(addr: std::net::SocketAddr, path: &str) -> (u16, Value) {
    let (status, _, body) = http(addr, "GET", path, None, &[]).await.expect("http");
    (status, serde_json::from_str(&body).unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn burrow_verdicts_for_real_consumers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(3).with_toml(MONITOR_TOML)).await.expect("start");
    let b = warren.bootstrap();
    let producer: FutureProducer =
        ClientConfig::new().set("bootstrap.servers", &b).set("linger.ms", "5").create().expect("producer");
    // 20 records a second into "mon" for the whole test.
    let running = Arc::new(AtomicBool::new(true));
    let r = Arc::clone(&running);
    let feeder = tokio::spawn(async move {
        let mut i = 0u64;
        while r.load(Ordering::Relaxed) {
            let payload = format!("record {i}");
            producer
                .send(FutureRecord::<(), str>::to("mon").payload(&payload), Duration::from_secs(5))
                .await
                .expect("produce");
            i += 1;
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    });
    // Wait for the topic and a few records.
    let cluster = Arc::clone(&warren.cluster);
    assert!(
        warren_tests::eventually(Duration::from_secs(20), || cluster
            .leader_replica("mon", 0)
            .is_some_and(|r| r.high_watermark() > 20))
        .await
    );

    // The same cluster watched from outside as an external cluster, over the protocol only:
    // the same verdicts, STALL included, since commit times come from __consumer_offsets.
    let outside_dir = tempfile::tempdir().expect("tempdir");
    let toml = format!(
        "[cluster]\nembedded = false\n[monitor]\nsample_interval = \"1s\"\n\
         [[clusters]]\nname = \"ext\"\nbootstrap_servers = [\"{b}\"]\n"
    );
    let outside = MonitorOnly::start(outside_dir.path(), &toml).await.expect("outside monitor");
    let outside_started = Instant::now();

    let b2 = b.clone();
    let c2 = Arc::clone(&warren.cluster);
    let r2 = Arc::clone(&running);
    // g_ok: a real group member that keeps up, committing as it goes, on a thread of its own so
    // that the other groups' commits (slow on a loaded machine) never hold it back.
    let ok_running = Arc::clone(&running);
    let ok_bootstrap = b2.clone();
    let ok_member = tokio::task::spawn_blocking(move || {
        let ok = ClientConfig::new()
            .set("bootstrap.servers", &ok_bootstrap)
            .set("group.id", "g_ok")
            .set("auto.offset.reset", "earliest")
            .set("auto.commit.interval.ms", "500")
            .set("fetch.wait.max.ms", "100")
            .create::<BaseConsumer>()
            .expect("consumer");
        ok.subscribe(&["mon"]).expect("subscribe");
        // Bounded, so that a failing test does not leave it running.
        let started = Instant::now();
        while ok_running.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(150) {
            let _ = ok.poll(Duration::from_millis(50));
        }
        ok.unsubscribe();
    });
    let drivers = tokio::task::spawn_blocking(move || {
        let hw = || c2.leader_replica("mon", 0).map_or(0, |r| r.high_watermark());
        let (stall, stall_deep, stop, warn, rewind) = (
            standalone(&b2, "g_stall"),
            standalone(&b2, "g_stall_deep"),
            standalone(&b2, "g_stop"),
            standalone(&b2, "g_warn"),
            standalone(&b2, "g_rewind"),
        );
        let start_hw = hw();
        let started = Instant::now();
        let mut second = 0;
        while r2.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(60) {
            if started.elapsed() < Duration::from_millis(1100 * second) {
                std::thread::sleep(Duration::from_millis(20));
                continue;
            }
            second += 1;
            // g_stall: the same offset over and over while the topic grows.
            commit(&stall, "mon", start_hw);
            // g_stall_deep: the same, far below anything the monitors sampled as the end offset,
            // so only the commits' own timestamps tell it from a stop.
            commit(&stall_deep, "mon", 2);
            // g_stop: three commits, then silence.
            if second <= 3 {
                commit(&stop, "mon", start_hw + second as i64);
            }
            // g_warn: moving, but slower than the producer, so lag grows every interval.
            commit(&warn, "mon", start_hw + 5 * second as i64);
            // g_rewind: forward, then back, staying behind.
            let back = if second < 5 { start_hw + 10 * second as i64 } else { start_hw + 5 };
            commit(&rewind, "mon", back);
        }
    });

    // Each group reaches its verdict (and the partition status behind it) at its own time; a
    // rewind, for one, leaves the ring after `intervals` more commits.
    let expect = [
        ("g_ok", "OK", "OK"),
        ("g_stall", "ERR", "STALL"),
        ("g_stall_deep", "ERR", "STALL"),
        ("g_stop", "ERR", "STOP"),
        ("g_warn", "WARN", "WARN"),
        ("g_rewind", "ERR", "REWIND"),
    ];
    let mut reached: std::collections::BTreeMap<&str, Value> = Default::default();
    let mut reached_outside: std::collections::BTreeSet<&str> = Default::default();
    let deadline = Instant::now() + Duration::from_secs(45);
    while (reached.len() < expect.len() || reached_outside.len() < expect.len()) && Instant::now() < deadline {
        for (group, want, partition) in expect {
            let (_, detail) = get(&warren, &format!("/api/v1/groups/{group}")).await;
            if detail["status"] == want && detail["partitions"][0]["status"] == partition {
                reached.entry(group).or_insert(detail);
            }
            let (_, detail) = get_at(outside.http, &format!("/api/v1/groups/{group}?cluster=ext")).await;
            if detail["status"] == want && detail["partitions"][0]["status"] == partition {
                reached_outside.insert(group);
            }
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    if reached.len() < expect.len() || reached_outside.len() < expect.len() {
        let mut now = Vec::new();
        for (group, ..) in expect {
            let (_, detail) = get(&warren, &format!("/api/v1/groups/{group}")).await;
            now.push(format!("{group}: {} {}", detail["status"], detail["partitions"]));
            let (_, detail) = get_at(outside.http, &format!("/api/v1/groups/{group}?cluster=ext")).await;
            now.push(format!("{group} seen from outside: {} {}", detail["status"], detail["partitions"]));
        }
        panic!(
            "verdicts reached: {:?}, from outside: {:?}\nnow:\n{}",
            reached.keys().collect::<Vec<_>>(),
            reached_outside,
            now.join("\n")
        );
    }
    // A re-commit of the same offset stays STALL from both sides once each ring has filled; a
    // monitor that only knew when an offset was first seen would turn them into STOP.
    tokio::time::sleep(Duration::from_secs(8).saturating_sub(outside_started.elapsed())).await;
    for _ in 0..4 {
        for group in ["g_stall", "g_stall_deep"] {
            let (_, inside) = get(&warren, &format!("/api/v1/groups/{group}")).await;
            let (_, seen) = get_at(outside.http, &format!("/api/v1/groups/{group}?cluster=ext")).await;
            for detail in [&inside, &seen] {
                assert_eq!(detail["partitions"][0]["status"], "STALL", "{group}: {detail}");
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    outside.stop().await.expect("stop the outside monitor");
    // A group that keeps up is OK (polled: on a loaded machine its consumer may fall a few records
    // behind for a while, which Burrow's rules rightly call WARN).
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (_, ok) = get(&warren, "/api/v1/groups/g_ok").await;
        if ok["status"] == "OK" {
            break;
        }
        assert!(Instant::now() < deadline, "a group that keeps up is OK: {ok}");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let stall = &reached["g_stall"];
    assert!(stall["diagnosis"].as_str().is_some_and(|d| !d.is_empty()), "an unhealthy group has a diagnosis: {stall}");
    assert!(stall["total_lag"].as_i64().is_some_and(|l| l > 0));

    // Burrow's API: same verdicts, Burrow's shapes.
    let (code, status) = get(&warren, "/v3/kafka/local/consumer/g_stall/status").await;
    assert_eq!(code, 200);
    assert_eq!((status["error"].as_bool(), status["status"]["status"].as_str()), (Some(false), Some("ERR")));
    assert_eq!(status["status"]["partitions"][0]["status"], "STALL");
    assert!(status["status"]["maxlag"]["current_lag"].as_i64().is_some_and(|l| l > 0));
    assert_eq!(status["request"]["url"], "/v3/kafka/local/consumer/g_stall/status");
    let (_, detail) = get(&warren, "/v3/kafka/local/consumer/g_warn").await;
    let ring = detail["topics"]["mon"][0]["offsets"].as_array().expect("ring");
    assert_eq!(ring.len(), 10, "Burrow's ring is `intervals` slots");
    assert!(detail["topics"]["mon"][0]["current-lag"].as_i64().is_some());
    let (code, missing) = get(&warren, "/v3/kafka/local/consumer/nobody/status").await;
    assert_eq!(
        (code, missing["error"].as_bool(), missing["status"]["status"].as_str()),
        (404, Some(false), Some("NOTFOUND"))
    );
    let (code, bad) = get(&warren, "/v3/kafka/local/whatever").await;
    assert_eq!((code, bad["message"].as_str()), (404, Some("invalid request type")));
    let (_, list) = get(&warren, "/v3/kafka/local/consumer").await;
    assert!(list["consumers"].as_array().expect("consumers").iter().any(|c| c == "g_ok"));
    let (_, offsets) = get(&warren, "/v3/kafka/local/topic/mon").await;
    assert!(offsets["offsets"][0].as_i64().is_some_and(|o| o > 20));

    // History: the ticks are stored and come back in order.
    let (code, history) = get(&warren, "/api/v1/groups/g_stall/history?range=1h").await;
    assert_eq!(code, 200);
    let points = history["points"].as_array().expect("points");
    assert!(points.len() >= 5, "{history}");
    assert!(points.windows(2).all(|w| w[0]["ts"].as_i64() < w[1]["ts"].as_i64()), "ascending");
    assert!(points.last().is_some_and(|p| p["total_lag"].as_i64() > Some(0)));
    let (code, _) = get(&warren, "/api/v1/groups/g_stall/history?range=5y").await;
    assert_eq!(code, 400);

    running.store(false, Ordering::Relaxed);
    feeder.await.expect("feeder");
    drivers.await.expect("drivers");
    ok_member.await.expect("g_ok member");
    warren.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lag_seconds_come_from_record_timestamps_and_verdicts_survive_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(1).with_toml(MONITOR_TOML)).await.expect("start");
    let b = warren.bootstrap();
    let producer: FutureProducer = ClientConfig::new().set("bootstrap.servers", &b).create().expect("producer");
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64;
    // Records written 30 s ago (their CreateTime), then newer ones.
    for (i, age_s) in [(0, 40), (1, 30), (2, 20), (3, 10)] {
        let payload = format!("r{i}");
        let record = FutureRecord::<(), str>::to("aged").payload(&payload).timestamp(now_ms - age_s * 1000);
        producer.send(record, Duration::from_secs(5)).await.expect("produce");
    }
    let b2 = b.clone();
    tokio::task::spawn_blocking(move || commit(&standalone(&b2, "behind30"), "aged", 1)).await.expect("commit");
    let mut lag = None;
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        let (_, g) = get(&warren, "/api/v1/groups/behind30").await;
        lag = g["partitions"][0]["lag_seconds"].as_f64();
        if lag.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let lag = lag.expect("lag seconds");
    let expected = 30.0
        + (std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64
            - now_ms) as f64
            / 1000.0;
    assert!((lag - expected).abs() < 2.0, "lag seconds {lag} vs about {expected}");

    // Restart: the stored windows come back, and the group keeps its verdict at once.
    let (_, before) = get(&warren, "/api/v1/groups/behind30").await;
    warren.stop().await.expect("stop");
    let restarted_at =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_millis() as i64;
    let warren = Warren::start(dir.path(), Options::brokers(1).with_toml(MONITOR_TOML)).await.expect("restart");
    let mut after = Value::Null;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let (code, g) = get(&warren, "/api/v1/groups/behind30").await;
        if code == 200 {
            after = g;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(after["status"], before["status"], "before {before}\nafter {after}");
    let (_, history) = get(&warren, "/api/v1/groups/behind30/history?range=1h").await;
    let first = history["points"][0]["ts"].as_i64().expect("points");
    assert!(first < restarted_at, "the history from before the restart is kept: {history}");
    warren.stop().await.expect("stop");
}
