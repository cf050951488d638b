//! Stream jobs on the web: `/streams` (every job), `/streams/{name}` (its topology, status, the
//! Burrow verdict and lag of its group, stream time per partition, open windows, rates, late
//! records), the start/stop/reset forms, and `/api/v1/streams[/{name}]` with the same actions.
//! Actions pass the mutation guard like every other (`--read-only`, `--admin-token`).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde::Serialize;

use super::pages::{render, Layout};
use super::{AppState, WebError};
use crate::streams::{ActionError, Control, JobSnapshot, JobState};

/// A job as the API and the pages show it: its live figures, and its group as the monitor last
/// sampled it.
#[derive(Debug, Clone, Serialize)]
pub struct StreamJson {
    #[serde(flatten)]
    pub live: JobSnapshot,
    /// The group's total lag (records), from the monitor's last sample.
    pub lag: Option<i64>,
    /// The group's Burrow verdict (OK, WARN, ERR; NOTFOUND before its first commit is sampled).
    pub lag_status: String,
    /// The topology, node by node: (kind, detail).
    pub topology: Vec<(String, String)>,
}

fn stream_json(state: &AppState, job: &JobState) -> StreamJson {
    let live = job.snapshot();
    let group = state.monitor.cluster(&live.cluster).and_then(|v| v.groups.get(&live.group).cloned());
    StreamJson {
        lag: group.as_ref().map(|g| g.total_lag),
        lag_status: group.as_ref().map_or_else(|| "NOTFOUND".to_string(), |g| g.status.as_str().to_string()),
        topology: job.spec.topology(),
        live,
    }
}

fn find<'a>(state: &'a AppState, name: &str) -> Result<&'a std::sync::Arc<JobState>, WebError> {
    state.streams.job(name).ok_or_else(|| WebError::not_found(format!("no stream job named '{name}'")))
}

fn action_error(e: ActionError) -> WebError {
    match e {
        ActionError::NotFound(_) => WebError::not_found(e.to_string()),
        ActionError::Running | ActionError::Resetting => WebError::conflict(e.to_string()),
        ActionError::Kafka(_) => {
            WebError::new(axum::http::StatusCode::SERVICE_UNAVAILABLE, "unavailable", e.to_string())
        }
    }
}

pub async fn api_list(State(state): State<AppState>) -> Json<Vec<StreamJson>> {
    Json(state.streams.jobs().iter().map(|j| stream_json(&state, j)).collect())
}

pub async fn api_get(State(state): State<AppState>, Path(name): Path<String>) -> Result<Json<StreamJson>, WebError> {
    Ok(Json(stream_json(&state, find(&state, &name)?)))
}

async fn act(state: &AppState, name: &str, action: &str) -> Result<(), WebError> {
    match action {
        "start" => state.streams.control(name, Control::Run).map_err(action_error),
        "stop" => state.streams.control(name, Control::Stop).map_err(action_error),
        "reset" => state.streams.reset(name).await.map_err(action_error),
        other => Err(WebError::not_found(format!("no action '{other}': start, stop or reset"))),
    }
}

/// `POST /api/v1/streams/{name}/{start|stop|reset}`.
pub async fn api_action(
    State(state): State<AppState>,
    Path((name, action)): Path<(String, String)>,
) -> Result<Json<StreamJson>, WebError> {
    act(&state, &name, &action).await?;
    Ok(Json(stream_json(&state, find(&state, &name)?)))
}

/// `POST /streams/{name}/{start|stop|reset}` from the page's forms.
pub async fn form_action(
    State(state): State<AppState>,
    Path((name, action)): Path<(String, String)>,
) -> Result<Response, WebError> {
    let back = format!("/streams/{}", super::pages::urlencode(&name));
    act(&state, &name, &action).await.map_err(|e| e.back(&back))?;
    Ok(Redirect::to(&back).into_response())
}

/// One row of the jobs table, formatted.
pub struct StreamRow {
    pub job: StreamJson,
    pub rate_in: String,
    pub rate_out: String,
    pub lag: String,
}

fn row(job: StreamJson) -> StreamRow {
    StreamRow {
        rate_in: super::format::rate(job.live.records_in_per_second),
        rate_out: super::format::rate(job.live.records_out_per_second),
        lag: job.lag.map_or_else(|| "–".into(), super::format::thousands),
        job,
    }
}

#[derive(Template)]
#[template(path = "pages/streams.html")]
pub struct StreamsPage {
    pub layout: Layout,
    pub rows: Vec<StreamRow>,
}

#[derive(Template)]
#[template(path = "pages/stream.html")]
pub struct StreamPage {
    pub layout: Layout,
    pub row: StreamRow,
    pub stream_times: Vec<(i32, String)>,
}

#[derive(Template)]
#[template(path = "partials/stream_partial.html")]
pub struct StreamPartial {
    pub layout: Layout,
    pub row: StreamRow,
    pub stream_times: Vec<(i32, String)>,
}

pub async fn page_streams(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let rows = state.streams.jobs().iter().map(|j| row(stream_json(&state, j))).collect();
    render(&StreamsPage { layout: Layout::new(&state, &headers, "Streams", None), rows })
}

/// One job's page (its partial shows the same figures).
fn job_page(state: &AppState, headers: &HeaderMap, name: &str) -> Result<StreamPage, WebError> {
    let job = stream_json(state, find(state, name)?);
    let layout = Layout::new(state, headers, &format!("Stream {name}"), Some(&job.live.cluster));
    let stream_times = job
        .live
        .stream_time
        .iter()
        .map(|(p, t)| (*p, t.map_or_else(|| "–".to_string(), crate::time::format_iso8601)))
        .collect();
    Ok(StreamPage { layout, row: row(job), stream_times })
}

pub async fn page_stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    Ok(render(&job_page(&state, &headers, &name)?))
}

pub async fn partial_stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, WebError> {
    let StreamPage { layout, row, stream_times } = job_page(&state, &headers, &name)?;
    Ok(render(&StreamPartial { layout, row, stream_times }))
}
