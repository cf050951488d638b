//! End-to-end tests of the engine with real parts: a SQLite store (a file when a restart is part
//! of the test), the real delivery worker and reqwest, and a real HTTP receiver on loopback.
//! Signatures are checked by an independent implementation (Python's stdlib). Rule time is
//! synthetic (`base + offset`, so `for` and `repeat_interval` need no waiting); delivery runs on
//! the wall clock with backoffs shrunk to milliseconds.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::test_receiver::{Received, Reply, TestReceiver};
use super::*;
use crate::config::AlertsSection;
use crate::store::{AlertPhase, AttemptOutcome, SilenceMatcher, Store};

fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn section(text: &str) -> AlertsSection {
    #[derive(serde::Deserialize)]
    struct File {
        alerts: AlertsSection,
    }
    toml::from_str::<File>(text).expect("alerts config parses").alerts
}

fn fast_options() -> AlertsOptions {
    AlertsOptions {
        external_url: "http://warren.test:8080".into(),
        delivery: DeliveryOptions {
            timeout: Duration::from_secs(5),
            backoff_initial: Duration::from_millis(10),
            backoff_max: Duration::from_millis(50),
            max_attempts: 50,
            idle_poll: Duration::from_secs(1),
            slack_min_interval: Duration::from_millis(200),
            ..DeliveryOptions::default()
        },
        ..AlertsOptions::default()
    }
}

fn engine(store: &Store, config: &str, options: AlertsOptions) -> Arc<Alerts> {
    Alerts::new(store.clone(), &section(config), options, Arc::new(wall_ms)).expect("engine")
}

/// One receiver of `kind` at `url`, one `group_status` ERR rule with `for` 30s and
/// `repeat_interval` 1m.
fn config(kind: &str, url: &str, secret: Option<&str>) -> String {
    let secret = secret.map_or(String::new(), |s| format!("hmac_secret = \"{s}\"\n"));
    format!(
        "[[alerts.receivers]]\nname = \"ops\"\nkind = \"{kind}\"\nurl = \"{url}\"\n{secret}\
         bearer_token = \"tok\"\nheaders = {{ \"X-Team\" = \"kafka\" }}\n\
         [[alerts.rules]]\nname = \"group-error\"\nkind = \"group_status\"\nstatus = \"ERR\"\n\
         for = \"30s\"\nrepeat_interval = \"1m\"\ngroups = \"pay.*\"\nreceivers = [\"ops\"]\n"
    )
}

fn facts(now_ms: i64, groups: &[(&str, &str)]) -> Facts {
    Facts {
        cluster: "local".into(),
        now_ms,
        groups: groups
            .iter()
            .map(|(g, s)| GroupFacts {
                group: g.to_string(),
                status: crate::evaluator::GroupState::parse(s).expect("status"),
                total_lag: 1234,
                max_lag_seconds: Some(42.0),
            })
            .collect(),
        ..Facts::default()
    }
}

struct Worker {
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Worker {
    fn start(alerts: &Arc<Alerts>) -> Worker {
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(Arc::clone(alerts).run_delivery(async move {
            let _ = stopped.await;
        }));
        Worker { stop, task }
    }

    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(Duration::from_secs(5), self.task).await.expect("worker stops").expect("worker ran");
    }
}

/// Waits (up to 10 s) until `n` delivery attempts have been recorded.
async fn attempts(alerts: &Alerts, n: u64) {
    let mut progress = alerts.delivery_progress();
    let waited = tokio::time::timeout(Duration::from_secs(10), progress.wait_for(|v| *v >= n)).await.is_ok();
    assert!(waited, "expected {n} recorded attempts, got {}", *progress.borrow());
}

/// Waits (up to 10 s) until `n` attempts with `outcome` have been recorded.
async fn outcomes(alerts: &Alerts, outcome: AttemptOutcome, n: u64) {
    let count = || alerts.counters().iter().filter(|c| c.outcome == outcome).map(|c| c.count).sum::<u64>();
    let mut progress = alerts.delivery_progress();
    let waited = tokio::time::timeout(Duration::from_secs(10), async {
        while count() < n {
            progress.changed().await.expect("the engine is alive");
        }
    })
    .await;
    assert!(waited.is_ok(), "expected {n} {outcome:?} attempts, got {}", count());
}

