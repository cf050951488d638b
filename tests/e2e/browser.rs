//! The dashboard in a real browser: Debian's headless Chromium, driven over the DevTools
//! protocol, loads the overview, a topic page and a group page of a warren with live traffic,
//! sees htmx replace the group's lag numbers without a page reload, and saves screenshots to
//! `target/screenshots/`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;
use warren_tests::{Options, Warren};

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A headless Chromium and one page of it, over the DevTools protocol.
struct Browser {
    child: Child,
    socket: Socket,
    session: String,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Browser {
    async fn launch() -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        let mut child = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--remote-debugging-port=0",
                "--window-size=1400,1000",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("chromium (installed by .ci/run)");
        let stderr = child.stderr.take().expect("stderr");
        let url = tokio::task::spawn_blocking(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    return url.trim().to_string();
                }
            }
            panic!("chromium did not print its DevTools address");
        })
        .await
        .expect("reader");
        let (socket, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("DevTools websocket");
        let mut browser = Browser { child, socket, session: String::new(), next_id: 0, _profile: profile };
        let target = browser.call(None, "Target.createTarget", json!({"url": "about:blank"})).await;
        let target_id = target["targetId"].as_str().expect("target id").to_string();
        let attached =
            browser.call(None, "Target.attachToTarget", json!({"targetId": target_id, "flatten": true})).await;
        browser.session = attached["sessionId"].as_str().expect("session id").to_string();
        browser.page("Page.enable", json!({})).await;
        browser
    }

    async fn call(&mut self, session: Option<&str>, method: &str, params: Value) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        self.socket.send(Message::Text(message.to_string().into())).await.expect("send");
        let deadline = Instant::now() + Duration::from_secs(30);
        while Instant::now() < deadline {
            let Ok(Some(Ok(Message::Text(text)))) =
                tokio::time::timeout(Duration::from_secs(30), self.socket.next()).await
            else {
                continue;
            };
            let reply: Value = serde_json::from_str(&text).expect("json");
            if reply["id"] == id {
                assert!(reply.get("error").is_none(), "{method}: {reply}");
                return reply["result"].clone();
            }
        }
        panic!("no answer to {method}");
    }

    async fn page(&mut self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.call(Some(&session), method, params).await
    }

    async fn eval(&mut self, expression: &str) -> Value {
        let r = self.page("Runtime.evaluate", json!({"expression": expression, "returnByValue": true})).await;
        r["result"]["value"].clone()
    }

    async fn open(&mut self, url: &str) {
        self.page("Page.navigate", json!({"url": url})).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.eval("document.readyState").await != "complete" {
            assert!(Instant::now() < deadline, "{url} did not load");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // htmx is loaded with `defer`; let it initialise.
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.eval("typeof htmx").await != "object" {
            assert!(Instant::now() < deadline, "htmx did not load on {url}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn screenshot(&mut self, name: &str) {
        let shot = self.page("Page.captureScreenshot", json!({"format": "png"})).await;
        let png = base64::engine::general_purpose::STANDARD.decode(shot["data"].as_str().expect("data")).expect("png");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/screenshots");
        std::fs::create_dir_all(&dir).expect("screenshot dir");
        std::fs::write(dir.join(format!("{name}.png")), &png).expect("write screenshot");
        assert!(png.len() > 10_000, "{name} screenshot is not empty");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn htmx_refreshes_live_lag_in_a_real_browser() {
    let dir = tempfile::tempdir().expect("tempdir");
    let toml = "[monitor]\nsample_interval = \"1s\"\n[cluster]\ndefault_partitions = 3\n\
                [[streams]]\nname = \"browser-counts\"\nsource = [\"browser\"]\n\
                window = { type = \"hopping\", size = \"2s\", advance = \"1s\" }\nsink = \"browser-counts\"";
    let warren = Warren::start(dir.path(), Options::brokers(3).with_toml(toml)).await.expect("start");
    let cluster = Arc::clone(&warren.cluster);
    // Live traffic: a producer, and a group that committed once and then stalled.
    let running = Arc::new(AtomicBool::new(true));
    let (c, r) = (Arc::clone(&cluster), Arc::clone(&running));
    let producer = tokio::spawn(async move {
        let topic = broker_core::NewTopic { name: "browser".into(), ..Default::default() };
        c.create_topic(&topic, false).expect("topic");
        let mut i = 0u64;
        while r.load(Ordering::Relaxed) {
            let value = bytes::Bytes::from(format!("{{\"n\":{i}}}"));
            let key = Some(bytes::Bytes::from(format!("k{}", i % 3)));
            let _ = c.produce_record("browser", (i % 3) as i32, key, Some(value), vec![]).await;
            i += 1;
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    });
    let commit = |p: i32| broker_core::OffsetCommit {
        topic: "browser".into(),
        partition: p,
        offset: 0,
        leader_epoch: -1,
        metadata: None,
    };
    assert!(warren_tests::eventually(Duration::from_secs(10), || cluster.has_topic("browser")).await);
    let committer = broker_core::Committer::standalone();
    let results = cluster.commit_offsets(None, "browser-g", &committer, (0..3).map(commit).collect()).await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    let base = format!("http://{}", warren.http);
    let (status, _, _) =
        warren_tests::http(warren.http, "GET", "/api/v1/groups/browser-g", None, &[]).await.expect("http");
    let mut seen = status == 200;
    let deadline = Instant::now() + Duration::from_secs(15);
    while !seen && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
        seen =
            warren_tests::http(warren.http, "GET", "/api/v1/groups/browser-g", None, &[]).await.expect("http").0 == 200;
    }
    assert!(seen, "the monitor saw the group");

    let mut browser = Browser::launch().await;
    browser.open(&format!("{base}/groups/browser-g")).await;
    let before = browser.eval("document.getElementById('group-lag').textContent").await;
    let rendered = browser.eval("document.getElementById('group').dataset.rendered").await;
    // A marker a full reload would lose: whatever changes next came through htmx.
    browser.eval("window.__warren_marker = 42").await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut after = before.clone();
    while Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(500)).await;
        after = browser.eval("document.getElementById('group-lag').textContent").await;
        let now_rendered = browser.eval("document.getElementById('group').dataset.rendered").await;
        if after != before && now_rendered != rendered {
            break;
        }
    }
    assert_ne!(after, before, "htmx replaced the lag number (was {before}, still {after})");
    assert_eq!(browser.eval("window.__warren_marker").await, 42, "by a partial swap, not a reload");
    let parse = |v: &Value| v.as_str().unwrap_or("0").replace(',', "").parse::<i64>().unwrap_or(0);
    assert!(parse(&after) > parse(&before), "the stalled group's lag grew: {before} -> {after}");
    browser.screenshot("group").await;

    browser.open(&format!("{base}/")).await;
    let produce = browser.eval("document.getElementById('produce-rate').textContent").await;
    assert!(produce.as_str().is_some_and(|r| r.ends_with("/s")), "{produce}");
    browser.screenshot("overview").await;
    browser.open(&format!("{base}/topics/browser")).await;
    let leaders = browser.eval("document.querySelectorAll('td.cell.leader').length").await;
    assert_eq!(leaders, 3, "one leader cell per partition in the layout grid");
    browser.screenshot("topic").await;

    // The stream job's page: its topology, and live figures swapped in by htmx.
    browser.open(&format!("{base}/streams/browser-counts")).await;
    let nodes = browser.eval("document.querySelectorAll('#topology li').length").await;
    assert_eq!(nodes, 4, "source, window, aggregate, sink");
    let count = |v: &Value| v.as_str().unwrap_or("0").parse::<i64>().unwrap_or(0);
    let first = browser.eval("document.getElementById('stream-records-in').textContent").await;
    browser.eval("window.__warren_marker = 7").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut later = first.clone();
    while Instant::now() < deadline && count(&later) <= count(&first) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        later = browser.eval("document.getElementById('stream-records-in').textContent").await;
    }
    assert!(count(&later) > count(&first), "records in grew live: {first} -> {later}");
    assert_eq!(browser.eval("window.__warren_marker").await, 7, "by a partial swap, not a reload");
    let status = browser.eval("document.getElementById('stream-status').textContent").await;
    assert_eq!(status, "RUNNING");
    let open = browser.eval("document.getElementById('stream-open-windows').textContent").await;
    assert!(count(&open) > 0, "hopping windows are open: {open}");
    browser.screenshot("stream").await;

    // A connector's page: a file sink on the live topic, its records swapped in by htmx.
    let sink = serde_json::json!({"name": "browser-sink", "config": {
        "connector.class": "FileStreamSink", "topics": "browser", "file": dir.path().join("sink.txt"),
        "value.converter": "org.apache.kafka.connect.storage.StringConverter",
        "key.converter": "org.apache.kafka.connect.storage.StringConverter"}});
    let (status, _, body) =
        warren_tests::http(warren.connect, "POST", "/connectors", Some(&sink.to_string()), &[]).await.expect("create");
    assert_eq!(status, 201, "{body}");
    browser.open(&format!("{base}/connectors/browser-sink")).await;
    let records = |v: &Value| v.as_str().unwrap_or("0").replace(',', "").parse::<i64>().unwrap_or(0);
    let first = browser.eval("document.getElementById('connector-records-in').textContent").await;
    browser.eval("window.__warren_marker = 9").await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut later = first.clone();
    while Instant::now() < deadline && records(&later) <= records(&first) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        later = browser.eval("document.getElementById('connector-records-in').textContent").await;
    }
    assert!(records(&later) > records(&first), "records in grew live: {first} -> {later}");
    assert_eq!(browser.eval("window.__warren_marker").await, 9, "by a partial swap, not a reload");
    let state = browser.eval("document.getElementById('connector-state').textContent").await;
    assert_eq!(state, "RUNNING");
    browser.screenshot("connector").await;

    drop(browser);
    running.store(false, Ordering::Relaxed);
    producer.await.expect("producer");
    warren.stop().await.expect("stop");
}
