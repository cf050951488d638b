//! The web layer through its router, in process (`tower::ServiceExt::oneshot`): every page and
//! partial renders, every form does what it says (with confirmation for destructive ones), the
//! guard refuses what it must, and everything user-controlled (group ids, client ids, keys,
//! values, headers) comes back escaped. A real embedded cluster, a real SQLite store, a real
//! monitor tick.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use broker_core::NewTopic;
use broker_core::{ClusterConfig, Embedded};
use broker_core::{Committer, OffsetCommit};
use tower::ServiceExt;

use super::{router, AppState};
use crate::config::AlertsSection;
use crate::evaluator::EvalConfig;
use crate::monitor::{Monitor, Source};
use crate::store::Store;

const XSS: &str = "<script>alert('x')</script>";

struct Fixture {
    state: AppState,
    embedded: Option<Embedded>,
    sampler: tokio::task::JoinHandle<()>,
    _dir: tempfile::TempDir,
}

impl Fixture {
    async fn new(read_only: bool, admin_token: Option<&str>) -> Fixture {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut listeners = Vec::new();
        for _ in 0..3 {
            listeners.push(tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind"));
        }
        let mut config = ClusterConfig::new(dir.path().to_path_buf(), 3);
        config.groups.initial_rebalance_delay = std::time::Duration::ZERO;
        let embedded = Embedded::start(config, listeners).expect("cluster");
        let store = Store::open_in_memory().await.expect("store");
        let alerts = crate::alerts::Alerts::new(
            store.clone(),
            &AlertsSection::default(),
            crate::alerts::AlertsOptions::default(),
            Arc::new(crate::monitor::now_ms),
        )
        .expect("alerts");
        let state = AppState {
            connect: None,
            cluster: Some(Arc::clone(&embedded.cluster)),
            ready: Arc::new(AtomicBool::new(true)),
            read_only,
            admin_token: admin_token.map(str::to_string),
            monitor: Arc::new(Monitor::default()),
            store,
            alerts_config: Arc::new(AlertsSection::default()),
            alerts,
            external: Arc::new(Vec::new()),
            clients: Arc::new(Default::default()),
            metrics: crate::metrics::MetricsConfig { per_partition: true },
            hostname: "test-host".into(),
            sample_interval_s: 10,
            allowed_hosts: Arc::new(vec!["localhost".into(), "127.0.0.1".into()]),
            streams: Arc::new(Default::default()),
        };
        let sampler = tokio::spawn(crate::monitor::run_sampler(
            Arc::clone(&state.monitor),
            "local".into(),
            Source::Embedded(Arc::clone(&embedded.cluster)),
            state.store.clone(),
            crate::monitor::MonitorConfig {
                sample_interval: std::time::Duration::from_secs(1),
                raw_retention: std::time::Duration::from_secs(3600),
                eval: EvalConfig::default(),
            },
        ));
        let fixture = Fixture { state, embedded: Some(embedded), sampler, _dir: dir };
        fixture.tick().await;
        fixture
    }

    /// A monitor tick taken now (the fixture's sampler runs as warren's does).
    async fn tick(&self) {
        self.state.refreshed("local").await;
    }

    async fn request(
        &self,
        method: Method,
        uri: &str,
        body: Option<&str>,
        headers: &[(&str, &str)],
    ) -> (StatusCode, String) {
        let mut builder = Request::builder().method(method).uri(uri).header(header::HOST, "127.0.0.1:8080");
        if body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        for (k, v) in headers {
            builder = builder.header(*k, *v);
        }
        let request = builder.body(body.map_or_else(Body::empty, |b| Body::from(b.to_string()))).expect("request");
        let response = router(self.state.clone()).oneshot(request).await.expect("response");
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 24).await.expect("body");
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn get(&self, uri: &str) -> (StatusCode, String) {
        self.request(Method::GET, uri, None, &[]).await
    }

    async fn post(&self, uri: &str, body: &str) -> (StatusCode, String) {
        self.request(Method::POST, uri, Some(body), &[]).await
    }

    fn cluster(&self) -> &Arc<broker_core::Cluster> {
        self.state.cluster.as_ref().expect("embedded cluster")
    }

    async fn shutdown(mut self) {
        self.sampler.abort();
        if let Some(embedded) = self.embedded.take() {
            embedded.shutdown().await;
        }
    }
}

fn commit(topic: &str, partition: i32, offset: i64) -> OffsetCommit {
    OffsetCommit { topic: topic.into(), partition, offset, leader_epoch: -1, metadata: None }
}

fn assert_escaped(html: &str, what: &str) {
    assert!(!html.contains(XSS), "{what}: raw markup reached the page");
    assert!(
        html.contains("&lt;script&gt;") || html.contains("&#60;script&#62;"),
        "{what}: the payload is shown escaped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_page_renders_and_escapes_what_users_control() {
    let f = Fixture::new(false, None).await;
    let cluster = Arc::clone(f.cluster());
    cluster
        .create_topic(&NewTopic { name: "orders".into(), partitions: Some(3), ..NewTopic::default() }, false)
        .expect("topic");
    // Records whose key, value and header carry markup.
    let evil = bytes::Bytes::from(XSS);
    for p in 0..3 {
        cluster
            .produce_record("orders", p, Some(evil.clone()), Some(evil.clone()), vec![(XSS.into(), Some(evil.clone()))])
            .await
            .expect("produce");
    }
    // A group whose id is markup, and a healthy one.
    for group in [XSS, "healthy"] {
        let results = cluster.commit_offsets(None, group, &Committer::standalone(), vec![commit("orders", 0, 0)]).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
    }
    // A member whose client id and host-visible fields are markup.
    let coordinator = cluster.group_coordinator("members").expect("coordinator");
    let join = broker_core::JoinRequest {
        group_id: "members".into(),
        member_id: String::new(),
        group_instance_id: None,
        client_id: XSS.into(),
        client_host: "/127.0.0.1".into(),
        session_timeout: std::time::Duration::from_secs(30),
        rebalance_timeout: std::time::Duration::from_secs(30),
        protocol_type: "consumer".into(),
        protocols: vec![("range".into(), bytes::Bytes::new())],
        require_known_member_id: false,
    };
    let joined = cluster.join_group(coordinator, join).await;
    assert_eq!(joined.error, None);
    f.tick().await;
    f.tick().await;
    let (_, members) = f.get("/groups/members").await;
    assert_escaped(&members, "member client id");

    for (uri, needle) in [
        ("/", "Cluster local"),
        ("/brokers", "Broker"),
        ("/topics", "orders"),
        ("/topics?internal=1", "__consumer_offsets"),
        ("/topics/orders", "Leader and follower layout"),
        ("/groups", "healthy"),
        ("/groups/healthy", "Lag trend"),
        ("/groups/healthy?range=7d", "class=\"current\">7d"),
        ("/alerts", "No rules configured"),
        ("/metrics", "kafka_consumergroup_lag{consumergroup=\"healthy\""),
        ("/api/v1/alerts", "\"active\":[]"),
        ("/partials/overview", "id=\"overview\""),
        ("/partials/brokers", "id=\"brokers\""),
        ("/partials/topics/orders", "id=\"topic\""),
        ("/partials/groups", "id=\"groups\""),
        ("/partials/groups/healthy", "id=\"group\""),
        ("/topics/orders/messages?partition=1&offset=0", "offset 0"),
    ] {
        let (status, html) = f.get(uri).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {html}");
        assert!(html.contains(needle), "{uri} lacks {needle:?}");
    }
    let (_, groups) = f.get("/groups").await;
    assert_escaped(&groups, "group list");
    let encoded = super::pages::urlencode(XSS);
    let (status, group) = f.get(&format!("/groups/{encoded}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_escaped(&group, "group page");
    let (_, messages) = f.get("/topics/orders/messages?partition=2&offset=0&format=text").await;
    assert_escaped(&messages, "message browser");
    let escaped = messages.matches("&lt;script&gt;").count() + messages.matches("&#60;script&#62;").count();
    assert!(escaped >= 4, "key, value, header name and value are all escaped: {messages}");
    let (_, overview) = f.get("/").await;
    assert!(!overview.contains(XSS));

    // Formats, and the plain message when bytes are not what the format expects.
    let (_, json) = f.get("/topics/orders/messages?partition=0&offset=0&format=json").await;
    assert!(json.contains("not JSON"), "{json}");
    let (_, hex) = f.get("/topics/orders/messages?partition=0&offset=0&format=hex").await;
    assert!(hex.contains("3c 73 63 72"), "hex of '<scr'");
    let (status, bad) = f.get("/topics/orders/messages?partition=9").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(bad.contains("partition 9 does not exist"));
    let (status, bad) = f.get("/topics/orders/messages?timestamp=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(bad.contains("ISO 8601"));

    // Missing things are readable 404 pages.
    for uri in ["/topics/nope", "/groups/nope", "/nope", "/topics/nope/messages"] {
        let (status, html) = f.get(uri).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}");
        assert!(html.contains("<h1>"), "{uri} is a page");
    }
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forms_confirm_destructive_steps_and_report_errors_readably() {
    let f = Fixture::new(false, None).await;
    let cluster = Arc::clone(f.cluster());

    // Create a topic, then the same again (a readable conflict), then a bad one.
    let (status, _) =
        f.post("/topics", "name=forms&partitions=2&replication_factor=2&config=retention.ms%3D60000").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let topic = cluster.metadata().topics.get("forms").cloned().expect("created");
    assert_eq!((topic.partitions.len(), topic.partitions[0].replicas.len()), (2, 2));
    assert_eq!(topic.config.get("retention.ms").map(String::as_str), Some("60000"));
    let (status, html) = f.post("/topics", "name=forms&partitions=2").await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(html.contains("already exists"), "{html}");
    let (status, html) = f.post("/topics", "name=bad%20name").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("only ASCII letters"), "{html}");
    let (status, html) = f.post("/topics", "name=x&partitions=many").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("not a whole number"), "{html}");

    // Grow it; produce one record; it is readable where the redirect says.
    let (status, _) = f.post("/topics/forms/partitions", "count=4").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(cluster.metadata().topics["forms"].partitions.len(), 4);
    let (status, _) = f.post("/topics/forms/messages", "partition=1&key=k1&value=hello&headers=trace%3Dabc").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    let (_, html) = f.get("/topics/forms/messages?partition=1&offset=0").await;
    assert!(html.contains("hello") && html.contains("trace: abc"), "{html}");

    // Destructive steps ask first.
    let (status, html) = f.post("/topics/forms/delete", "").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Please confirm") && html.contains("name=\"confirm\" value=\"yes\""));
    assert!(cluster.has_topic("forms"), "nothing deleted before confirmation");
    let (status, _) = f.post("/topics/forms/delete", "confirm=yes").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(!cluster.has_topic("forms"));

    let (_, html) = f.post("/brokers/3/stop", "").await;
    assert!(html.contains("Stop broker 3?"));
    assert!(cluster.broker(3).is_some_and(|b| b.is_up()));
    let (status, _) = f.post("/brokers/3/stop", "confirm=yes").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(!cluster.broker(3).is_some_and(|b| b.is_up()));
    let (status, _) = f.post("/brokers/3/start", "confirm=yes").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(cluster.broker(3).is_some_and(|b| b.is_up()));
    let (status, _) = f.post("/brokers/9/stop", "confirm=yes").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Offset reset: confirmation, then the committed offsets move.
    cluster
        .create_topic(&NewTopic { name: "resettable".into(), partitions: Some(1), ..NewTopic::default() }, false)
        .expect("topic");
    for _ in 0..5 {
        cluster
            .produce_record("resettable", 0, None, Some(bytes::Bytes::from_static(b"v")), vec![])
            .await
            .expect("produce");
    }
    let results =
        cluster.commit_offsets(None, "resetme", &Committer::standalone(), vec![commit("resettable", 0, 5)]).await;
    assert!(results.iter().all(Result::is_ok));
    let (_, html) = f.post("/groups/resetme/reset-offsets", "topic=resettable&to=earliest").await;
    assert!(html.contains("Please confirm"));
    let (status, _) = f.post("/groups/resetme/reset-offsets", "topic=resettable&to=offset&value=2&confirm=yes").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(cluster.committed_offsets("resetme").expect("group")[&("resettable".to_string(), 0)].offset, 2);
    let (status, html) =
        f.post("/groups/resetme/reset-offsets", "topic=resettable&to=datetime&value=soon&confirm=yes").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("ISO 8601"));
    f.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_guard_refuses_read_only_tokenless_and_cross_site_changes() {
    let f = Fixture::new(false, Some("s3cret")).await;
    let (status, html) = f.post("/topics", "name=t1").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(html.contains("admin token"), "{html}");
    let (_, page) = f.get("/topics").await;
    assert!(!page.contains("Create a topic") && page.contains("Log in"), "no forms before logging in");
    let (status, html) = f.post("/login", "token=wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(html.contains("not the admin token"));
    let (status, _) = f.request(Method::POST, "/login", Some("token=s3cret"), &[]).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // The cookie holds a session value derived from the token, never the token.
    let raw = [("Cookie", "warren_admin=s3cret")];
    let (_, page) = f.request(Method::GET, "/topics", None, &raw).await;
    assert!(!page.contains("Create a topic"), "the raw token is not a session cookie");
    let session = format!("warren_admin={}", super::auth::session_value("s3cret"));
    let cookie = [("Cookie", session.as_str())];
    let (_, page) = f.request(Method::GET, "/topics", None, &cookie).await;
    assert!(page.contains("Create a topic") && page.contains("Log out"));
    let (status, _) = f.request(Method::POST, "/topics", Some("name=t1"), &cookie).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    // A form posted from another site is refused even with the cookie.
    let evil = [("Cookie", session.as_str()), ("Origin", "https://evil.example")];
    let (status, html) = f.request(Method::POST, "/topics", Some("name=t2"), &evil).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("evil.example"), "{html}");
    let same = [("Cookie", session.as_str()), ("Origin", "http://127.0.0.1:8080")];
    let (status, _) = f.request(Method::POST, "/topics", Some("name=t3"), &same).await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(!f.cluster().has_topic("t2") && f.cluster().has_topic("t3"));
    f.shutdown().await;

    let f = Fixture::new(true, Some("s3cret")).await;
    let (status, html) = f.request(Method::POST, "/topics", Some("name=t1"), &cookie).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(html.contains("--read-only"));
    for path in ["/streams/jobs/stop", "/streams/jobs/reset", "/api/v1/streams/jobs/start"] {
        let (status, _) = f.request(Method::POST, path, Some(""), &cookie).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path} is refused read-only");
    }
    let (_, page) = f.get("/brokers").await;
    assert!(!page.contains(">Stop<") && page.contains("read-only"));
    f.shutdown().await;
}

