//! Kafka Connect end to end, driven only through its REST API as a `curl` script would: a file
//! source tails a file into a topic and a file sink writes it back, through pause/resume and a
//! kill -9 with a restart (no line lost; none duplicated in the topic thanks to the source's
//! transactional offsets); the offsets API, read independently from `connect-offsets` by a
//! Python reader; the sink's group in warren's own lag monitor; the error answers and the
//! validate endpoint; the mutation guard on both ports; the pages and `/metrics`.

use std::collections::BTreeSet;
use std::io::Write;
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};

use rdkafka::admin::{AdminClient, AdminOptions, NewTopic, TopicReplication};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use serde_json::{json, Value};
use warren_tests::{free_ports, http, Options, Warren, WarrenProcess};

const WAIT: Duration = Duration::from_secs(120);

/// One REST call: the status and the body as JSON (Null when empty or not JSON).
pub async fn call(addr: SocketAddr, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
    call_with(addr, method, path, body, &[]).await
}

pub async fn call_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (u16, Value) {
    let body = body.map(|b| b.to_string());
    let (status, _, text) = http(addr, method, path, body.as_deref(), headers).await.expect("http");
    (status, serde_json::from_str(&text).unwrap_or(Value::Null))
}

/// Polls `GET path` until `pred` holds on its body; the last body either way.
pub async fn until(addr: SocketAddr, path: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let (_, body) = call(addr, "GET", path, None).await;
        if pred(&body) || Instant::now() > deadline {
            return body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

pub async fn create_topic(bootstrap: &str, topic: &str, partitions: i32, replicas: i32) {
    let admin: AdminClient<DefaultClientContext> =
        ClientConfig::new().set("bootstrap.servers", bootstrap).create().expect("admin");
    let new = NewTopic::new(topic, partitions, TopicReplication::Fixed(replicas));
    for result in admin.create_topics(&[new], &AdminOptions::new()).await.expect("create topic") {
        result.expect("topic created");
    }
}

/// Every committed record value of `topic`, partition by partition, in offset order.
pub fn read_values(bootstrap: &str, topic: &str) -> Vec<Option<Vec<u8>>> {
    read_records(bootstrap, topic).into_iter().map(|(_, v)| v).collect()
}

/// Every committed record of `topic` as (key, value), partition by partition, in offset order.
pub fn read_records(bootstrap: &str, topic: &str) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
    crate::streams::read_topic(bootstrap, topic, "read_committed").into_iter().map(|o| (o.key, o.value)).collect()
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_string).collect()
}

fn line(i: usize) -> String {
    // 100 bytes with the newline, as the benchmark's lines.
    format!("line {i:06} {}", "x".repeat(87))
}

fn append(path: &Path, range: std::ops::Range<usize>) {
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path).expect("open input");
    let text: String = range.map(|i| line(i) + "\n").collect();
    f.write_all(text.as_bytes()).expect("append");
}

