//! Every cluster is first-class: a monitoring warren with its own embedded cluster (`local`) also
//! watches a second warren process over the protocol (`ext`). For each of the two, one table of
//! assertions: stop broker 2 and the monitoring warren shows it down, the partitions it held
//! under-replicated in the JSON API, the pages (the layout grid marks its replicas) and `/metrics`
//! (with the `cluster` label), and `broker_down` and `under_replicated` deliver to a loopback
//! receiver; start it again and everything resolves.

use std::time::{Duration, Instant};

use serde_json::Value;
use warren_tests::{free_ports, http, Options, Warren, WarrenProcess};

use crate::alerts::receiver;

/// How long a state change may take to show: generous, for a loaded two-core machine.
const DEADLINE: Duration = Duration::from_secs(60);

async fn get(addr: std::net::SocketAddr, path: &str) -> (u16, String) {
    let (status, _, body) = http(addr, "GET", path, None, &[]).await.expect("http");
    (status, body)
}

async fn json(addr: std::net::SocketAddr, path: &str) -> Value {
    let (status, body) = get(addr, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).expect("json")
}

async fn post(addr: std::net::SocketAddr, path: &str, body: Option<&str>) {
    let (status, _, answer) =
        http(addr, "POST", path, body, &[("content-type", "application/json")]).await.expect("http");
    assert!((200..300).contains(&status), "{path}: {status} {answer}");
}

