//! `/metrics` in the Prometheus text format, built per scrape from the monitor's latest views and
//! the embedded brokers' counters (nothing is evaluated per scrape; the sampler already did it).
//!
//! Names and labels follow `../shared/docs/monitoring.md`: kafka_exporter's exactly (including
//! its -1 for a partition a group never committed), so Grafana dashboard 7589 works unchanged;
//! kafka-lag-exporter's lag-seconds series; Burrow's status as a gauge; and warren's own
//! (`warren_*`). With external clusters configured every cluster-derived series carries a
//! `cluster` label; `[metrics] per_partition = false` drops per-partition series for large
//! clusters, keeping the per-topic and per-group sums.

use std::fmt::Write;

use prometheus::core::Collector;
use prometheus::{Encoder, GaugeVec, Opts, Registry, TextEncoder};

use crate::monitor::ClusterView;

/// Settings from `[metrics]`.
#[derive(Debug, Clone, Copy)]
pub struct MetricsConfig {
    pub per_partition: bool,
}

/// What a scrape reads.
pub struct Sources<'a> {
    pub embedded: Option<&'a broker_core::Cluster>,
    pub views: &'a [std::sync::Arc<ClusterView>],
    pub database_bytes: Option<u64>,
    /// Extra series rendered by other modules (the alert engine's delivery counters).
    pub extra: Vec<prometheus::proto::MetricFamily>,
}

/// One gauge family with a fixed label set, plus the cluster label when there are several.
struct Family {
    vec: GaugeVec,
    cluster_label: bool,
}

impl Family {
    fn new(registry: &Registry, name: &str, help: &str, labels: &[&str], cluster_label: bool) -> Family {
        let mut names: Vec<&str> = labels.to_vec();
        if cluster_label {
            names.push("cluster");
        }
        let vec = GaugeVec::new(Opts::new(name, help), &names).expect("valid metric name and labels");
        registry.register(Box::new(vec.clone())).expect("unique metric name");
        Family { vec, cluster_label }
    }

    fn set(&self, cluster: &str, labels: &[&str], value: f64) {
        if self.cluster_label {
            let mut all = labels.to_vec();
            all.push(cluster);
            self.vec.with_label_values(&all).set(value);
        } else {
            self.vec.with_label_values(labels).set(value);
        }
    }
}