/// A group named like a path cannot point the page's htmx refresh at another route (the stored
/// XSS of issue 13: `../../api/v1/groups` made the partial fetch the JSON API and swap it in),
/// every response carries a strict Content-Security-Policy, and a Host outside
/// `[http] allowed_hosts` (a DNS-rebinding page) is refused, for reads and for changes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn names_cannot_change_paths_and_foreign_hosts_are_refused() {
    let f = Fixture::new(false, None).await;
    let cluster = Arc::clone(f.cluster());
    cluster
        .create_topic(&NewTopic { name: "paths".into(), partitions: Some(1), ..NewTopic::default() }, false)
        .expect("topic");
    let traversal = "../../api/v1/groups";
    for group in [traversal, "<img src=x onerror=alert(1)>"] {
        let results = cluster.commit_offsets(None, group, &Committer::standalone(), vec![commit("paths", 0, 0)]).await;
        assert!(results.iter().all(Result::is_ok), "{results:?}");
    }
    f.tick().await;
    let encoded = super::pages::urlencode(traversal);
    assert!(!encoded.contains('/'), "{encoded}");
    let (status, page) = f.get(&format!("/groups/{encoded}")).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    assert!(
        page.contains("hx-get=\"/partials/groups/..%2F..%2Fapi%2Fv1%2Fgroups?"),
        "the refresh stays one path segment: {page}"
    );
    assert!(!page.contains("hx-get=\"/partials/groups/../"), "{page}");
    let (status, partial) = f.get(&format!("/partials/groups/{encoded}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(partial.contains("id=\"group\"") && !partial.contains("<img src=x"), "{partial}");

    let full = |uri: &'static str, host: &'static str, method: Method| {
        let state = f.state.clone();
        async move {
            let request = Request::builder()
                .method(method)
                .uri(uri)
                .header(header::HOST, host)
                .header(header::ORIGIN, format!("http://{host}"))
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(r#"{"name":"rebound"}"#))
                .expect("request");
            router(state).oneshot(request).await.expect("response")
        }
    };
    for uri in ["/", "/groups", "/api/v1/groups", "/static/warren.css", "/no-such-page"] {
        let response = full(uri, "127.0.0.1:8080", Method::GET).await;
        let headers = response.headers();
        let csp = headers.get(header::CONTENT_SECURITY_POLICY).and_then(|v| v.to_str().ok()).unwrap_or("");
        assert!(csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), "{uri}: {csp}");
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"), "{uri}: {csp}");
        assert_eq!(headers.get(header::X_FRAME_OPTIONS).map(|v| v.as_bytes()), Some(&b"DENY"[..]), "{uri}");
        assert_eq!(headers.get(header::X_CONTENT_TYPE_OPTIONS).map(|v| v.as_bytes()), Some(&b"nosniff"[..]), "{uri}");
    }
    // DNS rebinding: a page on evil.example whose name now resolves to 127.0.0.1. Its Origin
    // matches its Host, so the cross-site check alone let it create a topic.
    let response = full("/api/v1/topics", "evil.example:8080", Method::POST).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
    assert!(!cluster.has_topic("rebound"), "no topic created through a foreign host");
    let body = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
    assert!(String::from_utf8_lossy(&body).contains("allowed_hosts"));
    let response = full("/api/v1/groups", "evil.example:8080", Method::GET).await;
    assert_eq!(response.status(), StatusCode::FORBIDDEN, "reads through a foreign host are refused too");
    assert!(response.headers().contains_key(header::CONTENT_SECURITY_POLICY));
    let response = full("/api/v1/topics", "localhost:8080", Method::POST).await;
    assert_eq!(response.status(), StatusCode::CREATED, "the allowed names still work");
    f.shutdown().await;
}

