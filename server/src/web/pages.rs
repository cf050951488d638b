//! Page handlers (`page_<name>`): gather a view model, render its askama template.

use askama::Template;
use axum::extract::State;
use axum::response::Html;

use super::{AppError, AppState};

pub struct BrokerRow {
    pub id: i32,
    pub address: String,
    pub status: &'static str,
    pub leaders: usize,
    pub replicas: usize,
}

pub struct TopicRow {
    pub name: String,
    pub partitions: usize,
    pub replication_factor: usize,
}

#[derive(Template)]
#[template(path = "pages/overview.html")]
pub struct OverviewPage {
    pub cluster_name: String,
    pub controller_id: i32,
    pub brokers: Vec<BrokerRow>,
    pub topics: Vec<TopicRow>,
    pub partitions: usize,
}

pub async fn page_overview(State(state): State<AppState>) -> Result<Html<String>, AppError> {
    let cluster = &state.cluster;
    let md = cluster.metadata();
    let all: Vec<_> = md.topics.values().flat_map(|t| t.partitions.iter()).collect();
    let brokers = cluster
        .brokers()
        .iter()
        .map(|b| BrokerRow {
            id: b.id,
            address: b.addr.to_string(),
            status: if b.is_up() { "up" } else { "down" },
            leaders: all.iter().filter(|p| p.leader == b.id).count(),
            replicas: all.iter().filter(|p| p.replicas.contains(&b.id)).count(),
        })
        .collect();
    let topics = md
        .topics
        .values()
        .map(|t| TopicRow {
            name: t.name.clone(),
            partitions: t.partitions.len(),
            replication_factor: t.partitions.first().map_or(0, |p| p.replicas.len()),
        })
        .collect();
    let page = OverviewPage {
        cluster_name: cluster.config.name.clone(),
        controller_id: cluster.controller_id(),
        brokers,
        topics,
        partitions: all.len(),
    };
    Ok(Html(page.render()?))
}
