//! The consumer-group routes of the JSON API: the monitor's verdicts per group and partition,
//! lag history from the store, and offset resets (409 while the group has members).

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::api::{body, ApiResult, ClusterQuery, WebError};
use super::AppState;
use crate::monitor::{ClusterView, GroupView};
use crate::store::HistoryRange;

#[derive(Serialize)]
pub struct GroupSummary {
    pub group: String,
    pub cluster: String,
    pub status: &'static str,
    pub total_lag: i64,
    pub max_lag_seconds: Option<f64>,
    pub members: usize,
    pub partitions: usize,
}

fn summary(cluster: &ClusterView, g: &GroupView) -> GroupSummary {
    GroupSummary {
        group: g.group.clone(),
        cluster: cluster.name.clone(),
        status: g.status.as_str(),
        total_lag: g.total_lag,
        max_lag_seconds: g.max_lag_seconds,
        members: g.members,
        partitions: g.partitions.len(),
    }
}

/// The views to search: one cluster when named, else all of them.
fn clusters(state: &AppState, wanted: Option<&str>) -> Result<Vec<std::sync::Arc<ClusterView>>, WebError> {
    match wanted {
        Some(name) => state
            .monitor
            .cluster(name)
            .map(|c| vec![c])
            .ok_or_else(|| WebError::not_found(format!("no monitored cluster named '{name}'"))),
        None => Ok(state.monitor.clusters()),
    }
}

pub async fn list_groups(State(state): State<AppState>, Query(q): Query<ClusterQuery>) -> ApiResult<Vec<GroupSummary>> {
    let views = clusters(&state, q.cluster.as_deref())?;
    Ok(Json(views.iter().flat_map(|c| c.groups.values().map(|g| summary(c, g))).collect()))
}

/// A group in the named cluster, or in the first cluster that has it.
fn find_group(
    state: &AppState,
    cluster: Option<&str>,
    group: &str,
) -> Result<(std::sync::Arc<ClusterView>, GroupView), WebError> {
    for view in clusters(state, cluster)? {
        if let Some(g) = view.groups.get(group) {
            let g = g.clone();
            return Ok((view, g));
        }
    }
    Err(WebError::not_found(format!("no consumer group named '{group}'")))
}

pub async fn get_group(
    State(state): State<AppState>,
    Path(group): Path<String>,
    Query(q): Query<ClusterQuery>,
) -> ApiResult<serde_json::Value> {
    let (cluster, g) = find_group(&state, q.cluster.as_deref(), &group)?;
    Ok(Json(json!({
        "group": g.group,
        "cluster": cluster.name,
        "status": g.status.as_str(),
        "complete": g.complete,
        "total_lag": g.total_lag,
        "max_lag": g.max_lag,
        "max_lag_seconds": g.max_lag_seconds,
        "members": g.members,
        "state": g.kafka_state,
        "lag_measured_against": if g.against_last_stable { "last_stable_offset" } else { "high_watermark" },
        "diagnosis": g.diagnosis,
        "partitions": g.partitions,
    })))
}

#[derive(Deserialize)]
pub struct HistoryQuery {
    pub range: Option<String>,
    pub cluster: Option<String>,
}

pub async fn group_history(
    State(state): State<AppState>,
    Path(group): Path<String>,
    Query(q): Query<HistoryQuery>,
) -> ApiResult<serde_json::Value> {
    let range: HistoryRange = q
        .range
        .as_deref()
        .unwrap_or("1h")
        .parse()
        .map_err(|e: crate::store::ParseHistoryRangeError| WebError::bad_request(e.to_string()))?;
    let (cluster, _) = find_group(&state, q.cluster.as_deref(), &group)?;
    let points = state
        .store
        .group_history(&cluster.name, &group, range, crate::monitor::now_ms())
        .await
        .map_err(|e| WebError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))?;
    let points: Vec<_> = points
        .into_iter()
        .map(|p| json!({"ts": p.ts_ms, "total_lag": p.total_lag, "max_lag_seconds": p.max_lag_seconds, "status": p.status}))
        .collect();
    Ok(Json(
        json!({"group": group, "cluster": cluster.name, "range": q.range.unwrap_or_else(|| "1h".into()), "points": points}),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResetRequest {
    pub topic: String,
    pub to: ResetTarget,
}

#[derive(Deserialize)]
#[serde(untagged)]
pub enum ResetTarget {
    Named(String),
    Offset { offset: i64 },
    Datetime { datetime: String },
}

pub async fn reset_offsets(
    State(state): State<AppState>,
    Path(group): Path<String>,
    Query(q): Query<ClusterQuery>,
    request: Result<Json<ResetRequest>, JsonRejection>,
) -> ApiResult<serde_json::Value> {
    let cluster = state.managed(q.cluster.as_deref())?;
    let request = body(request)?;
    let to = match &request.to {
        ResetTarget::Named(n) if n == "earliest" => broker_core::ResetTo::Earliest,
        ResetTarget::Named(n) if n == "latest" => broker_core::ResetTo::Latest,
        ResetTarget::Named(n) => {
            return Err(WebError::bad_request(format!(
                "'to' is '{n}'; use \"earliest\", \"latest\", {{\"offset\": N}} or {{\"datetime\": ISO8601}}"
            )))
        }
        ResetTarget::Offset { offset } => broker_core::ResetTo::Offset(*offset),
        ResetTarget::Datetime { datetime } => {
            broker_core::ResetTo::Timestamp(crate::time::parse_iso8601_ms(datetime).map_err(WebError::bad_request)?)
        }
    };
    let offsets = cluster.reset_offsets(&group, &request.topic, to).await?;
    state.refreshed(&cluster.config.name).await;
    let partitions: Vec<_> = offsets.into_iter().map(|(p, o)| json!({"partition": p, "offset": o})).collect();
    Ok(Json(json!({"group": group, "topic": request.topic, "partitions": partitions})))
}
