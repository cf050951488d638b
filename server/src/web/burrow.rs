//! Burrow's v3 HTTP API (`/v3/kafka/...`), same paths and JSON shapes as Burrow's, so tools
//! written for Burrow work unchanged (`../shared/docs/burrow.md` §5): every body carries
//! `error`, `message` and `request {url, host}`; unknown clusters, topics and groups are 404 with
//! Burrow's messages; a NOTFOUND group is 404 with `error: false`; an unknown path is 404
//! `{"error":true,"message":"invalid request type","result":{}}`.

use axum::extract::{OriginalUri, Path, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use super::AppState;
use crate::evaluator::GroupStatus;
use crate::monitor::ClusterView;

fn reply(state: &AppState, uri: &Uri, status: StatusCode, error: bool, message: &str, fields: Value) -> Response {
    let mut body = json!({
        "error": error,
        "message": message,
        "request": {"url": uri.path(), "host": state.hostname},
    });
    if let (Value::Object(body), Value::Object(fields)) = (&mut body, fields) {
        body.extend(fields);
    }
    (status, Json(body)).into_response()
}

fn not_found(state: &AppState, uri: &Uri, message: &str) -> Response {
    reply(state, uri, StatusCode::NOT_FOUND, true, message, json!({}))
}

fn cluster(state: &AppState, name: &str) -> Option<std::sync::Arc<ClusterView>> {
    state.monitor.cluster(name)
}

/// The cluster, when it has `topic`.
fn cluster_with_topic(state: &AppState, name: &str, topic: &str) -> Option<std::sync::Arc<ClusterView>> {
    cluster(state, name).filter(|view| view.topics.contains_key(topic))
}

pub async fn clusters(State(state): State<AppState>, OriginalUri(uri): OriginalUri) -> Response {
    let names: Vec<String> = state.monitor.clusters().iter().map(|c| c.name.clone()).collect();
    reply(&state, &uri, StatusCode::OK, false, "cluster list returned", json!({"clusters": names}))
}

pub async fn cluster_detail(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Path(name): Path<String>,
) -> Response {
    let Some(view) = cluster(&state, &name) else {
        return not_found(&state, &uri, "cluster not found");
    };
    let servers = state.cluster_servers(&view.name);
    // Burrow names its TLS and SASL profiles here; warren's are the protocol and the mechanism
    // (never a credential).
    let (protocol, mechanism) = state.security_of(&view.name);
    let tls = protocol.uses_tls().then(|| protocol.name());
    let module = json!({
        "class-name": "kafka",
        "servers": servers,
        "client-profile": {"name": "warren", "client-id": "warren", "kafka-version": "2.1.0", "tls": tls, "sasl": mechanism},
        "topic-refresh": state.sample_interval_s,
        "offset-refresh": state.sample_interval_s,
    });
    reply(&state, &uri, StatusCode::OK, false, "cluster module detail returned", json!({"module": module}))
}

pub async fn topics(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Path(name): Path<String>,
) -> Response {
    let Some(view) = cluster(&state, &name) else {
        return not_found(&state, &uri, "cluster not found");
    };
    let topics: Vec<&String> = view.topics.keys().collect();
    reply(&state, &uri, StatusCode::OK, false, "topic list returned", json!({"topics": topics}))
}

pub async fn topic_detail(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Path((name, topic)): Path<(String, String)>,
) -> Response {
    let Some(view) = cluster_with_topic(&state, &name, &topic) else {
        return not_found(&state, &uri, "cluster or topic not found");
    };
    // Newest end offset per partition; unsampled (leaderless) partitions are skipped, as Burrow does.
    let offsets: Vec<i64> = view.topic_partitions(&topic).iter().filter_map(|p| p.high_watermark()).collect();
    reply(&state, &uri, StatusCode::OK, false, "topic offsets returned", json!({"offsets": offsets}))
}

pub async fn topic_consumers(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Path((name, topic)): Path<(String, String)>,
) -> Response {
    let Some(view) = cluster_with_topic(&state, &name, &topic) else {
        return not_found(&state, &uri, "cluster or topic not found");
    };
    let consumers: Vec<&String> =
        view.groups.values().filter(|g| g.rings.contains_key(&topic)).map(|g| &g.group).collect();
    reply(&state, &uri, StatusCode::OK, false, "consumers of topic returned", json!({"consumers": consumers}))
}

pub async fn consumers(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Path(name): Path<String>,
) -> Response {
    let Some(view) = cluster(&state, &name) else {
        return not_found(&state, &uri, "cluster not found");
    };
    let consumers: Vec<&String> = view.groups.keys().collect();
    reply(&state, &uri, StatusCode::OK, false, "consumer list returned", json!({"consumers": consumers}))
}

pub async fn consumer_detail(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Path((name, group)): Path<(String, String)>,
) -> Response {
    let Some(g) = cluster(&state, &name).and_then(|v| v.groups.get(&group).cloned()) else {
        return not_found(&state, &uri, "cluster or consumer not found");
    };
    reply(&state, &uri, StatusCode::OK, false, "consumer detail returned", json!({"topics": g.rings}))
}

fn status_body(cluster: &str, group: &str, status: &GroupStatus, all: bool) -> Value {
    let partitions: Vec<_> =
        status.partitions.iter().filter(|p| all || p.status != crate::evaluator::PartitionState::Ok).collect();
    json!({
        "cluster": cluster,
        "group": group,
        "status": status.status,
        "complete": status.complete,
        "partitions": partitions,
        "partition_count": status.partition_count,
        "maxlag": status.max_lag,
        "totallag": status.total_lag,
    })
}

async fn consumer_status(state: AppState, uri: Uri, name: String, group: String, all: bool) -> Response {
    let Some(view) = cluster(&state, &name) else {
        return not_found(&state, &uri, "cluster or consumer not found");
    };
    let (code, status) = match view.groups.get(&group) {
        Some(g) if g.status != crate::evaluator::GroupState::NotFound => (StatusCode::OK, g.evaluation.clone()),
        // Unknown or expired: Burrow's NOTFOUND body, 404 with error false.
        _ => (StatusCode::NOT_FOUND, GroupStatus::not_found()),
    };
    reply(
        &state,
        &uri,
        code,
        false,
        "consumer status returned",
        json!({"status": status_body(&name, &group, &status, all)}),
    )
}

pub async fn consumer_status_route(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Path((name, group)): Path<(String, String)>,
) -> Response {
    consumer_status(state, uri, name, group, false).await
}

pub async fn consumer_lag_route(
    State(state): State<AppState>,
    OriginalUri(uri): OriginalUri,
    Path((name, group)): Path<(String, String)>,
) -> Response {
    consumer_status(state, uri, name, group, true).await
}

pub async fn invalid() -> Response {
    (StatusCode::NOT_FOUND, Json(json!({"error": true, "message": "invalid request type", "result": {}})))
        .into_response()
}
