//! Topic administration through the controller: CreateTopics, DeleteTopics, CreatePartitions,
//! and DescribeConfigs for the configs `topics --describe` prints.
//!
//! NOT_CONTROLLER refreshes metadata and retries; every other error code is returned with the
//! topic it concerns. The broker picks defaults for a partition count or replication factor of
//! -1 (CreateTopics v4+, KIP-464).

use std::collections::BTreeMap;

use kafka_protocol::messages::create_partitions_request::CreatePartitionsTopic;
use kafka_protocol::messages::create_topics_request::{CreatableTopic, CreatableTopicConfig};
use kafka_protocol::messages::delete_topics_request::DeleteTopicState;
use kafka_protocol::messages::describe_configs_request::DescribeConfigsResource;
use kafka_protocol::messages::{
    CreatePartitionsRequest, CreateTopicsRequest, DeleteTopicsRequest, DescribeConfigsRequest, TopicName,
};
use kafka_protocol::protocol::StrBytes;

use super::client::{millis_i32, retry, Client};
use super::error::{check, Error, Result};

/// DescribeConfigs resource type of a topic.
const TOPIC_RESOURCE: i8 = 2;
/// Config source of a value nobody set; Kafka's `--describe` shows every other source.
const DEFAULT_CONFIG: i8 = 5;

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
}