/// A topic's configs: the page lists every effective one with its source and, for an admin, a
/// form that sets one and a button that resets it; the JSON API changes several at once; a bad
/// value is a 400 naming the key and changes nothing; read-only refuses both.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn topic_configs_show_and_change_from_the_page_and_the_api() {
    let f = Fixture::new(false, None).await;
    let cluster = Arc::clone(f.cluster());
    cluster
        .create_topic(&NewTopic { name: "tuned".into(), partitions: Some(1), ..NewTopic::default() }, false)
        .expect("topic");
    f.tick().await;
    let (status, html) = f.get("/topics/tuned").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains(r#"<tr data-config="retention.ms"><td><code>retention.ms</code></td><td><code>604800000</code></td><td><span class="muted">default</span>"#), "{html}");
    assert!(html.contains(r#"id="config-form""#));

    let (status, _) = f.post("/topics/tuned/configs", "name=retention.ms&value=60000").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert_eq!(cluster.metadata().topics["tuned"].config.get("retention.ms").map(String::as_str), Some("60000"));
    let (_, html) = f.get("/topics/tuned").await;
    assert!(html.contains(r#"<td><code>60000</code></td><td>set on this topic</td>"#), "{html}");
    assert!(html.contains(r#"name="reset" value="retention.ms""#));
    let (status, html) = f.post("/topics/tuned/configs", "name=segment.bytes&value=12").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(html.contains("segment.bytes: must be at least 65536"), "{html}");
    let (status, _) = f.post("/topics/tuned/configs", "reset=retention.ms").await;
    assert_eq!(status, StatusCode::SEE_OTHER);
    assert!(cluster.metadata().topics["tuned"].config.is_empty());

    let patch = |body: &'static str| {
        let state = f.state.clone();
        async move {
            let request = Request::builder()
                .method(Method::PATCH)
                .uri("/api/v1/topics/tuned/configs")
                .header(header::HOST, "127.0.0.1:8080")
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body))
                .expect("request");
            let response = router(state).oneshot(request).await.expect("response");
            let status = response.status();
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20).await.expect("body");
            (status, String::from_utf8_lossy(&bytes).into_owned())
        }
    };
    let (status, json) = patch(r#"{"set": {"max.message.bytes": "5000", "cleanup.policy": "compact,delete"}}"#).await;
    assert_eq!(status, StatusCode::OK, "{json}");
    let configs: serde_json::Value = serde_json::from_str(&json).expect("json");
    let find = |name: &str| configs.as_array().expect("array").iter().find(|c| c["name"] == name).cloned().expect(name);
    assert_eq!(find("max.message.bytes")["value"], "5000");
    assert_eq!(find("max.message.bytes")["source"], "topic");
    assert_eq!(find("retention.ms")["source"], "default");
    let (status, json) = patch(r#"{"set": {"min.insync.replicas": "0"}, "delete": ["max.message.bytes"]}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(json.contains("min.insync.replicas: must be at least 1"), "{json}");
    assert_eq!(cluster.metadata().topics["tuned"].config.get("max.message.bytes").map(String::as_str), Some("5000"));
    let (status, _) = patch(r#"{"set": {}}"#).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    f.shutdown().await;

    let f = Fixture::new(true, None).await;
    let (status, _) = f.post("/topics/__consumer_offsets/configs", "name=retention.ms&value=1").await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    f.shutdown().await;
}
