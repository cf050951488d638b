//! `/`: cluster health in one screen: brokers and the controller, topics and partitions,
//! under-replicated and offline partitions, groups by status, rates, the worst groups, the
//! database size. The live part refreshes through `/partials/overview`.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::{render, view_of, ClusterParam, Layout};
use crate::evaluator::GroupState;
use crate::web::api::{cluster_json, topic_summaries};
use crate::web::format;
use crate::web::AppState;

pub struct BrokerRow {
    pub id: i32,
    pub address: String,
    pub up: bool,
    pub leaders: String,
    pub replicas: String,
}

pub struct GroupRow {
    pub group: String,
    pub href: String,
    pub status: &'static str,
    pub total_lag: String,
    pub lag_seconds: String,
    pub diagnosis: String,
}

pub struct OverviewData {
    pub embedded: bool,
    pub reachable: bool,
    pub error: String,
    pub sampled: format::When,
    pub sampled_ever: bool,
    pub controller: i32,
    pub brokers_up: usize,
    pub brokers: Vec<BrokerRow>,
    pub topics: String,
    pub partitions: String,
    pub under_replicated: usize,
    pub offline: usize,
    pub groups_ok: usize,
    pub groups_warn: usize,
    pub groups_err: usize,
    pub groups_notfound: usize,
    pub produce_rate: String,
    pub consume_rate: String,
    pub worst: Vec<GroupRow>,
    pub database: String,
    pub tick_ms: String,
    /// Security protocol and SASL mechanism, never credentials.
    pub security: String,
}

#[derive(Template)]
#[template(path = "pages/overview.html")]
pub struct OverviewPage {
    pub layout: Layout,
    pub data: OverviewData,
}

#[derive(Template)]
#[template(path = "partials/overview_partial.html")]
pub struct OverviewPartial {
    pub layout: Layout,
    pub data: OverviewData,
}

async fn gather(state: &AppState, layout: &Layout) -> OverviewData {
    let view = view_of(state, layout);
    let (mut brokers, mut controller, mut brokers_up) = (Vec::new(), -1, 0);
    let (mut under_replicated, mut offline) = (0, 0);
    let (topics, partitions);
    if let (true, Some(embedded)) = (layout.embedded, &state.cluster) {
        let cluster = cluster_json(embedded);
        controller = cluster.controller_id;
        brokers_up = cluster.brokers.iter().filter(|b| b.status == "up").count();
        brokers = cluster
            .brokers
            .iter()
            .map(|b| BrokerRow {
                id: b.id,
                address: format!("{}:{}", b.host, b.port),
                up: b.status == "up",
                leaders: format::thousands(b.leader_count as i64),
                replicas: format::thousands(b.replica_count as i64),
            })
            .collect();
        let summaries = topic_summaries(embedded);
        under_replicated = summaries.iter().map(|t| t.under_replicated).sum();
        offline = summaries.iter().map(|t| t.offline).sum();
        topics = summaries.len();
        partitions = summaries.iter().map(|t| t.partitions).sum::<usize>();
    } else {
        topics = view.topics.len();
        partitions = view.topics.values().map(|n| *n as usize).sum();
    }
    let count = |s: GroupState| view.groups.values().filter(|g| g.status == s).count();
    let mut worst: Vec<_> = view.groups.values().filter(|g| g.status > GroupState::Ok).collect();
    worst.sort_by(|a, b| b.status.cmp(&a.status).then(b.total_lag.cmp(&a.total_lag)));
    let worst = worst
        .into_iter()
        .take(8)
        .map(|g| GroupRow {
            group: g.group.clone(),
            href: format!("/groups/{}{}", super::urlencode(&g.group), layout.query()),
            status: g.status.as_str(),
            total_lag: format::thousands(g.total_lag),
            lag_seconds: format::lag_seconds(g.max_lag_seconds),
            diagnosis: g.diagnosis.clone().unwrap_or_default(),
        })
        .collect();
    let database = match state.store.size_bytes().await {
        Ok(bytes) => format::bytes(bytes),
        Err(e) => {
            tracing::warn!(error = %e, "cannot read the database size");
            "unknown".into()
        }
    };
    let (protocol, mechanism) = state.security_of(&layout.cluster);
    let security = match mechanism {
        Some(m) => format!("{} · {m}", protocol.name()),
        None => protocol.name().to_string(),
    };
    OverviewData {
        security,
        embedded: layout.embedded,
        reachable: view.reachable,
        error: view.error.clone().unwrap_or_default(),
        sampled: format::when(view.ts_ms, layout.now_ms),
        sampled_ever: view.ts_ms > 0,
        controller,
        brokers_up,
        brokers,
        topics: format::thousands(topics as i64),
        partitions: format::thousands(partitions as i64),
        under_replicated,
        offline,
        groups_ok: count(GroupState::Ok),
        groups_warn: count(GroupState::Warn),
        groups_err: count(GroupState::Err),
        groups_notfound: count(GroupState::NotFound),
        produce_rate: format::rate(view.produce_rate),
        consume_rate: format::rate(view.consume_rate),
        worst,
        database,
        tick_ms: format!("{:.0} ms", view.tick_ms),
    }
}

pub async fn page_overview(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ClusterParam>,
) -> Response {
    let layout = Layout::new(&state, &headers, "Overview", q.cluster.as_deref());
    let data = gather(&state, &layout).await;
    render(&OverviewPage { layout, data })
}

pub async fn partial_overview(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ClusterParam>,
) -> Response {
    let layout = Layout::new(&state, &headers, "Overview", q.cluster.as_deref());
    let data = gather(&state, &layout).await;
    render(&OverviewPartial { layout, data })
}
