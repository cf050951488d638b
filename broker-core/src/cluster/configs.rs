//! Changes an operator makes to a running cluster: topic configs applied live (AlterConfigs,
//! IncrementalAlterConfigs), records deleted below an offset (DeleteRecords) and preferred
//! leaders elected on demand (ElectLeaders).

use std::collections::BTreeMap;
use std::time::Duration;

use kafka_protocol::ResponseError;

use super::{AdminError, Cluster, TopicConfig};
use crate::partition::Partition;

impl Cluster {
    /// Replaces a topic's config overrides with `overrides`: validated as a whole (the error names
    /// the key), persisted, then applied to every replica at once (retention, segment size and
    /// age, `max.message.bytes`, `min.insync.replicas`, `cleanup.policy`).
    pub fn alter_topic_config(
        &self,
        name: &str,
        overrides: BTreeMap<String, String>,
        validate_only: bool,
    ) -> Result<(), AdminError> {
        let mut md = self.lock_metadata();
        let Some(topic) = md.topics.get(name) else {
            return Err(AdminError::new(
                ResponseError::UnknownTopicOrPartition,
                format!("topic '{name}' does not exist"),
            ));
        };
        if topic.internal {
            return Err(AdminError::new(
                ResponseError::InvalidConfig,
                format!("topic '{name}' is internal; warren manages its config"),
            ));
        }
        let config = TopicConfig::resolve_with(&self.config, &md.broker_config, &overrides)
            .map_err(|m| AdminError::new(ResponseError::InvalidConfig, m))?;
        if validate_only || topic.config == overrides {
            return Ok(());
        }
        let previous = std::mem::replace(&mut md.topics.get_mut(name).expect("checked above").config, overrides);
        if let Err(e) = self.persist(&md) {
            md.topics.get_mut(name).expect("checked above").config = previous;
            return Err(e);
        }
        for broker in &self.brokers {
            for replica in broker.partitions().iter().filter(|p| &*p.topic == name) {
                apply_topic_config(replica, &config);
            }
        }
        tracing::info!(topic = name, config = ?md.topics[name].config, "topic config changed");
        Ok(())
    }

    /// Replaces the dynamic broker configs (cluster-wide defaults of every topic that does not
    /// override them): validated (the error names the key), persisted, then applied to every
    /// replica at once.
    pub fn alter_broker_config(&self, values: BTreeMap<String, String>, validate_only: bool) -> Result<(), AdminError> {
        super::config::validate_broker_config(&self.config, &values)
            .map_err(|m| AdminError::new(ResponseError::InvalidConfig, m))?;
        let mut md = self.lock_metadata();
        for topic in md.topics.values() {
            TopicConfig::resolve_with(&self.config, &values, &topic.config).map_err(|m| {
                AdminError::new(ResponseError::InvalidConfig, format!("topic '{}' would not be valid: {m}", topic.name))
            })?;
        }
        if validate_only || md.broker_config == values {
            return Ok(());
        }
        let previous = std::mem::replace(&mut md.broker_config, values);
        if let Err(e) = self.persist(&md) {
            md.broker_config = previous;
            return Err(e);
        }
        for topic in md.topics.values() {
            let config = TopicConfig::resolve_with(&self.config, &md.broker_config, &topic.config)
                .unwrap_or_else(|_| TopicConfig::defaults(&self.config));
            for broker in &self.brokers {
                for replica in broker.partitions().iter().filter(|p| *p.topic == *topic.name) {
                    apply_topic_config(replica, &config);
                }
            }
        }
        tracing::info!(config = ?md.broker_config, "dynamic broker configs changed");
        Ok(())
    }

    /// The dynamic broker configs now in force (Kafka names).
    pub fn broker_config(&self) -> BTreeMap<String, String> {
        self.metadata().broker_config.clone()
    }

    /// A topic's effective settings, each with whether the topic overrides it (`None`: no such
    /// topic).
    pub fn topic_settings(&self, name: &str) -> Option<Vec<(super::config::TopicSetting, bool)>> {
        let md = self.metadata();
        let topic = md.topics.get(name)?;
        let settings = self.topic_config(&topic.config).settings();
        Some(
            settings
                .into_iter()
                .map(|s| {
                    let set = topic.config.contains_key(s.name);
                    (s, set)
                })
                .collect(),
        )
    }

    /// The smallest log start offset over a partition's in-sync replicas (DeleteRecords' low
    /// watermark), or `None` when the partition does not exist.
    pub(crate) fn isr_log_start(&self, topic: &str, index: i32) -> Option<i64> {
        let md = self.metadata();
        let pm = md.partition(topic, index)?;
        pm.isr.iter().filter_map(|id| self.replica(*id, topic, index)).map(|r| r.log_start_offset()).min()
    }

    /// Moves leadership of a partition to its preferred replica (the first one), if that replica
    /// is up and in the ISR. ELECTION_NOT_NEEDED when it already leads.
    pub fn elect_preferred_leader(&self, topic: &str, index: i32) -> Result<(), AdminError> {
        let mut md = self.lock_metadata();
        let Some(pm) = md.partition(topic, index) else {
            return Err(AdminError::new(
                ResponseError::UnknownTopicOrPartition,
                format!("{topic}-{index} does not exist"),
            ));
        };
        let preferred = pm.replicas.first().copied().unwrap_or(-1);
        if pm.leader == preferred {
            return Err(AdminError::new(
                ResponseError::ElectionNotNeeded,
                format!("broker {preferred}, the preferred leader, already leads"),
            ));
        }
        if !pm.isr.contains(&preferred) || !self.is_up(preferred) {
            return Err(AdminError::new(
                ResponseError::PreferredLeaderNotAvailable,
                format!("the preferred leader, broker {preferred}, is not up and in the ISR"),
            ));
        }
        let pm = md.partition_mut(topic, index).expect("checked above");
        pm.leader = preferred;
        pm.leader_epoch += 1;
        let pm = pm.clone();
        self.persist(&md)?;
        self.push_assignment(topic, index, &pm);
        tracing::info!(
            topic,
            partition = index,
            leader = preferred,
            epoch = pm.leader_epoch,
            "preferred leader elected on request"
        );
        Ok(())
    }

    /// Waits up to `timeout` for every in-sync replica of a partition to start at `offset` or
    /// later (followers adopt the leader's log start on their next fetch round). Returns the low
    /// watermark reached.
    pub(crate) async fn await_log_start(&self, topic: &str, index: i32, offset: i64, timeout: Duration) -> Option<i64> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.activity.notified();
            let low = self.isr_log_start(topic, index)?;
            if low >= offset || tokio::time::Instant::now() >= deadline {
                return Some(low);
            }
            // Followers move without waking anyone: look again soon.
            let _ = tokio::time::timeout_at(
                deadline.min(tokio::time::Instant::now() + Duration::from_millis(50)),
                notified,
            )
            .await;
        }
    }
}

/// Applies a topic's effective settings to one replica.
pub(super) fn apply_topic_config(replica: &Partition, config: &TopicConfig) {
    replica.set_log_config(config.log.clone());
    replica.set_min_insync_replicas(config.min_insync_replicas);
    replica.set_cleanup_policy(&config.cleanup_policy);
}
