//! `/alerts`: active and recent alerts, silences (admins may add and lift them), the configured
//! rules, and the webhook delivery log.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::{render, Layout};
use crate::web::format;
use crate::web::AppState;

pub struct AlertRow {
    pub rule: String,
    pub cluster: String,
    pub subject: String,
    pub severity: String,
    pub phase: String,
    pub since: format::When,
    pub resolved: Option<format::When>,
    pub summary: String,
    pub silenced: bool,
}

pub struct SilenceRow {
    pub id: i64,
    pub what: String,
    pub cluster: String,
    pub ends: format::When,
    pub comment: String,
}

pub struct RuleRow {
    pub name: String,
    pub kind: String,
    pub condition: String,
    pub for_duration: String,
    pub repeat: String,
    pub receivers: String,
    pub severity: String,
}

pub struct DeliveryRow {
    pub when: format::When,
    pub receiver: String,
    pub rule: String,
    pub attempt: i64,
    pub outcome: &'static str,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "pages/alerts.html")]
pub struct AlertsPage {
    pub layout: Layout,
    pub active: Vec<AlertRow>,
    pub recent: Vec<AlertRow>,
    pub silences: Vec<SilenceRow>,
    pub rules: Vec<RuleRow>,
    pub deliveries: Vec<DeliveryRow>,
    pub receivers: Vec<(String, String)>,
    pub error: String,
}

fn row(a: &crate::alerts::AlertView, now: i64) -> AlertRow {
    let labels = &a.alert.labels;
    let subject = ["group", "topic", "partition", "broker"]
        .iter()
        .filter_map(|k| labels.get(*k).map(|v| format!("{k} {v}")))
        .collect::<Vec<_>>()
        .join(", ");
    AlertRow {
        rule: a.alert.rule.clone(),
        cluster: a.alert.cluster.clone(),
        subject,
        severity: a.severity.clone(),
        phase: format!("{:?}", a.alert.phase).to_lowercase(),
        since: format::when(a.alert.firing_since_ms.unwrap_or(a.alert.pending_since_ms), now),
        resolved: a.alert.resolved_ms.map(|ms| format::when(ms, now)),
        summary: a.alert.annotations.get("summary").cloned().unwrap_or_default(),
        silenced: a.silenced_by.is_some(),
    }
}

/// Every cluster's alerts; with `?cluster=NAME`, that cluster's.
pub async fn page_alerts(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<super::ClusterQuery>,
) -> Result<Response, crate::web::WebError> {
    let layout = super::frame(&state, &headers, "Alerts", q.cluster.as_deref())?;
    let only = q.cluster.as_ref().map(|_| layout.cluster.clone());
    let now = layout.now_ms;
    let mut error = Vec::new();
    let overview = state.alerts.overview(50).await.map_err(|e| error.push(e.to_string())).ok();
    let overview = overview.map(|o| match &only {
        Some(cluster) => o.of_cluster(cluster),
        None => o,
    });
    let silences = state.alerts.silences().await.map_err(|e| error.push(e.to_string())).unwrap_or_default();
    let log = state.alerts.delivery_log(50).await.map_err(|e| error.push(e.to_string())).unwrap_or_default();
    let ms_text = |ms: i64| if ms > 0 { crate::time::duration(ms as f64 / 1000.0) } else { "–".into() };
    let page = AlertsPage {
        active: overview.as_ref().map(|o| o.active.iter().map(|a| row(a, now)).collect()).unwrap_or_default(),
        recent: overview.as_ref().map(|o| o.recent.iter().map(|a| row(a, now)).collect()).unwrap_or_default(),
        silences: silences
            .iter()
            .map(|s| SilenceRow {
                id: s.id,
                what: format!("{} {}", format!("{:?}", s.matcher).to_lowercase(), s.target),
                cluster: s.cluster.clone().unwrap_or_else(|| "every cluster".into()),
                ends: format::when(s.ends_ms, now),
                comment: s.comment.clone(),
            })
            .collect(),
        rules: state
            .alerts
            .rules()
            .into_iter()
            .map(|r| RuleRow {
                condition: match (r.status, r.threshold) {
                    (Some(s), _) => format!("status at or above {s}"),
                    (None, Some(t)) => format!("above {t}"),
                    _ => String::new(),
                } + &r.filter.map(|f| format!(" (matching {f})")).unwrap_or_default(),
                name: r.name,
                kind: r.kind.to_string(),
                for_duration: ms_text(r.for_ms),
                repeat: ms_text(r.repeat_interval_ms),
                receivers: r.receivers.join(", "),
                severity: r.severity.to_string(),
            })
            .collect(),
        deliveries: log
            .iter()
            .map(|d| DeliveryRow {
                when: format::when(d.ts_ms, now),
                receiver: d.receiver.clone(),
                rule: d.rule.clone(),
                attempt: d.attempt,
                outcome: d.outcome.as_str(),
                detail: match (&d.status_code, &d.error) {
                    (Some(code), Some(e)) => format!("HTTP {code}: {e}"),
                    (Some(code), None) => format!("HTTP {code} in {} ms", d.duration_ms),
                    (None, Some(e)) => e.clone(),
                    (None, None) => String::new(),
                },
            })
            .collect(),
        receivers: state.alerts_config.receivers.iter().map(|r| (r.name.clone(), r.kind.clone())).collect(),
        error: error.join("; "),
        layout,
    };
    Ok(render(&page))
}
