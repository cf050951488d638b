//! Kafka Connect on the web: `/connectors` (every connector, its tasks, records and, for a sink,
//! the lag and Burrow verdict of its group `connect-<name>`), `/connectors/{name}` (status,
//! traces, tasks, config with secrets masked, committed source offsets) and the pause, resume,
//! restart and delete forms. The forms pass the mutation guard like every other (`--read-only`,
//! `--admin-token`); deleting asks for confirmation first. Records are shown as totals since the
//! tasks started: the worker keeps no samples to make rates from (`/metrics` has the counters).

use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};

use super::pages::{render, urlencode, Layout};
use super::{AppState, WebError};
use crate::connect::plugin::Kind;
use crate::connect::topics::TargetState;
use crate::connect::validate::is_secret;
use crate::connect::worker::{sink_group, ConnectorEntry, State as TaskState, Worker, WorkerError};

/// What a secret's value reads as on the pages.
const MASK: &str = "********";

fn web_error(e: WorkerError) -> WebError {
    match e {
        WorkerError::NotFound(m) => WebError::not_found(m),
        WorkerError::Conflict(m) => WebError::conflict(m),
        WorkerError::BadRequest(m) => WebError::bad_request(m),
        WorkerError::Internal(m) => WebError::internal(m),
    }
}

fn worker(state: &AppState) -> Result<&Arc<Worker>, WebError> {
    state.connect.as_ref().ok_or_else(|| {
        WebError::not_found("the Kafka Connect worker is off ([connect] enabled = false)").back("/connectors")
    })
}

fn find(worker: &Worker, name: &str) -> Result<Arc<ConnectorEntry>, WebError> {
    worker.entry(name).map_err(|_| WebError::not_found(format!("no connector named '{name}'")).back("/connectors"))
}

/// The CSS class a state reads in: running is well, failed is not, the rest are on their way.
fn tone(state: TaskState) -> &'static str {
    match state {
        TaskState::Running => "ok",
        TaskState::Failed => "err",
        TaskState::Paused | TaskState::Restarting | TaskState::Unassigned => "warn",
        TaskState::Stopped => "muted",
    }
}

/// One task, formatted.
pub struct TaskRow {
    pub id: u32,
    pub state: &'static str,
    pub tone: &'static str,
    pub records_in: String,
    pub records_out: String,
    pub trace: Option<String>,
}

/// One connector, formatted: a row of the list and the head of its page.
pub struct ConnectorRow {
    pub name: String,
    /// `source` or `sink`.
    pub kind: &'static str,
    pub class: String,
    /// The class without its package.
    pub short_class: String,
    pub target: &'static str,
    pub state: &'static str,
    pub tone: &'static str,
    pub trace: Option<String>,
    pub running: usize,
    pub failed: usize,
    pub tasks: Vec<TaskRow>,
    pub records_in: String,
    pub records_out: String,
    /// Records written per second over the last minute.
    pub rate_out: String,
    /// A sink's consumer group.
    pub group: Option<String>,
    /// The group's total lag, from the monitor's last sample ("–" before one).
    pub lag: String,
    /// The group's Burrow verdict (NOTFOUND before its first commit is sampled).
    pub lag_status: String,
}

fn row(state: &AppState, entry: &ConnectorEntry) -> ConnectorRow {
    let s = entry.state();
    let kind = s.plugin.kind();
    let class = s.plugin.class();
    let mut totals = (0u64, 0u64);
    let rate: f64 = s.tasks.iter().map(|t| t.rate_out()).sum();
    let tasks: Vec<TaskRow> = s
        .tasks
        .iter()
        .map(|t| {
            let status = t.status();
            let (records_in, records_out) =
                (t.records_in.load(Ordering::Relaxed), t.records_out.load(Ordering::Relaxed));
            totals = (totals.0 + records_in, totals.1 + records_out);
            TaskRow {
                id: t.id,
                state: status.state.name(),
                tone: tone(status.state),
                records_in: count(records_in),
                records_out: count(records_out),
                trace: status.trace.filter(|t| !t.is_empty()),
            }
        })
        .collect();
    let group = (kind == Kind::Sink).then(|| sink_group(&entry.name));
    let view = group.as_ref().and_then(|g| {
        state.monitor.cluster(&state.default_cluster()).and_then(|v| v.groups.get(g).map(|g| (g.total_lag, g.status)))
    });
    ConnectorRow {
        name: entry.name.clone(),
        kind: kind.name(),
        class: class.to_string(),
        short_class: class.rsplit('.').next().unwrap_or(class).to_string(),
        target: s.target.name(),
        state: s.connector.state.name(),
        tone: tone(s.connector.state),
        trace: s.connector.trace.filter(|t| !t.is_empty()),
        running: tasks.iter().filter(|t| t.state == TaskState::Running.name()).count(),
        failed: tasks.iter().filter(|t| t.state == TaskState::Failed.name()).count(),
        records_in: count(totals.0),
        records_out: count(totals.1),
        rate_out: super::format::rate(rate),
        lag: view.map_or_else(|| "–".into(), |(lag, _)| super::format::thousands(lag)),
        lag_status: view.map_or_else(|| "NOTFOUND".into(), |(_, status)| status.as_str().to_string()),
        group,
        tasks,
    }
}

