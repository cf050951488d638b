//! Admin APIs: CreateTopics, DeleteTopics, CreatePartitions, DescribeConfigs, InitProducerId.
//! Refusals carry Kafka's error code and, where the version has the field, a readable message.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::describe_configs_response::{DescribeConfigsResourceResult, DescribeConfigsResult};
use kafka_protocol::messages::*;
use kafka_protocol::ResponseError;

use super::str_bytes;
use crate::cluster::config::TopicConfig;
use crate::cluster::{AdminError, NewTopic};
use crate::net::dispatch::Ctx;

pub async fn create_topics(ctx: &Ctx<'_>, request: CreateTopicsRequest) -> CreateTopicsResponse {
    let mut results = Vec::with_capacity(request.topics.len());
    let mut creating = Vec::new();
    for t in &request.topics {
        let result = CreatableTopicResult::default()
            .with_name(t.name.clone())
            .with_num_partitions(-1)
            .with_replication_factor(-1);
        if !ctx.principal.may_administer() {
            results.push(result.with_error_code(ResponseError::TopicAuthorizationFailed.code()).with_error_message(
                Some(str_bytes(format!("user '{}' may not create topics (super users only)", ctx.principal.name()))),
            ));
            continue;
        }
        if !t.assignments.is_empty() {
            results.push(result.with_error_code(ResponseError::InvalidRequest.code()).with_error_message(Some(
                str_bytes("manual replica assignment is not supported; give partitions and replication factor"),
            )));
            continue;
        }
        let config: BTreeMap<String, String> =
            t.configs.iter().filter_map(|c| Some((c.name.to_string(), c.value.as_ref()?.to_string()))).collect();
        creating.push((
            results.len(),
            NewTopic {
                name: t.name.0.to_string(),
                partitions: (t.num_partitions != -1).then_some(t.num_partitions),
                replication_factor: (t.replication_factor != -1).then_some(i32::from(t.replication_factor)),
                config,
            },
        ));
        results.push(result);
    }
    let requests: Vec<NewTopic> = creating.iter().map(|(_, n)| n.clone()).collect();
    let cluster = std::sync::Arc::clone(ctx.cluster);
    let validate_only = request.validate_only;
    let count = requests.len();
    // One metadata write for the whole request, off the async workers (it fsyncs).
    let created = tokio::task::spawn_blocking(move || cluster.create_topics(&requests, validate_only))
        .await
        .unwrap_or_else(|e| vec![Err(AdminError::new(ResponseError::UnknownServerError, e.to_string())); count]);
    for ((at, _), outcome) in creating.iter().zip(created) {
        let result = &mut results[*at];
        match outcome {
            Ok(meta) => {
                result.num_partitions = meta.partitions.len() as i32;
                result.replication_factor = meta.partitions.first().map_or(0, |p| p.replicas.len() as i16);
                result.topic_id = uuid::Uuid::from_bytes(meta.id);
            }
            Err(e) => {
                result.error_code = e.code.code();
                result.error_message = Some(str_bytes(e.message));
            }
        }
    }
    CreateTopicsResponse::default().with_topics(results)
}

pub async fn delete_topics(ctx: &Ctx<'_>, request: DeleteTopicsRequest) -> DeleteTopicsResponse {
    let names: Vec<TopicName> = if request.topic_names.is_empty() {
        request.topics.iter().filter_map(|t| t.name.clone()).collect()
    } else {
        request.topic_names.clone()
    };
    let cluster = std::sync::Arc::clone(ctx.cluster);
    let allowed = ctx.principal.may_administer();
    let who = ctx.principal.name().to_string();
    // Off the async workers: deleting removes directories and fsyncs the metadata.
    let responses = tokio::task::spawn_blocking(move || {
        names
            .into_iter()
            .map(|name| {
                let result = DeletableTopicResult::default().with_name(Some(name.clone()));
                if !allowed {
                    return result.with_error_code(ResponseError::TopicAuthorizationFailed.code()).with_error_message(
                        Some(str_bytes(format!("user '{who}' may not delete topics (super users only)"))),
                    );
                }
                match cluster.delete_topic(name.0.as_str()) {
                    Ok(()) => result,
                    Err(e) => result.with_error_code(e.code.code()).with_error_message(Some(str_bytes(e.message))),
                }
            })
            .collect()
    })
    .await
    .unwrap_or_default();
    DeleteTopicsResponse::default().with_responses(responses)
}

pub async fn create_partitions(ctx: &Ctx<'_>, request: CreatePartitionsRequest) -> CreatePartitionsResponse {
    let cluster = std::sync::Arc::clone(ctx.cluster);
    let allowed = ctx.principal.may_administer();
    // Off the async workers: new replicas are opened on disk and the metadata fsynced.
    let results = tokio::task::spawn_blocking(move || {
        request
            .topics
            .iter()
            .map(|t| {
                let result = CreatePartitionsTopicResult::default().with_name(t.name.clone());
                if !allowed {
                    return result
                        .with_error_code(ResponseError::TopicAuthorizationFailed.code())
                        .with_error_message(Some(str_bytes("only super users may add partitions")));
                }
                if t.assignments.as_ref().is_some_and(|a| !a.is_empty()) {
                    return result
                        .with_error_code(ResponseError::InvalidRequest.code())
                        .with_error_message(Some(str_bytes("manual replica assignment is not supported")));
                }
                match cluster.create_partitions(t.name.0.as_str(), t.count, request.validate_only) {
                    Ok(()) => result,
                    Err(e) => result.with_error_code(e.code.code()).with_error_message(Some(str_bytes(e.message))),
                }
            })
            .collect()
    })
    .await
    .unwrap_or_default();
    CreatePartitionsResponse::default().with_results(results)
}

