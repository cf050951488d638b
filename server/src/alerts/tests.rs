//! Pure tests: config validation, rule evaluation over simulated ticks, fingerprints (checked
//! against an independent Python implementation) and payload shapes.

use crate::evaluator::GroupState;
use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

use super::rules::{self, CompiledRule, Evaluation, Notification, NotifiedAlert};
use super::*;
use crate::store::{AlertPhase, AlertRecord, SilenceRecord};

fn section(text: &str) -> AlertsSection {
    #[derive(serde::Deserialize)]
    struct File {
        alerts: AlertsSection,
    }
    toml::from_str::<File>(text).expect("alerts config parses").alerts
}

const RECEIVER: &str =
    "[[alerts.receivers]]\nname = \"ops\"\nkind = \"alertmanager\"\nurl = \"http://127.0.0.1:9/hook\"\n";

#[test]
fn config_errors_name_the_rule_and_key() {
    let check = |text: &str, key: &str, reason: &str| {
        let e = validate(&section(&format!("{RECEIVER}{text}"))).expect_err(text);
        assert!(e.key.contains(key), "{text}\nkey: {}", e.key);
        assert!(e.reason.contains(reason), "{text}\nreason: {}", e.reason);
    };
    let rule = |body: &str| format!("[[alerts.rules]]\nname = \"r1\"\n{body}\n");
    check(&rule("kind = \"group_lagg\""), "alerts.rules[0].kind (rule \"r1\")", "unknown kind \"group_lagg\"");
    check(&rule("kind = \"group_status\""), "rules[0].status", "missing");
    check(&rule("kind = \"group_status\"\nstatus = \"OK\""), "status", "\"OK\" is not");
    check(&rule("kind = \"group_lag\""), "rules[0].threshold (rule \"r1\")", "missing");
    check(&rule("kind = \"group_lag_seconds\"\nthreshold = -1.0"), "threshold", "non-negative");
    check(&rule("kind = \"broker_down\"\nthreshold = 1"), "threshold", "take no threshold");
    check(&rule("kind = \"under_replicated\"\nstatus = \"ERR\""), "status", "only group_status");
    check(&rule("kind = \"group_lag\"\nthreshold = 1\ngroups = \"(\""), "rules[0].groups", "not a valid regex");
    check(&rule("kind = \"offline_partitions\"\ntopics = \"[a-\""), "topics", "not a valid regex");
    check(&rule("kind = \"under_replicated\"\ngroups = \".*\""), "groups", "do not match groups");
    check(&rule("kind = \"group_lag\"\nthreshold = 1\ntopics = \".*\""), "topics", "do not match topics");
    check(&rule("kind = \"broker_down\"\nreceivers = [\"ops\", \"pager\"]"), "receivers", "named \"pager\"");
    check(&rule("kind = \"broker_down\"\nrepeat_interval = \"0s\""), "repeat_interval", "positive");
    check(
        &format!("{}{}", rule("kind = \"broker_down\""), rule("kind = \"broker_down\"")),
        "rules[1].name",
        "same name",
    );
    let receiver = |body: &str| format!("[[alerts.receivers]]\nname = \"r2\"\n{body}\n");
    check(
        &receiver("kind = \"pagerduty\"\nurl = \"http://x/\""),
        "alerts.receivers[1].kind (receiver \"r2\")",
        "pagerduty",
    );
    check(&receiver("kind = \"slack\"\nurl = \"not a url\""), "receivers[1].url", "not a URL");
    check(&receiver("kind = \"slack\"\nurl = \"ftp://x/\""), "url", "http://");
    check(&receiver("kind = \"slack\"\nurl = \"http://x/\"\nhmac_secret = \"whsec_!!\""), "hmac_secret", "base64");
    check(&receiver("kind = \"slack\"\nurl = \"http://x/\"\nhmac_secret = \"\""), "hmac_secret", "empty");
    check(
        &receiver("kind = \"slack\"\nurl = \"http://x/\"\nheaders = { \"webhook-id\" = \"x\" }"),
        "headers",
        "set by warren",
    );
    check(
        &receiver("kind = \"slack\"\nurl = \"http://x/\"\nheaders = { \"bad name\" = \"x\" }"),
        "headers",
        "header name",
    );
    check(&receiver("kind = \"slack\"\nurl = \"http://x/\"\nbearer_token = \"\""), "bearer_token", "non-empty");
    check(
        &receiver("kind = \"slack\"\nname = \"ops\"\nurl = \"http://x/\"").replace("name = \"r2\"\n", ""),
        "receivers[1].name",
        "same name",
    );
    // The interface's example validates; WARN is accepted in any case.
    let ok = format!(
        "{RECEIVER}[[alerts.rules]]\nname = \"group-error\"\nkind = \"group_status\"\nstatus = \"warn\"\nfor = \"30s\"\n\
         repeat_interval = \"4h\"\ngroups = \".*\"\nreceivers = [\"ops\"]\n"
    );
    assert_eq!(validate(&section(&ok)), Ok(()));
}