/// Verifies a Standard Webhooks signature with Python's `hmac`, `hashlib` and `base64`.
fn python_verifies(secret: &str, r: &Received) -> bool {
    const SCRIPT: &str = r#"
import base64, hashlib, hmac, sys
secret, msg_id, ts, header = sys.argv[1:5]
body = sys.stdin.buffer.read()
key = base64.b64decode(secret[len("whsec_"):]) if secret.startswith("whsec_") else secret.encode()
mac = hmac.new(key, msg_id.encode() + b"." + ts.encode() + b"." + body, hashlib.sha256).digest()
expected = base64.b64encode(mac).decode()
sys.exit(0 if any(hmac.compare_digest(s[3:], expected) for s in header.split(" ") if s.startswith("v1,")) else 1)
"#;
    let mut child = Command::new("/usr/bin/python3")
        .args([
            "-c",
            SCRIPT,
            secret,
            &r.header("webhook-id"),
            &r.header("webhook-timestamp"),
            &r.header("webhook-signature"),
        ])
        .stdin(Stdio::piped())
        .spawn()
        .expect("run python3");
    std::io::Write::write_all(&mut child.stdin.take().expect("stdin"), &r.body).expect("write the body");
    child.wait().expect("python3 exits").success()
}

#[tokio::test]
async fn fires_after_for_repeats_and_resolves_signed() {
    let mut hook = TestReceiver::start().await;
    let store = Store::open_in_memory().await.expect("store");
    let alerts = engine(&store, &config("alertmanager", &hook.url("am"), Some("s3cret")), fast_options());
    let worker = Worker::start(&alerts);
    let t0 = wall_ms();
    let err = [("payments", "ERR"), ("audit", "ERR"), ("payroll", "OK")];
    let steps = [(0, &err[..], 0), (29_999, &err, 0), (30_000, &err, 1), (60_000, &err, 0), (90_000, &err, 1)];
    for (offset, groups, expected) in steps {
        let summary = alerts.evaluate(&facts(t0 + offset, groups)).await.expect("evaluate");
        assert_eq!(summary.notifications, expected, "at +{offset} ms");
    }
    let summary = alerts.evaluate(&facts(t0 + 100_000, &[("payments", "OK")])).await.expect("evaluate");
    assert_eq!((summary.notifications, summary.resolved), (1, 1));
    let received = hook.wait_for(3).await;
    attempts(&alerts, 3).await;
    let bodies: Vec<serde_json::Value> = received.iter().map(Received::json).collect();
    let statuses: Vec<&str> = bodies.iter().map(|b| b["status"].as_str().unwrap_or("")).collect();
    assert_eq!(statuses, ["firing", "firing", "resolved"]);
    for r in &received {
        assert!(python_verifies("s3cret", r), "signature of {}", r.header("webhook-id"));
        assert!(!python_verifies("other", r));
        assert_eq!(r.path, "/am");
        assert_eq!(r.header("authorization"), "Bearer tok");
        assert_eq!(r.header("x-team"), "kafka");
        assert_eq!(r.header("content-type"), "application/json");
        let ts: i64 = r.header("webhook-timestamp").parse().expect("unix seconds");
        assert!((ts - wall_ms() / 1000).abs() < 60, "the timestamp is the attempt's");
    }
    let ids: std::collections::BTreeSet<String> = received.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), 3, "each notification has its own id");
    // Only the matching group alerts (groups = "pay.*" is anchored: "payroll" is OK, "audit" is filtered).
    let first = &bodies[0];
    assert_eq!(first["alerts"].as_array().map(Vec::len), Some(1));
    assert_eq!(first["alerts"][0]["labels"]["group"], "payments");
    assert_eq!(first["alerts"][0]["startsAt"], payload::rfc3339_ms(t0));
    assert_eq!(bodies[2]["alerts"][0]["endsAt"], payload::rfc3339_ms(t0 + 100_000));
    let overview = alerts.overview(10).await.expect("overview");
    assert!(overview.active.is_empty());
    assert_eq!(overview.recent.len(), 1);
    assert_eq!(overview.recent[0].alert.phase, AlertPhase::Resolved);
    assert_eq!(
        alerts.counters(),
        vec![DeliveryCount { receiver: "ops".into(), outcome: AttemptOutcome::Delivered, count: 3 }]
    );
    worker.stop().await;
    hook.stop().await;
}

