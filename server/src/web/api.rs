//! The JSON API under `/api/v1` (`../shared/docs/interface.md`): cluster, brokers, topics, for
//! any monitored cluster (`?cluster=NAME`), read from the monitor's view; actions only on the
//! embedded cluster (409 for an external one). Errors are `{"error": "...", "message": "..."}`
//! with a 4xx or 5xx status (`WebError`); malformed bodies get a 400 that says what was wrong,
//! never axum's plain-text rejection.

use std::collections::BTreeMap;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use broker_core::NewTopic;
use serde::{Deserialize, Serialize};

pub use super::error::WebError;
use super::AppState;
use crate::monitor::ClusterView;

pub type ApiResult<T> = Result<Json<T>, WebError>;

/// A JSON body, or a 400 naming what was wrong with it.
pub fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, WebError> {
    body.map(|Json(t)| t).map_err(|e| WebError::bad_request(format!("invalid JSON body: {}", e.body_text())))
}

#[derive(Deserialize, Default)]
pub struct ClusterQuery {
    /// Which monitored cluster; the embedded one (else the first) by default.
    pub cluster: Option<String>,
}

#[derive(Serialize)]
pub struct BrokerJson {
    pub id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
    pub status: &'static str,
    /// `running`, or `paused` while a drill holds its replica fetcher (it falls out of the ISR);
    /// `null` for an external cluster.
    pub replication: Option<&'static str>,
    pub leader_count: usize,
    pub replica_count: usize,
    /// `null` where the source cannot tell.
    pub size_bytes: Option<u64>,
}

#[derive(Serialize)]
pub struct ClusterJson {
    pub name: String,
    /// When the view was sampled (ms since the epoch; 0 before the first sample).
    pub sampled_ms: i64,
    pub reachable: bool,
    pub controller_id: i32,
    pub brokers: Vec<BrokerJson>,
    pub under_replicated_partitions: usize,
    pub offline_partitions: usize,
    pub security_protocol: &'static str,
    /// The SASL mechanisms offered (comma-separated), when the listeners use SASL.
    pub sasl_mechanism: Option<String>,
    /// What the last sample could not read.
    pub problems: Vec<crate::monitor::snapshot::Problem>,
}

pub fn cluster_json(state: &AppState, view: &ClusterView) -> ClusterJson {
    let counts = &view.summary.per_broker;
    let (protocol, mechanism) = state.security_of(&view.name);
    ClusterJson {
        name: view.name.clone(),
        sampled_ms: view.ts_ms,
        reachable: view.reachable,
        controller_id: view.controller_id,
        brokers: view
            .brokers
            .iter()
            .map(|b| {
                let (leader_count, replica_count) = counts.get(&b.id).copied().unwrap_or_default();
                BrokerJson {
                    id: b.id,
                    host: b.host.clone(),
                    port: b.port,
                    rack: b.rack.clone(),
                    status: if b.up { "up" } else { "down" },
                    replication: b.replication_paused.map(|p| if p { "paused" } else { "running" }),
                    leader_count,
                    replica_count,
                    size_bytes: b.size_bytes,
                }
            })
            .collect(),
        under_replicated_partitions: view.under_replicated(),
        offline_partitions: view.offline(),
        security_protocol: protocol.name(),
        sasl_mechanism: mechanism,
        problems: view.problems.clone(),
    }
}

pub async fn get_cluster(State(state): State<AppState>, Query(q): Query<ClusterQuery>) -> ApiResult<ClusterJson> {
    let view = state.view(q.cluster.as_deref())?;
    Ok(Json(cluster_json(&state, &view)))
}

#[derive(Serialize)]
pub struct TopicSummary {
    pub name: String,
    pub partitions: usize,
    pub replication_factor: usize,
    pub under_replicated: usize,
    pub offline: usize,
    pub internal: bool,
    /// Leaders' bytes on disk; `null` where the source cannot tell.
    pub size_bytes: Option<u64>,
    /// Records per second appended, over the last sample interval.
    pub produce_rate: f64,
}

