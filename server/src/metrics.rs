//! `/metrics` in the Prometheus text format (0.0.4), built per scrape from the monitor's latest
//! views and the embedded brokers' counters (nothing is evaluated per scrape; the sampler already
//! did it). Written straight to a string: tens of thousands of series render in milliseconds,
//! where building them through a metrics registry took a quarter of a second.
//!
//! Names and labels follow `../shared/docs/monitoring.md`: kafka_exporter's exactly (including
//! its -1 for a partition a group never committed), so Grafana dashboard 7589 works unchanged;
//! kafka-lag-exporter's lag-seconds series; Burrow's status as a gauge; and warren's own
//! (`warren_*`). With external clusters configured every cluster-derived series carries a
//! `cluster` label; `[metrics] per_partition = false` drops per-partition series for large
//! clusters, keeping the per-topic and per-group sums.

use std::fmt::Write;

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
    /// Webhook deliveries by (receiver, outcome), from the alert engine.
    pub deliveries: Vec<(String, String, u64)>,
    pub pending_notifications: Option<i64>,
    /// The `[[streams]]` jobs' figures.
    pub streams: Vec<crate::streams::JobSnapshot>,
    /// The Connect worker's tasks (empty when it is off).
    pub connect: Vec<ConnectTask>,
}

/// One Connect task's figures at the scrape.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnectTask {
    pub connector: String,
    pub task: u32,
    pub state: crate::connect::worker::State,
    pub records_in: u64,
    pub records_out: u64,
}

/// Every task of every connector the worker runs, connector by connector.
pub fn connect_tasks(worker: &crate::connect::worker::Worker) -> Vec<ConnectTask> {
    use std::sync::atomic::Ordering;
    let mut tasks = Vec::new();
    for entry in worker.entries() {
        for t in entry.state().tasks {
            tasks.push(ConnectTask {
                connector: entry.name.clone(),
                task: t.id,
                state: t.status().state,
                records_in: t.records_in.load(Ordering::Relaxed),
                records_out: t.records_out.load(Ordering::Relaxed),
            });
        }
    }
    tasks
}

/// The text format, family by family.
struct Text {
    out: String,
    /// The `cluster` label to append to every sample of a cluster-derived family, when several
    /// clusters are monitored.
    cluster: Option<String>,
}

impl Text {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.out, "# HELP {name} {help}\n# TYPE {name} {kind}");
    }

    /// One sample; `labels` are (name, value) pairs, values escaped here.
    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: f64) {
        self.out.push_str(name);
        let cluster = self.cluster.clone();
        let all = labels.iter().copied().chain(cluster.as_deref().map(|c| ("cluster", c)));
        let mut first = true;
        for (k, v) in all {
            self.out.push(if first { '{' } else { ',' });
            first = false;
            self.out.push_str(k);
            self.out.push_str("=\"");
            for c in v.chars() {
                match c {
                    '\\' => self.out.push_str("\\\\"),
                    '"' => self.out.push_str("\\\""),
                    '\n' => self.out.push_str("\\n"),
                    c => self.out.push(c),
                }
            }
            self.out.push('"');
        }
        if !first {
            self.out.push('}');
        }
        self.out.push(' ');
        if value.is_finite() {
            let _ = write!(self.out, "{value}");
        } else {
            self.out.push_str(if value.is_nan() {
                "NaN"
            } else if value > 0.0 {
                "+Inf"
            } else {
                "-Inf"
            });
        }
        self.out.push('\n');
    }
}

