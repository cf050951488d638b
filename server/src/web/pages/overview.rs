//! `/`: cluster health in one screen: brokers and the controller, topics and partitions,
//! under-replicated and offline partitions, groups by status, rates, the worst groups, the
//! database size. The live part refreshes through `/partials/overview`.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::{brokers, page_view, render, ClusterQuery, Layout};
use crate::evaluator::GroupState;
use crate::monitor::snapshot::Problem;
use crate::monitor::ClusterView;
use crate::web::{format, AppState, WebError};

pub struct GroupRow {
    pub group: String,
    pub href: String,
    pub status: &'static str,
    pub total_lag: String,
    pub lag_seconds: String,
    pub diagnosis: String,
}

pub struct OverviewData {
    pub reachable: bool,
    pub error: String,
    pub sampled: format::When,
    pub sampled_ever: bool,
    pub controller: i32,
    pub brokers_up: usize,
    pub brokers: Vec<brokers::BrokerRow>,
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
    /// What the last sample could not read.
    pub problems: Vec<Problem>,
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

async fn gather(state: &AppState, layout: &Layout, view: &ClusterView) -> OverviewData {
    let brokers = brokers::rows(view);
    let brokers_up = brokers.iter().filter(|b| b.up).count();
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
        reachable: view.reachable,
        error: view.error.clone().unwrap_or_default(),
        sampled: format::when(view.ts_ms, layout.now_ms),
        sampled_ever: view.ts_ms > 0,
        controller: view.controller_id,
        brokers_up,
        brokers,
        topics: format::thousands(view.topics.len() as i64),
        partitions: format::thousands(view.partitions.len() as i64),
        under_replicated: view.under_replicated(),
        offline: view.offline(),
        problems: view.problems.clone(),
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
    Query(q): Query<ClusterQuery>,
) -> Result<Response, WebError> {
    let (layout, view) = page_view(&state, &headers, "Overview", q.cluster.as_deref())?;
    let data = gather(&state, &layout, &view).await;
    Ok(render(&OverviewPage { layout, data }))
}

pub async fn partial_overview(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ClusterQuery>,
) -> Result<Response, WebError> {
    let (layout, view) = page_view(&state, &headers, "Overview", q.cluster.as_deref())?;
    let data = gather(&state, &layout, &view).await;
    Ok(render(&OverviewPartial { layout, data }))
}
