//! DescribeConfigs, AlterConfigs and IncrementalAlterConfigs for topics and for the broker
//! configs warren changes at run time (cluster-wide, the `--entity-default` broker entity: the
//! defaults of retention, segments, `min.insync.replicas`, `message.max.bytes`, cleanup policy);
//! the rest of its broker settings are static, described read-only.
//! Changes are validated as a whole with Kafka's error codes, persisted with the cluster
//! metadata and applied live to every replica.

use std::collections::BTreeMap;
use std::sync::Arc;

use kafka_protocol::messages::alter_configs_response::AlterConfigsResourceResponse;
use kafka_protocol::messages::describe_configs_response::{
    DescribeConfigsResourceResult, DescribeConfigsResult, DescribeConfigsSynonym,
};
use kafka_protocol::messages::*;
use kafka_protocol::ResponseError;

use super::str_bytes;
use crate::cluster::config::{topic_name_of, SettingKind, TopicConfig};
use crate::cluster::{AdminError, Cluster};
use crate::net::dispatch::Ctx;

const RESOURCE_TOPIC: i8 = 2;
const RESOURCE_BROKER: i8 = 4;
const SOURCE_DYNAMIC_TOPIC: i8 = 1;
const SOURCE_DYNAMIC_DEFAULT_BROKER: i8 = 3;
const SOURCE_STATIC_BROKER: i8 = 4;
const SOURCE_DEFAULT: i8 = 5;

/// Kafka's config types (DescribeConfigs v3).
const TYPE_BOOLEAN: i8 = 1;
const TYPE_STRING: i8 = 2;
const TYPE_INT: i8 = 3;
const TYPE_LONG: i8 = 5;
const TYPE_LIST: i8 = 7;

/// IncrementalAlterConfigs operations.
const OP_SET: i8 = 0;
const OP_DELETE: i8 = 1;
const OP_APPEND: i8 = 2;
const OP_SUBTRACT: i8 = 3;

fn wire_type(kind: SettingKind) -> i8 {
    match kind {
        SettingKind::Boolean => TYPE_BOOLEAN,
        SettingKind::String => TYPE_STRING,
        SettingKind::Int => TYPE_INT,
        SettingKind::Long => TYPE_LONG,
        SettingKind::List => TYPE_LIST,
    }
}

