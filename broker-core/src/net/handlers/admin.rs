//! Admin APIs: CreateTopics, DeleteTopics, CreatePartitions, ElectLeaders, DescribeCluster.
//! Refusals carry Kafka's error code and, where the version has the field, a readable message.

use std::collections::BTreeMap;

use kafka_protocol::messages::create_partitions_response::CreatePartitionsTopicResult;
use kafka_protocol::messages::create_topics_response::CreatableTopicResult;
use kafka_protocol::messages::delete_topics_response::DeletableTopicResult;
use kafka_protocol::messages::*;
use kafka_protocol::ResponseError;

use super::str_bytes;
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

/// ElectLeaders: preferred elections (type 0) for the partitions named, or every partition.
/// Unclean elections (type 1) are refused: warren only elects leaders from the ISR.
pub async fn elect_leaders(ctx: &Ctx<'_>, request: ElectLeadersRequest) -> ElectLeadersResponse {
    use kafka_protocol::messages::elect_leaders_response::{PartitionResult, ReplicaElectionResult};
    if !ctx.principal.may_administer() {
        return ElectLeadersResponse::default().with_error_code(ResponseError::ClusterAuthorizationFailed.code());
    }
    let wanted: Vec<(String, Vec<i32>)> = match &request.topic_partitions {
        Some(topics) => topics.iter().map(|t| (t.topic.to_string(), t.partitions.clone())).collect(),
        None => ctx
            .cluster
            .metadata()
            .topics
            .values()
            .map(|t| (t.name.clone(), (0..t.partitions.len() as i32).collect()))
            .collect(),
    };
    let unclean = request.election_type != 0;
    let cluster = std::sync::Arc::clone(ctx.cluster);
    // Off the async workers: each election persists the metadata.
    let results = tokio::task::spawn_blocking(move || {
        wanted
            .into_iter()
            .map(|(topic, partitions)| {
                let partition_result = partitions
                    .into_iter()
                    .map(|index| {
                        let result = PartitionResult::default().with_partition_id(index);
                        let outcome = if unclean {
                            Err(AdminError::new(
                                ResponseError::InvalidRequest,
                                "unclean elections are not supported: warren only elects leaders from the ISR",
                            ))
                        } else {
                            cluster.elect_preferred_leader(&topic, index)
                        };
                        match outcome {
                            Ok(()) => result,
                            Err(e) => {
                                result.with_error_code(e.code.code()).with_error_message(Some(str_bytes(e.message)))
                            }
                        }
                    })
                    .collect();
                ReplicaElectionResult::default()
                    .with_topic(super::topic_name(&topic))
                    .with_partition_result(partition_result)
            })
            .collect()
    })
    .await
    .unwrap_or_default();
    ElectLeadersResponse::default().with_replica_election_results(results)
}

/// DescribeCluster: every broker, with `is_fenced` for the stopped ones (v2 asks for them).
pub async fn describe_cluster(ctx: &Ctx<'_>, request: DescribeClusterRequest) -> DescribeClusterResponse {
    use kafka_protocol::messages::describe_cluster_response::DescribeClusterBroker;
    let brokers = ctx
        .cluster
        .brokers()
        .iter()
        .filter(|b| b.is_up() || request.include_fenced_brokers)
        .map(|b| {
            DescribeClusterBroker::default()
                .with_broker_id(BrokerId(b.id))
                .with_host(str_bytes(b.addr.ip().to_string()))
                .with_port(i32::from(b.addr.port()))
                .with_is_fenced(!b.is_up())
        })
        .collect();
    DescribeClusterResponse::default()
        .with_endpoint_type(1)
        .with_cluster_id(str_bytes(ctx.cluster.cluster_id()))
        .with_controller_id(BrokerId(ctx.cluster.controller_id()))
        .with_brokers(brokers)
        .with_cluster_authorized_operations(i32::MIN)
}
