//! The request bodies, one per receiver kind, rendered once when a notification is enqueued (so
//! every retry sends the same bytes):
//! - `alertmanager`: Alertmanager's webhook payload, version 4, field for field, so anything
//!   that accepts Alertmanager webhooks accepts warren's. The group key is the rule
//!   (`{}:{alertname="<rule>"}`); a firing alert's `endsAt` is Go's zero time.
//! - `slack`: an incoming-webhook message, `text` (the notification line) plus Block Kit
//!   `blocks` (a header, one section per alert up to ten, a context line), within Slack's limits.
//! - `generic`: a small JSON document of warren's own (documented on [`generic`]).
//!
//! Timestamps are RFC 3339 in UTC with milliseconds.

use std::collections::BTreeMap;

use serde_json::{json, Value};

use super::rules::{Notification, NotifiedAlert};

/// The `kind` of a receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReceiverKind {
    Alertmanager,
    Slack,
    Generic,
}

impl ReceiverKind {
    pub fn parse(text: &str) -> Option<ReceiverKind> {
        match text {
            "alertmanager" => Some(ReceiverKind::Alertmanager),
            "slack" => Some(ReceiverKind::Slack),
            "generic" => Some(ReceiverKind::Generic),
            _ => None,
        }
    }
}

/// Go's zero `time.Time`, which Alertmanager sends as the `endsAt` of a firing alert.
const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// Slack's limits: 150 characters of header text, 3000 per section, 50 blocks.
const SLACK_HEADER_CHARS: usize = 150;
const SLACK_SECTION_CHARS: usize = 3000;
const SLACK_MAX_ALERTS: usize = 10;

/// The body for a receiver of `kind` named `receiver`.
pub fn render(kind: ReceiverKind, receiver: &str, n: &Notification, external_url: &str) -> String {
    let value = match kind {
        ReceiverKind::Alertmanager => alertmanager(receiver, n, external_url),
        ReceiverKind::Slack => slack(n, external_url),
        ReceiverKind::Generic => generic(receiver, n, external_url),
    };
    value.to_string()
}

/// `firing` when any alert fires, else `resolved`.
pub fn overall_status(n: &Notification) -> &'static str {
    if n.alerts.iter().any(|a| a.firing) {
        "firing"
    } else {
        "resolved"
    }
}

fn alert_status(a: &NotifiedAlert) -> &'static str {
    if a.firing {
        "firing"
    } else {
        "resolved"
    }
}

/// Alertmanager's webhook payload, version 4.
pub fn alertmanager(receiver: &str, n: &Notification, external_url: &str) -> Value {
    let alerts: Vec<Value> = n
        .alerts
        .iter()
        .map(|a| {
            json!({
                "status": alert_status(a),
                "labels": a.labels,
                "annotations": a.annotations,
                "startsAt": rfc3339_ms(a.starts_ms),
                "endsAt": a.ends_ms.map_or_else(|| ZERO_TIME.to_string(), rfc3339_ms),
                "generatorURL": generator_url(external_url, &a.labels),
                "fingerprint": a.fingerprint,
            })
        })
        .collect();
    let rule = Value::String(n.rule.clone()).to_string();
    json!({
        "version": "4",
        "groupKey": format!("{{}}:{{alertname={rule}}}"),
        "truncatedAlerts": 0,
        "status": overall_status(n),
        "receiver": receiver,
        "groupLabels": { "alertname": n.rule },
        "commonLabels": common(n.alerts.iter().map(|a| &a.labels)),
        "commonAnnotations": common(n.alerts.iter().map(|a| &a.annotations)),
        "externalURL": external_url,
        "alerts": alerts,
    })
}

/// The pairs every map has, with the same value.
fn common<'a>(mut maps: impl Iterator<Item = &'a BTreeMap<String, String>>) -> BTreeMap<String, String> {
    let Some(first) = maps.next() else { return BTreeMap::new() };
    let mut common = first.clone();
    for m in maps {
        common.retain(|k, v| m.get(k) == Some(v));
    }
    common
}