pub async fn describe_configs(ctx: &Ctx<'_>, request: DescribeConfigsRequest) -> DescribeConfigsResponse {
    let md = ctx.cluster.metadata();
    let defaults = TopicConfig::defaults(&ctx.cluster.config);
    let results = request
        .resources
        .iter()
        .map(|r| {
            let result = DescribeConfigsResult::default()
                .with_resource_type(r.resource_type)
                .with_resource_name(r.resource_name.clone());
            let wanted =
                |name: &str| r.configuration_keys.as_ref().is_none_or(|keys| keys.iter().any(|k| k.as_str() == name));
            let entry = |name: &str, value: String, source: i8, config_type: i8, read_only: bool| {
                DescribeConfigsResourceResult::default()
                    .with_name(str_bytes(name))
                    .with_value(Some(str_bytes(value)))
                    .with_config_source(source)
                    .with_config_type(config_type)
                    .with_read_only(read_only)
            };
            let configs: Vec<DescribeConfigsResourceResult> = match r.resource_type {
                RESOURCE_TOPIC => {
                    let Some(topic) = md.topics.get(r.resource_name.as_str()) else {
                        return result
                            .with_error_code(ResponseError::UnknownTopicOrPartition.code())
                            .with_error_message(Some(str_bytes(format!(
                                "topic '{}' does not exist",
                                r.resource_name.as_str()
                            ))));
                    };
                    let default_values = defaults.settings();
                    ctx.cluster
                        .topic_config(&topic.config)
                        .settings()
                        .into_iter()
                        .zip(default_values)
                        .filter(|(d, _)| wanted(d.name))
                        .map(|(d, default)| {
                            let overridden = topic.config.contains_key(d.name);
                            let dynamic_default = md.broker_config.get(d.broker_name);
                            let source = match (overridden, dynamic_default) {
                                (true, _) => SOURCE_DYNAMIC_TOPIC,
                                (false, Some(_)) => SOURCE_DYNAMIC_DEFAULT_BROKER,
                                (false, None) => SOURCE_DEFAULT,
                            };
                            let mut synonyms = Vec::new();
                            if request.include_synonyms {
                                if overridden {
                                    synonyms.push(synonym(d.name, d.value.clone(), SOURCE_DYNAMIC_TOPIC));
                                }
                                if let Some(v) = dynamic_default {
                                    synonyms.push(synonym(d.broker_name, v.clone(), SOURCE_DYNAMIC_DEFAULT_BROKER));
                                }
                                synonyms.push(synonym(d.broker_name, default.value, SOURCE_STATIC_BROKER));
                            }
                            entry(d.name, d.value, source, wire_type(d.kind), false).with_synonyms(synonyms)
                        })
                        .collect()
                }
                // The default entity (`--entity-default`): the dynamic configs set cluster-wide.
                RESOURCE_BROKER if r.resource_name.is_empty() => md
                    .broker_config
                    .iter()
                    .filter(|(k, _)| wanted(k))
                    .map(|(k, v)| entry(k, v.clone(), SOURCE_DYNAMIC_DEFAULT_BROKER, TYPE_STRING, false))
                    .collect(),
                RESOURCE_BROKER => broker_settings(ctx.cluster, r.resource_name.as_str())
                    .into_iter()
                    .filter(|(k, _, _)| wanted(k))
                    .map(|(k, v, t)| {
                        let dynamic = topic_name_of(k).is_some();
                        match md.broker_config.get(k) {
                            Some(set) => {
                                let mut e = entry(k, set.clone(), SOURCE_DYNAMIC_DEFAULT_BROKER, t, false);
                                if request.include_synonyms {
                                    e.synonyms = vec![
                                        synonym(k, set.clone(), SOURCE_DYNAMIC_DEFAULT_BROKER),
                                        synonym(k, v, SOURCE_STATIC_BROKER),
                                    ];
                                }
                                e
                            }
                            None => entry(k, v, SOURCE_STATIC_BROKER, t, !dynamic),
                        }
                    })
                    .collect(),
                other => {
                    return result
                        .with_error_code(ResponseError::InvalidRequest.code())
                        .with_error_message(Some(str_bytes(format!("resource type {other} is not supported"))));
                }
            };
            result.with_configs(configs)
        })
        .collect();
    DescribeConfigsResponse::default().with_results(results)
}

fn synonym(name: &str, value: String, source: i8) -> DescribeConfigsSynonym {
    DescribeConfigsSynonym::default().with_name(str_bytes(name)).with_value(Some(str_bytes(value))).with_source(source)
}

/// Warren's broker settings under Kafka's names: static, from its config file.
fn broker_settings(cluster: &Cluster, broker: &str) -> Vec<(&'static str, String, i8)> {
    let c = &cluster.config;
    let ms = |d: Option<std::time::Duration>| d.map_or("-1".to_string(), |d| d.as_millis().to_string());
    vec![
        ("broker.id", broker.to_string(), TYPE_INT),
        ("num.partitions", c.default_partitions.to_string(), TYPE_INT),
        ("default.replication.factor", c.default_replication_factor.to_string(), TYPE_INT),
        ("min.insync.replicas", c.min_insync_replicas.to_string(), TYPE_INT),
        ("auto.create.topics.enable", c.auto_create_topics.to_string(), TYPE_BOOLEAN),
        ("replica.lag.time.max.ms", c.replica_lag_time_max.as_millis().to_string(), TYPE_LONG),
        ("socket.request.max.bytes", c.max_request_bytes.to_string(), TYPE_INT),
        ("log.retention.ms", ms(c.log.retention), TYPE_LONG),
        ("log.retention.bytes", c.log.retention_bytes.map_or("-1".into(), |b| b.to_string()), TYPE_LONG),
        ("log.segment.bytes", c.log.segment_bytes.to_string(), TYPE_INT),
        ("log.roll.ms", c.log.segment_age.as_millis().to_string(), TYPE_LONG),
        ("log.cleanup.policy", "delete".into(), TYPE_LIST),
        ("message.max.bytes", c.log.max_message_bytes.to_string(), TYPE_INT),
        ("log.flush.interval.ms", c.flush_interval.as_millis().to_string(), TYPE_LONG),
        ("offsets.topic.num.partitions", "50".into(), TYPE_INT),
    ]
}

