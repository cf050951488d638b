//! The cluster as a Metadata response describes it: brokers, the controller, topics with their
//! ids, partitions, leaders, replicas and ISRs. Plain data, converted from the wire types once.

use std::collections::BTreeMap;

use kafka_protocol::messages::MetadataResponse;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Broker {
    pub id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

impl Broker {
    /// `host:port`, as the connection pool keys it.
    pub fn addr(&self) -> String {
        format!("{}:{}", self.host, self.port)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionMetadata {
    pub partition: i32,
    /// -1 when the partition is offline.
    pub leader: i32,
    pub leader_epoch: i32,
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub offline_replicas: Vec<i32>,
    pub error_code: i16,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopicMetadata {
    pub name: String,
    /// The 16 bytes of the topic id (all zero when the broker has none, before Metadata v10).
    pub topic_id: [u8; 16],
    pub internal: bool,
    pub error_code: i16,
    /// Sorted by partition.
    pub partitions: Vec<PartitionMetadata>,
}

impl TopicMetadata {
    /// Replication factor as Kafka's tools report it: the replica count of partition 0.
    pub fn replication_factor(&self) -> usize {
        self.partitions.first().map_or(0, |p| p.replicas.len())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    pub cluster_id: Option<String>,
    pub controller_id: i32,
    pub brokers: BTreeMap<i32, Broker>,
    /// Topics the response described, errors included (UNKNOWN_TOPIC_OR_PARTITION for a missing one).
    pub topics: BTreeMap<String, TopicMetadata>,
}

impl Metadata {
    pub fn from_response(response: MetadataResponse) -> Metadata {
        let brokers = response
            .brokers
            .into_iter()
            .map(|b| {
                let id = b.node_id.0;
                (id, Broker { id, host: b.host.to_string(), port: b.port, rack: b.rack.map(|r| r.to_string()) })
            })
            .collect();
        let topics = response
            .topics
            .into_iter()
            .filter_map(|t| {
                let name = t.name?.0.to_string();
                let mut partitions: Vec<PartitionMetadata> = t
                    .partitions
                    .into_iter()
                    .map(|p| PartitionMetadata {
                        partition: p.partition_index,
                        leader: p.leader_id.0,
                        leader_epoch: p.leader_epoch,
                        replicas: p.replica_nodes.into_iter().map(|b| b.0).collect(),
                        isr: p.isr_nodes.into_iter().map(|b| b.0).collect(),
                        offline_replicas: p.offline_replicas.into_iter().map(|b| b.0).collect(),
                        error_code: p.error_code,
                    })
                    .collect();
                partitions.sort_by_key(|p| p.partition);
                let topic = TopicMetadata {
                    name: name.clone(),
                    topic_id: *t.topic_id.as_bytes(),
                    internal: t.is_internal,
                    error_code: t.error_code,
                    partitions,
                };
                Some((name, topic))
            })
            .collect();
        Metadata {
            cluster_id: response.cluster_id.map(|c| c.to_string()),
            controller_id: response.controller_id.0,
            brokers,
            topics,
        }
    }

    pub fn partition(&self, topic: &str, partition: i32) -> Option<&PartitionMetadata> {
        self.topics.get(topic)?.partitions.iter().find(|p| p.partition == partition)
    }

    /// Folds a newer response in: brokers and controller are replaced; described topics are
    /// replaced, or removed when the response says they do not exist; `all_topics` responses
    /// replace the whole topic map.
    pub fn merge(&mut self, newer: &Metadata, all_topics: bool) {
        self.cluster_id.clone_from(&newer.cluster_id);
        self.controller_id = newer.controller_id;
        self.brokers.clone_from(&newer.brokers);
        if all_topics {
            self.topics.clear();
        }
        for (name, topic) in &newer.topics {
            if topic.error_code == super::UNKNOWN_TOPIC_OR_PARTITION {
                self.topics.remove(name);
            } else {
                self.topics.insert(name.clone(), topic.clone());
            }
        }
    }
}

/// A topic id as Kafka prints it: URL-safe base64 of the 16 bytes, without padding.
pub fn topic_id_string(id: &[u8; 16]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::with_capacity(22);
    for chunk in id.chunks(3) {
        let b = [chunk[0], chunk.get(1).copied().unwrap_or(0), chunk.get(2).copied().unwrap_or(0)];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topic_ids_print_like_kafka() {
        // Kafka's Uuid.toString() of 0x0102..10, checked with Java's Base64.getUrlEncoder().withoutPadding()
        let id: [u8; 16] = std::array::from_fn(|i| i as u8 + 1);
        assert_eq!(topic_id_string(&id), "AQIDBAUGBwgJCgsMDQ4PEA");
        assert_eq!(topic_id_string(&[0; 16]), "AAAAAAAAAAAAAAAAAAAAAA");
        assert_eq!(topic_id_string(&[0xff; 16]), "_____________________w");
    }
}

/// A DescribeCluster answer: the brokers the controller knows, fenced ones included (v2+).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterDescription {
    pub controller_id: i32,
    /// (broker, fenced).
    pub brokers: Vec<(Broker, bool)>,
}

impl super::Client {
    /// DescribeCluster, where a broker offers it (`None` where none does).
    pub async fn describe_cluster(&self) -> super::Result<Option<ClusterDescription>> {
        let answer = super::client::retry!(
            self,
            async {
                let response = self
                    .call_any(|v| {
                        kafka_protocol::messages::DescribeClusterRequest::default().with_include_fenced_brokers(v >= 2)
                    })
                    .await?;
                super::error::check(response.error_code, || "describing the cluster".to_string())?;
                Ok(response)
            }
            .await
        );
        let response = match answer {
            Ok(response) => response,
            Err(super::Error::Unsupported { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let brokers = response
            .brokers
            .into_iter()
            .map(|b| {
                let id = b.broker_id.0;
                (
                    Broker { id, host: b.host.to_string(), port: b.port, rack: b.rack.map(|r| r.to_string()) },
                    b.is_fenced,
                )
            })
            .collect();
        Ok(Some(ClusterDescription { controller_id: response.controller_id.0, brokers }))
    }
}