/// A Slack incoming-webhook message.
pub fn slack(n: &Notification, external_url: &str) -> Value {
    let firing = n.alerts.iter().filter(|a| a.firing).count();
    let resolved = n.alerts.len() - firing;
    let title = match (firing, resolved) {
        (0, r) => format!("[RESOLVED:{r}] {}", n.rule),
        (f, 0) => format!("[FIRING:{f}] {}", n.rule),
        (f, r) => format!("[FIRING:{f}, RESOLVED:{r}] {}", n.rule),
    };
    let first = n.alerts.first().and_then(|a| a.annotations.get("summary")).map_or("", String::as_str);
    let more = if n.alerts.len() > 1 { format!(" (and {} more)", n.alerts.len() - 1) } else { String::new() };
    // The fallback text is mrkdwn too: escaped, so that no name can say `<!channel>`.
    let text = escape_mrkdwn(&format!("{title} in cluster {}: {first}{more}", n.cluster));
    let mut blocks =
        vec![json!({"type": "header", "text": {"type": "plain_text", "text": truncate(&title, SLACK_HEADER_CHARS)}})];
    for a in n.alerts.iter().take(SLACK_MAX_ALERTS) {
        let icon = if a.firing { ":red_circle:" } else { ":large_green_circle:" };
        let get = |k: &str| a.annotations.get(k).map_or(String::new(), |v| escape_mrkdwn(v));
        let link = generator_url(external_url, &a.labels);
        let body = format!(
            "{icon} *{}*\n{}\n<{}|Open in warren> · severity {} · fingerprint `{}`",
            get("summary"),
            get("description"),
            escape_mrkdwn(&link),
            escape_mrkdwn(a.labels.get("severity").map_or("", String::as_str)),
            a.fingerprint
        );
        blocks
            .push(json!({"type": "section", "text": {"type": "mrkdwn", "text": truncate(&body, SLACK_SECTION_CHARS)}}));
    }
    let mut context = format!("cluster {} · rule {}", escape_mrkdwn(&n.cluster), escape_mrkdwn(&n.rule));
    if n.alerts.len() > SLACK_MAX_ALERTS {
        context.push_str(&format!(" · and {} more alerts", n.alerts.len() - SLACK_MAX_ALERTS));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": context}]}));
    json!({ "text": text, "blocks": blocks })
}

/// warren's own JSON:
/// `{"source": "warren", "receiver", "rule", "cluster", "status": "firing"|"resolved",
/// "externalURL", "alerts": [{"status", "fingerprint", "labels", "annotations", "starts_at",
/// "ends_at" (null while firing), "url"}]}`.
pub fn generic(receiver: &str, n: &Notification, external_url: &str) -> Value {
    let alerts: Vec<Value> = n
        .alerts
        .iter()
        .map(|a| {
            json!({
                "status": alert_status(a),
                "fingerprint": a.fingerprint,
                "labels": a.labels,
                "annotations": a.annotations,
                "starts_at": rfc3339_ms(a.starts_ms),
                "ends_at": a.ends_ms.map(rfc3339_ms),
                "url": generator_url(external_url, &a.labels),
            })
        })
        .collect();
    json!({
        "source": "warren",
        "receiver": receiver,
        "rule": n.rule,
        "cluster": n.cluster,
        "status": overall_status(n),
        "externalURL": external_url,
        "alerts": alerts,
    })
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn rfc3339_ms(ms: i64) -> String {
    let seconds = crate::time::format_iso8601(ms);
    let whole = seconds.trim_end_matches('Z');
    format!("{whole}.{:03}Z", ms.rem_euclid(1000))
}

/// The dashboard page of an alert's subject, in its cluster.
fn generator_url(external_url: &str, labels: &BTreeMap<String, String>) -> String {
    let base = external_url.trim_end_matches('/');
    let page = if let Some(group) = labels.get("group") {
        format!("{base}/groups/{}", percent_encode(group))
    } else if let Some(topic) = labels.get("topic") {
        format!("{base}/topics/{}", percent_encode(topic))
    } else if labels.contains_key("broker") {
        format!("{base}/brokers")
    } else {
        return format!("{base}/alerts");
    };
    match labels.get("cluster") {
        Some(cluster) => format!("{page}?cluster={}", percent_encode(cluster)),
        None => page,
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters (a path segment).
fn percent_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Slack's mrkdwn needs `&`, `<` and `>` escaped; nothing else.
fn escape_mrkdwn(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn truncate(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(max_chars.saturating_sub(1)).collect();
    cut.push('…');
    cut
}
