//! `/topics` and `/topics/{topic}`: partitions, replication, sizes and rates, the leader/follower
//! layout (partitions x brokers), and the message browser (`/topics/{topic}/messages`). The
//! forms post to `web::actions`.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Deserialize;

use super::{page_view, render, urlencode, ClusterQuery, Layout};
use crate::kafka::{ConsumedRecord, OffsetSpec};
use crate::monitor::snapshot::ReplicaRole;
use crate::monitor::ClusterView;
use crate::web::messages::{self, Format};
use crate::web::{charts, format, AppState, WebError};

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

pub async fn page_topics(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TopicsQuery>,
) -> Result<Response, WebError> {
    let (layout, view) = page_view(&state, &headers, "Topics", q.cluster.as_deref())?;
    let show_internal = q.internal.as_deref() == Some("1");
    let topics = crate::web::api::topic_summaries(&view)
        .into_iter()
        .filter(|t| show_internal || !t.internal)
        .map(|t| TopicRow {
            href: format!("/topics/{}{}", urlencode(&t.name), layout.query()),
            internal: t.internal,
            partitions: format::thousands(t.partitions as i64),
            replication_factor: t.replication_factor,
            under_replicated: t.under_replicated,
            offline: t.offline,
            size: t.size_bytes.map_or_else(|| "–".into(), format::bytes),
            rate: format::rate(t.produce_rate),
            name: t.name,
        })
        .collect();
    Ok(render(&TopicsPage { layout, topics, show_internal }))
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

/// A partition that was under-replicated or offline in the period shown.
pub struct TimelineRow {
    pub partition: i32,
    pub svg: String,
    pub under_replicated: String,
    pub offline: String,
}

#[derive(Template)]
#[template(path = "pages/topic.html")]
pub struct TopicPage {
    pub layout: Layout,
    pub data: TopicData,
    pub partition_count: usize,
    /// `None` when the history could not be read.
    pub timeline: Option<Vec<TimelineRow>>,
    /// The topic's configs: every effective one for the embedded cluster, the overrides
    /// the source tells for an external one.
    pub settings: Vec<SettingRow>,
}

/// One config of a topic.
pub struct SettingRow {
    pub name: String,
    pub value: String,
    /// Set on this topic (not a default).
    pub overridden: bool,
}

/// The period the topic page's replication timeline covers.
const TIMELINE_MS: i64 = 24 * 3_600_000;

/// Each partition's under-replicated and offline spans over the last 24 h, from the stored
/// changes; only partitions that had any.
async fn timeline(state: &AppState, cluster: &str, topic: &str, now_ms: i64) -> Option<Vec<TimelineRow>> {
    let since = now_ms - TIMELINE_MS;
    let history = match state.store.replication_history(cluster, topic, since).await {
        Ok(history) => history,
        Err(e) => {
            tracing::warn!(error = %e, cluster, topic, "cannot read the replication history");
            return None;
        }
    };
    let mut rows = Vec::new();
    for samples in history.chunk_by(|a, b| a.partition == b.partition) {
        let mut spans = Vec::new();
        let (mut under, mut offline) = (0, 0);
        for (i, s) in samples.iter().enumerate() {
            let (start, end) = (s.ts_ms.max(since), samples.get(i + 1).map_or(now_ms, |n| n.ts_ms));
            if s.offline() {
                spans.push((start, end, "offline"));
                offline += end - start;
            } else if s.under_replicated() {
                spans.push((start, end, "under"));
                under += end - start;
            }
        }
        if !spans.is_empty() {
            rows.push(TimelineRow {
                partition: samples[0].partition,
                svg: charts::strip(&spans, since, now_ms, 480, 14),
                under_replicated: crate::time::duration(under as f64 / 1000.0),
                offline: crate::time::duration(offline as f64 / 1000.0),
            });
        }
    }
    Some(rows)
}

#[derive(Template)]
#[template(path = "partials/topic_partial.html")]
pub struct TopicPartial {
    pub layout: Layout,
    pub data: TopicData,
}

fn topic_data(view: &ClusterView, name: &str) -> Option<TopicData> {
    let topic = view.topics.get(name)?;
    let brokers: Vec<i32> = view.brokers.iter().map(|b| b.id).collect();
    let join = |v: &[i32]| v.iter().map(i32::to_string).collect::<Vec<_>>().join(", ");
    let partitions = view
        .topic_partitions(name)
        .iter()
        .map(|p| PartitionRow {
            partition: p.partition,
            first: p.offsets.map_or("–".into(), |o| format::thousands(o.log_start_offset)),
            last: p.offsets.map_or("–".into(), |o| format::thousands(o.high_watermark)),
            size: p.size_bytes.map_or("–".into(), format::bytes),
            leader: p.leader,
            replicas: join(&p.replicas),
            isr: join(&p.isr),
            offline: join(&p.offline_replicas),
            preferred: p.leader_is_preferred(),
            under_replicated: p.under_replicated(),
            rate: format::rate(p.produce_rate),
            layout: brokers
                .iter()
                .map(|b| match p.role_of(*b) {
                    None => ("", ""),
                    Some(ReplicaRole::Offline) => ("offline", "offline"),
                    Some(ReplicaRole::Leader) => ("leader", "leader"),
                    Some(ReplicaRole::InSync) => ("insync", "in sync"),
                    Some(ReplicaRole::Behind) => ("outofsync", "behind"),
                })
                .collect(),
        })
        .collect();
    Some(TopicData {
        name: name.to_string(),
        internal: topic.internal,
        config: topic.config.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        brokers,
        partitions,
    })
}

fn no_such_topic(name: &str, layout: &Layout) -> WebError {
    WebError::not_found(format!("Topic '{name}' does not exist in cluster '{}'.", layout.cluster))
        .back(format!("/topics{}", layout.query()))
}

pub async fn page_topic(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<ClusterQuery>,
) -> Result<Response, WebError> {
    let (layout, view) = page_view(&state, &headers, &name, q.cluster.as_deref())?;
    let data = topic_data(&view, &name).ok_or_else(|| no_such_topic(&name, &layout))?;
    let timeline = timeline(&state, &view.name, &name, layout.now_ms).await;
    let embedded = state.cluster.as_ref().filter(|c| c.config.name == view.name);
    let settings = match embedded.and_then(|c| c.topic_settings(&name)) {
        Some(settings) => settings
            .into_iter()
            .map(|(s, overridden)| SettingRow { name: s.name.to_string(), value: s.value, overridden })
            .collect(),
        None => data
            .config
            .iter()
            .map(|(k, v)| SettingRow { name: k.clone(), value: v.clone(), overridden: true })
            .collect(),
    };
    Ok(render(&TopicPage { partition_count: data.partitions.len(), layout, data, timeline, settings }))
}

pub async fn partial_topic(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<ClusterQuery>,
) -> Result<Response, WebError> {
    let (layout, view) = page_view(&state, &headers, &name, q.cluster.as_deref())?;
    let data = topic_data(&view, &name).ok_or_else(|| no_such_topic(&name, &layout))?;
    Ok(render(&TopicPartial { data, layout }))
}

#[derive(Deserialize, Default)]
pub struct MessagesQuery {
    pub cluster: Option<String>,
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

/// Where the message browser starts reading.
#[derive(Debug, Clone, Copy)]
enum Start {
    Offset(i64),
    /// The first record at or after this time (Unix ms).
    Timestamp(i64),
}

pub async fn page_messages(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(name): Path<String>,
    Query(q): Query<MessagesQuery>,
) -> Result<Response, WebError> {
    let (layout, view) = page_view(&state, &headers, &format!("{name} messages"), q.cluster.as_deref())?;
    let partitions = match view.topics.get(&name) {
        Some(topic) => topic.partitions,
        None => return Err(no_such_topic(&name, &layout)),
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
    let parsed = (|| -> Result<(i32, Start, usize, Format), String> {
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
            (Some(ts), _) => Start::Timestamp(crate::time::parse_iso8601_ms(ts)?),
            (None, Some(offset)) => Start::Offset(offset),
            // By default the newest records.
            (None, None) => {
                let hw = view.partition(&name, partition).and_then(|p| p.high_watermark()).unwrap_or(0);
                Start::Offset((hw - limit as i64).max(0))
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
            return Ok(response);
        }
    };
    page.partition = partition;
    page.limit = limit;
    page.format = format.name();
    page.formats = ["text", "json", "hex", "base64"].into_iter().map(|f| (f, f == format.name())).collect();
    match read_records(&state, &view.name, &name, partition, from, limit).await {
        Ok(records) => {
            page.records = records
                .iter()
                .map(|r| RecordRow {
                    offset: format::thousands(r.offset),
                    timestamp: format::when(r.timestamp_ms, page.layout.now_ms),
                    key: messages::show(r.key.as_deref(), format),
                    value: messages::show(r.value.as_deref(), format),
                    headers: r
                        .headers
                        .iter()
                        .map(|(k, v)| (k.clone(), messages::show(v.as_deref(), Format::Text).text))
                        .collect(),
                })
                .collect();
            if page.records.is_empty() {
                page.error = "No records there (yet).".into();
            }
        }
        Err(e) => page.error = e,
    }
    Ok(render(&page))
}

/// Fetch rounds for one page of an external cluster's records.
const FETCH_ROUNDS: usize = 8;

/// Up to `limit` records of a partition from the embedded log, or over the protocol from an
/// external cluster (read-only either way).
async fn read_records(
    state: &AppState,
    cluster: &str,
    topic: &str,
    partition: i32,
    from: Start,
    limit: usize,
) -> Result<Vec<ConsumedRecord>, String> {
    if let Some(embedded) = state.cluster.as_ref().filter(|c| c.config.name == cluster) {
        let from = match from {
            Start::Offset(o) => broker_core::RecordPosition::Offset(o),
            Start::Timestamp(ts) => broker_core::RecordPosition::Timestamp(ts),
        };
        let records = embedded.read_records(topic, partition, from, limit).map_err(|e| e.message)?;
        return Ok(records
            .into_iter()
            .map(|r| ConsumedRecord {
                offset: r.offset,
                timestamp_ms: r.timestamp,
                log_append_time: false,
                key: r.key,
                value: r.value,
                headers: r.headers.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
            })
            .collect());
    }
    let client = state.clients.get(cluster).ok_or_else(|| format!("cluster '{cluster}' cannot be read here"))?;
    let key = (topic.to_string(), partition);
    let mut offset = match from {
        Start::Offset(o) => o,
        Start::Timestamp(ts) => {
            let mut found = client.list_offsets(std::slice::from_ref(&key), OffsetSpec::Timestamp(ts)).await;
            found
                .remove(&key)
                .unwrap_or_else(|| Err(crate::kafka::Error::Invalid("no answer".into())))
                .map_err(|e| e.to_string())?
        }
    };
    let mut out = Vec::new();
    for _ in 0..FETCH_ROUNDS {
        let positions = std::collections::BTreeMap::from([(key.clone(), offset)]);
        let mut fetched = client.fetch(&positions, std::time::Duration::ZERO, FETCH_BYTES).await;
        let part = fetched.remove(&key).unwrap_or_else(|| Err(crate::kafka::Error::Invalid("no answer".into())));
        let part = part.map_err(|e| e.to_string())?;
        if part.error_code != 0 {
            return Err(crate::kafka::error::code_name(part.error_code));
        }
        out.extend(part.records.into_iter().filter(|r| r.offset >= offset).take(limit - out.len()));
        if out.len() >= limit || part.next_offset <= offset || part.next_offset >= part.high_watermark {
            break;
        }
        offset = part.next_offset;
    }
    Ok(out)
}

/// Bytes asked per Fetch round.
const FETCH_BYTES: i32 = 1 << 20;
