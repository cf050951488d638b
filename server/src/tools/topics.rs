//! `warren topics`: `kafka-topics.sh` for any Kafka-compatible cluster. Create, list, describe,
//! delete, and grow a topic's partitions, with Kafka's flags and Kafka's `--describe` layout
//! (a tab-separated topic line, then one indented line per partition).
//!
//! `--topic` names one topic exactly (Kafka also accepts a regular expression there; this tool
//! does not).

use clap::{ArgGroup, Args};

use crate::kafka::metadata::topic_id_string;
use crate::kafka::{Error, NewTopic, TopicMetadata};

const TOPIC_ALREADY_EXISTS: i16 = 36;

#[derive(Args, Debug, Clone)]
#[command(group(ArgGroup::new("action").required(true).args(["create", "list", "describe", "delete", "alter"])))]
pub struct TopicsArgs {
    /// The cluster to talk to: HOST:PORT[,HOST:PORT...].
    #[arg(long, value_name = "HOST:PORT")]
    pub bootstrap_server: String,
    /// A Kafka client properties file for TLS and SASL (`security.protocol`, `sasl.mechanism`,
    /// `sasl.jaas.config`, `ssl.ca.location`, ...), as Kafka's tools take it.
    #[arg(long, value_name = "FILE")]
    pub command_config: Option<std::path::PathBuf>,
    /// Create a topic.
    #[arg(long)]
    pub create: bool,
    /// List all topics.
    #[arg(long)]
    pub list: bool,
    /// Describe one topic (--topic) or all.
    #[arg(long)]
    pub describe: bool,
    /// Delete a topic.
    #[arg(long)]
    pub delete: bool,
    /// Increase a topic's partition count (--partitions).
    #[arg(long)]
    pub alter: bool,
    /// The topic to create, describe, delete or alter.
    #[arg(long)]
    pub topic: Option<String>,
    /// Partition count (create: broker default if omitted; alter: the new count).
    #[arg(long)]
    pub partitions: Option<i32>,
    /// Replicas per partition (create; broker default if omitted).
    #[arg(long)]
    pub replication_factor: Option<i16>,
    /// A topic config KEY=VALUE for --create (repeatable).
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub configs: Vec<String>,
    /// With --create: succeed if the topic already exists.
    #[arg(long)]
    pub if_not_exists: bool,
    /// With --describe, --delete or --alter: succeed if the topic does not exist.
    #[arg(long)]
    pub if_exists: bool,
    /// Leave internal topics (__consumer_offsets) out of --list and --describe.
    #[arg(long)]
    pub exclude_internal: bool,
}

pub async fn run(args: TopicsArgs) -> anyhow::Result<()> {
    let client = super::connect(&args.bootstrap_server, "warren-topics", args.command_config.as_deref()).await?;
    let topic = || args.topic.clone().ok_or_else(|| anyhow::anyhow!("--topic is required with this action"));
    if args.create {
        let name = topic()?;
        let configs = super::parse_properties("--config", &args.configs)?.into_iter().collect();
        let new = NewTopic {
            name: name.clone(),
            partitions: args.partitions,
            replication_factor: args.replication_factor,
            configs,
        };
        match client.create_topic(&new).await {
            Ok(()) => println!("Created topic {name}."),
            Err(e) if e.code() == Some(TOPIC_ALREADY_EXISTS) && args.if_not_exists => {}
            Err(e) if e.code() == Some(TOPIC_ALREADY_EXISTS) => anyhow::bail!("topic '{name}' already exists"),
            Err(e) => return Err(e.into()),
        }
    } else if args.list {
        let metadata = client.metadata(None).await?;
        for t in metadata.topics.values().filter(|t| !(args.exclude_internal && t.internal)) {
            println!("{}", t.name);
        }
    } else if args.describe {
        let metadata = match &args.topic {
            Some(name) => client.metadata(Some(&[name.as_str()])).await?,
            None => client.metadata(None).await?,
        };
        let topics: Vec<&TopicMetadata> = metadata
            .topics
            .values()
            .filter(|t| t.error_code != crate::kafka::UNKNOWN_TOPIC_OR_PARTITION)
            .filter(|t| !(args.exclude_internal && t.internal))
            .collect();
        if let (Some(name), true) = (&args.topic, topics.is_empty()) {
            if args.if_exists {
                return Ok(());
            }
            anyhow::bail!("topic '{name}' does not exist");
        }
        let names: Vec<String> = topics.iter().map(|t| t.name.clone()).collect();
        let configs = client.topic_configs(&names).await?;
        let mut out = String::new();
        for t in topics {
            out.push_str(&describe(t, configs.get(&t.name).map_or(&[][..], Vec::as_slice)));
        }
        print!("{out}");
    } else if args.delete {
        let name = topic()?;
        match client.delete_topic(&name).await {
            Err(Error::UnknownTopic(_)) if args.if_exists => {}
            other => other?,
        }
    } else if args.alter {
        let name = topic()?;
        let count = args.partitions.ok_or_else(|| anyhow::anyhow!("--alter needs --partitions N"))?;
        match client.create_partitions(&name, count).await {
            Err(Error::UnknownTopic(_)) if args.if_exists => {}
            other => other?,
        }
    }
    Ok(())
}

/// One topic as `kafka-topics.sh --describe` prints it.
pub fn describe(topic: &TopicMetadata, configs: &[(String, String)]) -> String {
    let configs: Vec<String> = configs.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let mut out = format!(
        "Topic: {}\tTopicId: {}\tPartitionCount: {}\tReplicationFactor: {}\tConfigs: {}\n",
        topic.name,
        topic_id_string(&topic.topic_id),
        topic.partitions.len(),
        topic.replication_factor(),
        configs.join(",")
    );
    let list = |ids: &[i32]| ids.iter().map(i32::to_string).collect::<Vec<_>>().join(",");
    for p in &topic.partitions {
        let leader = if p.leader < 0 { "none".to_string() } else { p.leader.to_string() };
        out.push_str(&format!(
            "\tTopic: {}\tPartition: {}\tLeader: {}\tReplicas: {}\tIsr: {}",
            topic.name,
            p.partition,
            leader,
            list(&p.replicas),
            list(&p.isr)
        ));
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::kafka::PartitionMetadata;

    #[test]
    fn describe_matches_kafka_topics() {
        let partition = |p: i32, leader: i32, replicas: &[i32], isr: &[i32]| PartitionMetadata {
            partition: p,
            leader,
            leader_epoch: 0,
            replicas: replicas.to_vec(),
            isr: isr.to_vec(),
            offline_replicas: Vec::new(),
            error_code: 0,
        };
        let topic = TopicMetadata {
            name: "orders".into(),
            topic_id: std::array::from_fn(|i| i as u8 + 1),
            internal: false,
            error_code: 0,
            partitions: vec![partition(0, 1, &[1, 2, 3], &[1, 2, 3]), partition(1, -1, &[2, 3, 1], &[])],
        };
        let configs =
            vec![("cleanup.policy".to_string(), "compact".to_string()), ("retention.ms".into(), "1000".into())];
        assert_eq!(
            describe(&topic, &configs),
            "Topic: orders\tTopicId: AQIDBAUGBwgJCgsMDQ4PEA\tPartitionCount: 2\tReplicationFactor: 3\t\
             Configs: cleanup.policy=compact,retention.ms=1000\n\
             \tTopic: orders\tPartition: 0\tLeader: 1\tReplicas: 1,2,3\tIsr: 1,2,3\n\
             \tTopic: orders\tPartition: 1\tLeader: none\tReplicas: 2,3,1\tIsr: \n"
        );
    }
}