#[tokio::test]
async fn whsec_secrets_and_every_kind_verify_independently() {
    let mut hook = TestReceiver::start().await;
    let store = Store::open_in_memory().await.expect("store");
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    let mut text = String::new();
    for kind in ["alertmanager", "slack", "generic"] {
        text.push_str(&format!(
            "[[alerts.receivers]]\nname = \"{kind}\"\nkind = \"{kind}\"\nurl = \"{}\"\nhmac_secret = \"{secret}\"\n",
            hook.url(kind)
        ));
    }
    text.push_str("[[alerts.rules]]\nname = \"down\"\nkind = \"broker_down\"\nreceivers = [\"alertmanager\", \"slack\", \"generic\"]\n");
    let alerts = engine(&store, &text, fast_options());
    let worker = Worker::start(&alerts);
    let down = Facts {
        cluster: "local".into(),
        now_ms: wall_ms(),
        brokers: vec![BrokerFacts { id: 1, up: true }, BrokerFacts { id: 2, up: false }],
        ..Facts::default()
    };
    assert_eq!(alerts.evaluate(&down).await.expect("evaluate").notifications, 3);
    let received = hook.wait_for(3).await;
    for r in &received {
        assert!(python_verifies(secret, r), "{}", r.path);
        // The raw-bytes key (no whsec_ decoding) must not verify: the decoding is really applied.
        assert!(!python_verifies(&format!("raw{secret}"), r));
    }
    let by_path = |p: &str| received.iter().find(|r| r.path == p).map(Received::json).expect("request");
    assert_eq!(by_path("/alertmanager")["alerts"][0]["labels"]["broker"], "2");
    assert!(by_path("/slack")["text"].as_str().is_some_and(|t| t.contains("Broker 2 is down")));
    assert_eq!(by_path("/generic")["alerts"][0]["status"], "firing");
    worker.stop().await;
    hook.stop().await;
}

#[tokio::test]
async fn a_receiver_that_is_down_gets_the_notification_when_it_returns() {
    let mut hook = TestReceiver::start().await;
    hook.stop().await;
    let store = Store::open_in_memory().await.expect("store");
    let alerts = engine(&store, &config("alertmanager", &hook.url("am"), Some("s3cret")), fast_options());
    let worker = Worker::start(&alerts);
    let t0 = wall_ms();
    alerts.evaluate(&facts(t0, &[("payments", "ERR")])).await.expect("evaluate");
    alerts.evaluate(&facts(t0 + 30_000, &[("payments", "ERR")])).await.expect("evaluate");
    attempts(&alerts, 3).await; // connection refused, three times
    hook.script([Reply::Status(503), Reply::RetryAfter(503, 0), Reply::Status(500)]);
    hook.restart().await;
    let received = hook.wait_for(4).await;
    outcomes(&alerts, AttemptOutcome::Delivered, 1).await;
    let ids: std::collections::BTreeSet<String> = received.iter().map(|r| r.header("webhook-id")).collect();
    assert_eq!(ids.len(), 1, "the same webhook-id on every attempt");
    assert!(received.iter().all(|r| r.body == received[0].body), "the same body on every attempt");
    assert!(received.iter().all(|r| python_verifies("s3cret", r)));
    let mut log = alerts.delivery_log(100).await.expect("log");
    log.reverse(); // oldest first
    let refused = log.iter().take_while(|a| a.status_code.is_none()).count();
    assert!(refused >= 3, "{log:?}");
    assert!(log[..refused].iter().all(|a| a.outcome == AttemptOutcome::Retry), "{log:?}");
    assert!(log[0].error.as_deref().is_some_and(|e| e.contains("onnect")), "{:?}", log[0].error);
    let codes: Vec<Option<i64>> = log[refused..].iter().map(|a| a.status_code).collect();
    assert_eq!(codes, [Some(503), Some(503), Some(500), Some(200)]);
    assert_eq!(log.last().map(|a| a.outcome.as_str()), Some("delivered"));
    let numbers: Vec<i64> = log.iter().map(|a| a.attempt).collect();
    assert_eq!(numbers, (1..=log.len() as i64).collect::<Vec<_>>());
    let outbox = alerts.notifications(10).await.expect("outbox");
    assert_eq!((outbox.len(), outbox[0].state.as_str(), outbox[0].attempts), (1, "delivered", log.len() as i64));
    worker.stop().await;
    hook.stop().await;
}