/// Renders every series.
pub fn render(sources: &Sources<'_>, config: MetricsConfig) -> Result<String, prometheus::Error> {
    let registry = Registry::new();
    let multi = sources.views.len() > 1;
    let f = |name: &str, help: &str, labels: &[&str]| Family::new(&registry, name, help, labels, multi);

    // Topics and partitions (kafka_exporter).
    let topic_partitions = f("kafka_topic_partitions", "Number of partitions for this Topic", &["topic"]);
    let current = f(
        "kafka_topic_partition_current_offset",
        "Current Offset of a Broker at Topic/Partition",
        &["topic", "partition"],
    );
    let oldest = f(
        "kafka_topic_partition_oldest_offset",
        "Oldest Offset of a Broker at Topic/Partition",
        &["topic", "partition"],
    );
    // Groups (kafka_exporter).
    let group_offset = f(
        "kafka_consumergroup_current_offset",
        "Current Offset of a ConsumerGroup at Topic/Partition",
        &["consumergroup", "topic", "partition"],
    );
    let group_offset_sum = f(
        "kafka_consumergroup_current_offset_sum",
        "Current Offset of a ConsumerGroup at Topic for all partitions",
        &["consumergroup", "topic"],
    );
    let group_lag = f(
        "kafka_consumergroup_lag",
        "Current Approximate Lag of a ConsumerGroup at Topic/Partition",
        &["consumergroup", "topic", "partition"],
    );
    let group_lag_sum = f(
        "kafka_consumergroup_lag_sum",
        "Current Approximate Lag of a ConsumerGroup at Topic for all partitions",
        &["consumergroup", "topic"],
    );
    let members = f("kafka_consumergroup_members", "Amount of members in a consumer group", &["consumergroup"]);
    // Lag in seconds (kafka-lag-exporter's names and labels).
    let lag_seconds = f(
        "kafka_consumergroup_group_lag_seconds",
        "Group offset lag of a partition in seconds",
        &["cluster_name", "group", "topic", "partition", "member_host", "consumer_id", "client_id"],
    );
    let max_lag_seconds =
        f("kafka_consumergroup_group_max_lag_seconds", "Max group offset lag in seconds", &["cluster_name", "group"]);
    let max_lag = f("kafka_consumergroup_group_max_lag", "Max group offset lag", &["cluster_name", "group"]);
    let sum_lag = f("kafka_consumergroup_group_sum_lag", "Sum of group offset lag", &["cluster_name", "group"]);
    // Burrow's status (NOTFOUND 0, OK 1, WARN 2, ERR 3) and total lag.
    let burrow_status =
        f("burrow_kafka_consumer_status", "Burrow's status of a consumer group", &["cluster", "consumer_group"]);
    let burrow_lag =
        f("burrow_kafka_consumer_lag_total", "Burrow's total lag of a consumer group", &["cluster", "consumer_group"]);
    // warren's own, per monitored cluster.
    let tick = f("warren_sampler_tick_seconds", "Duration of the sampler's last tick", &["cluster_name"]);
    let reachable = f("warren_cluster_reachable", "1 when the last sample of the cluster succeeded", &["cluster_name"]);

    for view in sources.views {
        let c = view.name.as_str();
        tick.set(c, &[c], view.tick_ms / 1000.0);
        reachable.set(c, &[c], if view.reachable { 1.0 } else { 0.0 });
        for (topic, n) in &view.topics {
            topic_partitions.set(c, &[topic], f64::from(*n));
        }
        if config.per_partition {
            for p in &view.partitions {
                let partition = p.partition.to_string();
                current.set(c, &[&p.topic, &partition], p.high_watermark as f64);
                oldest.set(c, &[&p.topic, &partition], p.log_start_offset as f64);
            }
        }
        for g in view.groups.values() {
            members.set(c, &[&g.group], g.members as f64);
            let status = match g.status {
                crate::evaluator::GroupState::NotFound => 0.0,
                crate::evaluator::GroupState::Ok => 1.0,
                crate::evaluator::GroupState::Warn => 2.0,
                crate::evaluator::GroupState::Err => 3.0,
            };
            burrow_status.set(c, &[c, &g.group], status);
            burrow_lag.set(c, &[c, &g.group], g.total_lag as f64);
            max_lag.set(c, &[c, &g.group], g.max_lag as f64);
            sum_lag.set(c, &[c, &g.group], g.total_lag as f64);
            if let Some(s) = g.max_lag_seconds {
                max_lag_seconds.set(c, &[c, &g.group], s);
            }
            // Per topic: kafka_exporter adds -1 entries into the offset sum, but not into the lag
            // sum, and skips a topic whose partitions are all uncommitted.
            let mut topics: std::collections::BTreeMap<&str, (f64, f64, bool)> = Default::default();
            for p in &g.partitions {
                let entry = topics.entry(p.topic.as_str()).or_insert((0.0, 0.0, false));
                entry.0 += p.committed_offset.map_or(-1.0, |o| o as f64);
                if p.committed_offset.is_some() {
                    entry.1 += p.lag as f64;
                    entry.2 = true;
                }
                if config.per_partition {
                    let partition = p.partition.to_string();
                    let labels = [g.group.as_str(), p.topic.as_str(), partition.as_str()];
                    group_offset.set(c, &labels, p.committed_offset.map_or(-1.0, |o| o as f64));
                    group_lag.set(c, &labels, if p.committed_offset.is_some() { p.lag as f64 } else { -1.0 });
                    if let Some(s) = p.lag_seconds {
                        let member = g
                            .member_list
                            .iter()
                            .find(|m| m.partitions.iter().any(|(t, ps)| *t == p.topic && ps.contains(&p.partition)));
                        let (host, id, client) = member
                            .map_or(("", "", ""), |m| (m.host.as_str(), m.member_id.as_str(), m.client_id.as_str()));
                        lag_seconds.set(c, &[c, &g.group, &p.topic, &partition, host, id, client], s);
                    }
                }
            }
            for (topic, (offset_sum, lag_sum, any)) in topics {
                if any {
                    group_offset_sum.set(c, &[&g.group, topic], offset_sum);
                    group_lag_sum.set(c, &[&g.group, topic], lag_sum);
                }
            }
        }
    }
    let histogram = match sources.embedded {
        Some(cluster) => embedded(&registry, cluster, config, multi)?,
        None => String::new(),
    };
    if let Some(bytes) = sources.database_bytes {
        let db = prometheus::Gauge::new("warren_database_bytes", "Size of warren's SQLite database")?;
        db.set(bytes as f64);
        registry.register(Box::new(db))?;
    }
    let mut families = registry.gather();
    // The text encoder refuses a family without samples (an empty counter vector, say).
    families.extend(sources.extra.iter().filter(|f| !f.get_metric().is_empty()).cloned());
    let mut out = Vec::with_capacity(1 << 16);
    TextEncoder::new().encode(&families, &mut out)?;
    let mut text = String::from_utf8(out).unwrap_or_default();
    text.push_str(&histogram);
    Ok(text)
}