pub fn topic_summaries(view: &ClusterView) -> Vec<TopicSummary> {
    view.topics
        .iter()
        .map(|(name, topic)| {
            let partitions = view.topic_partitions(name);
            let sizes: Option<Vec<u64>> = partitions.iter().map(|p| p.size_bytes).collect();
            TopicSummary {
                name: name.clone(),
                partitions: topic.partitions as usize,
                replication_factor: partitions.first().map_or(0, |p| p.replicas.len()),
                under_replicated: partitions.iter().filter(|p| p.under_replicated()).count(),
                offline: partitions.iter().filter(|p| p.offline()).count(),
                internal: topic.internal,
                size_bytes: sizes.filter(|s| !s.is_empty()).map(|s| s.iter().sum()),
                produce_rate: partitions.iter().map(|p| p.produce_rate).sum(),
            }
        })
        .collect()
}

pub async fn get_topics(State(state): State<AppState>, Query(q): Query<ClusterQuery>) -> ApiResult<Vec<TopicSummary>> {
    Ok(Json(topic_summaries(&*state.view(q.cluster.as_deref())?)))
}

#[derive(Serialize)]
pub struct PartitionJson {
    pub partition: i32,
    pub leader: i32,
    pub leader_epoch: Option<i32>,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub offline_replicas: Vec<i32>,
    pub under_replicated: bool,
    /// -1 when unknown (no leader in service, or not read this sample).
    pub log_start_offset: i64,
    pub high_watermark: i64,
    pub log_end_offset: i64,
    pub size_bytes: Option<u64>,
}

#[derive(Serialize)]
pub struct TopicJson {
    pub name: String,
    pub internal: bool,
    pub config: BTreeMap<String, String>,
    pub partitions: Vec<PartitionJson>,
}

pub fn topic_json(view: &ClusterView, name: &str) -> Option<TopicJson> {
    let topic = view.topics.get(name)?;
    let partitions = view
        .topic_partitions(name)
        .iter()
        .map(|p| PartitionJson {
            partition: p.partition,
            leader: p.leader,
            leader_epoch: p.leader_epoch,
            replicas: p.replicas.clone(),
            isr: p.isr.clone(),
            offline_replicas: p.offline_replicas.clone(),
            under_replicated: p.under_replicated(),
            log_start_offset: p.offsets.map_or(-1, |o| o.log_start_offset),
            high_watermark: p.offsets.map_or(-1, |o| o.high_watermark),
            log_end_offset: p.offsets.and_then(|o| o.log_end_offset).unwrap_or(-1),
            size_bytes: p.size_bytes,
        })
        .collect();
    Some(TopicJson { name: name.to_string(), internal: topic.internal, config: topic.config.clone(), partitions })
}

pub async fn get_topic(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<ClusterQuery>,
) -> ApiResult<TopicJson> {
    let view = state.view(q.cluster.as_deref())?;
    topic_json(&view, &name).map(Json).ok_or_else(|| WebError::not_found(format!("topic '{name}' does not exist")))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateTopic {
    pub name: String,
    pub partitions: Option<i32>,
    pub replication_factor: Option<i32>,
    #[serde(default)]
    pub config: BTreeMap<String, String>,
}

pub async fn create_topic(
    State(state): State<AppState>,
    Query(q): Query<ClusterQuery>,
    request: Result<Json<CreateTopic>, JsonRejection>,
) -> Result<(StatusCode, Json<TopicJson>), WebError> {
    let cluster = state.managed(q.cluster.as_deref())?;
    let request = body(request)?;
    let new = NewTopic {
        name: request.name.clone(),
        partitions: request.partitions,
        replication_factor: request.replication_factor,
        config: request.config,
    };
    cluster.create_topic(&new, false)?;
    let view = state.view(Some(&cluster.config.name))?;
    let created = topic_json(&view, &request.name)
        .ok_or_else(|| WebError::internal("the topic was created but is not in the cluster's view yet"))?;
    Ok((StatusCode::CREATED, Json(created)))
}

/// `PATCH /api/v1/topics/{topic}/configs`: `{"set": {"retention.ms": "60000"}, "delete":
/// ["segment.ms"]}`, validated as a whole; answers the topic's effective configs.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlterTopicConfig {
    #[serde(default)]
    pub set: BTreeMap<String, String>,
    #[serde(default)]
    pub delete: Vec<String>,
}