/// Runs ticks through `rules::evaluate`, keeping the open alerts as the store would.
struct Sim {
    rules: Vec<CompiledRule>,
    open: Vec<AlertRecord>,
    silences: Vec<SilenceRecord>,
}

impl Sim {
    fn new(rules_toml: &str) -> Sim {
        let s = section(&format!(
            "{RECEIVER}[[alerts.receivers]]\nname = \"chat\"\nkind = \"slack\"\nurl = \"http://x/\"\n{rules_toml}"
        ));
        let rules = rules::compile(&s.rules, &["ops", "chat"].into_iter().collect()).expect("rules compile");
        Sim { rules, open: Vec::new(), silences: Vec::new() }
    }

    fn tick(&mut self, facts: &Facts) -> Evaluation {
        let out = rules::evaluate(&self.rules, facts, &self.open, &self.silences);
        self.open.retain(|a| !out.removed.contains(&a.fingerprint));
        for a in &out.upserts {
            self.open.retain(|o| o.fingerprint != a.fingerprint);
            if a.phase != AlertPhase::Resolved {
                self.open.push(a.clone());
            }
        }
        out
    }
}

fn group(name: &str, status: &str, total_lag: i64, lag_s: Option<f64>) -> GroupFacts {
    GroupFacts {
        group: name.into(),
        status: GroupState::parse(status).expect("status"),
        total_lag,
        max_lag_seconds: lag_s,
    }
}

fn at(now_ms: i64, groups: Vec<GroupFacts>) -> Facts {
    Facts { cluster: "local".into(), now_ms, groups, ..Facts::default() }
}

/// `(receiver, status, subject label)` of each notified alert.
fn sent(e: &Evaluation) -> Vec<(String, &'static str, String)> {
    let mut out = Vec::new();
    for n in &e.notifications {
        for a in &n.alerts {
            let subject =
                ["group", "topic", "broker"].iter().find_map(|k| a.labels.get(*k)).cloned().unwrap_or_default();
            out.push((n.receiver.clone(), if a.firing { "firing" } else { "resolved" }, subject));
        }
    }
    out
}

fn s(receiver: &str, status: &'static str, subject: &str) -> (String, &'static str, String) {
    (receiver.to_string(), status, subject.to_string())
}

#[test]
fn group_rules_fire_on_their_conditions() {
    let mut sim = Sim::new(
        "[[alerts.rules]]\nname = \"warn\"\nkind = \"group_status\"\nstatus = \"WARN\"\nreceivers = [\"ops\"]\n\
         [[alerts.rules]]\nname = \"lag\"\nkind = \"group_lag\"\nthreshold = 100\nreceivers = [\"ops\"]\n\
         [[alerts.rules]]\nname = \"lag-s\"\nkind = \"group_lag_seconds\"\nthreshold = 60\ngroups = \"a|b\"\nreceivers = [\"chat\"]\n",
    );
    let e = sim.tick(&at(
        0,
        vec![
            group("a", "WARN", 100, Some(60.0)), // WARN fires; lag equal to the thresholds does not
            group("b", "ERR", 101, None),        // ERR is above WARN; lag > 100; no lag seconds: no lag-s
            group("c", "NOTFOUND", 0, Some(61.0)), // never for status; lag-s filtered out (anchored a|b)
            group("ab", "OK", 0, Some(1e6)),     // "ab" does not fully match a|b
        ],
    ));
    let mut got = sent(&e);
    got.sort();
    assert_eq!(got, [s("ops", "firing", "a"), s("ops", "firing", "b"), s("ops", "firing", "b")]);
    let severities: BTreeMap<String, String> =
        e.upserts.iter().map(|a| (a.rule.clone(), a.labels["severity"].clone())).collect();
    assert_eq!(severities["warn"], "warning");
    let e = sim.tick(&at(1000, vec![group("a", "OK", 0, Some(61.0)), group("b", "ERR", 101, None)]));
    assert_eq!(sent(&e), [s("chat", "firing", "a"), s("ops", "resolved", "a")]);
}