/// The embedded cluster's brokers, partition layout and request counters.
fn embedded(
    registry: &Registry,
    cluster: &broker_core::Cluster,
    config: MetricsConfig,
    multi: bool,
) -> Result<String, prometheus::Error> {
    let name = cluster.config.name.as_str();
    let f = |n: &str, help: &str, labels: &[&str]| Family::new(registry, n, help, labels, multi);
    let brokers = f("kafka_brokers", "Number of Brokers in the Kafka Cluster.", &[]);
    let info = f("kafka_broker_info", "Information about the Kafka Broker.", &["id", "address"]);
    let up: Vec<_> = cluster.brokers().iter().filter(|b| b.is_up()).collect();
    brokers.set(name, &[], up.len() as f64);
    for b in &up {
        info.set(name, &[&b.id.to_string(), &b.addr.to_string()], 1.0);
    }
    let leader = f("kafka_topic_partition_leader", "Leader Broker ID of this Topic/Partition", &["topic", "partition"]);
    let replicas =
        f("kafka_topic_partition_replicas", "Number of Replicas for this Topic/Partition", &["topic", "partition"]);
    let isr = f(
        "kafka_topic_partition_in_sync_replica",
        "Number of In-Sync Replicas for this Topic/Partition",
        &["topic", "partition"],
    );
    let preferred = f(
        "kafka_topic_partition_leader_is_preferred",
        "1 if Topic/Partition is using the Preferred Broker",
        &["topic", "partition"],
    );
    let under = f(
        "kafka_topic_partition_under_replicated_partition",
        "1 if Topic/Partition is under Replicated",
        &["topic", "partition"],
    );
    let behind = f(
        "warren_replica_lag_records",
        "Records a follower replica is behind its leader",
        &["topic", "partition", "broker"],
    );
    let is_up = |id: i32| cluster.broker(id).is_some_and(|b| b.is_up());
    let md = cluster.metadata();
    if config.per_partition {
        for topic in md.topics.values() {
            for (i, pm) in topic.partitions.iter().enumerate() {
                let p = i.to_string();
                let labels = [topic.name.as_str(), p.as_str()];
                let online = pm.leader >= 0 && is_up(pm.leader);
                let in_sync = pm.isr.iter().filter(|r| is_up(**r)).count();
                leader.set(name, &labels, f64::from(if online { pm.leader } else { -1 }));
                replicas.set(name, &labels, pm.replicas.len() as f64);
                isr.set(name, &labels, in_sync as f64);
                preferred.set(name, &labels, if online && pm.replicas.first() == Some(&pm.leader) { 1.0 } else { 0.0 });
                under.set(name, &labels, if in_sync < pm.replicas.len() { 1.0 } else { 0.0 });
                let leader_end = cluster.leader_replica(&topic.name, i as i32).map(|r| r.log_end_offset());
                for r in pm.replicas.iter().filter(|r| **r != pm.leader) {
                    if let (Some(end), Some(replica)) = (leader_end, cluster.replica(*r, &topic.name, i as i32)) {
                        behind.set(
                            name,
                            &[topic.name.as_str(), p.as_str(), &r.to_string()],
                            (end - replica.log_end_offset()).max(0) as f64,
                        );
                    }
                }
            }
        }
    }
    let requests =
        prometheus::IntCounterVec::new(Opts::new("warren_requests_total", "Kafka requests served, by API"), &["api"])?;
    let errors = prometheus::IntCounterVec::new(
        Opts::new("warren_request_errors_total", "Kafka error codes answered, by API and error"),
        &["api", "error"],
    )?;
    // The latency histogram is written by hand: its bucket counts come from broker-core's
    // counters, and prometheus' Histogram can only be fed one observation at a time.
    let mut histogram = String::from(
        "# HELP warren_request_duration_seconds Time to answer a Kafka request, by API\n# TYPE warren_request_duration_seconds histogram\n",
    );
    for api in cluster.stats.apis() {
        let label = api_name(api.api_key);
        requests.with_label_values(&[&label]).inc_by(api.requests);
        for (bound, cumulative) in broker_core::stats::LATENCY_BUCKETS.iter().zip(&api.buckets) {
            let _ = writeln!(
                histogram,
                "warren_request_duration_seconds_bucket{{api=\"{label}\",le=\"{bound}\"}} {cumulative}"
            );
        }
        let _ = writeln!(
            histogram,
            "warren_request_duration_seconds_bucket{{api=\"{label}\",le=\"+Inf\"}} {}",
            api.requests
        );
        let _ =
            writeln!(histogram, "warren_request_duration_seconds_sum{{api=\"{label}\"}} {}", api.latency_seconds_sum);
        let _ = writeln!(histogram, "warren_request_duration_seconds_count{{api=\"{label}\"}} {}", api.requests);
    }
    for ((api, code), count) in cluster.stats.errors() {
        let error =
            kafka_protocol::ResponseError::try_from_code(code).map_or_else(|| code.to_string(), |e| format!("{e:?}"));
        errors.with_label_values(&[&api_name(api), &error]).inc_by(count);
    }
    let bytes_in = prometheus::IntCounterVec::new(
        Opts::new("warren_bytes_in_total", "Bytes received from Kafka clients, by broker"),
        &["broker"],
    )?;
    let bytes_out = prometheus::IntCounterVec::new(
        Opts::new("warren_bytes_out_total", "Bytes sent to Kafka clients, by broker"),
        &["broker"],
    )?;
    for b in cluster.brokers() {
        if let Some(t) = cluster.stats.broker(b.id) {
            let id = b.id.to_string();
            bytes_in.with_label_values(&[&id]).inc_by(t.bytes_in.load(std::sync::atomic::Ordering::Relaxed));
            bytes_out.with_label_values(&[&id]).inc_by(t.bytes_out.load(std::sync::atomic::Ordering::Relaxed));
        }
    }
    for c in [Box::new(requests) as Box<dyn Collector>, Box::new(errors), Box::new(bytes_in), Box::new(bytes_out)] {
        registry.register(c)?;
    }
    Ok(histogram)
}

/// Kafka's name of an API key (`Produce`, `Fetch`, ...), or its number.
fn api_name(key: i16) -> String {
    kafka_protocol::messages::ApiKey::try_from(key).map_or_else(|_| key.to_string(), |k| format!("{k:?}"))
}