fn count(n: u64) -> String {
    super::format::thousands(i64::try_from(n).unwrap_or(i64::MAX))
}

#[derive(Template)]
#[template(path = "pages/connectors.html")]
pub struct ConnectorsPage {
    pub layout: Layout,
    /// The worker runs (`[connect] enabled`).
    pub enabled: bool,
    /// The worker has restored its connectors from `connect-configs`.
    pub ready: bool,
    pub rows: Vec<ConnectorRow>,
}

pub async fn page_connectors(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let layout = Layout::new(&state, &headers, "Connectors", None);
    let (enabled, ready, rows) = match &state.connect {
        Some(worker) => (true, worker.is_ready(), worker.entries().iter().map(|e| row(&state, e)).collect()),
        None => (false, false, Vec::new()),
    };
    render(&ConnectorsPage { layout, enabled, ready, rows })
}

#[derive(Template)]
#[template(path = "pages/connector.html")]
pub struct ConnectorPage {
    pub layout: Layout,
    pub row: ConnectorRow,
    /// The config, secrets masked.
    pub config: Vec<(String, String)>,
    /// A source's committed offsets: (partition, offset), as JSON.
    pub offsets: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "partials/connector_partial.html")]
pub struct ConnectorPartial {
    pub layout: Layout,
    pub row: ConnectorRow,
    pub offsets: Vec<(String, String)>,
}

/// One connector's page (its partial shows the same figures).
fn connector_page(state: &AppState, headers: &HeaderMap, name: &str) -> Result<ConnectorPage, WebError> {
    let worker = worker(state)?;
    let entry = find(worker, name)?;
    let config = entry
        .state()
        .config
        .into_iter()
        .map(|(k, v)| {
            let v =
                if is_secret(&k) { MASK.to_string() } else { crate::connect::validate::mask_url_password(&v, MASK) };
            (k, v)
        })
        .collect();
    let row = row(state, &entry);
    let offsets = if row.kind == Kind::Source.name() {
        worker.source_offsets(name).into_values().map(|(p, o)| (json(p), json(o))).collect()
    } else {
        Vec::new()
    };
    let layout = Layout::new(state, headers, &format!("Connector {name}"), None);
    Ok(ConnectorPage { layout, row, config, offsets })
}

fn json(map: serde_json::Map<String, serde_json::Value>) -> String {
    serde_json::Value::Object(map).to_string()
}

pub async fn page_connector(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    Ok(render(&connector_page(&state, &headers, &name)?))
}

pub async fn partial_connector(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    let ConnectorPage { layout, row, offsets, .. } = connector_page(&state, &headers, &name)?;
    Ok(render(&ConnectorPartial { layout, row, offsets }))
}

/// `POST /connectors/{name}/{pause|resume|restart|delete}` from the page's forms. Restart takes
/// the connector and its tasks (`includeTasks=true`); delete asks for confirmation first.
pub async fn form_action(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((name, action)): Path<(String, String)>,
    form: Result<Form<BTreeMap<String, String>>, FormRejection>,
) -> Result<Response, WebError> {
    let back = format!("/connectors/{}", urlencode(&name));
    let worker = worker(&state)?;
    let result = match action.as_str() {
        "pause" => worker.set_target(&name, TargetState::Paused).await,
        "resume" => worker.set_target(&name, TargetState::Started).await,
        "restart" => worker.restart(&name, true, false).await.map(|_| ()),
        "delete" => {
            let form = form.map(|Form(f)| f).unwrap_or_default();
            if form.get("confirm").map(String::as_str) != Some("yes") {
                return Ok(render(&super::actions::ConfirmPage {
                    layout: Layout::new(&state, &headers, "Please confirm", None),
                    question: format!(
                        "Delete connector '{name}'? Its tasks stop and its config is removed; its committed offsets stay."
                    ),
                    action: format!("{back}/delete"),
                    fields: Vec::new(),
                    back,
                }));
            }
            worker.delete(&name).await.map_err(|e| web_error(e).back(&back))?;
            return Ok(Redirect::to("/connectors").into_response());
        }
        other => {
            return Err(WebError::not_found(format!("no action '{other}': pause, resume, restart or delete")).back(back))
        }
    };
    result.map_err(|e| web_error(e).back(&back))?;
    Ok(Redirect::to(&back).into_response())
}

#[cfg(test)]
mod tests {
    #[test]
    fn passwords_in_urls_are_masked() {
        assert_eq!(
            crate::connect::validate::mask_url_password("jdbc:postgresql://h/db?user=u&password=p1&x=1", "********"),
            "jdbc:postgresql://h/db?user=u&password=********&x=1"
        );
        let mask = |v| crate::connect::validate::mask_url_password(v, "********");
        assert_eq!(mask("jdbc:sqlite:/tmp/db"), "jdbc:sqlite:/tmp/db");
        assert_eq!(mask("a;Password=x;b;password=y"), "a;Password=********;b;password=********");
    }
}
