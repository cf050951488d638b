//! Topic administration through the controller: CreateTopics, DeleteTopics, CreatePartitions,
//! DescribeConfigs (for `topics --describe` and `configs --describe`) and IncrementalAlterConfigs
//! (`configs --alter`).
//!
//! NOT_CONTROLLER refreshes metadata and retries; every other error code is returned with the
//! topic it concerns. The broker picks defaults for a partition count or replication factor of
//! -1 (CreateTopics v4+, KIP-464).

use std::collections::BTreeMap;

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::incremental_alter_configs_request::{AlterConfigsResource, AlterableConfig};
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest, DescribeConfigsRequest,
    IncrementalAlterConfigsRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::client::{millis_i32, retry, Client};
use super::error::{check, Error, Result};

/// DescribeConfigs resource type of a topic.
pub const TOPIC_RESOURCE: i8 = 2;
/// DescribeConfigs resource type of a broker.
pub const BROKER_RESOURCE: i8 = 4;
/// Config source of a value nobody set; Kafka's `--describe` shows every other source.
const DEFAULT_CONFIG: i8 = 5;

/// One described config entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigEntry {
    pub name: String,
    /// `None` for a sensitive value.
    pub value: Option<String>,
    pub source: ConfigSource,
    pub read_only: bool,
    /// Where else the value is set, most specific first: `(name, value, source)`.
    pub synonyms: Vec<(String, Option<String>, ConfigSource)>,
}

/// Where a config value comes from, as Kafka names the sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConfigSource {
    DynamicTopic,
    DynamicBroker,
    DynamicDefaultBroker,
    StaticBroker,
    Default,
    DynamicBrokerLogger,
    ClientMetrics,
    Group,
    Unknown,
}

impl ConfigSource {
    fn from_wire(source: i8) -> ConfigSource {
        match source {
            1 => ConfigSource::DynamicTopic,
            2 => ConfigSource::DynamicBroker,
            3 => ConfigSource::DynamicDefaultBroker,
            4 => ConfigSource::StaticBroker,
            5 => ConfigSource::Default,
            6 => ConfigSource::DynamicBrokerLogger,
            7 => ConfigSource::ClientMetrics,
            8 => ConfigSource::Group,
            _ => ConfigSource::Unknown,
        }
    }

    /// Kafka's `kafka-configs.sh` spelling.
    pub fn name(self) -> &'static str {
        match self {
            ConfigSource::DynamicTopic => "DYNAMIC_TOPIC_CONFIG",
            ConfigSource::DynamicBroker => "DYNAMIC_BROKER_CONFIG",
            ConfigSource::DynamicDefaultBroker => "DYNAMIC_DEFAULT_BROKER_CONFIG",
            ConfigSource::StaticBroker => "STATIC_BROKER_CONFIG",
            ConfigSource::Default => "DEFAULT_CONFIG",
            ConfigSource::DynamicBrokerLogger => "DYNAMIC_BROKER_LOGGER_CONFIG",
            ConfigSource::ClientMetrics => "CLIENT_METRICS_CONFIG",
            ConfigSource::Group => "GROUP_CONFIG",
            ConfigSource::Unknown => "UNKNOWN",
        }
    }
}

/// One IncrementalAlterConfigs operation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigOp {
    Set(String, String),
    Delete(String),
    Append(String, String),
    Subtract(String, String),
}

/// A topic to create.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewTopic {
    pub name: String,
    /// `None`: the broker's default.
    pub partitions: Option<i32>,
    pub replication_factor: Option<i16>,
    pub configs: Vec<(String, String)>,
}

fn name(topic: &str) -> TopicName {
    TopicName(StrBytes::from_string(topic.to_string()))
}

/// Turns a topic-level error code into an error naming the topic, with a message of its own.
fn topic_error(code: i16, topic: &str, message: Option<&StrBytes>) -> Result<()> {
    match code {
        0 => Ok(()),
        3 => Err(Error::UnknownTopic(topic.to_string())),
        _ => match message.filter(|m| !m.is_empty()) {
            Some(m) => Err(Error::Rejected { code, message: m.to_string() }),
            None => check(code, || format!("topic '{topic}'")),
        },
    }
}

impl Client {
    pub async fn create_topic(&self, topic: &NewTopic) -> Result<()> {
        let timeout_ms = millis_i32(self.config().request_timeout);
        let build = |_v: i16| {
            CreateTopicsRequest::default().with_timeout_ms(timeout_ms).with_topics(vec![CreatableTopic::default()
                .with_name(name(&topic.name))
                .with_num_partitions(topic.partitions.unwrap_or(-1))
                .with_replication_factor(topic.replication_factor.unwrap_or(-1))
                .with_configs(
                    topic
                        .configs
                        .iter()
                        .map(|(k, v)| {
                            CreatableTopicConfig::default()
                                .with_name(StrBytes::from_string(k.clone()))
                                .with_value(Some(StrBytes::from_string(v.clone())))
                        })
                        .collect(),
                )])
        };
        retry!(
            self,
            async {
                let response = self.call_controller(build).await?;
                for t in &response.topics {
                    topic_error(t.error_code, &topic.name, t.error_message.as_ref())?;
                }
                Ok(())
            }
            .await
        )
    }

