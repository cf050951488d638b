//! `/alerts`: the configured rules and receivers; with the alert engine, active and recent
//! alerts, silences and the webhook delivery log.

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::{render, Layout};
use crate::web::AppState;

pub struct RuleRow {
    pub name: String,
    pub kind: String,
    pub condition: String,
    pub for_duration: String,
    pub repeat: String,
    pub receivers: String,
}

#[derive(Template)]
#[template(path = "pages/alerts.html")]
pub struct AlertsPage {
    pub layout: Layout,
    pub rules: Vec<RuleRow>,
    pub receivers: Vec<(String, String)>,
}

fn duration_text(d: Option<std::time::Duration>) -> String {
    d.map_or_else(|| "–".into(), |d| crate::time::duration(d.as_secs_f64()))
}

pub async fn page_alerts(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let layout = Layout::new(&state, &headers, "Alerts", None);
    let rules = state
        .alerts_config
        .rules
        .iter()
        .map(|r| RuleRow {
            name: r.name.clone(),
            kind: r.kind.clone(),
            condition: match (&r.status, r.threshold) {
                (Some(s), _) => format!("status at or above {s}"),
                (None, Some(t)) => format!("above {t}"),
                _ => String::new(),
            },
            for_duration: duration_text(r.for_duration),
            repeat: duration_text(r.repeat_interval),
            receivers: r.receivers.join(", "),
        })
        .collect();
    let receivers = state.alerts_config.receivers.iter().map(|r| (r.name.clone(), r.kind.clone())).collect();
    render(&AlertsPage { layout, rules, receivers })
}
