//! `/topics` and `/topics/{topic}`: partitions, replication, sizes and rates, the leader/follower
//! layout (partitions x brokers), and the message browser (`/topics/{topic}/messages`). The
//! forms post to `web::actions`.

use std::collections::HashMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::{message_page, render, urlencode, view_of, ClusterParam, Layout};
use crate::web::format;
use crate::web::messages::{self, Format};
use crate::web::AppState;

pub struct TopicRow {
    pub name: String,
    pub href: String,
    pub internal: bool,
    pub partitions: String,
    pub replication_factor: usize,
    pub under_replicated: usize,
    pub offline: usize,
    pub size: String,
    pub rate: String,
}

#[derive(Template)]
#[template(path = "pages/topics.html")]
pub struct TopicsPage {
    pub layout: Layout,
    pub topics: Vec<TopicRow>,
    pub show_internal: bool,
}

#[derive(Deserialize, Default)]
pub struct TopicsQuery {
    pub cluster: Option<String>,
    pub internal: Option<String>,
}

pub async fn page_topics(State(state): State<AppState>, headers: HeaderMap, Query(q): Query<TopicsQuery>) -> Response {
    let layout = Layout::new(&state, &headers, "Topics", q.cluster.as_deref());
    let view = view_of(&state, &layout);
    let mut rates: HashMap<&str, f64> = HashMap::new();
    for p in &view.partitions {
        *rates.entry(p.topic.as_str()).or_default() += p.produce_rate;
    }
    let show_internal = q.internal.as_deref() == Some("1");
    let topics = if let (true, Some(cluster)) = (layout.embedded, &state.cluster) {
        let sizes = topic_sizes(cluster);
        crate::web::api::topic_summaries(cluster)
            .into_iter()
            .filter(|t| show_internal || !t.internal)
            .map(|t| TopicRow {
                href: format!("/topics/{}", urlencode(&t.name)),
                internal: t.internal,
                partitions: format::thousands(t.partitions as i64),
                replication_factor: t.replication_factor,
                under_replicated: t.under_replicated,
                offline: t.offline,
                size: format::bytes(sizes.get(&t.name).copied().unwrap_or(0)),
                rate: format::rate(rates.get(t.name.as_str()).copied().unwrap_or(0.0)),
                name: t.name,
            })
            .collect()
    } else {
        view.topics
            .iter()
            .filter(|(name, _)| show_internal || !name.starts_with("__"))
            .map(|(name, n)| TopicRow {
                name: name.clone(),
                href: format!("/topics/{}{}", urlencode(name), layout.query()),
                internal: name.starts_with("__"),
                partitions: format::thousands(i64::from(*n)),
                replication_factor: 0,
                under_replicated: 0,
                offline: 0,
                size: "–".into(),
                rate: format::rate(rates.get(name.as_str()).copied().unwrap_or(0.0)),
            })
            .collect()
    };
    render(&TopicsPage { layout, topics, show_internal })
}

/// Bytes on disk per topic, leaders' replicas only (what the topic holds, not its copies).
fn topic_sizes(cluster: &broker_core::Cluster) -> HashMap<String, u64> {
    let md = cluster.metadata();
    let mut sizes = HashMap::new();
    for topic in md.topics.values() {
        let total: u64 = (0..topic.partitions.len() as i32)
            .filter_map(|p| cluster.leader_replica(&topic.name, p))
            .map(|r| r.size_bytes())
            .sum();
        sizes.insert(topic.name.clone(), total);
    }
    sizes
}

pub struct PartitionRow {
    pub partition: i32,
    pub first: String,
    pub last: String,
    pub size: String,
    pub leader: i32,
    pub replicas: String,
    pub isr: String,
    pub offline: String,
    pub preferred: bool,
    pub under_replicated: bool,
    pub rate: String,
    /// One cell per broker: (CSS class, label).
    pub layout: Vec<(&'static str, &'static str)>,
}

pub struct TopicData {
    pub name: String,
    pub internal: bool,
    pub config: Vec<(String, String)>,
    pub brokers: Vec<i32>,
    pub partitions: Vec<PartitionRow>,
}