#[derive(Serialize)]
pub struct TopicConfigJson {
    pub name: String,
    pub value: String,
    /// `topic` when set on the topic, `default` otherwise.
    pub source: &'static str,
}

pub async fn alter_topic_config(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<ClusterQuery>,
    request: Result<Json<AlterTopicConfig>, JsonRejection>,
) -> ApiResult<Vec<TopicConfigJson>> {
    let cluster = std::sync::Arc::clone(state.managed(q.cluster.as_deref())?);
    let request = body(request)?;
    if request.set.is_empty() && request.delete.is_empty() {
        return Err(WebError::bad_request("nothing to change: give \"set\" or \"delete\""));
    }
    let mut overrides = cluster
        .metadata()
        .topics
        .get(&name)
        .map(|t| t.config.clone())
        .ok_or_else(|| WebError::not_found(format!("topic '{name}' does not exist")))?;
    for key in &request.delete {
        overrides.remove(key);
    }
    overrides.extend(request.set);
    let altering = std::sync::Arc::clone(&cluster);
    let topic = name.clone();
    tokio::task::spawn_blocking(move || altering.alter_topic_config(&topic, overrides, false))
        .await
        .map_err(|e| WebError::internal(e.to_string()))??;
    let settings = cluster.topic_settings(&name).unwrap_or_default();
    Ok(Json(
        settings
            .into_iter()
            .map(|(s, set)| TopicConfigJson {
                name: s.name.to_string(),
                value: s.value,
                source: if set { "topic" } else { "default" },
            })
            .collect(),
    ))
}

pub async fn delete_topic(
    State(state): State<AppState>,
    Path(name): Path<String>,
    Query(q): Query<ClusterQuery>,
) -> Result<StatusCode, WebError> {
    let cluster = state.managed(q.cluster.as_deref())?;
    cluster.delete_topic(&name)?;
    Ok(StatusCode::NO_CONTENT)
}

fn broker_id(text: &str) -> Result<i32, WebError> {
    text.parse().map_err(|_| WebError::bad_request(format!("'{text}' is not a broker id")))
}

pub async fn stop_broker(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ClusterQuery>,
) -> ApiResult<ClusterJson> {
    let id = broker_id(&id)?;
    let cluster = std::sync::Arc::clone(state.managed(q.cluster.as_deref())?);
    let stopping = std::sync::Arc::clone(&cluster);
    tokio::task::spawn_blocking(move || stopping.stop_broker(id))
        .await
        .map_err(|e| WebError::internal(e.to_string()))??;
    Ok(Json(cluster_json(&state, &*state.view(Some(&cluster.config.name))?)))
}

pub async fn start_broker(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ClusterQuery>,
) -> ApiResult<ClusterJson> {
    let id = broker_id(&id)?;
    let cluster = state.managed(q.cluster.as_deref())?;
    broker_core::start_broker(cluster, id).await?;
    Ok(Json(cluster_json(&state, &*state.view(Some(&cluster.config.name))?)))
}

/// `POST /api/v1/brokers/{id}/pause-replication`: the broker stays up but its replica fetcher
/// copies nothing, so its follower replicas fall behind and leave the ISR after
/// `replica_lag_time_max` (a stuck-follower drill). `resume-replication` undoes it.
pub async fn pause_replication(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ClusterQuery>,
) -> ApiResult<ClusterJson> {
    set_replication_paused(&state, &id, q.cluster.as_deref(), true)
}

pub async fn resume_replication(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(q): Query<ClusterQuery>,
) -> ApiResult<ClusterJson> {
    set_replication_paused(&state, &id, q.cluster.as_deref(), false)
}