#[tokio::test]
async fn retry_after_is_honoured_and_a_400_is_given_up_with_its_reason() {
    let mut hook = TestReceiver::start().await;
    let store = Store::open_in_memory().await.expect("store");
    let alerts = engine(&store, &config("slack", &hook.url("slack"), None), fast_options());
    let worker = Worker::start(&alerts);
    hook.script([Reply::RetryAfter(429, 1), Reply::Status(200), Reply::Body(400, "invalid_payload")]);
    let t0 = wall_ms();
    alerts.evaluate(&facts(t0, &[("payments", "ERR")])).await.expect("evaluate");
    alerts.evaluate(&facts(t0 + 30_000, &[("payments", "ERR")])).await.expect("evaluate");
    let received = hook.wait_for(2).await;
    // Backoff is capped at 50 ms here, so a second-long gap is the Retry-After.
    let gap = received[1].at - received[0].at;
    assert!(gap >= Duration::from_millis(990), "retried after {gap:?}");
    assert_eq!(received[0].header("webhook-id"), received[1].header("webhook-id"));
    assert!(received[0].header("webhook-signature").is_empty(), "unsigned without a secret");
    attempts(&alerts, 2).await;
    // A 400 is final: one request, the reason kept, and the queue moves on.
    alerts.evaluate(&facts(t0 + 40_000, &[])).await.expect("evaluate"); // resolved → rejected
    attempts(&alerts, 3).await;
    alerts.evaluate(&facts(t0 + 50_000, &[("payments", "ERR")])).await.expect("evaluate");
    alerts.evaluate(&facts(t0 + 80_000, &[("payments", "ERR")])).await.expect("evaluate");
    hook.wait_for(4).await;
    attempts(&alerts, 4).await;
    let received = hook.received();
    assert_eq!(received.len(), 4, "the 400 was not retried");
    for pair in received.windows(2) {
        assert!(pair[1].at - pair[0].at >= Duration::from_millis(195), "slack requests are spaced");
    }
    let outbox = alerts.notifications(10).await.expect("outbox");
    let states: Vec<(&str, &str, i64)> =
        outbox.iter().rev().map(|o| (o.status.as_str(), o.state.as_str(), o.attempts)).collect();
    assert_eq!(states, [("firing", "delivered", 2), ("resolved", "failed", 1), ("firing", "delivered", 1)]);
    let failed = &outbox[1];
    assert_eq!(failed.last_status, Some(400));
    assert_eq!(failed.last_error.as_deref(), Some("HTTP 400: invalid_payload"));
    let counters = alerts.counters();
    let count = |outcome| counters.iter().find(|c| c.outcome == outcome).map_or(0, |c| c.count);
    assert_eq!(
        (count(AttemptOutcome::Delivered), count(AttemptOutcome::Retry), count(AttemptOutcome::Failed)),
        (2, 1, 1)
    );
    worker.stop().await;
    hook.stop().await;
}

#[tokio::test]
async fn a_timeout_is_retried() {
    let mut hook = TestReceiver::start().await;
    let store = Store::open_in_memory().await.expect("store");
    let mut options = fast_options();
    options.delivery.timeout = Duration::from_millis(300);
    let alerts = engine(&store, &config("generic", &hook.url("g"), None), options);
    let worker = Worker::start(&alerts);
    hook.script([Reply::Hang]);
    let t0 = wall_ms();
    alerts.evaluate(&facts(t0, &[("payments", "ERR")])).await.expect("evaluate");
    alerts.evaluate(&facts(t0 + 30_000, &[("payments", "ERR")])).await.expect("evaluate");
    hook.wait_for(2).await;
    attempts(&alerts, 2).await;
    hook.release();
    let log = alerts.delivery_log(10).await.expect("log");
    let outcomes: Vec<(&str, Option<&str>)> =
        log.iter().rev().map(|a| (a.outcome.as_str(), a.error.as_deref())).collect();
    assert_eq!(outcomes, [("retry", Some("request timed out")), ("delivered", None)]);
    worker.stop().await;
    hook.stop().await;
}

