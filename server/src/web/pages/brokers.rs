//! `/brokers`: every logical broker with its address, state, leaders, replicas and bytes on disk,
//! and (for admins) the stop and start buttons of a failover drill.

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;

use super::{render, Layout};
use crate::web::format;
use crate::web::AppState;

pub struct BrokerRow {
    pub id: i32,
    pub address: String,
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

fn rows(cluster: &broker_core::Cluster) -> Vec<BrokerRow> {
    let md = cluster.metadata();
    let controller = cluster.controller_id();
    cluster
        .brokers()
        .iter()
        .map(|b| {
            let all = md.topics.values().flat_map(|t| t.partitions.iter());
            let (mut leaders, mut replicas) = (0i64, 0i64);
            for p in all {
                leaders += i64::from(p.leader == b.id && b.is_up());
                replicas += i64::from(p.replicas.contains(&b.id));
            }
            let bytes: u64 = b.partitions().iter().map(|p| p.size_bytes()).sum();
            BrokerRow {
                id: b.id,
                address: b.addr.to_string(),
                up: b.is_up(),
                controller: b.id == controller,
                leaders: format::thousands(leaders),
                replicas: format::thousands(replicas),
                bytes: format::bytes(bytes),
            }
        })
        .collect()
}

pub async fn page_brokers(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let cluster = match state.embedded_page(&headers) {
        Ok(c) => c,
        Err(page) => return *page,
    };
    let layout = Layout::new(&state, &headers, "Brokers", None);
    render(&BrokersPage { brokers: rows(cluster), layout })
}

pub async fn partial_brokers(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let cluster = match state.embedded_page(&headers) {
        Ok(c) => c,
        Err(page) => return *page,
    };
    let layout = Layout::new(&state, &headers, "Brokers", None);
    render(&BrokersPartial { brokers: rows(cluster), layout })
}