/// Renders every series.
pub fn render(sources: &Sources<'_>, config: MetricsConfig) -> String {
    let multi = sources.views.len() > 1;
    let mut t = Text { out: String::with_capacity(1 << 20), cluster: None };
    let views = sources.views;
    // Each family's samples must be contiguous: one pass over the views per family.
    let per_view = |t: &mut Text, f: &mut dyn FnMut(&mut Text, &ClusterView)| {
        for v in views {
            t.cluster = multi.then(|| v.name.clone());
            f(t, v);
        }
        t.cluster = None;
    };

    t.family("kafka_brokers", "gauge", "Number of Brokers in the Kafka Cluster.");
    per_view(&mut t, &mut |t, v| {
        if v.ts_ms > 0 {
            t.sample("kafka_brokers", &[], v.brokers.iter().filter(|b| b.up).count() as f64);
        }
    });
    t.family("kafka_broker_info", "gauge", "Information about the Kafka Broker.");
    per_view(&mut t, &mut |t, v| {
        for b in v.brokers.iter().filter(|b| b.up) {
            t.sample(
                "kafka_broker_info",
                &[("id", &b.id.to_string()), ("address", &format!("{}:{}", b.host, b.port))],
                1.0,
            );
        }
    });
    t.family("kafka_topic_partitions", "gauge", "Number of partitions for this Topic");
    per_view(&mut t, &mut |t, v| {
        for (topic, info) in v.topics.iter() {
            t.sample("kafka_topic_partitions", &[("topic", topic)], f64::from(info.partitions));
        }
    });
    if config.per_partition {
        type Column = fn(&crate::monitor::view::PartitionView) -> f64;
        let columns: [(&str, &str, Column); 5] = [
            ("kafka_topic_partition_leader", "Leader Broker ID of this Topic/Partition", |p| f64::from(p.leader)),
            ("kafka_topic_partition_replicas", "Number of Replicas for this Topic/Partition", |p| {
                p.replicas.len() as f64
            }),
            ("kafka_topic_partition_in_sync_replica", "Number of In-Sync Replicas for this Topic/Partition", |p| {
                p.isr.len() as f64
            }),
            ("kafka_topic_partition_leader_is_preferred", "1 if Topic/Partition is using the Preferred Broker", |p| {
                f64::from(u8::from(p.leader_is_preferred()))
            }),
            ("kafka_topic_partition_under_replicated_partition", "1 if Topic/Partition is under Replicated", |p| {
                f64::from(u8::from(p.under_replicated()))
            }),
        ];
        for (name, help, column) in columns {
            t.family(name, "gauge", help);
            per_view(&mut t, &mut |t, v| {
                for p in v.partitions.iter() {
                    t.sample(name, &[("topic", &p.topic), ("partition", &p.partition.to_string())], column(p));
                }
            });
        }
        t.family("warren_replica_lag_records", "gauge", "Records a follower replica is behind its leader");
        per_view(&mut t, &mut |t, v| {
            for p in v.partitions.iter() {
                for (broker, lag) in &p.follower_lag {
                    let labels = [
                        ("topic", p.topic.as_str()),
                        ("partition", &p.partition.to_string()),
                        ("broker", &broker.to_string()),
                    ];
                    t.sample("warren_replica_lag_records", &labels, *lag as f64);
                }
            }
        });
        for (name, help, oldest) in [
            ("kafka_topic_partition_current_offset", "Current Offset of a Broker at Topic/Partition", false),
            ("kafka_topic_partition_oldest_offset", "Oldest Offset of a Broker at Topic/Partition", true),
        ] {
            t.family(name, "gauge", help);
            per_view(&mut t, &mut |t, v| {
                for p in v.partitions.iter() {
                    let Some(offsets) = p.offsets else { continue };
                    let partition = p.partition.to_string();
                    let value = if oldest { offsets.log_start_offset } else { offsets.high_watermark };
                    t.sample(name, &[("topic", &p.topic), ("partition", &partition)], value as f64);
                }
            });
        }
        for (name, help, lag) in [
            ("kafka_consumergroup_current_offset", "Current Offset of a ConsumerGroup at Topic/Partition", false),
            ("kafka_consumergroup_lag", "Current Approximate Lag of a ConsumerGroup at Topic/Partition", true),
        ] {
            t.family(name, "gauge", help);
            per_view(&mut t, &mut |t, v| {
                for g in v.groups.values() {
                    for p in &g.partitions {
                        let partition = p.partition.to_string();
                        let labels = [
                            ("consumergroup", g.group.as_str()),
                            ("topic", p.topic.as_str()),
                            ("partition", partition.as_str()),
                        ];
                        // -1 for a partition without a commit, as kafka_exporter writes it.
                        let value = match p.committed_offset {
                            None => -1.0,
                            Some(_) if lag => p.lag as f64,
                            Some(offset) => offset as f64,
                        };
                        t.sample(name, &labels, value);
                    }
                }
            });
        }
        t.family("kafka_consumergroup_group_lag_seconds", "gauge", "Group offset lag of a partition in seconds");
        per_view(&mut t, &mut |t, v| {
            for g in v.groups.values() {
                for p in &g.partitions {
                    let Some(seconds) = p.lag_seconds else { continue };
                    let member = g.member_list.iter().find(|m| {
                        m.partitions.iter().any(|(topic, ps)| *topic == p.topic && ps.contains(&p.partition))
                    });
                    let (host, id, client) =
                        member.map_or(("", "", ""), |m| (m.host.as_str(), m.member_id.as_str(), m.client_id.as_str()));
                    let partition = p.partition.to_string();
                    let labels = [
                        ("cluster_name", v.name.as_str()),
                        ("group", g.group.as_str()),
                        ("topic", p.topic.as_str()),
                        ("partition", partition.as_str()),
                        ("member_host", host),
                        ("consumer_id", id),
                        ("client_id", client),
                    ];
                    t.sample("kafka_consumergroup_group_lag_seconds", &labels, seconds);
                }
            }
        });
    }
    // Per topic: kafka_exporter adds -1 entries into the offset sum but not into the lag sum, and
    // skips a topic whose partitions are all uncommitted.
    for (name, help, lag) in [
        (
            "kafka_consumergroup_current_offset_sum",
            "Current Offset of a ConsumerGroup at Topic for all partitions",
            false,
        ),
        ("kafka_consumergroup_lag_sum", "Current Approximate Lag of a ConsumerGroup at Topic for all partitions", true),
    ] {
        t.family(name, "gauge", help);
        per_view(&mut t, &mut |t, v| {
            for g in v.groups.values() {
                let mut topics: std::collections::BTreeMap<&str, (f64, f64, bool)> = Default::default();
                for p in &g.partitions {
                    let entry = topics.entry(p.topic.as_str()).or_insert((0.0, 0.0, false));
                    entry.0 += p.committed_offset.map_or(-1.0, |o| o as f64);
                    if p.committed_offset.is_some() {
                        entry.1 += p.lag as f64;
                        entry.2 = true;
                    }
                }
                for (topic, (offset_sum, lag_sum, _)) in topics.into_iter().filter(|(_, e)| e.2) {
                    t.sample(
                        name,
                        &[("consumergroup", &g.group), ("topic", topic)],
                        if lag { lag_sum } else { offset_sum },
                    );
                }
            }
        });
    }
    t.family("kafka_consumergroup_members", "gauge", "Amount of members in a consumer group");
    per_view(&mut t, &mut |t, v| {
        for g in v.groups.values() {
            t.sample("kafka_consumergroup_members", &[("consumergroup", &g.group)], g.members as f64);
        }
    });
    type GroupValue = fn(&crate::monitor::GroupView) -> Option<f64>;
    let group_series: [(&str, &str, &str, GroupValue); 5] = [
        ("kafka_consumergroup_group_max_lag_seconds", "Max group offset lag in seconds", "cluster_name", |g| {
            g.max_lag_seconds
        }),
        ("kafka_consumergroup_group_max_lag", "Max group offset lag", "cluster_name", |g| Some(g.max_lag as f64)),
        ("kafka_consumergroup_group_sum_lag", "Sum of group offset lag", "cluster_name", |g| Some(g.total_lag as f64)),
        (
            "burrow_kafka_consumer_status",
            "Burrow's status of a consumer group: NOTFOUND 0, OK 1, WARN 2, ERR 3",
            "cluster",
            |g| {
                Some(match g.status {
                    crate::evaluator::GroupState::NotFound => 0.0,
                    crate::evaluator::GroupState::Ok => 1.0,
                    crate::evaluator::GroupState::Warn => 2.0,
                    crate::evaluator::GroupState::Err => 3.0,
                })
            },
        ),
        ("burrow_kafka_consumer_lag_total", "Burrow's total lag of a consumer group", "cluster", |g| {
            Some(g.total_lag as f64)
        }),
    ];
    for (name, help, cluster_label, value) in group_series {
        t.family(name, "gauge", help);
        for v in views {
            let group_label = if cluster_label == "cluster" { "consumer_group" } else { "group" };
            for g in v.groups.values() {
                if let Some(x) = value(g) {
                    t.sample(name, &[(cluster_label, &v.name), (group_label, &g.group)], x);
                }
            }
        }
    }
    t.family("warren_sampler_tick_seconds", "gauge", "Duration of the sampler's last tick");
    for v in views {
        t.sample("warren_sampler_tick_seconds", &[("cluster_name", &v.name)], v.tick_ms / 1000.0);
    }
    t.family("warren_cluster_reachable", "gauge", "1 when the last sample of the cluster succeeded");
    for v in views {
        t.sample("warren_cluster_reachable", &[("cluster_name", &v.name)], if v.reachable { 1.0 } else { 0.0 });
    }
    if let Some(cluster) = sources.embedded {
        t.cluster = multi.then(|| cluster.config.name.clone());
        embedded(&mut t, cluster);
        t.cluster = None;
    }
    if let Some(bytes) = sources.database_bytes {
        t.family("warren_database_bytes", "gauge", "Size of warren's SQLite database");
        t.sample("warren_database_bytes", &[], bytes as f64);
    }
    if !sources.deliveries.is_empty() {
        t.family("warren_alert_deliveries_total", "counter", "Webhook delivery attempts by receiver and outcome");
        for (receiver, outcome, count) in &sources.deliveries {
            t.sample("warren_alert_deliveries_total", &[("receiver", receiver), ("outcome", outcome)], *count as f64);
        }
    }
    if let Some(pending) = sources.pending_notifications {
        t.family("warren_alert_notifications_pending", "gauge", "Notifications waiting in the outbox");
        t.sample("warren_alert_notifications_pending", &[], pending as f64);
    }
    streams(&mut t, &sources.streams);
    connect(&mut t, &sources.connect);
    t.out
}