#[tokio::test]
async fn killed_mid_delivery_resumes_after_restart_and_delivers_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("warren.db");
    let hook = TestReceiver::start().await;
    let text = config("alertmanager", &hook.url("am"), Some("s3cret"));
    let t0 = wall_ms();
    {
        let store = Store::open(&path).await.expect("store");
        let alerts = engine(&store, &text, fast_options());
        hook.script([Reply::Hang]);
        let worker = Worker::start(&alerts);
        alerts.evaluate(&facts(t0, &[("payments", "ERR")])).await.expect("evaluate");
        alerts.evaluate(&facts(t0 + 30_000, &[("payments", "ERR")])).await.expect("evaluate");
        hook.wait_for(1).await; // the request is in flight: "kill" warren now
        worker.stop().await;
        drop(alerts);
        store.close().await;
    }
    let store = Store::open(&path).await.expect("reopen");
    let alerts = engine(&store, &text, fast_options());
    assert_eq!(alerts.notifications(10).await.expect("outbox")[0].state, crate::store::OutboxState::Pending);
    let worker = Worker::start(&alerts);
    let received = hook.wait_for(2).await;
    attempts(&alerts, 1).await;
    hook.release();
    assert_eq!(received[0].header("webhook-id"), received[1].header("webhook-id"));
    assert_eq!(received[0].body, received[1].body);
    assert!(python_verifies("s3cret", &received[1]));
    let outbox = alerts.notifications(10).await.expect("outbox");
    assert_eq!((outbox.len(), outbox[0].state.as_str(), outbox[0].attempts), (1, "delivered", 1));
    // Still firing after the restart: not notified again before repeat_interval.
    let summary = alerts.evaluate(&facts(t0 + 40_000, &[("payments", "ERR")])).await.expect("evaluate");
    assert_eq!(summary.notifications, 0);
    worker.stop().await;
    assert_eq!(hook.received().len(), 2);
}

#[tokio::test]
async fn alert_state_survives_a_restart_without_renotifying() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("warren.db");
    let hook = TestReceiver::start().await;
    let text = config("generic", &hook.url("g"), None);
    let t0 = wall_ms();
    let run = |offset: i64, groups: &'static [(&'static str, &'static str)]| {
        let (path, text) = (path.clone(), text.clone());
        async move {
            let store = Store::open(&path).await.expect("store");
            let alerts = engine(&store, &text, fast_options());
            let summary = alerts.evaluate(&facts(t0 + offset, groups)).await.expect("evaluate");
            let worker = Worker::start(&alerts);
            if summary.notifications > 0 {
                attempts(&alerts, 1).await;
            }
            worker.stop().await;
            store.close().await;
            summary.notifications
        }
    };
    let err: &'static [(&str, &str)] = &[("payments", "ERR")];
    // Each step is a fresh process: pending survives (for counts from the first sighting), firing
    // survives (no re-notification before repeat_interval), and the resolve is sent once.
    let steps = [
        (0, err, 0),
        (30_000, err, 1),
        (31_000, err, 0),
        (60_000, err, 0),
        (90_000, err, 1),
        (95_000, &[][..], 1),
        (96_000, &[][..], 0),
    ];
    for (offset, groups, expected) in steps {
        assert_eq!(run(offset, groups).await, expected, "at +{offset} ms");
    }
    let statuses: Vec<String> =
        hook.received().iter().map(|r| r.json()["status"].as_str().unwrap_or("").to_string()).collect();
    assert_eq!(statuses, ["firing", "firing", "resolved"]);
}