    pub async fn delete_topic(&self, topic: &str) -> Result<()> {
        let timeout_ms = millis_i32(self.config().request_timeout);
        retry!(
            self,
            async {
                let response = self
                    .call_controller(|v| {
                        let request = DeleteTopicsRequest::default().with_timeout_ms(timeout_ms);
                        if v >= 6 {
                            request.with_topics(vec![DeleteTopicState::default().with_name(Some(name(topic)))])
                        } else {
                            request.with_topic_names(vec![name(topic)])
                        }
                    })
                    .await?;
                for r in &response.responses {
                    topic_error(r.error_code, topic, r.error_message.as_ref())?;
                }
                Ok(())
            }
            .await
        )
    }

    /// Grows `topic` to `count` partitions.
    pub async fn create_partitions(&self, topic: &str, count: i32) -> Result<()> {
        let timeout_ms = millis_i32(self.config().request_timeout);
        retry!(
            self,
            async {
                let response = self
                    .call_controller(|_v| {
                        CreatePartitionsRequest::default().with_timeout_ms(timeout_ms).with_topics(vec![
                            CreatePartitionsTopic::default().with_name(name(topic)).with_count(count),
                        ])
                    })
                    .await?;
                for r in &response.results {
                    topic_error(r.error_code, topic, r.error_message.as_ref())?;
                }
                Ok(())
            }
            .await
        )
    }

    /// The configs of each topic that differ from the defaults (any source but DEFAULT_CONFIG),
    /// as Kafka's `--describe` shows them.
    pub async fn topic_configs(&self, topics: &[String]) -> Result<BTreeMap<String, Vec<(String, String)>>> {
        if topics.is_empty() {
            return Ok(BTreeMap::new());
        }
        let build = |_v: i16| {
            DescribeConfigsRequest::default().with_resources(
                topics
                    .iter()
                    .map(|t| {
                        DescribeConfigsResource::default()
                            .with_resource_type(TOPIC_RESOURCE)
                            .with_resource_name(StrBytes::from_string(t.clone()))
                            .with_configuration_keys(None)
                    })
                    .collect(),
            )
        };
        let response = retry!(self, self.call_any(&build).await)?;
        let mut out = BTreeMap::new();
        for r in response.results {
            topic_error(r.error_code, r.resource_name.as_str(), r.error_message.as_ref())?;
            let mut configs: Vec<(String, String)> = r
                .configs
                .into_iter()
                .filter(|c| c.config_source != DEFAULT_CONFIG && !c.is_sensitive)
                .map(|c| (c.name.to_string(), c.value.map(|v| v.to_string()).unwrap_or_default()))
                .collect();
            configs.sort();
            out.insert(r.resource_name.to_string(), configs);
        }
        Ok(out)
    }

    /// Every config of one resource (a topic, or a broker by id) with its source and synonyms,
    /// as `kafka-configs.sh --describe --all` shows them.
    pub async fn describe_configs(&self, resource_type: i8, name: &str) -> Result<Vec<ConfigEntry>> {
        let build = |v: i16| {
            DescribeConfigsRequest::default().with_include_synonyms(v >= 1).with_resources(vec![
                DescribeConfigsResource::default()
                    .with_resource_type(resource_type)
                    .with_resource_name(StrBytes::from_string(name.to_string()))
                    .with_configuration_keys(None),
            ])
        };
        let response = retry!(self, self.call_any(&build).await)?;
        let Some(r) = response.results.into_iter().next() else {
            return Err(Error::Rejected { code: -1, message: format!("no answer about '{name}'") });
        };
        topic_error(r.error_code, r.resource_name.as_str(), r.error_message.as_ref())?;
        let mut entries: Vec<ConfigEntry> = r
            .configs
            .into_iter()
            .map(|c| ConfigEntry {
                name: c.name.to_string(),
                value: if c.is_sensitive { None } else { c.value.map(|v| v.to_string()) },
                source: ConfigSource::from_wire(c.config_source),
                read_only: c.read_only,
                synonyms: c
                    .synonyms
                    .into_iter()
                    .map(|s| (s.name.to_string(), s.value.map(|v| v.to_string()), ConfigSource::from_wire(s.source)))
                    .collect(),
            })
            .collect();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(entries)
    }

    /// IncrementalAlterConfigs for one resource; the broker validates the whole change.
    pub async fn alter_configs(&self, resource_type: i8, name: &str, ops: &[ConfigOp]) -> Result<()> {
        let configs: Vec<AlterableConfig> = ops
            .iter()
            .map(|op| {
                let (key, value, code) = match op {
                    ConfigOp::Set(k, v) => (k, Some(v), 0),
                    ConfigOp::Delete(k) => (k, None, 1),
                    ConfigOp::Append(k, v) => (k, Some(v), 2),
                    ConfigOp::Subtract(k, v) => (k, Some(v), 3),
                };
                AlterableConfig::default()
                    .with_name(StrBytes::from_string(key.clone()))
                    .with_config_operation(code)
                    .with_value(value.map(|v| StrBytes::from_string(v.clone())))
            })
            .collect();
        let build = |_v: i16| {
            IncrementalAlterConfigsRequest::default().with_resources(vec![AlterConfigsResource::default()
                .with_resource_type(resource_type)
                .with_resource_name(StrBytes::from_string(name.to_string()))
                .with_configs(configs.clone())])
        };
        let response = retry!(self, self.call_any(&build).await)?;
        for r in &response.responses {
            topic_error(r.error_code, r.resource_name.as_str(), r.error_message.as_ref())?;
        }
        Ok(())
    }
}