const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;
const SOURCE_DYNAMIC_TOPIC: i8 = 1;
const SOURCE_STATIC_BROKER: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;

pub async fn describe_configs(ctx: &Ctx<'_>, request: DescribeConfigsRequest) -> DescribeConfigsResponse {
    let md = ctx.cluster.metadata();
    let results = request
        .resources
        .iter()
        .map(|r| {
            let result = DescribeConfigsResult::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone());
            let wanted =
                |name: &str| r.configuration_keys.as_ref().is_none_or(|keys| keys.iter().any(|k| k.as_str() == name));
            let entries: Vec<(String, String, i8)> = match r.resource_type {
                RESOURCE_TOPIC => {
                    let Some(topic) = md.topics.get(r.resource_name.as_str()) else {
                        return result
                            .with_error_code(ResponseError::UnknownTopicOrPartition.code())
                            .with_error_message(Some(str_bytes(format!(
                                "topic '{}' does not exist",
                                r.resource_name.as_str()
                            ))));
                    };
                    let effective = ctx.cluster.topic_config(&topic.config);
                    describe_topic_config(&effective)
                        .into_iter()
                        .map(|(k, v)| {
                            let source =
                                if topic.config.contains_key(&k) { SOURCE_DYNAMIC_TOPIC } else { SOURCE_DEFAULT };
                            (k, v, source)
                        })
                        .collect()
                }
                RESOURCE_BROKER => {
                    let c = &ctx.cluster.config;
                    vec![
                        ("broker.id".into(), r.resource_name.to_string(), SOURCE_STATIC_BROKER),
                        ("num.partitions".into(), c.default_partitions.to_string(), SOURCE_STATIC_BROKER),
                        (
                            "default.replication.factor".into(),
                            c.default_replication_factor.to_string(),
                            SOURCE_STATIC_BROKER,
                        ),
                        ("min.insync.replicas".into(), c.min_insync_replicas.to_string(), SOURCE_STATIC_BROKER),
                        ("auto.create.topics.enable".into(), c.auto_create_topics.to_string(), SOURCE_STATIC_BROKER),
                        (
                            "replica.lag.time.max.ms".into(),
                            c.replica_lag_time_max.as_millis().to_string(),
                            SOURCE_STATIC_BROKER,
                        ),
                        ("socket.request.max.bytes".into(), c.max_request_bytes.to_string(), SOURCE_STATIC_BROKER),
                        ("offsets.topic.num.partitions".into(), "50".into(), SOURCE_DEFAULT),
                    ]
                }
                other => {
                    return result
                        .with_error_code(ResponseError::InvalidRequest.code())
                        .with_error_message(Some(str_bytes(format!("resource type {other} is not supported"))));
                }
            };
            let configs = entries
                .into_iter()
                .filter(|(k, _, _)| wanted(k))
                .map(|(k, v, source)| {
                    DescribeConfigsResourceResult::default()
                        .with_name(str_bytes(k))
                        .with_value(Some(str_bytes(v)))
                        .with_config_source(source)
                        .with_read_only(r.resource_type == RESOURCE_BROKER)
                })
                .collect();
            result.with_configs(configs)
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

/// A topic's effective settings under their Kafka names.
pub fn describe_topic_config(c: &TopicConfig) -> Vec<(String, String)> {
    let ms = |d: Option<std::time::Duration>| d.map_or("-1".to_string(), |d| d.as_millis().to_string());
    vec![
        ("cleanup.policy".into(), c.cleanup_policy.clone()),
        ("retention.ms".into(), ms(c.log.retention)),
        ("retention.bytes".into(), c.log.retention_bytes.map_or("-1".into(), |b| b.to_string())),
        ("segment.bytes".into(), c.log.segment_bytes.to_string()),
        ("segment.ms".into(), c.log.segment_age.as_millis().to_string()),
        ("min.insync.replicas".into(), c.min_insync_replicas.to_string()),
        ("max.message.bytes".into(), "1048588".into()),
        ("compression.type".into(), "producer".into()),
        ("message.timestamp.type".into(), "CreateTime".into()),
        ("unclean.leader.election.enable".into(), "false".into()),
    ]
}

pub async fn init_producer_id(ctx: &Ctx<'_>, request: InitProducerIdRequest) -> InitProducerIdResponse {
    if request.transactional_id.is_some() {
        // Transactions are not implemented; idempotence alone needs no transactional id.
        return InitProducerIdResponse::default()
            .with_error_code(ResponseError::TransactionalIdAuthorizationFailed.code())
            .with_producer_id(ProducerId(-1))
            .with_producer_epoch(-1);
    }
    InitProducerIdResponse::default()
        .with_producer_id(ProducerId(ctx.cluster.next_producer_id()))
        .with_producer_epoch(0)
}