/// One resource's outcome: Kafka's code and message.
type Outcome = Result<(), AdminError>;

fn response(
    resource_type: i8,
    resource_name: &kafka_protocol::protocol::StrBytes,
    outcome: Outcome,
) -> AlterConfigsResourceResponse {
    let r = AlterConfigsResourceResponse::default()
        .with_resource_type(resource_type)
        .with_resource_name(resource_name.clone());
    match outcome {
        Ok(()) => r,
        Err(e) => r.with_error_code(e.code.code()).with_error_message(Some(str_bytes(e.message))),
    }
}

/// What one alteration changes: a topic's overrides, or the cluster-wide broker configs.
enum Target {
    Topic(String),
    BrokerDefault,
}

/// Whom a change is refused to, and the resource it changes.
fn target(ctx: &Ctx<'_>, resource_type: i8, name: &str) -> Result<Target, AdminError> {
    match resource_type {
        RESOURCE_TOPIC if !ctx.principal.may_administer() => Err(AdminError::new(
            ResponseError::TopicAuthorizationFailed,
            format!("user '{}' may not alter topic configs (super users only)", ctx.principal.name()),
        )),
        RESOURCE_TOPIC => Ok(Target::Topic(name.to_string())),
        RESOURCE_BROKER if !ctx.principal.may_administer() => Err(AdminError::new(
            ResponseError::ClusterAuthorizationFailed,
            format!("user '{}' may not alter broker configs (super users only)", ctx.principal.name()),
        )),
        RESOURCE_BROKER if name.is_empty() => Ok(Target::BrokerDefault),
        RESOURCE_BROKER => Err(AdminError::new(
            ResponseError::InvalidRequest,
            "warren's dynamic broker configs are cluster-wide: alter the default entity (kafka-configs.sh \
             --entity-type brokers --entity-default)",
        )),
        other => Err(AdminError::new(ResponseError::InvalidRequest, format!("resource type {other} is not supported"))),
    }
}

/// The current configs of a target.
fn current(cluster: &Cluster, target: &Target) -> Result<BTreeMap<String, String>, AdminError> {
    match target {
        Target::Topic(topic) => current_overrides(cluster, topic),
        Target::BrokerDefault => Ok(cluster.broker_config()),
    }
}

/// A resource's planned change: its target and new configs, or why it is refused.
type Planned = Result<(Target, BTreeMap<String, String>), AdminError>;

/// Applies each planned change off the async workers (the metadata write fsyncs); one outcome
/// per resource, in order.
async fn apply(cluster: &Arc<Cluster>, planned: Vec<Planned>, validate_only: bool) -> Vec<Outcome> {
    let count = planned.len();
    let cluster = Arc::clone(cluster);
    tokio::task::spawn_blocking(move || {
        planned
            .into_iter()
            .map(|plan| match plan? {
                (Target::Topic(topic), values) => cluster.alter_topic_config(&topic, values, validate_only),
                (Target::BrokerDefault, values) => cluster.alter_broker_config(values, validate_only),
            })
            .collect()
    })
    .await
    .unwrap_or_else(|e| vec![Err(AdminError::new(ResponseError::UnknownServerError, e.to_string())); count])
}

fn current_overrides(cluster: &Cluster, topic: &str) -> Result<BTreeMap<String, String>, AdminError> {
    cluster.metadata().topics.get(topic).map(|t| t.config.clone()).ok_or_else(|| {
        AdminError::new(ResponseError::UnknownTopicOrPartition, format!("topic '{topic}' does not exist"))
    })
}