/// The Connect tasks: records in and out, and their state one-hot (so a rule can ask `== 1`).
fn connect(t: &mut Text, tasks: &[ConnectTask]) {
    if tasks.is_empty() {
        return;
    }
    t.family(
        "warren_connect_records_total",
        "counter",
        "Records a Connect task read (in: from the source system for a source, from Kafka for a sink) and \
         wrote (out: to Kafka for a source, to the sink system for a sink)",
    );
    for c in tasks {
        let task = c.task.to_string();
        for (direction, n) in [("in", c.records_in), ("out", c.records_out)] {
            let labels = [("connector", c.connector.as_str()), ("task", task.as_str()), ("direction", direction)];
            t.sample("warren_connect_records_total", &labels, n as f64);
        }
    }
    t.family(
        "warren_connect_task_state",
        "gauge",
        "A Connect task's state: 1 for the state it is in, 0 for the others",
    );
    for c in tasks {
        let task = c.task.to_string();
        for state in crate::connect::worker::State::ALL {
            let labels = [("connector", c.connector.as_str()), ("task", task.as_str()), ("state", state.name())];
            t.sample("warren_connect_task_state", &labels, if state == c.state { 1.0 } else { 0.0 });
        }
    }
}

/// The stream jobs: records in and out, late records dropped, stream time per task partition.
fn streams(t: &mut Text, jobs: &[crate::streams::JobSnapshot]) {
    if jobs.is_empty() {
        return;
    }
    t.family(
        "warren_streams_records_total",
        "counter",
        "Records a stream job read from its sources (in) and wrote to its sink (out)",
    );
    for j in jobs {
        t.sample("warren_streams_records_total", &[("app", &j.name), ("direction", "in")], j.records_in as f64);
        t.sample("warren_streams_records_total", &[("app", &j.name), ("direction", "out")], j.records_out as f64);
    }
    t.family(
        "warren_streams_late_records_dropped_total",
        "counter",
        "Records a windowed job dropped because every window they belong to had closed (stream time - grace)",
    );
    for j in jobs {
        t.sample("warren_streams_late_records_dropped_total", &[("app", &j.name)], j.late_records_dropped as f64);
    }
    t.family(
        "warren_streams_stream_time_seconds",
        "gauge",
        "A stream task's stream time: the largest record timestamp it has processed",
    );
    for j in jobs {
        for (partition, time) in &j.stream_time {
            if let Some(ms) = time {
                let partition = partition.to_string();
                t.sample(
                    "warren_streams_stream_time_seconds",
                    &[("app", &j.name), ("partition", &partition)],
                    *ms as f64 / 1000.0,
                );
            }
        }
    }
}