/// Waits until `path` holds at least `n` distinct lines; how many it holds.
async fn wait_lines(path: &Path, n: usize) -> usize {
    let deadline = Instant::now() + WAIT;
    loop {
        let distinct = lines(path).into_iter().collect::<BTreeSet<_>>().len();
        if distinct >= n || Instant::now() > deadline {
            return distinct;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn state_of(status: &Value) -> (String, Vec<String>) {
    let connector = status["connector"]["state"].as_str().unwrap_or_default().to_string();
    let tasks = status["tasks"]
        .as_array()
        .map_or_else(Vec::new, |t| t.iter().map(|t| t["state"].as_str().unwrap_or_default().to_string()).collect());
    (connector, tasks)
}

fn python(script: &str, args: &[&str]) -> Value {
    let path = format!("{}/clients/{script}", env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("/usr/bin/python3").arg(&path).args(args).output().expect("python3");
    assert!(out.status.success(), "{script}: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("the reader prints JSON")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_source_and_sink_through_pause_resume_and_kill_9() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (data, input, output) = (dir.path().join("data"), dir.path().join("in.txt"), dir.path().join("out.txt"));
    let port = free_ports(3);
    let warren = WarrenProcess::spawn(&data, 3, port, &[]).expect("spawn");
    let bootstrap = warren.bootstrap();
    create_topic(&bootstrap, "lines", 1, 3).await;
    append(&input, 0..1000);

    let source = json!({"name": "file-source", "config": {
        "connector.class": "FileStreamSource", "file": input, "topic": "lines", "batch.size": "300"}});
    let (status, body) = call(warren.connect, "POST", "/connectors", Some(source)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["type"], "source");
    assert_eq!(body["config"]["name"], "file-source", "the name goes into the config");
    let sink = json!({"name": "file-sink", "config": {
        "connector.class": "org.apache.kafka.connect.file.FileStreamSinkConnector", "file": output, "topics": "lines"}});
    let (status, _, _) = http(warren.connect, "POST", "/connectors", Some(&sink.to_string()), &[]).await.expect("post");
    assert_eq!(status, 201);
    assert_eq!(wait_lines(&output, 1000).await, 1000);

    // Paused, the source reads nothing new; resumed, it goes on from where it was.
    let (status, _) = call(warren.connect, "PUT", "/connectors/file-source/pause", None).await;
    assert_eq!(status, 202);
    let paused = until(warren.connect, "/connectors/file-source/status", |s| {
        state_of(s) == ("PAUSED".to_string(), vec!["PAUSED".to_string()])
    })
    .await;
    assert_eq!(state_of(&paused), ("PAUSED".into(), vec!["PAUSED".into()]), "{paused}");
    append(&input, 1000..1100);
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(lines(&output).len(), 1000, "a paused source wrote");
    let (status, _) = call(warren.connect, "PUT", "/connectors/file-source/resume", None).await;
    assert_eq!(status, 202);
    assert_eq!(wait_lines(&output, 1100).await, 1100);

    // kill -9 while lines keep coming; the file keeps growing while warren is down.
    const TOTAL: usize = 8000;
    let writer_input = input.clone();
    let writer = std::thread::spawn(move || {
        for start in (1100..TOTAL).step_by(50) {
            append(&writer_input, start..(start + 50).min(TOTAL));
            std::thread::sleep(Duration::from_millis(3));
        }
    });
    assert!(wait_lines(&output, 2000).await >= 2000);
    warren.kill9().expect("kill -9");
    let warren = WarrenProcess::spawn(&data, 3, port, &[]).expect("respawn");
    writer.join().expect("writer");
    assert_eq!(wait_lines(&output, TOTAL).await, TOTAL, "the sink file after the restart");

    let expected: Vec<String> = (0..TOTAL).map(line).collect();
    let b = warren.bootstrap();
    let values = tokio::task::spawn_blocking(move || read_values(&b, "lines")).await.expect("reader");
    let payloads: Vec<String> = values
        .iter()
        .map(|v| {
            let v: Value = serde_json::from_slice(v.as_deref().expect("a value")).expect("JSON");
            assert_eq!(v["schema"], json!({"type": "string", "optional": false}), "Kafka's envelope");
            v["payload"].as_str().expect("a string payload").to_string()
        })
        .collect();
    assert_eq!(payloads.len(), TOTAL, "every line exactly once in the topic");
    assert_eq!(payloads, expected, "the topic holds the file's lines in order");
    let written = lines(&output);
    let mut seen = BTreeSet::new();
    let first: Vec<&String> = written.iter().filter(|l| seen.insert(l.as_str())).collect();
    assert_eq!(first, expected.iter().collect::<Vec<_>>(), "the sink file holds every line, in order");
    eprintln!("sink file: {} lines, {} written again after the kill", written.len(), written.len() - TOTAL);

    // The offset is the file's length, in the API and in connect-offsets read independently.
    let size = std::fs::metadata(&input).expect("input").len();
    let (status, offsets) = call(warren.connect, "GET", "/connectors/file-source/offsets", None).await;
    assert_eq!(status, 200);
    assert_eq!(offsets, json!({"offsets": [{"partition": {"filename": input}, "offset": {"position": size}}]}));
    let b = warren.bootstrap();
    let read = tokio::task::spawn_blocking(move || python("read_connect_offsets.py", &[&b])).await.expect("python");
    let mine: Vec<&Value> =
        read["offsets"].as_array().expect("offsets").iter().filter(|o| o["connector"] == "file-source").collect();
    assert_eq!(mine.len(), 1, "{read}");
    assert_eq!(mine[0]["partition"], json!({"filename": input}));
    assert_eq!(mine[0]["offset"], json!({"position": size}));

    // The sink's group is an ordinary group to the monitor: lag 0 and a Burrow verdict.
    let groups = until(warren.http, "/api/v1/groups", |g| {
        g.as_array().is_some_and(|gs| {
            gs.iter().any(|g| g["group"] == "connect-file-sink" && g["total_lag"] == 0 && g["status"] == "OK")
        })
    })
    .await;
    let group = groups.as_array().expect("groups").iter().find(|g| g["group"] == "connect-file-sink").cloned();
    assert!(group.as_ref().is_some_and(|g| g["total_lag"] == 0 && g["status"] == "OK"), "{groups}");
    let (status, sink_offsets) = call(warren.connect, "GET", "/connectors/file-sink/offsets", None).await;
    assert_eq!(status, 200);
    assert_eq!(sink_offsets["offsets"][0]["partition"], json!({"kafka_topic": "lines", "kafka_partition": 0}));

    // The pages and /metrics.
    let (status, _, page) = http(warren.http, "GET", "/connectors", None, &[]).await.expect("page");
    assert_eq!(status, 200);
    assert!(page.contains("file-source") && page.contains("file-sink"), "{page}");
    let (status, _, page) = http(warren.http, "GET", "/connectors/file-sink", None, &[]).await.expect("page");
    assert_eq!(status, 200);
    assert!(page.contains("connect-file-sink"), "the sink page links its group");
    let (_, _, metrics) = http(warren.http, "GET", "/metrics", None, &[]).await.expect("metrics");
    assert!(
        metrics.contains("warren_connect_records_total{connector=\"file-source\",task=\"0\",direction=\"out\"}"),
        "{metrics}"
    );
    assert!(metrics.contains("warren_connect_task_state{connector=\"file-sink\",task=\"0\",state=\"RUNNING\"} 1"));
    warren.terminate().expect("terminate");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rest_api_answers_as_kafka_connect_does() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(1)).await.expect("start");
    create_topic(&warren.bootstrap(), "t1", 1, 1).await;
    let c = warren.connect;
    let (status, root) = call(c, "GET", "/", None).await;
    assert_eq!(status, 200);
    assert_eq!(root["kafka_cluster_id"], warren.cluster.cluster_id());
    assert!(root["version"].is_string() && root["commit"].is_string());
    let (status, plugins) = call(c, "GET", "/connector-plugins", None).await;
    assert_eq!(status, 200);
    let classes: BTreeSet<&str> =
        plugins.as_array().expect("plugins").iter().filter_map(|p| p["class"].as_str()).collect();
    assert!(classes.contains("org.apache.kafka.connect.file.FileStreamSourceConnector"));
    assert!(classes.contains("io.confluent.connect.jdbc.JdbcSinkConnector"));

    // Validation: a missing topic, an unknown class, a bad JDBC URL.
    let missing_topic = json!({"connector.class": "FileStreamSource", "file": "/tmp/x"});
    let (status, infos) =
        call(c, "PUT", "/connector-plugins/FileStreamSource/config/validate", Some(missing_topic.clone())).await;
    assert_eq!(status, 200);
    assert_eq!(infos["error_count"], 1, "{infos}");
    let topic =
        infos["configs"].as_array().expect("configs").iter().find(|c| c["value"]["name"] == "topic").expect("topic");
    assert_eq!(
        topic["value"]["errors"],
        json!(["Missing required configuration \"topic\" which has no default value."])
    );
    assert_eq!(topic["definition"]["required"], true);
    let (status, error) =
        call(c, "POST", "/connectors", Some(json!({"name": "no-topic", "config": missing_topic}))).await;
    assert_eq!(status, 400);
    assert_eq!(error["error_code"], 400);
    let message = error["message"].as_str().expect("message");
    assert!(
        message.starts_with("Connector configuration is invalid and contains the following 1 error(s):"),
        "{message}"
    );
    assert!(message.contains("Missing required configuration \"topic\""), "{message}");
    let (status, error) =
        call(c, "POST", "/connectors", Some(json!({"name": "x", "config": {"connector.class": "com.example.Nope"}})))
            .await;
    assert_eq!(status, 400);
    assert!(error["message"].as_str().is_some_and(|m| m.contains("which name matches com.example.Nope")), "{error}");
    let bad_url = json!({"connector.class": "io.confluent.connect.jdbc.JdbcSourceConnector",
        "connection.url": "jdbc:mysql://localhost/db", "mode": "bulk", "table.whitelist": "t", "topic.prefix": "p-"});
    let (status, infos) =
        call(c, "PUT", "/connector-plugins/JdbcSourceConnector/config/validate", Some(bad_url.clone())).await;
    assert_eq!(status, 200);
    let url = infos["configs"]
        .as_array()
        .expect("configs")
        .iter()
        .find(|c| c["value"]["name"] == "connection.url")
        .expect("url");
    assert!(!url["value"]["errors"].as_array().expect("errors").is_empty(), "{infos}");
    let (status, error) = call(c, "POST", "/connectors", Some(json!({"name": "jdbc", "config": bad_url}))).await;
    assert_eq!(status, 400, "{error}");
    let (status, error) = call(
        c,
        "PUT",
        "/connector-plugins/FileStreamSink/config/validate",
        Some(json!({"connector.class": "FileStreamSource"})),
    )
    .await;
    assert_eq!(status, 400);
    assert!(error["message"].as_str().is_some_and(|m| m.starts_with("Included connector type")), "{error}");

    // Create, conflict, update, the name rules.
    let dir_path = dir.path().to_str().expect("utf-8");
    let config = json!({"connector.class": "FileStreamSink", "file": format!("{dir_path}/a.txt"), "topics": "t1", "tasks.max": "3"});
    let (status, _, body) =
        http(c, "PUT", "/connectors/sink-a/config", Some(&config.to_string()), &[]).await.expect("put");
    assert_eq!(status, 201, "{body}");
    let (status, info) = call(c, "PUT", "/connectors/sink-a/config", Some(config.clone())).await;
    assert_eq!((status, info["name"].as_str()), (200, Some("sink-a")), "an update");
    let info = until(c, "/connectors/sink-a", |i| i["tasks"].as_array().map(Vec::len) == Some(3)).await;
    assert_eq!(info["tasks"].as_array().map(Vec::len), Some(3), "a sink has tasks.max tasks: {info}");
    let (status, error) = call(c, "POST", "/connectors", Some(json!({"name": "sink-a", "config": config}))).await;
    assert_eq!((status, error["message"].as_str()), (409, Some("Connector sink-a already exists")));
    let renamed = json!({"connector.class": "FileStreamSink", "file": "/tmp/b", "topics": "t1", "name": "other"});
    let (status, error) = call(c, "PUT", "/connectors/sink-a/config", Some(renamed)).await;
    assert_eq!(status, 400);
    assert_eq!(
        error["message"],
        "Connector name configuration (other) doesn't match connector name in the URL (sink-a)"
    );
    let (status, _, _) = http(c, "POST", "/connectors", Some("{not json"), &[]).await.expect("post");
    assert_eq!(status, 400);

    // Reads, the 404s in Kafka's words, and a method the path lacks.
    let status_body = until(c, "/connectors/sink-a/status", |s| state_of(s).1 == vec!["RUNNING"; 3]).await;
    assert_eq!(state_of(&status_body), ("RUNNING".into(), vec!["RUNNING".into(); 3]), "{status_body}");
    assert_eq!(status_body["tasks"][0]["worker_id"], c.to_string());
    let (status, tasks) = call(c, "GET", "/connectors/sink-a/tasks", None).await;
    assert_eq!(status, 200);
    assert_eq!(tasks[2]["id"], json!({"connector": "sink-a", "task": 2}));
    assert_eq!(tasks[0]["config"]["task.class"], "org.apache.kafka.connect.file.FileStreamSinkTask");
    let (status, task) = call(c, "GET", "/connectors/sink-a/tasks/1/status", None).await;
    assert_eq!((status, task["id"].as_i64(), task["state"].as_str()), (200, Some(1), Some("RUNNING")));
    let (status, list) = call(c, "GET", "/connectors?expand=status&expand=info", None).await;
    assert_eq!(status, 200);
    assert_eq!(list["sink-a"]["info"]["name"], "sink-a");
    assert_eq!(list["sink-a"]["status"]["type"], "sink");
    for (path, message) in [
        ("/connectors/nope", "Connector nope not found"),
        ("/connectors/nope/config", "Connector nope not found"),
        ("/connectors/nope/status", "No status found for connector nope"),
        ("/connectors/sink-a/tasks/9/status", "No status found for task sink-a-9"),
    ] {
        let (status, error) = call(c, "GET", path, None).await;
        assert_eq!((status, error["error_code"].as_i64(), error["message"].as_str()), (404, Some(404), Some(message)));
    }
    let (status, error) = call(c, "DELETE", "/connectors/nope", None).await;
    assert_eq!((status, error["message"].as_str()), (404, Some("Connector nope not found")));
    let (status, error) = call(c, "POST", "/connectors/sink-a/status", None).await;
    assert_eq!((status, error["error_code"].as_i64()), (405, Some(405)));

    // Offsets change only when STOPPED.
    let offsets =
        json!({"offsets": [{"partition": {"kafka_topic": "t1", "kafka_partition": 0}, "offset": {"kafka_offset": 5}}]});
    let (status, error) = call(c, "PATCH", "/connectors/sink-a/offsets", Some(offsets.clone())).await;
    assert_eq!(status, 400);
    assert!(error["message"].as_str().is_some_and(|m| m.starts_with("Connectors must be in the STOPPED state")));
    let (status, _) = call(c, "PUT", "/connectors/sink-a/stop", None).await;
    assert_eq!(status, 204);
    let stopped = until(c, "/connectors/sink-a/status", |s| s["connector"]["state"] == "STOPPED").await;
    assert_eq!(stopped["tasks"], json!([]), "a stopped connector has no tasks");
    let (status, error) = call(c, "PATCH", "/connectors/sink-a/offsets", Some(json!({"offsets": []}))).await;
    assert_eq!(
        (status, error["message"].as_str()),
        (400, Some("Partitions / offsets need to be provided for an alter offsets request"))
    );
    let (status, done) = call(c, "PATCH", "/connectors/sink-a/offsets", Some(offsets)).await;
    assert_eq!(status, 200, "{done}");
    assert_eq!(done["message"], "The offsets for this connector have been altered successfully");
    let (_, now) = call(c, "GET", "/connectors/sink-a/offsets", None).await;
    assert_eq!(now["offsets"][0]["offset"], json!({"kafka_offset": 5}));
    let (status, done) = call(c, "DELETE", "/connectors/sink-a/offsets", None).await;
    assert_eq!(
        (status, done["message"].as_str()),
        (200, Some("The offsets for this connector have been reset successfully"))
    );
    let (_, now) = call(c, "GET", "/connectors/sink-a/offsets", None).await;
    assert_eq!(now, json!({"offsets": []}));
    let (status, _) = call(c, "PUT", "/connectors/sink-a/resume", None).await;
    assert_eq!(status, 202);
    let resumed = until(c, "/connectors/sink-a/status", |s| state_of(s).1 == vec!["RUNNING"; 3]).await;
    assert_eq!(resumed["connector"]["state"], "RUNNING", "resume starts a stopped connector: {resumed}");

    // A failing task is FAILED with its error; the others run on; restarts answer as Kafka's.
    let broken = json!({"name": "broken", "config": {"connector.class": "FileStreamSink", "file": "/nonexistent/dir/out.txt", "topics": "t1"}});
    let (status, _) = call(c, "POST", "/connectors", Some(broken)).await;
    assert_eq!(status, 201);
    let failed = until(c, "/connectors/broken/status", |s| s["tasks"][0]["state"] == "FAILED").await;
    assert!(
        failed["tasks"][0]["trace"].as_str().is_some_and(|t| t.contains("Couldn't find or create file")),
        "{failed}"
    );
    let (_, others) = call(c, "GET", "/connectors/sink-a/status", None).await;
    assert_eq!(state_of(&others).1, vec!["RUNNING"; 3]);
    let (status, plan) = call(c, "POST", "/connectors/broken/restart?includeTasks=true&onlyFailed=true", None).await;
    assert_eq!(status, 202);
    assert_eq!(plan["tasks"][0]["state"], "RESTARTING", "{plan}");
    assert_eq!(plan["connector"]["state"], "RUNNING", "only failed instances restart");
    let (status, _) = call(c, "POST", "/connectors/sink-a/restart", None).await;
    assert_eq!(status, 204);
    let (status, _) = call(c, "POST", "/connectors/sink-a/tasks/0/restart", None).await;
    assert_eq!(status, 204);
    let (status, error) = call(c, "POST", "/connectors/sink-a/tasks/7/restart", None).await;
    assert_eq!((status, error["message"].as_str()), (404, Some("Unknown task: sink-a-7")));

    // The same API under /connect/ on the dashboard's port; DELETE.
    let (status, names) = call(warren.http, "GET", "/connect/connectors", None).await;
    assert_eq!(status, 200);
    assert_eq!(names, json!(["broken", "sink-a"]));
    let (status, _) = call(warren.http, "DELETE", "/connect/connectors/broken", None).await;
    assert_eq!(status, 204);
    let (status, _) = call(c, "GET", "/connectors/broken", None).await;
    assert_eq!(status, 404);
    warren.stop().await.expect("stop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mutations_honour_the_admin_token_and_read_only_on_both_ports() {
    let dir = tempfile::tempdir().expect("tempdir");
    let warren = Warren::start(dir.path(), Options::brokers(1).with_toml("[http]\nadmin_token = \"s3cret\""))
        .await
        .expect("start");
    let file = dir.path().join("o.txt");
    let create = json!({"name": "guarded", "config": {"connector.class": "FileStreamSink", "file": file, "topics": "t", "my.password": "p4ss"}});
    for (addr, path) in [(warren.connect, "/connectors"), (warren.http, "/connect/connectors")] {
        let (status, error) = call(addr, "POST", path, Some(create.clone())).await;
        assert_eq!((status, error["error_code"].as_i64()), (401, Some(401)), "{path}: {error}");
        let (status, _) = call(addr, "GET", path, None).await;
        assert_eq!(status, 200, "reads need no token");
    }
    let (status, body) =
        call_with(warren.connect, "POST", "/connectors", Some(create), &[("Authorization", "Bearer s3cret")]).await;
    assert_eq!(status, 201, "{body}");
    // Secrets show only to the token's holder; validating is a read.
    let (_, config) = call(warren.connect, "GET", "/connectors/guarded/config", None).await;
    assert_eq!(config["my.password"], "[hidden]", "{config}");
    let (_, config) =
        call_with(warren.connect, "GET", "/connectors/guarded/config", None, &[("Authorization", "Bearer s3cret")])
            .await;
    assert_eq!(config["my.password"], "p4ss");
    let (_, info) = call(warren.http, "GET", "/connect/connectors?expand=info", None).await;
    assert_eq!(info["guarded"]["info"]["config"]["my.password"], "[hidden]", "{info}");
    let (status, infos) =
        call(warren.connect, "PUT", "/connector-plugins/FileStreamSink/config/validate", Some(json!({"file": "x"})))
            .await;
    assert_eq!((status, infos["error_count"].as_i64()), (200, Some(1)), "{infos}");
    let (status, _) =
        call_with(warren.http, "DELETE", "/connect/connectors/guarded", None, &[("Authorization", "Bearer s3cret")])
            .await;
    assert_eq!(status, 204);
    warren.stop().await.expect("stop");

    let dir = tempfile::tempdir().expect("tempdir");
    let warren =
        Warren::start(dir.path(), Options::brokers(1).with_toml("[http]\nread_only = true")).await.expect("start");
    let create =
        json!({"name": "ro", "config": {"connector.class": "FileStreamSink", "file": "/tmp/ro", "topics": "t"}});
    for (addr, path) in [(warren.connect, "/connectors"), (warren.http, "/connect/connectors")] {
        let (status, error) = call(addr, "POST", path, Some(create.clone())).await;
        assert_eq!((status, error["error_code"].as_i64()), (403, Some(403)), "{path}: {error}");
    }
    warren.stop().await.expect("stop");
}