fn set_replication_paused(state: &AppState, id: &str, cluster: Option<&str>, paused: bool) -> ApiResult<ClusterJson> {
    let id = broker_id(id)?;
    let cluster = state.managed(cluster)?;
    let broker = cluster.broker(id).ok_or_else(|| WebError::not_found(format!("no broker with id {id}")))?;
    broker.set_replication_paused(paused);
    if paused {
        tracing::info!(broker = id, "replica fetcher paused through the API");
    } else {
        tracing::info!(broker = id, "replica fetcher resumed through the API");
    }
    Ok(Json(cluster_json(state, &*state.view(Some(&cluster.config.name))?)))
}

/// Unknown `/api/v1` paths: JSON, like every other answer here.
pub async fn not_found() -> WebError {
    WebError::not_found("no such API route; see /api/v1 in the documentation")
}

fn alerts_error(e: crate::alerts::AlertsError) -> WebError {
    match e {
        crate::alerts::AlertsError::InvalidSilence(m) => WebError::bad_request(m),
        other => WebError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", other.to_string()),
    }
}

/// `GET /api/v1/alerts`: `{active, recent}`, of one cluster with `?cluster=NAME`.
pub async fn get_alerts(
    State(state): State<AppState>,
    Query(q): Query<ClusterQuery>,
) -> ApiResult<crate::alerts::AlertsOverview> {
    let overview = state.alerts.overview(100).await.map_err(alerts_error)?;
    match q.cluster.as_deref() {
        Some(cluster) => Ok(Json(overview.of_cluster(&state.sampled_view(Some(cluster))?.name))),
        None => Ok(Json(overview)),
    }
}

/// `GET /api/v1/alerts/silences`; with `?cluster=NAME`, those that apply to that cluster.
pub async fn get_silences(
    State(state): State<AppState>,
    Query(q): Query<ClusterQuery>,
) -> ApiResult<Vec<crate::store::SilenceRecord>> {
    let mut silences = state.alerts.silences().await.map_err(alerts_error)?;
    if let Some(cluster) = q.cluster.as_deref() {
        let name = state.sampled_view(Some(cluster))?.name.clone();
        silences.retain(|s| s.cluster.as_ref().is_none_or(|c| *c == name));
    }
    Ok(Json(silences))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSilence {
    /// `group` or `rule`.
    pub matcher: String,
    pub target: String,
    pub cluster: Option<String>,
    /// `30m`, `2h`, `7d`.
    pub duration: String,
    #[serde(default)]
    pub comment: String,
}

/// A silence from the API's body or the dashboard's form.
pub fn silence_request(
    matcher: &str,
    target: &str,
    cluster: Option<String>,
    duration: &str,
    comment: &str,
    by: &str,
) -> Result<crate::alerts::SilenceRequest, WebError> {
    let matcher = match matcher {
        "group" => crate::store::SilenceMatcher::Group,
        "rule" => crate::store::SilenceMatcher::Rule,
        other => return Err(WebError::bad_request(format!("matcher '{other}' is not \"group\" or \"rule\""))),
    };
    let duration = crate::config::parse_duration(duration).map_err(WebError::bad_request)?;
    Ok(crate::alerts::SilenceRequest {
        matcher,
        target: target.trim().to_string(),
        cluster: cluster.filter(|c| !c.is_empty()),
        duration,
        comment: comment.to_string(),
        created_by: by.to_string(),
    })
}

pub async fn create_silence(
    State(state): State<AppState>,
    request: Result<Json<CreateSilence>, JsonRejection>,
) -> Result<(StatusCode, Json<crate::store::SilenceRecord>), WebError> {
    let r = body(request)?;
    let request = silence_request(&r.matcher, &r.target, r.cluster, &r.duration, &r.comment, "api")?;
    let created = state.alerts.create_silence(request).await.map_err(alerts_error)?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn delete_silence(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, WebError> {
    let id: i64 = id.parse().map_err(|_| WebError::bad_request(format!("'{id}' is not a silence id")))?;
    match state.alerts.delete_silence(id).await.map_err(alerts_error)? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(WebError::not_found(format!("no silence {id}"))),
    }
}