/// The embedded brokers' own counters: requests, errors, authentication failures, bytes.
fn embedded(t: &mut Text, cluster: &broker_core::Cluster) {
    let apis = cluster.stats.apis();
    t.family("warren_requests_total", "counter", "Kafka requests served, by API");
    for api in &apis {
        t.sample("warren_requests_total", &[("api", &api_name(api.api_key))], api.requests as f64);
    }
    t.family("warren_request_duration_seconds", "histogram", "Time to answer a Kafka request, by API");
    for api in &apis {
        let name = api_name(api.api_key);
        for (bound, cumulative) in broker_core::LATENCY_BUCKETS.iter().zip(&api.buckets) {
            t.sample(
                "warren_request_duration_seconds_bucket",
                &[("api", &name), ("le", &bound.to_string())],
                *cumulative as f64,
            );
        }
        t.sample("warren_request_duration_seconds_bucket", &[("api", &name), ("le", "+Inf")], api.requests as f64);
        t.sample("warren_request_duration_seconds_sum", &[("api", &name)], api.latency_seconds_sum);
        t.sample("warren_request_duration_seconds_count", &[("api", &name)], api.requests as f64);
    }
    t.family("warren_request_errors_total", "counter", "Kafka error codes answered, by API and error");
    for ((api, code), count) in cluster.stats.errors() {
        let error =
            kafka_protocol::ResponseError::try_from_code(code).map_or_else(|| code.to_string(), |e| format!("{e:?}"));
        t.sample("warren_request_errors_total", &[("api", &api_name(api)), ("error", &error)], count as f64);
    }
    let security = &cluster.config.security;
    if security.protocol.uses_sasl() {
        let failures = cluster.stats.auth_failures();
        t.family("warren_auth_failures_total", "counter", "Failed SASL authentications, by mechanism");
        for mechanism in security.mechanisms.iter().map(|m| m.name()) {
            let count = failures.iter().find(|(m, _)| *m == mechanism).map_or(0, |(_, n)| *n);
            t.sample("warren_auth_failures_total", &[("mechanism", mechanism)], count as f64);
        }
    }
    for (name, help, out) in [
        ("warren_bytes_in_total", "Bytes received from Kafka clients, by broker", false),
        ("warren_bytes_out_total", "Bytes sent to Kafka clients, by broker", true),
    ] {
        t.family(name, "counter", help);
        for b in cluster.brokers() {
            if let Some(traffic) = cluster.stats.broker(b.id) {
                let bytes = if out { &traffic.bytes_out } else { &traffic.bytes_in };
                t.sample(
                    name,
                    &[("broker", &b.id.to_string())],
                    bytes.load(std::sync::atomic::Ordering::Relaxed) as f64,
                );
            }
        }
    }
}

