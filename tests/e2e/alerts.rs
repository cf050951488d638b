//! Alerts through a whole warren: a rule on a stalled group fires to a real HTTP receiver on
//! loopback with Alertmanager's v4 payload and Standard Webhooks signature headers, shows on
//! `/api/v1/alerts`, and resolves when the group catches up; a notification whose delivery was cut
//! by `kill -9` goes out after the restart, once, with the same id.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use broker_core::NewTopic;
use broker_core::{Committer, OffsetCommit};
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use warren_tests::{free_ports, http, Options, Warren, WarrenProcess};

pub(crate) type Seen = Arc<Mutex<Vec<(Vec<(String, String)>, Value)>>>;

/// A minimal webhook receiver: records (headers, body) of every POST and answers 200; with
/// `hang_first`, the first request is recorded and never answered.
pub(crate) async fn receiver(hang_first: bool) -> (std::net::SocketAddr, Seen) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let seen = Arc::new(Mutex::new(Vec::new()));
    let store = Arc::clone(&seen);
    tokio::spawn(async move {
        let mut first = hang_first;
        while let Ok((stream, _)) = listener.accept().await {
            let store = Arc::clone(&store);
            let hang = std::mem::take(&mut first);
            tokio::spawn(async move {
                let mut reader = BufReader::new(stream);
                let mut headers = Vec::new();
                let mut line = String::new();
                let mut length = 0usize;
                loop {
                    line.clear();
                    if reader.read_line(&mut line).await.unwrap_or(0) == 0 {
                        return;
                    }
                    let l = line.trim_end();
                    if l.is_empty() {
                        break;
                    }
                    if let Some((k, v)) = l.split_once(':') {
                        let (k, v) = (k.trim().to_ascii_lowercase(), v.trim().to_string());
                        if k == "content-length" {
                            length = v.parse().unwrap_or(0);
                        }
                        headers.push((k, v));
                    }
                }
                let mut body = vec![0u8; length];
                if reader.read_exact(&mut body).await.is_err() {
                    return;
                }
                let json = serde_json::from_slice(&body).unwrap_or(Value::Null);
                store.lock().expect("lock").push((headers, json));
                if hang {
                    std::future::pending::<()>().await;
                }
                let _ = reader
                    .get_mut()
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok")
                    .await;
            });
        }
    });
    (addr, seen)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_group_fires_to_a_webhook_and_resolves() {
    let (addr, seen) = receiver(false).await;
    let toml = format!(
        r#"[monitor]
sample_interval = "1s"
[[alerts.receivers]]
name = "ops"
kind = "alertmanager"
url = "http://{addr}/hook"
hmac_secret = "s3cret"
headers = {{ "X-Team" = "kafka" }}
[[alerts.rules]]
name = "group-error"
kind = "group_status"
status = "ERR"
for = "1s"
repeat_interval = "1h"
receivers = ["ops"]
"#
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(1).with_toml(&toml)).await.expect("start");
    let cluster = warren.cluster.clone();
    cluster.create_topic(&NewTopic { name: "alerting".into(), ..NewTopic::default() }, false).expect("topic");
    let commit = |offset| {
        vec![OffsetCommit { topic: "alerting".into(), partition: 0, offset, leader_epoch: -1, metadata: None }]
    };
    // The group commits offset 0 again and again while records keep arriving: STALL, so ERR.
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut i = 0;
    let fired = loop {
        assert!(Instant::now() < deadline, "no webhook; received {:?}", seen.lock().expect("lock").len());
        cluster
            .produce_record("alerting", 0, None, Some(bytes::Bytes::from(format!("r{i}"))), vec![])
            .await
            .expect("produce");
        cluster.commit_offsets(None, "stuck", &Committer::standalone(), commit(0)).await;
        i += 1;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let got = seen.lock().expect("lock").iter().find(|(_, b)| b["status"] == "firing").cloned();
        if let Some(got) = got {
            break got;
        }
    };
    let (headers, body) = fired;
    let header = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    assert_eq!(body["version"], "4");
    assert_eq!(body["receiver"], "ops");
    assert_eq!(body["alerts"][0]["labels"]["alertname"], "group-error");
    assert_eq!(body["alerts"][0]["labels"]["group"], "stuck");
    assert_eq!(body["alerts"][0]["status"], "firing");
    assert!(body["alerts"][0]["fingerprint"].as_str().is_some_and(|f| f.len() == 16));
    assert!(header("webhook-id").is_some_and(|v| v.starts_with("msg_")));
    assert!(header("webhook-signature").is_some_and(|v| v.starts_with("v1,")));
    assert_eq!(header("x-team").as_deref(), Some("kafka"));
    let (_, _, active) = http(warren.http, "GET", "/api/v1/alerts", None, &[]).await.expect("http");
    let active: Value = serde_json::from_str(&active).expect("json");
    assert_eq!(active["active"][0]["rule"], "group-error", "{active}");

    // The group catches up: the alert resolves and the receiver hears it.
    let deadline = Instant::now() + Duration::from_secs(40);
    loop {
        assert!(Instant::now() < deadline, "no resolve notification");
        let hw = cluster.leader_replica("alerting", 0).map_or(0, |r| r.high_watermark());
        cluster.commit_offsets(None, "stuck", &Committer::standalone(), commit(hw)).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        if seen.lock().expect("lock").iter().any(|(_, b)| b["status"] == "resolved") {
            break;
        }
    }
    let firing = seen.lock().expect("lock").iter().filter(|(_, b)| b["status"] == "firing").count();
    assert_eq!(firing, 1, "fired once (repeat_interval is an hour)");
    warren.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_cut_by_kill_9_goes_out_after_the_restart_once() {
    let (addr, seen) = receiver(true).await;
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("warren.toml");
    std::fs::write(
        &config,
        format!(
            r#"[monitor]
sample_interval = "1s"
[[alerts.receivers]]
name = "ops"
kind = "alertmanager"
url = "http://{addr}/hook"
hmac_secret = "s3cret"
[[alerts.rules]]
name = "broker-down"
kind = "broker_down"
for = "1s"
receivers = ["ops"]
"#
        ),
    )
    .expect("config");
    let data = dir.path().join("data");
    let env = [("WARREN_CONFIG", config.to_str().expect("utf-8 path"))];
    let port = free_ports(3);
    let warren = WarrenProcess::spawn(&data, 3, port, &env).expect("spawn");
    let (status, _, body) = http(warren.http, "POST", "/api/v1/brokers/3/stop", None, &[]).await.expect("http");
    assert!((200..300).contains(&status), "{status} {body}");

    // The firing notification reaches the receiver, which never answers: kill -9 mid-delivery.
    let deadline = Instant::now() + Duration::from_secs(30);
    while seen.lock().expect("lock").is_empty() {
        assert!(Instant::now() < deadline, "no webhook before the kill");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    warren.kill9().expect("kill -9");
    let (cut_headers, cut_body) = seen.lock().expect("lock")[0].clone();
    assert_eq!(cut_body["status"], "firing");
    assert_eq!(cut_body["alerts"][0]["labels"]["broker"], "3", "{cut_body}");

    // After the restart the same notification goes out again and is answered; the broker is back,
    // so the alert then resolves.
    let warren = WarrenProcess::spawn(&data, 3, port, &env).expect("respawn");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !seen.lock().expect("lock").iter().any(|(_, b)| b["status"] == "resolved") {
        assert!(Instant::now() < deadline, "no resolve after the restart: {:?}", seen.lock().expect("lock"));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(3)).await; // room for a duplicate to show up
    let header = |headers: &[(String, String)], name: &str| {
        headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()).unwrap_or_default()
    };
    let seen = seen.lock().expect("lock").clone();
    let firing: Vec<_> = seen.iter().filter(|(_, b)| b["status"] == "firing").collect();
    assert_eq!(firing.len(), 2, "the cut attempt and one redelivery: {seen:?}");
    assert_eq!(header(&firing[1].0, "webhook-id"), header(&cut_headers, "webhook-id"), "same id on every attempt");
    assert_eq!(firing[1].1, cut_body, "same payload on every attempt");
    assert_eq!(seen.iter().filter(|(_, b)| b["status"] == "resolved").count(), 1);
    drop(warren);
}