#[test]
fn for_repeat_and_resolve_timeline() {
    let mut sim = Sim::new(
        "[[alerts.rules]]\nname = \"err\"\nkind = \"group_status\"\nstatus = \"ERR\"\nfor = \"10s\"\n\
         repeat_interval = \"1m\"\nreceivers = [\"ops\", \"chat\"]\n",
    );
    let err = || vec![group("g", "ERR", 5, None)];
    let check = |sim: &mut Sim, now: i64, groups: Vec<GroupFacts>, expected: &[(&str, &'static str)]| {
        let e = sim.tick(&at(now, groups));
        let got: Vec<(String, &'static str)> = sent(&e).into_iter().map(|(r, st, _)| (r, st)).collect();
        let expected: Vec<(String, &'static str)> = expected.iter().map(|(r, st)| (r.to_string(), *st)).collect();
        assert_eq!(got, expected, "at {now}");
        e
    };
    check(&mut sim, 0, err(), &[]);
    check(&mut sim, 5_000, vec![group("g", "WARN", 5, None)], &[]); // cleared while pending: dropped
    assert!(sim.open.is_empty());
    check(&mut sim, 6_000, err(), &[]);
    check(&mut sim, 15_999, err(), &[]);
    let e = check(&mut sim, 16_000, err(), &[("ops", "firing"), ("chat", "firing")]);
    assert_eq!(e.notifications[0].alerts[0].starts_ms, 6_000);
    check(&mut sim, 75_999, err(), &[]);
    check(&mut sim, 76_000, err(), &[("ops", "firing"), ("chat", "firing")]);
    let e = check(&mut sim, 80_000, vec![], &[("ops", "resolved"), ("chat", "resolved")]);
    assert_eq!(e.notifications[0].alerts[0].ends_ms, Some(80_000));
    check(&mut sim, 90_000, vec![], &[]);
    // A new episode starts from pending again.
    check(&mut sim, 100_000, err(), &[]);
    assert_eq!(sim.open[0].phase, AlertPhase::Pending);
    assert_eq!(sim.open[0].last_notified_ms, None);
}

#[test]
fn cluster_facts_rules_and_silences() {
    let mut sim = Sim::new(
        "[[alerts.rules]]\nname = \"urp\"\nkind = \"under_replicated\"\ntopics = \"orders\"\nreceivers = [\"ops\"]\n\
         [[alerts.rules]]\nname = \"offline\"\nkind = \"offline_partitions\"\nreceivers = [\"ops\"]\n\
         [[alerts.rules]]\nname = \"broker\"\nkind = \"broker_down\"\nreceivers = [\"ops\"]\n",
    );
    let p = |topic: &str, partition, under_replicated, offline| PartitionFacts {
        topic: topic.into(),
        partition,
        under_replicated,
        offline,
    };
    let mut facts = Facts {
        cluster: "local".into(),
        now_ms: 0,
        partitions: vec![p("orders", 0, true, false), p("orders-dlq", 1, true, true), p("orders", 2, false, false)],
        brokers: vec![BrokerFacts { id: 1, up: true }, BrokerFacts { id: 3, up: false }],
        ..Facts::default()
    };
    let e = sim.tick(&facts);
    let mut got: Vec<(String, String, String)> = e
        .notifications
        .iter()
        .flat_map(|n| {
            n.alerts.iter().map(|a| {
                (
                    n.rule.clone(),
                    a.labels.get("partition").or(a.labels.get("broker")).cloned().unwrap_or_default(),
                    a.labels["severity"].clone(),
                )
            })
        })
        .collect();
    got.sort();
    let expected = [("broker", "3", "critical"), ("offline", "1", "critical"), ("urp", "0", "warning")];
    assert_eq!(got, expected.map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())));
    // Silencing the rule mutes its notifications; other rules keep notifying; the state is kept.
    sim.silences.push(SilenceRecord {
        id: 7,
        matcher: crate::store::SilenceMatcher::Rule,
        target: "broker".into(),
        cluster: Some("local".into()),
        comment: String::new(),
        created_by: String::new(),
        created_ms: 0,
        ends_ms: 4 * 3_600_000 + 1,
    });
    facts.now_ms = 4 * 3_600_000; // past the default repeat_interval
    facts.partitions.clear();
    let e = sim.tick(&facts);
    assert_eq!(e.notifications.iter().map(|n| n.rule.as_str()).collect::<Vec<_>>(), ["offline", "urp"]);
    assert!(e.notifications.iter().all(|n| n.alerts.iter().all(|a| !a.firing)));
    facts.now_ms += 1; // the silence has ended: broker 3, due since 4 h, notifies
    let e = sim.tick(&facts);
    assert_eq!(sent(&e), [s("ops", "firing", "3")]);
    // Another cluster's facts leave this cluster's alerts alone.
    let other = Facts { cluster: "other".into(), now_ms: facts.now_ms + 1, ..Facts::default() };
    let e = rules::evaluate(&sim.rules, &other, &sim.open, &[]);
    assert!(e.upserts.is_empty() && e.notifications.is_empty());
    // A rule dropped from the config resolves its alerts without notifying.
    let e = rules::evaluate(&[], &facts, &sim.open, &[]);
    assert_eq!(e.upserts.iter().map(|a| a.phase).collect::<Vec<_>>(), [AlertPhase::Resolved]);
    assert!(e.notifications.is_empty());
}

#[test]
fn fingerprints_match_an_independent_implementation() {
    let labels: BTreeMap<String, String> =
        [("alertname", "group-error"), ("cluster", "local"), ("group", "payments"), ("severity", "critical")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    let script = r#"
import json, sys
labels = json.loads(sys.argv[1])
h = 0xcbf29ce484222325
for name in sorted(labels):
    for byte in name.encode() + b"\xff" + labels[name].encode() + b"\xff":
        h = ((h ^ byte) * 0x100000001b3) % (1 << 64)
print(format(h, "016x"), end="")
"#;
    let text = serde_json::to_string(&labels).expect("json");
    let out = Command::new("/usr/bin/python3").args(["-c", script, &text]).output().expect("python3");
    assert!(out.status.success());
    assert_eq!(fingerprint(&labels), String::from_utf8_lossy(&out.stdout));
    // Pinned: a change here re-identifies every stored alert.
    assert_eq!(fingerprint(&labels), FINGERPRINT_OF_EXAMPLE);
    assert_eq!(fingerprint(&BTreeMap::new()), "cbf29ce484222325");
}

const FINGERPRINT_OF_EXAMPLE: &str = "b8b945ff5f906fd5";

fn notification(alerts: Vec<NotifiedAlert>) -> Notification {
    Notification { receiver: "ops".into(), rule: "group-error".into(), cluster: "local".into(), alerts }
}

fn alert(group: &str, firing: bool) -> NotifiedAlert {
    let labels: BTreeMap<String, String> =
        [("alertname", "group-error"), ("cluster", "local"), ("group", group), ("severity", "critical")]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
    let annotations = BTreeMap::from([
        ("summary".to_string(), format!("Consumer group {group} is ERR")),
        ("description".to_string(), "<b>&</b>".to_string()),
    ]);
    NotifiedAlert {
        firing,
        fingerprint: fingerprint(&labels),
        labels,
        annotations,
        starts_ms: 1_795_712_400_250,
        ends_ms: (!firing).then_some(1_795_712_460_000),
    }
}

#[test]
fn alertmanager_payload_has_the_v4_shape() {
    let n = notification(vec![alert("pay/ments", true), alert("orders", false)]);
    let body: Value =
        serde_json::from_str(&payload::render(ReceiverKind::Alertmanager, "ops", &n, "http://w:8080/")).expect("json");
    let keys: Vec<&str> = body.as_object().expect("object").keys().map(String::as_str).collect();
    let mut expected = [
        "version",
        "groupKey",
        "truncatedAlerts",
        "status",
        "receiver",
        "groupLabels",
        "commonLabels",
        "commonAnnotations",
        "externalURL",
        "alerts",
    ];
    expected.sort_unstable();
    assert_eq!(keys, expected);
    assert_eq!(body["version"], "4");
    assert_eq!(body["groupKey"], "{}:{alertname=\"group-error\"}");
    assert_eq!(body["status"], "firing");
    assert_eq!(body["receiver"], "ops");
    assert_eq!(body["truncatedAlerts"], 0);
    assert_eq!(body["groupLabels"], serde_json::json!({"alertname": "group-error"}));
    assert_eq!(
        body["commonLabels"],
        serde_json::json!({"alertname": "group-error", "cluster": "local", "severity": "critical"})
    );
    assert_eq!(body["commonAnnotations"], serde_json::json!({"description": "<b>&</b>"}));
    assert_eq!(body["externalURL"], "http://w:8080/");
    let a = &body["alerts"][0];
    let keys: Vec<&str> = a.as_object().expect("object").keys().map(String::as_str).collect();
    assert_eq!(keys, ["annotations", "endsAt", "fingerprint", "generatorURL", "labels", "startsAt", "status"]);
    assert_eq!(a["status"], "firing");
    assert_eq!(a["startsAt"], "2026-11-26T17:00:00.250Z");
    assert_eq!(a["endsAt"], "0001-01-01T00:00:00Z");
    assert_eq!(a["generatorURL"], "http://w:8080/groups/pay%2Fments?cluster=local", "the page in its cluster");
    assert!(a["fingerprint"].as_str().is_some_and(|f| f.len() == 16 && f.bytes().all(|b| b.is_ascii_hexdigit())));
    assert_eq!(body["alerts"][1]["status"], "resolved");
    assert_eq!(body["alerts"][1]["endsAt"], "2026-11-26T17:01:00.000Z");
    let resolved = notification(vec![alert("orders", false)]);
    let body: Value =
        serde_json::from_str(&payload::render(ReceiverKind::Alertmanager, "ops", &resolved, "http://w")).expect("json");
    assert_eq!(body["status"], "resolved");
}

/// Slack reads `text` as mrkdwn too: a group named `<!channel>` must not ping a whole channel.
#[test]
fn slack_fallback_text_is_escaped() {
    let body: Value = serde_json::from_str(&payload::render(
        ReceiverKind::Slack,
        "ops",
        &notification(vec![alert("<!channel>", true)]),
        "http://w",
    ))
    .expect("json");
    let text = body["text"].as_str().expect("text");
    assert!(text.contains("&lt;!channel&gt;") && !text.contains("<!channel>"), "{text}");
}

#[test]
fn slack_and_generic_payloads() {
    let many: Vec<NotifiedAlert> = (0..12).map(|i| alert(&format!("g{i}"), i != 0)).collect();
    let body: Value =
        serde_json::from_str(&payload::render(ReceiverKind::Slack, "ops", &notification(many), "http://w"))
            .expect("json");
    assert_eq!(
        body["text"],
        "[FIRING:11, RESOLVED:1] group-error in cluster local: Consumer group g0 is ERR (and 11 more)"
    );
    let blocks = body["blocks"].as_array().expect("blocks");
    assert_eq!(blocks.len(), 12, "header, ten alerts, context");
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["type"], "plain_text");
    assert_eq!(blocks[1]["type"], "section");
    let section = blocks[1]["text"]["text"].as_str().expect("mrkdwn");
    assert!(
        section.starts_with(":large_green_circle: *Consumer group g0 is ERR*\n&lt;b&gt;&amp;&lt;/b&gt;"),
        "{section}"
    );
    assert!(section.contains("<http://w/groups/g0?cluster=local|Open in warren>"), "{section}");
    assert!(blocks[11]["elements"][0]["text"].as_str().is_some_and(|t| t.ends_with("and 2 more alerts")));
    let body: Value = serde_json::from_str(&payload::render(
        ReceiverKind::Generic,
        "ops",
        &notification(vec![alert("g", true)]),
        "http://w",
    ))
    .expect("json");
    assert_eq!(body["source"], "warren");
    assert_eq!(
        (body["rule"].as_str(), body["cluster"].as_str(), body["status"].as_str()),
        (Some("group-error"), Some("local"), Some("firing"))
    );
    assert_eq!(body["alerts"][0]["ends_at"], Value::Null);
    assert_eq!(body["alerts"][0]["url"], "http://w/groups/g?cluster=local");
}