/// Kafka's name of an API key (`Produce`, `Fetch`, ...), or its number.
fn api_name(key: i16) -> String {
    kafka_protocol::messages::ApiKey::try_from(key).map_or_else(|_| key.to_string(), |k| format!("{k:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped_and_cluster_labels_appended() {
        let mut t = Text { out: String::new(), cluster: Some("prod".into()) };
        t.family("x", "gauge", "help");
        t.sample("x", &[("group", "a\"b\\c\nd")], -1.0);
        t.sample("x", &[], f64::NAN);
        assert_eq!(t.out, "# HELP x help\n# TYPE x gauge\nx{group=\"a\\\"b\\\\c\\nd\",cluster=\"prod\"} -1\nx{cluster=\"prod\"} NaN\n");
    }

    #[test]
    fn connect_tasks_count_records_and_show_their_state_one_hot() {
        use crate::connect::worker::State;
        let mut t = Text { out: String::new(), cluster: None };
        connect(&mut t, &[]);
        assert_eq!(t.out, "");
        let task =
            ConnectTask { connector: "jdbc".into(), task: 1, state: State::Failed, records_in: 7, records_out: 5 };
        connect(&mut t, &[task]);
        let samples: Vec<&str> = t.out.lines().filter(|l| !l.starts_with('#')).collect();
        assert_eq!(samples.len(), 2 + State::ALL.len());
        assert!(samples.contains(&"warren_connect_records_total{connector=\"jdbc\",task=\"1\",direction=\"in\"} 7"));
        assert!(samples.contains(&"warren_connect_records_total{connector=\"jdbc\",task=\"1\",direction=\"out\"} 5"));
        assert!(samples.contains(&"warren_connect_task_state{connector=\"jdbc\",task=\"1\",state=\"FAILED\"} 1"));
        assert!(samples.contains(&"warren_connect_task_state{connector=\"jdbc\",task=\"1\",state=\"RUNNING\"} 0"));
        let ones = samples.iter().filter(|l| l.starts_with("warren_connect_task_state") && l.ends_with(" 1")).count();
        assert_eq!(ones, 1);
    }
}