#[derive(Template)]
#[template(path = "pages/topic.html")]
pub struct TopicPage {
    pub layout: Layout,
    pub data: TopicData,
    pub partition_count: usize,
}

#[derive(Template)]
#[template(path = "partials/topic_partial.html")]
pub struct TopicPartial {
    pub data: TopicData,
}

fn topic_data(state: &AppState, cluster: &broker_core::Cluster, name: &str) -> Option<TopicData> {
    let md = cluster.metadata();
    let topic = md.topics.get(name)?;
    let up = |id: i32| cluster.broker(id).is_some_and(|b| b.is_up());
    let brokers: Vec<i32> = cluster.brokers().iter().map(|b| b.id).collect();
    let view = state.monitor.cluster(&cluster.config.name).unwrap_or_default();
    let partitions = topic
        .partitions
        .iter()
        .enumerate()
        .map(|(i, pm)| {
            let index = i as i32;
            let replica = cluster.leader_replica(name, index);
            let online = pm.leader >= 0 && up(pm.leader);
            let isr: Vec<i32> = pm.isr.iter().copied().filter(|r| up(*r)).collect();
            let offline: Vec<i32> = pm.replicas.iter().copied().filter(|r| !up(*r)).collect();
            let join = |v: &[i32]| v.iter().map(i32::to_string).collect::<Vec<_>>().join(", ");
            let rate = view.partition(name, index).map_or(0.0, |p| p.produce_rate);
            PartitionRow {
                partition: index,
                first: replica.as_ref().map_or("–".into(), |r| format::thousands(r.log_start_offset())),
                last: replica.as_ref().map_or("–".into(), |r| format::thousands(r.high_watermark())),
                size: replica.as_ref().map_or("–".into(), |r| format::bytes(r.size_bytes())),
                leader: if online { pm.leader } else { -1 },
                replicas: join(&pm.replicas),
                isr: join(&isr),
                offline: join(&offline),
                preferred: online && pm.replicas.first() == Some(&pm.leader),
                under_replicated: isr.len() < pm.replicas.len(),
                rate: format::rate(rate),
                layout: brokers
                    .iter()
                    .map(|b| {
                        if !pm.replicas.contains(b) {
                            ("", "")
                        } else if !up(*b) {
                            ("offline", "offline")
                        } else if online && pm.leader == *b {
                            ("leader", "leader")
                        } else if isr.contains(b) {
                            ("insync", "in sync")
                        } else {
                            ("outofsync", "behind")
                        }
                    })
                    .collect(),
            }
        })
        .collect();
    Some(TopicData {
        name: topic.name.clone(),
        internal: topic.internal,
        config: topic.config.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        brokers,
        partitions,
    })
}

pub async fn page_topic(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<ClusterParam>,
) -> Response {
    let layout = Layout::new(&state, &headers, &name, q.cluster.as_deref());
    let Some(cluster) = state.cluster.as_ref().filter(|_| layout.embedded) else {
        return message_page(
            &state,
            &headers,
            StatusCode::NOT_FOUND,
            "Not available",
            "Partition layouts are shown for the embedded cluster; external clusters show their groups and lag.",
            "/topics",
        );
    };
    match topic_data(&state, cluster, &name) {
        Some(data) => render(&TopicPage { partition_count: data.partitions.len(), layout, data }),
        None => no_such_topic(&state, &headers, &name),
    }
}

fn no_such_topic(state: &AppState, headers: &HeaderMap, name: &str) -> Response {
    message_page(
        state,
        headers,
        StatusCode::NOT_FOUND,
        "No such topic",
        &format!("Topic '{name}' does not exist."),
        "/topics",
    )
}

pub async fn partial_topic(State(state): State<AppState>, headers: HeaderMap, Path(name): Path<String>) -> Response {
    let cluster = match state.embedded_page(&headers) {
        Ok(c) => c,
        Err(page) => return *page,
    };
    match topic_data(&state, cluster, &name) {
        Some(data) => render(&TopicPartial { data }),
        None => no_such_topic(&state, &headers, &name),
    }
}

#[derive(Deserialize, Default)]
pub struct MessagesQuery {
    pub partition: Option<String>,
    pub offset: Option<String>,
    pub timestamp: Option<String>,
    pub limit: Option<String>,
    pub format: Option<String>,
}

