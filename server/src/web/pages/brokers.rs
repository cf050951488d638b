//! `/brokers`: every broker of the shown cluster with its address, state, leaders, replicas and
//! bytes on disk (where the source tells), from the monitor's view; for admins of the embedded
//! cluster, the stop and start buttons of a failover drill.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;

use super::{page_view, render, ClusterQuery, Layout};
use crate::monitor::ClusterView;
use crate::web::{format, AppState, WebError};

pub struct BrokerRow {
    pub id: i32,
    pub address: String,
    pub rack: String,
    pub up: bool,
    pub controller: bool,
    pub leaders: String,
    pub replicas: String,
    pub bytes: String,
}

#[derive(Template)]
#[template(path = "pages/brokers.html")]
pub struct BrokersPage {
    pub layout: Layout,
    pub brokers: Vec<BrokerRow>,
}

#[derive(Template)]
#[template(path = "partials/brokers_partial.html")]
pub struct BrokersPartial {
    pub layout: Layout,
    pub brokers: Vec<BrokerRow>,
}

pub fn rows(view: &ClusterView) -> Vec<BrokerRow> {
    let counts = &view.summary.per_broker;
    view.brokers
        .iter()
        .map(|b| {
            let (leaders, replicas) = counts.get(&b.id).copied().unwrap_or_default();
            BrokerRow {
                id: b.id,
                address: if b.host.is_empty() { "–".into() } else { format!("{}:{}", b.host, b.port) },
                rack: b.rack.clone().unwrap_or_default(),
                up: b.up,
                controller: b.id == view.controller_id,
                leaders: format::thousands(leaders as i64),
                replicas: format::thousands(replicas as i64),
                bytes: b.size_bytes.map_or_else(|| "–".into(), format::bytes),
            }
        })
        .collect()
}

pub async fn page_brokers(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ClusterQuery>,
) -> Result<Response, WebError> {
    let (layout, view) = page_view(&state, &headers, "Brokers", q.cluster.as_deref())?;
    Ok(render(&BrokersPage { brokers: rows(&view), layout }))
}

pub async fn partial_brokers(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ClusterQuery>,
) -> Result<Response, WebError> {
    let (layout, view) = page_view(&state, &headers, "Brokers", q.cluster.as_deref())?;
    Ok(render(&BrokersPartial { brokers: rows(&view), layout }))
}