#[tokio::test]
async fn silences_mute_without_hiding() {
    let hook = TestReceiver::start().await;
    let store = Store::open_in_memory().await.expect("store");
    let alerts = engine(&store, &config("generic", &hook.url("g"), None), fast_options());
    let t0 = wall_ms();
    let group = alerts
        .create_silence(SilenceRequest {
            matcher: SilenceMatcher::Group,
            target: "payments".into(),
            cluster: Some("local".into()),
            duration: Duration::from_secs(60),
            comment: "deploying".into(),
            created_by: "admin".into(),
        })
        .await
        .expect("silence");
    let err = [("payments", "ERR"), ("payouts", "ERR")];
    alerts.evaluate(&facts(t0, &err)).await.expect("evaluate");
    let summary = alerts.evaluate(&facts(t0 + 30_000, &err)).await.expect("evaluate");
    assert_eq!(summary.notifications, 1, "payouts notifies; payments is muted");
    let overview = alerts.overview(10).await.expect("overview");
    let silenced: Vec<(String, Option<i64>)> =
        overview.active.iter().map(|a| (a.alert.labels["group"].clone(), a.silenced_by)).collect();
    assert_eq!(silenced, [("payments".to_string(), Some(group.id)), ("payouts".to_string(), None)]);
    assert!(overview.active.iter().all(|a| a.alert.phase == AlertPhase::Firing && a.severity == "critical"));
    // Ending the silence lets the still-firing alert notify at the next tick.
    assert!(alerts.delete_silence(group.id).await.expect("delete"));
    assert!(!alerts.delete_silence(group.id).await.expect("delete again"));
    let summary = alerts.evaluate(&facts(t0 + 35_000, &err)).await.expect("evaluate");
    assert_eq!(summary.notifications, 1);
    // A rule silence mutes every alert of the rule, the resolve included.
    alerts
        .create_silence(SilenceRequest {
            matcher: SilenceMatcher::Rule,
            target: "group-error".into(),
            cluster: None,
            duration: Duration::from_secs(3600),
            comment: String::new(),
            created_by: "admin".into(),
        })
        .await
        .expect("silence");
    let summary = alerts.evaluate(&facts(t0 + 200_000, &[])).await.expect("evaluate");
    assert_eq!((summary.notifications, summary.resolved), (0, 2));
    let silences = alerts.silences().await.expect("silences");
    assert_eq!(silences.len(), 2, "the ended silence is still listed");
    let bad = SilenceRequest {
        matcher: SilenceMatcher::Rule,
        target: "nope".into(),
        cluster: None,
        duration: Duration::from_secs(60),
        comment: String::new(),
        created_by: String::new(),
    };
    assert!(matches!(alerts.create_silence(bad).await, Err(AlertsError::InvalidSilence(_))));
    let outbox = alerts.notifications(10).await.expect("outbox");
    assert_eq!(outbox.len(), 2);
}

/// The receiver's URL (a Slack hook's path is its secret) never reaches the stored error, the
/// log or the alerts page: reqwest puts it in its error text, which warren strips.
#[tokio::test]
async fn delivery_errors_never_carry_the_receiver_url() {
    let mut hook = TestReceiver::start().await;
    hook.stop().await;
    let secret_url = format!("{}/services/T0001/B0001/XXXXSECRETXXXX", hook.url("slack"));
    let store = Store::open_in_memory().await.expect("store");
    let alerts = engine(&store, &config("slack", &secret_url, None), fast_options());
    let worker = Worker::start(&alerts);
    let t0 = wall_ms();
    alerts.evaluate(&facts(t0, &[("payments", "ERR")])).await.expect("evaluate");
    alerts.evaluate(&facts(t0 + 30_000, &[("payments", "ERR")])).await.expect("evaluate");
    attempts(&alerts, 2).await;
    worker.stop().await;
    let log = alerts.delivery_log(100).await.expect("log");
    assert!(!log.is_empty());
    for attempt in &log {
        let error = attempt.error.as_deref().unwrap_or("");
        assert!(!error.is_empty() && !error.contains("XXXXSECRET") && !error.contains("/services/"), "{error}");
    }
    let outbox = alerts.notifications(10).await.expect("outbox");
    assert!(outbox.iter().all(|o| !o.last_error.as_deref().unwrap_or("").contains("XXXXSECRET")), "{outbox:?}");
}