pub struct RecordRow {
    pub offset: String,
    pub timestamp: format::When,
    pub key: messages::Shown,
    pub value: messages::Shown,
    pub headers: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "pages/messages.html")]
pub struct MessagesPage {
    pub layout: Layout,
    pub topic: String,
    pub partitions: i32,
    pub partition: i32,
    pub offset: String,
    pub timestamp: String,
    pub limit: usize,
    pub format: &'static str,
    pub formats: Vec<(&'static str, bool)>,
    pub records: Vec<RecordRow>,
    pub error: String,
}

fn parse_field<T: std::str::FromStr>(value: Option<&str>, name: &str) -> Result<Option<T>, String> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| format!("{name} '{v}' is not a number")),
    }
}

pub async fn page_messages(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<MessagesQuery>,
) -> Response {
    let cluster = match state.embedded_page(&headers) {
        Ok(c) => std::sync::Arc::clone(c),
        Err(page) => return *page,
    };
    let layout = Layout::new(&state, &headers, &format!("{name} messages"), None);
    let Some(partitions) = cluster.metadata().topics.get(&name).map(|t| t.partitions.len() as i32) else {
        return no_such_topic(&state, &headers, &name);
    };
    let mut page = MessagesPage {
        layout,
        topic: name.clone(),
        partitions,
        partition: 0,
        offset: q.offset.clone().unwrap_or_default(),
        timestamp: q.timestamp.clone().unwrap_or_default(),
        limit: 20,
        format: "text",
        formats: ["text", "json", "hex", "base64"].into_iter().map(|f| (f, f == "text")).collect(),
        records: Vec::new(),
        error: String::new(),
    };
    let parsed = (|| -> Result<(i32, broker_core::cluster::RecordPosition, usize, Format), String> {
        let partition: i32 = parse_field(q.partition.as_deref(), "partition")?.unwrap_or(0);
        if partition < 0 || partition >= partitions {
            return Err(format!("partition {partition} does not exist (the topic has {partitions})"));
        }
        let limit: usize = parse_field(q.limit.as_deref(), "limit")?.unwrap_or(20).clamp(1, 500);
        let format = Format::parse(q.format.as_deref().unwrap_or("text"))?;
        let from = match (
            q.timestamp.as_deref().map(str::trim).filter(|t| !t.is_empty()),
            parse_field::<i64>(q.offset.as_deref(), "offset")?,
        ) {
            (Some(ts), _) => broker_core::cluster::RecordPosition::Timestamp(crate::time::parse_iso8601_ms(ts)?),
            (None, Some(offset)) => broker_core::cluster::RecordPosition::Offset(offset),
            // By default the newest records.
            (None, None) => {
                let hw = cluster.leader_replica(&name, partition).map_or(0, |r| r.high_watermark());
                broker_core::cluster::RecordPosition::Offset((hw - limit as i64).max(0))
            }
        };
        Ok((partition, from, limit, format))
    })();
    let (partition, from, limit, format) = match parsed {
        Ok(p) => p,
        Err(e) => {
            page.error = e;
            let mut response = render(&page);
            *response.status_mut() = StatusCode::BAD_REQUEST;
            return response;
        }
    };
    page.partition = partition;
    page.limit = limit;
    page.format = format.name();
    page.formats = ["text", "json", "hex", "base64"].into_iter().map(|f| (f, f == format.name())).collect();
    match cluster.read_records(&name, partition, from, limit) {
        Ok(records) => {
            page.records = records
                .iter()
                .map(|r| RecordRow {
                    offset: format::thousands(r.offset),
                    timestamp: format::when(r.timestamp, page.layout.now_ms),
                    key: messages::show(r.key.as_deref(), format),
                    value: messages::show(r.value.as_deref(), format),
                    headers: r
                        .headers
                        .iter()
                        .map(|(k, v)| (k.to_string(), messages::show(v.as_deref(), Format::Text).text))
                        .collect(),
                })
                .collect();
            if page.records.is_empty() {
                page.error = "No records there (yet).".into();
            }
        }
        Err(e) => page.error = e.message,
    }
    render(&page)
}
