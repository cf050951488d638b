//! The JSON API under `/api/v1` (`../shared/docs/interface.md`): cluster, brokers, topics. Errors
//! are `{"error": "...", "message": "..."}` with a 4xx or 5xx status; malformed bodies get a 400
//! that says what was wrong, never axum's plain-text rejection.

use std::collections::BTreeMap;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use broker_core::cluster::{AdminError, NewTopic};
use broker_core::Cluster;
use kafka_protocol::ResponseError;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::AppState;

/// An API error: status, a short machine-readable kind, a message for people.
#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub error: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> ApiError {
        ApiError { status, error, message: message.into() }
    }

    pub fn not_found(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(error = self.error, message = %self.message, "API request failed");
        }
        (self.status, Json(json!({"error": self.error, "message": self.message}))).into_response()
    }
}

impl From<AdminError> for ApiError {
    fn from(e: AdminError) -> Self {
        let (status, error) = match e.code {
            ResponseError::TopicAlreadyExists => (StatusCode::CONFLICT, "already_exists"),
            ResponseError::NonEmptyGroup => (StatusCode::CONFLICT, "group_has_members"),
            ResponseError::UnknownTopicOrPartition | ResponseError::GroupIdNotFound => {
                (StatusCode::NOT_FOUND, "not_found")
            }
            ResponseError::BrokerNotAvailable => (StatusCode::NOT_FOUND, "not_found"),
            ResponseError::KafkaStorageError | ResponseError::UnknownServerError => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
            ResponseError::LeaderNotAvailable | ResponseError::CoordinatorNotAvailable => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            _ => (StatusCode::BAD_REQUEST, "invalid"),
        };
        ApiError::new(status, error, e.message)
    }
}

pub type ApiResult<T> = Result<Json<T>, ApiError>;

/// A JSON body, or a 400 naming what was wrong with it.
pub fn body<T>(body: Result<Json<T>, JsonRejection>) -> Result<T, ApiError> {
    body.map(|Json(t)| t).map_err(|e| ApiError::bad_request(format!("invalid JSON body: {}", e.body_text())))
}

#[derive(Serialize)]
pub struct BrokerJson {
    pub id: i32,
    pub host: String,
    pub port: u16,
    pub status: &'static str,
    /// `running`, or `paused` while a drill holds its replica fetcher (it falls out of the ISR).
    pub replication: &'static str,
    pub leader_count: usize,
    pub replica_count: usize,
}

#[derive(Serialize)]
pub struct ClusterJson {
    pub name: String,
    pub controller_id: i32,
    pub brokers: Vec<BrokerJson>,
    pub security_protocol: &'static str,
    /// The SASL mechanisms offered (comma-separated), when the listeners use SASL.
    pub sasl_mechanism: Option<String>,
}

pub fn cluster_json(cluster: &Cluster) -> ClusterJson {
    let md = cluster.metadata();
    let all: Vec<_> = md.topics.values().flat_map(|t| t.partitions.iter()).collect();
    ClusterJson {
        security_protocol: cluster.config.security.protocol.name(),
        sasl_mechanism: cluster.config.security.mechanism_names(),
        name: cluster.config.name.clone(),
        controller_id: cluster.controller_id(),
        brokers: cluster
            .brokers()
            .iter()
            .map(|b| BrokerJson {
                id: b.id,
                host: b.addr.ip().to_string(),
                port: b.addr.port(),
                status: if b.is_up() { "up" } else { "down" },
                replication: if b.replication_paused() { "paused" } else { "running" },
                leader_count: all.iter().filter(|p| p.leader == b.id && b.is_up()).count(),
                replica_count: all.iter().filter(|p| p.replicas.contains(&b.id)).count(),
            })
            .collect(),
    }
}

pub async fn get_cluster(State(state): State<AppState>) -> ApiResult<ClusterJson> {
    Ok(Json(cluster_json(state.embedded()?)))
}

#[derive(Serialize)]
pub struct TopicSummary {
    pub name: String,
    pub partitions: usize,
    pub replication_factor: usize,
    pub under_replicated: usize,
    pub offline: usize,
    pub internal: bool,
}

pub fn topic_summaries(cluster: &Cluster) -> Vec<TopicSummary> {
    let up = |id: i32| cluster.broker(id).is_some_and(|b| b.is_up());
    cluster
        .metadata()
        .topics
        .values()
        .map(|t| TopicSummary {
            name: t.name.clone(),
            partitions: t.partitions.len(),
            replication_factor: t.partitions.first().map_or(0, |p| p.replicas.len()),
            under_replicated: t
                .partitions
                .iter()
                .filter(|p| p.isr.iter().filter(|r| up(**r)).count() < p.replicas.len())
                .count(),
            offline: t.partitions.iter().filter(|p| p.leader < 0 || !up(p.leader)).count(),
            internal: t.internal,
        })
        .collect()
}

pub async fn get_topics(State(state): State<AppState>) -> ApiResult<Vec<TopicSummary>> {
    Ok(Json(topic_summaries(state.embedded()?)))
}

#[derive(Serialize)]
pub struct PartitionJson {
    pub partition: i32,
    pub leader: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub log_start_offset: i64,
    pub high_watermark: i64,
    pub log_end_offset: i64,
}

#[derive(Serialize)]
pub struct TopicJson {
    pub name: String,
    pub internal: bool,
    pub config: BTreeMap<String, String>,
    pub partitions: Vec<PartitionJson>,
}

