//! Metadata: brokers that are up, the controller, and each partition's leader, replicas, ISR and
//! offline replicas. Unknown topics are created when the client allows it, `auto_create_topics`
//! is on and the principal may administer (TOPIC_AUTHORIZATION_FAILED otherwise, as in Kafka).

use kafka_protocol::messages::metadata_response::{
    MetadataResponseBroker, MetadataResponsePartition, MetadataResponseTopic,
};
use std::collections::BTreeSet;
use std::sync::Arc;

use kafka_protocol::messages::{BrokerId, MetadataRequest, MetadataResponse};
use kafka_protocol::ResponseError;

use super::{str_bytes, topic_name};
use crate::cluster::metadata::TopicMeta;
use crate::cluster::{Live, NewTopic};
use crate::net::dispatch::Ctx;

pub async fn handle(ctx: &Ctx<'_>, request: MetadataRequest) -> MetadataResponse {
    let cluster = ctx.cluster;
    // v0: an empty list means all topics; v1+: null means all, empty means none.
    let wanted: Option<BTreeSet<String>> = match request.topics {
        None => None,
        Some(ts) if ts.is_empty() && ctx.version == 0 => None,
        Some(ts) => Some(ts.into_iter().filter_map(|t| t.name.map(|n| n.0.to_string())).collect()),
    };
    let would_create = request.allow_auto_topic_creation && cluster.config.auto_create_topics;
    let allow_create = would_create && ctx.principal.may_administer();
    let mut topics = Vec::new();
    let mut md = cluster.metadata();
    if let Some(names) = &wanted {
        let missing: Vec<&String> = names.iter().filter(|n| !md.topics.contains_key(*n)).collect();
        if allow_create && !missing.is_empty() {
            // At most `max_auto_created_topics_per_request` at once, with one metadata write and
            // off the async workers; the rest are LEADER_NOT_AVAILABLE, which clients retry.
            let cap = cluster.config.limits.max_auto_created_topics_per_request.min(missing.len());
            let requests: Vec<NewTopic> =
                missing[..cap].iter().map(|n| NewTopic { name: (*n).clone(), ..NewTopic::default() }).collect();
            let creating = Arc::clone(cluster);
            let results = tokio::task::spawn_blocking(move || creating.create_topics(&requests, false))
                .await
                .unwrap_or_else(|e| {
                    vec![Err(crate::cluster::AdminError::new(ResponseError::UnknownServerError, e.to_string())); cap]
                });
            for (name, result) in missing[..cap].iter().zip(results) {
                // A concurrent creation of the same topic is not an error for this client.
                match result {
                    Err(e) if e.code != ResponseError::TopicAlreadyExists => topics.push(error_topic(name, e.code)),
                    _ => {}
                }
            }
            for name in &missing[cap..] {
                topics.push(error_topic(name, ResponseError::LeaderNotAvailable));
            }
            md = cluster.metadata();
        } else if would_create {
            // As Kafka answers a user who may not create what it asked for: a clear refusal, not
            // an unknown topic the client would wait for.
            topics.extend(missing.iter().map(|n| error_topic(n, ResponseError::TopicAuthorizationFailed)));
        } else {
            topics.extend(missing.iter().map(|n| error_topic(n, ResponseError::UnknownTopicOrPartition)));
        }
    }
    let up = |id: i32| cluster.is_up(id);
    for topic in md.topics.values() {
        if wanted.as_ref().is_some_and(|names| !names.contains(&topic.name)) {
            continue;
        }
        topics.push(describe_topic(topic, &up));
    }
    let brokers = cluster
        .brokers()
        .iter()
        .filter(|b| b.is_up())
        .map(|b| {
            MetadataResponseBroker::default()
                .with_node_id(BrokerId(b.id))
                .with_host(str_bytes(b.addr.ip().to_string()))
                .with_port(i32::from(b.addr.port()))
        })
        .collect();
    MetadataResponse::default()
        .with_brokers(brokers)
        .with_cluster_id(Some(str_bytes(cluster.cluster_id())))
        .with_controller_id(BrokerId(cluster.controller_id()))
        .with_topics(topics)
}

fn error_topic(name: &str, code: ResponseError) -> MetadataResponseTopic {
    MetadataResponseTopic::default().with_name(Some(topic_name(name))).with_error_code(code.code())
}

fn describe_topic(topic: &TopicMeta, up: &dyn Fn(i32) -> bool) -> MetadataResponseTopic {
    let partitions = topic
        .partitions
        .iter()
        .enumerate()
        .map(|(index, pm)| {
            let live = Live::of(pm, up);
            let nodes = |ids: Vec<i32>| ids.into_iter().map(BrokerId).collect();
            MetadataResponsePartition::default()
                .with_partition_index(index as i32)
                .with_error_code(if live.leader >= 0 { 0 } else { ResponseError::LeaderNotAvailable.code() })
                .with_leader_id(BrokerId(live.leader))
                .with_leader_epoch(pm.leader_epoch)
                .with_replica_nodes(pm.replicas.iter().map(|r| BrokerId(*r)).collect())
                .with_isr_nodes(nodes(live.isr))
                .with_offline_replicas(nodes(live.offline_replicas))
        })
        .collect();
    MetadataResponseTopic::default()
        .with_name(Some(topic_name(&topic.name)))
        .with_topic_id(uuid::Uuid::from_bytes(topic.id))
        .with_is_internal(topic.internal)
        .with_partitions(partitions)
}