/// AlterConfigs: the given set replaces a topic's overrides (what is not named goes back to the
/// default).
pub async fn alter_configs(ctx: &Ctx<'_>, request: AlterConfigsRequest) -> AlterConfigsResponse {
    let planned = request
        .resources
        .iter()
        .map(|r| {
            let target = target(ctx, r.resource_type, r.resource_name.as_str())?;
            current(ctx.cluster, &target)?;
            let mut overrides = BTreeMap::new();
            for c in &r.configs {
                let Some(value) = &c.value else {
                    return Err(AdminError::new(
                        ResponseError::InvalidConfig,
                        format!("{}: a null value", c.name.as_str()),
                    ));
                };
                if overrides.insert(c.name.to_string(), value.to_string()).is_some() {
                    return Err(duplicate(c.name.as_str()));
                }
            }
            Ok((target, overrides))
        })
        .collect();
    let outcomes = apply(ctx.cluster, planned, request.validate_only).await;
    let responses = request
        .resources
        .iter()
        .zip(outcomes)
        .map(|(r, outcome)| response(r.resource_type, &r.resource_name, outcome))
        .collect();
    AlterConfigsResponse::default().with_responses(responses)
}

/// IncrementalAlterConfigs: SET, DELETE, and APPEND / SUBTRACT for the one list-valued topic
/// config, `cleanup.policy`.
pub async fn incremental_alter_configs(
    ctx: &Ctx<'_>,
    request: IncrementalAlterConfigsRequest,
) -> IncrementalAlterConfigsResponse {
    let planned = request
        .resources
        .iter()
        .map(|r| {
            let target = target(ctx, r.resource_type, r.resource_name.as_str())?;
            let mut overrides = current(ctx.cluster, &target)?;
            let list_name = match target {
                Target::Topic(_) => "cleanup.policy",
                Target::BrokerDefault => "log.cleanup.policy",
            };
            let default_policy = ctx.cluster.topic_config(&BTreeMap::new()).cleanup_policy;
            let mut seen = std::collections::BTreeSet::new();
            for c in &r.configs {
                let name = c.name.as_str();
                if !seen.insert(name) {
                    return Err(duplicate(name));
                }
                let value = c.value.as_ref().map(|v| v.to_string());
                match (c.config_operation, value) {
                    (OP_SET, Some(value)) => {
                        overrides.insert(name.to_string(), value);
                    }
                    (OP_SET, None) => {
                        return Err(AdminError::new(ResponseError::InvalidConfig, format!("{name}: a null value")));
                    }
                    (OP_DELETE, _) => {
                        overrides.remove(name);
                    }
                    (op @ (OP_APPEND | OP_SUBTRACT), Some(value)) => {
                        if name != list_name {
                            return Err(AdminError::new(
                                ResponseError::InvalidConfig,
                                format!("{name} is not a list: APPEND and SUBTRACT apply to list configs only"),
                            ));
                        }
                        let current = overrides.get(name).cloned().unwrap_or_else(|| default_policy.clone());
                        let mut items: Vec<String> =
                            current.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect();
                        for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                            if op == OP_APPEND && !items.iter().any(|i| i == item) {
                                items.push(item.to_string());
                            } else if op == OP_SUBTRACT {
                                items.retain(|i| i != item);
                            }
                        }
                        overrides.insert(name.to_string(), items.join(","));
                    }
                    (op, _) => {
                        return Err(AdminError::new(
                            ResponseError::InvalidRequest,
                            format!("{name}: unknown config operation {op}"),
                        ));
                    }
                }
            }
            Ok((target, overrides))
        })
        .collect();
    let outcomes = apply(ctx.cluster, planned, request.validate_only).await;
    let responses = request
        .resources
        .iter()
        .zip(outcomes)
        .map(|(r, outcome)| {
            use kafka_protocol::messages::incremental_alter_configs_response::AlterConfigsResourceResponse as Response;
            let legacy = response(r.resource_type, &r.resource_name, outcome);
            Response::default()
                .with_resource_type(legacy.resource_type)
                .with_resource_name(legacy.resource_name)
                .with_error_code(legacy.error_code)
                .with_error_message(legacy.error_message)
        })
        .collect();
    IncrementalAlterConfigsResponse::default().with_responses(responses)
}

fn duplicate(name: &str) -> AdminError {
    AdminError::new(ResponseError::InvalidRequest, format!("{name} is named twice in one resource"))
}