pub fn topic_json(cluster: &Cluster, name: &str) -> Option<TopicJson> {
    let md = cluster.metadata();
    let topic = md.topics.get(name)?;
    let up = |id: i32| cluster.broker(id).is_some_and(|b| b.is_up());
    let partitions = topic
        .partitions
        .iter()
        .enumerate()
        .map(|(i, pm)| {
            let index = i as i32;
            let leader = if pm.leader >= 0 && up(pm.leader) { pm.leader } else { -1 };
            let replica = cluster.leader_replica(name, index);
            PartitionJson {
                partition: index,
                leader,
                replicas: pm.replicas.clone(),
                isr: pm.isr.iter().copied().filter(|r| up(*r)).collect(),
                log_start_offset: replica.as_ref().map_or(-1, |r| r.log_start_offset()),
                high_watermark: replica.as_ref().map_or(-1, |r| r.high_watermark()),
                log_end_offset: replica.as_ref().map_or(-1, |r| r.log_end_offset()),
            }
        })
        .collect();
    Some(TopicJson { name: topic.name.clone(), internal: topic.internal, config: topic.config.clone(), partitions })
}

pub async fn get_topic(State(state): State<AppState>, Path(name): Path<String>) -> ApiResult<TopicJson> {
    topic_json(state.embedded()?, &name)
        .map(Json)
        .ok_or_else(|| ApiError::not_found(format!("topic '{name}' does not exist")))
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
    request: Result<Json<CreateTopic>, JsonRejection>,
) -> Result<(StatusCode, Json<TopicJson>), ApiError> {
    let request = body(request)?;
    let new = NewTopic {
        name: request.name.clone(),
        partitions: request.partitions,
        replication_factor: request.replication_factor,
        config: request.config,
    };
    let cluster = state.embedded()?;
    cluster.create_topic(&new, false)?;
    let created = topic_json(cluster, &request.name)
        .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "topic vanished after creation"))?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn delete_topic(State(state): State<AppState>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    state.embedded()?.delete_topic(&name)?;
    Ok(StatusCode::NO_CONTENT)
}

fn broker_id(text: &str) -> Result<i32, ApiError> {
    text.parse().map_err(|_| ApiError::bad_request(format!("'{text}' is not a broker id")))
}

pub async fn stop_broker(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<ClusterJson> {
    let id = broker_id(&id)?;
    let cluster = std::sync::Arc::clone(state.embedded()?);
    let stopping = std::sync::Arc::clone(&cluster);
    tokio::task::spawn_blocking(move || stopping.stop_broker(id))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))??;
    Ok(Json(cluster_json(&cluster)))
}

pub async fn start_broker(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<ClusterJson> {
    let id = broker_id(&id)?;
    let cluster = state.embedded()?;
    broker_core::net::start_broker(cluster, id).await?;
    Ok(Json(cluster_json(cluster)))
}

/// `POST /api/v1/brokers/{id}/pause-replication`: the broker stays up but its replica fetcher
/// copies nothing, so its follower replicas fall behind and leave the ISR after
/// `replica_lag_time_max` (a stuck-follower drill). `resume-replication` undoes it.
pub async fn pause_replication(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<ClusterJson> {
    set_replication_paused(&state, &id, true)
}

pub async fn resume_replication(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<ClusterJson> {
    set_replication_paused(&state, &id, false)
}

fn set_replication_paused(state: &AppState, id: &str, paused: bool) -> ApiResult<ClusterJson> {
    let id = broker_id(id)?;
    let cluster = state.embedded()?;
    let broker = cluster.broker(id).ok_or_else(|| ApiError::not_found(format!("no broker with id {id}")))?;
    broker.set_replication_paused(paused);
    if paused {
        tracing::info!(broker = id, "replica fetcher paused through the API");
    } else {
        tracing::info!(broker = id, "replica fetcher resumed through the API");
    }
    Ok(Json(cluster_json(cluster)))
}

/// Unknown `/api/v1` paths: JSON, like every other answer here.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such API route; see /api/v1 in the documentation")
}

fn alerts_error(e: crate::alerts::AlertsError) -> ApiError {
    match e {
        crate::alerts::AlertsError::InvalidSilence(m) => ApiError::bad_request(m),
        other => ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", other.to_string()),
    }
}

/// `GET /api/v1/alerts`: `{active, recent}`.
pub async fn get_alerts(State(state): State<AppState>) -> ApiResult<crate::alerts::AlertsOverview> {
    state.alerts.overview(100).await.map(Json).map_err(alerts_error)
}

pub async fn get_silences(State(state): State<AppState>) -> ApiResult<Vec<crate::store::SilenceRecord>> {
    state.alerts.silences().await.map(Json).map_err(alerts_error)
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
) -> Result<crate::alerts::SilenceRequest, ApiError> {
    let matcher = match matcher {
        "group" => crate::store::SilenceMatcher::Group,
        "rule" => crate::store::SilenceMatcher::Rule,
        other => return Err(ApiError::bad_request(format!("matcher '{other}' is not \"group\" or \"rule\""))),
    };
    let duration = crate::config::parse_duration(duration).map_err(ApiError::bad_request)?;
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
) -> Result<(StatusCode, Json<crate::store::SilenceRecord>), ApiError> {
    let r = body(request)?;
    let request = silence_request(&r.matcher, &r.target, r.cluster, &r.duration, &r.comment, "api")?;
    let created = state.alerts.create_silence(request).await.map_err(alerts_error)?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn delete_silence(State(state): State<AppState>, Path(id): Path<String>) -> Result<StatusCode, ApiError> {
    let id: i64 = id.parse().map_err(|_| ApiError::bad_request(format!("'{id}' is not a silence id")))?;
    match state.alerts.delete_silence(id).await.map_err(alerts_error)? {
        true => Ok(StatusCode::NO_CONTENT),
        false => Err(ApiError::not_found(format!("no silence {id}"))),
    }
}