/// Polls `check` until it returns `Some`, or fails with `what` and the last value seen.
async fn until<T>(what: &str, mut check: impl AsyncFnMut() -> Result<T, String>) -> T {
    let deadline = Instant::now() + DEADLINE;
    loop {
        match check().await {
            Ok(t) => return t,
            Err(last) if Instant::now() > deadline => panic!("{what} did not happen: {last}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_broker_shows_and_alerts_the_same_for_the_embedded_and_an_external_cluster() {
    let external_dir = tempfile::tempdir().expect("tempdir");
    let external = WarrenProcess::spawn(external_dir.path(), 3, free_ports(3), &[]).expect("external warren");
    let (addr, seen) = receiver(false).await;
    let toml = format!(
        r#"[monitor]
sample_interval = "1s"
[[clusters]]
name = "ext"
bootstrap_servers = ["{}"]
[[alerts.receivers]]
name = "ops"
kind = "generic"
url = "http://{addr}/hook"
[[alerts.rules]]
name = "broker-down"
kind = "broker_down"
for = "0s"
receivers = ["ops"]
[[alerts.rules]]
name = "under-replicated"
kind = "under_replicated"
for = "0s"
topics = "^shape$"
receivers = ["ops"]
"#,
        external.bootstrap()
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let monitor = Warren::start(dir.path(), Options::brokers(3).with_toml(&toml)).await.expect("monitoring warren");

    // (cluster name, the address of the HTTP API that manages it)
    for (cluster, manager) in [("local", monitor.http), ("ext", external.http)] {
        post(manager, "/api/v1/topics", Some(r#"{"name": "shape", "partitions": 3, "replication_factor": 3}"#)).await;
        let q = format!("?cluster={cluster}");
        until(&format!("{cluster}: the topic shows"), async || {
            let (status, body) = get(monitor.http, &format!("/api/v1/topics/shape{q}")).await;
            (status == 200).then_some(()).ok_or(body)
        })
        .await;

        let stopped = Instant::now();
        post(manager, "/api/v1/brokers/2/stop", None).await;
        let view = until(&format!("{cluster}: broker 2 down and 3 partitions under-replicated"), async || {
            let c = json(monitor.http, &format!("/api/v1/cluster{q}")).await;
            let down = c["brokers"].as_array().expect("brokers").iter().any(|b| b["id"] == 2 && b["status"] == "down");
            (down && c["under_replicated_partitions"].as_u64() >= Some(3)).then_some(c.clone()).ok_or(c.to_string())
        })
        .await;
        assert_eq!(view["name"], cluster);
        assert_eq!(view["offline_partitions"], 0, "every partition has two more replicas: {view}");
        let topic = json(monitor.http, &format!("/api/v1/topics/shape{q}")).await;
        for p in topic["partitions"].as_array().expect("partitions") {
            assert_eq!(p["under_replicated"], true, "{p}");
            assert!(!p["isr"].as_array().expect("isr").contains(&Value::from(2)), "{p}");
            assert!(p["offline_replicas"].as_array().expect("offline").contains(&Value::from(2)), "{p}");
            assert_ne!(p["leader"], 2, "{p}");
        }
        let (status, page) = get(monitor.http, &format!("/topics/shape{q}")).await;
        assert_eq!(status, 200, "{page}");
        // Broker 2 is the second column of the layout grid: offline in every row.
        for row in page.split("<tr data-partition=").skip(1).take(3) {
            let cells: Vec<&str> = row.split("<td class=\"cell ").skip(1).collect();
            assert!(cells.len() == 3 && cells[1].starts_with("offline"), "{cluster}: {row}");
        }
        assert!(page.contains("id=\"timeline\""), "the replication timeline: {page}");
        let (_, brokers) = get(monitor.http, &format!("/brokers{q}")).await;
        let broker2 = brokers.split("<tr data-broker=\"2\">").nth(1).expect("broker 2 row");
        assert!(broker2.split("</tr>").next().is_some_and(|r| r.contains(">down<")), "{brokers}");
        assert_eq!(brokers.contains(">Stop<"), cluster == "local", "actions only for the embedded cluster");
        // /metrics reads the sampler's last tick: the change shows within a sample interval.
        let series = [
            format!("kafka_brokers{{cluster=\"{cluster}\"}} 2"),
            format!("kafka_topic_partition_under_replicated_partition{{topic=\"shape\",partition=\"0\",cluster=\"{cluster}\"}} 1"),
            format!("kafka_topic_partition_replicas{{topic=\"shape\",partition=\"1\",cluster=\"{cluster}\"}} 3"),
            format!("kafka_topic_partition_in_sync_replica{{topic=\"shape\",partition=\"2\",cluster=\"{cluster}\"}} 2"),
        ];
        until(&format!("{cluster}: /metrics shows the stopped broker"), async || {
            let (_, metrics) = get(monitor.http, "/metrics").await;
            match series.iter().find(|s| !metrics.contains(s.as_str())) {
                None => Ok(()),
                Some(missing) => Err(format!("{missing} in\n{metrics}")),
            }
        })
        .await;
        let fired = |rule: &str, label: (&str, &str)| {
            seen.lock().expect("lock").iter().any(|(_, b)| {
                b["status"] == "firing"
                    && b["cluster"] == cluster
                    && b["rule"] == rule
                    && b["alerts"].as_array().is_some_and(|a| a.iter().any(|a| a["labels"][label.0] == label.1))
            })
        };
        until(&format!("{cluster}: broker_down and under_replicated delivered"), async || {
            let both = fired("broker-down", ("broker", "2")) && fired("under-replicated", ("topic", "shape"));
            both.then_some(()).ok_or(format!("{:?}", seen.lock().expect("lock")))
        })
        .await;
        eprintln!("{cluster}: both alerts delivered {:.1} s after the stop", stopped.elapsed().as_secs_f64());

        post(manager, "/api/v1/brokers/2/start", None).await;
        until(&format!("{cluster}: broker 2 back, nothing under-replicated"), async || {
            let c = json(monitor.http, &format!("/api/v1/cluster{q}")).await;
            let up = c["brokers"].as_array().expect("brokers").iter().all(|b| b["status"] == "up");
            (up && c["under_replicated_partitions"] == 0).then_some(()).ok_or(c.to_string())
        })
        .await;
        let resolved = |rule: &str| {
            seen.lock()
                .expect("lock")
                .iter()
                .any(|(_, b)| b["status"] == "resolved" && b["cluster"] == cluster && b["rule"] == rule)
        };
        until(&format!("{cluster}: both alerts resolved"), async || {
            (resolved("broker-down") && resolved("under-replicated")).then_some(()).ok_or(String::new())
        })
        .await;
        let (_, page) = get(monitor.http, &format!("/topics/shape{q}")).await;
        let timeline = page.split("id=\"timeline\"").nth(1).expect("timeline");
        assert!(timeline.contains("data-partition=\"0\"") && timeline.contains("class=\"under\""), "{timeline}");
    }
    monitor.stop().await.expect("stop");
    external.terminate().expect("stop the external warren");
}
