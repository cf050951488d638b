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
    pub leader_count: usize,
    pub replica_count: usize,
}

#[derive(Serialize)]
pub struct ClusterJson {
    pub name: String,
    pub controller_id: i32,
    pub brokers: Vec<BrokerJson>,
}

pub fn cluster_json(cluster: &Cluster) -> ClusterJson {
    let md = cluster.metadata();
    let all: Vec<_> = md.topics.values().flat_map(|t| t.partitions.iter()).collect();
    ClusterJson {
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
                leader_count: all.iter().filter(|p| p.leader == b.id && b.is_up()).count(),
                replica_count: all.iter().filter(|p| p.replicas.contains(&b.id)).count(),
            })
            .collect(),
    }
}

pub async fn get_cluster(State(state): State<AppState>) -> ApiResult<ClusterJson> {
    Ok(Json(cluster_json(&state.cluster)))
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
    Ok(Json(topic_summaries(&state.cluster)))
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
    topic_json(&state.cluster, &name)
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
    state.cluster.create_topic(&new, false)?;
    let created = topic_json(&state.cluster, &request.name)
        .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "topic vanished after creation"))?;
    Ok((StatusCode::CREATED, Json(created)))
}

pub async fn delete_topic(State(state): State<AppState>, Path(name): Path<String>) -> Result<StatusCode, ApiError> {
    state.cluster.delete_topic(&name)?;
    Ok(StatusCode::NO_CONTENT)
}

fn broker_id(text: &str) -> Result<i32, ApiError> {
    text.parse().map_err(|_| ApiError::bad_request(format!("'{text}' is not a broker id")))
}

pub async fn stop_broker(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<ClusterJson> {
    let id = broker_id(&id)?;
    let cluster = std::sync::Arc::clone(&state.cluster);
    tokio::task::spawn_blocking(move || cluster.stop_broker(id))
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", e.to_string()))??;
    Ok(Json(cluster_json(&state.cluster)))
}

pub async fn start_broker(State(state): State<AppState>, Path(id): Path<String>) -> ApiResult<ClusterJson> {
    let id = broker_id(&id)?;
    broker_core::net::start_broker(&state.cluster, id).await?;
    Ok(Json(cluster_json(&state.cluster)))
}

/// Unknown `/api/v1` paths: JSON, like every other answer here.
pub async fn not_found() -> ApiError {
    ApiError::not_found("no such API route; see /api/v1 in the documentation")
}
