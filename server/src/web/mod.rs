//! The HTTP surface: health probes, the server-rendered pages and their htmx partials, the form
//! actions, the JSON API, Burrow's v3 API and static files.
//!
//! Handlers read state through `AppState`; they never write to the broker except through its
//! public operations, and every page escapes what it shows (askama's HTML escaping is on). Every
//! request that is not GET or HEAD passes `auth::guard_mutations` first.

mod actions;
pub mod api;
pub mod auth;
mod burrow;
mod charts;
mod connectors;
pub mod error;
mod format;
mod groups;
mod messages;
pub(crate) mod pages;
pub(crate) mod security;
mod streams;
#[cfg(test)]
mod tests;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

use crate::monitor::ClusterView;
pub use error::WebError;

/// Everything a handler may need.
#[derive(Clone)]
pub struct AppState {
    /// The embedded cluster; `None` when warren runs as a pure monitor (`[cluster] embedded = false`).
    pub cluster: Option<Arc<broker_core::Cluster>>,
    pub ready: Arc<AtomicBool>,
    /// `--read-only`: every mutating action is refused.
    pub read_only: bool,
    /// `--admin-token`: mutating actions need it.
    pub admin_token: Option<String>,
    pub monitor: Arc<crate::monitor::Monitor>,
    pub store: crate::store::Store,
    pub alerts_config: Arc<crate::config::AlertsSection>,
    pub alerts: Arc<crate::alerts::Alerts>,
    /// `[[clusters]]`: external clusters and their bootstrap servers.
    pub external: Arc<Vec<crate::config::ExternalCluster>>,
    pub metrics: crate::metrics::MetricsConfig,
    /// Protocol clients of the external clusters, by name (the message browser reads with them).
    pub clients: Arc<std::collections::BTreeMap<String, crate::kafka::Client>>,
    /// This machine's host name, for Burrow's `request.host`.
    pub hostname: String,
    pub sample_interval_s: u64,
    /// `[http] allowed_hosts`: the Host header names this server answers to.
    pub allowed_hosts: Arc<Vec<String>>,
    /// The `[[streams]]` jobs.
    pub streams: Arc<crate::streams::Streams>,
    /// The Kafka Connect worker (None when it is off).
    pub connect: Option<Arc<crate::connect::worker::Worker>>,
}

impl AppState {
    /// A cluster's security protocol and SASL mechanism(s), as the dashboard and the API show
    /// them: never credentials.
    pub fn security_of(&self, name: &str) -> (broker_core::security::Protocol, Option<String>) {
        use broker_core::security::Protocol;
        match &self.cluster {
            Some(cluster) if cluster.config.name == name => {
                (cluster.config.security.protocol, cluster.config.security.mechanism_names())
            }
            _ => match self.external.iter().find(|c| c.name == name) {
                Some(c) => {
                    // `config::resolve` checked the name.
                    let protocol = c.security_protocol.as_deref().and_then(Protocol::parse).unwrap_or_default();
                    (protocol, c.sasl_mechanism.clone().filter(|_| protocol.uses_sasl()))
                }
                None => (Protocol::Plaintext, None),
            },
        }
    }

    /// The bootstrap servers of a monitored cluster (the embedded brokers for the embedded one).
    pub fn cluster_servers(&self, name: &str) -> Vec<String> {
        match &self.cluster {
            Some(cluster) if cluster.config.name == name => {
                cluster.brokers().iter().map(|b| b.addr.to_string()).collect()
            }
            _ => self.external.iter().find(|c| c.name == name).map(|c| c.bootstrap_servers.clone()).unwrap_or_default(),
        }
    }

    /// The cluster shown when none is named: the embedded one, else the first `[[clusters]]`.
    pub fn default_cluster(&self) -> String {
        match (&self.cluster, self.external.first()) {
            (Some(cluster), _) => cluster.config.name.clone(),
            (None, Some(first)) => first.name.clone(),
            (None, None) => String::new(),
        }
    }

    /// The monitor's view of `?cluster=NAME` (the default cluster when absent); 404 for a name
    /// nobody monitors. The embedded cluster's view shows its shape as it is now (an action's
    /// effect shows at once) with the last tick's groups and rates; `/metrics` and alerts keep to
    /// the tick.
    pub fn view(&self, cluster: Option<&str>) -> Result<Arc<ClusterView>, WebError> {
        let view = self.sampled_view(cluster)?;
        match self.cluster.as_ref().filter(|c| c.config.name == view.name) {
            Some(embedded) => Ok(Arc::new(view.with_shape(crate::monitor::snapshot::embedded_shape(embedded)))),
            None => Ok(view),
        }
    }

    /// The monitor's view of `?cluster=NAME` as the last tick left it (404 for an unknown name).
    pub fn sampled_view(&self, cluster: Option<&str>) -> Result<Arc<ClusterView>, WebError> {
        let name = cluster.map_or_else(|| self.default_cluster(), str::to_string);
        self.monitor.cluster(&name).ok_or_else(|| WebError::not_found(format!("no monitored cluster named '{name}'")))
    }

    /// The embedded cluster, for an action on `?cluster=NAME` (the default cluster when absent):
    /// 409 naming the reason for an external cluster, 404 for an unknown one or when warren runs
    /// without an embedded cluster.
    pub fn managed(&self, cluster: Option<&str>) -> Result<&Arc<broker_core::Cluster>, WebError> {
        let name = cluster.map_or_else(|| self.default_cluster(), str::to_string);
        match &self.cluster {
            Some(embedded) if embedded.config.name == name => Ok(embedded),
            _ if self.external.iter().any(|c| c.name == name) => Err(WebError::conflict(format!(
                "cluster '{name}' is an external cluster: warren monitors it but manages only its embedded cluster"
            ))),
            None if cluster.is_none() => {
                Err(WebError::not_found("warren runs without an embedded cluster ([cluster] embedded = false)"))
            }
            _ => Err(WebError::not_found(format!("no monitored cluster named '{name}'"))),
        }
    }

    /// `name`'s view after a tick taken now (after an offset reset, whose effect on group lag
    /// only a tick shows).
    pub async fn refreshed(&self, name: &str) -> Arc<ClusterView> {
        self.monitor.refresh(name, REFRESH_WAIT).await;
        self.monitor.cluster(name).unwrap_or_default()
    }
}

/// How long an offset reset waits for the tick that shows its effect.
const REFRESH_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/cluster", get(api::get_cluster))
        .route("/topics", get(api::get_topics).post(api::create_topic))
        .route("/topics/{topic}", get(api::get_topic).delete(api::delete_topic))
        .route("/topics/{topic}/configs", axum::routing::patch(api::alter_topic_config))
        .route("/brokers/{id}/stop", post(api::stop_broker))
        .route("/brokers/{id}/start", post(api::start_broker))
        .route("/brokers/{id}/pause-replication", post(api::pause_replication))
        .route("/brokers/{id}/resume-replication", post(api::resume_replication))
        .route("/groups", get(groups::list_groups))
        .route("/groups/{group}", get(groups::get_group))
        .route("/groups/{group}/history", get(groups::group_history))
        .route("/groups/{group}/reset-offsets", post(groups::reset_offsets))
        .route("/streams", get(streams::api_list))
        .route("/streams/{name}", get(streams::api_get))
        .route("/streams/{name}/{action}", post(streams::api_action))
        .route("/alerts", get(api::get_alerts))
        .route("/alerts/silences", get(api::get_silences).post(api::create_silence))
        .route("/alerts/silences/{id}", axum::routing::delete(api::delete_silence))
        .fallback(api::not_found);
    let burrow = Router::new()
        .route("/kafka", get(burrow::clusters))
        .route("/kafka/{cluster}", get(burrow::cluster_detail))
        .route("/kafka/{cluster}/topic", get(burrow::topics))
        .route("/kafka/{cluster}/topic/{topic}", get(burrow::topic_detail))
        .route("/kafka/{cluster}/topic/{topic}/consumers", get(burrow::topic_consumers))
        .route("/kafka/{cluster}/consumer", get(burrow::consumers))
        .route("/kafka/{cluster}/consumer/{group}", get(burrow::consumer_detail))
        .route("/kafka/{cluster}/consumer/{group}/status", get(burrow::consumer_status_route))
        .route("/kafka/{cluster}/consumer/{group}/lag", get(burrow::consumer_lag_route))
        .fallback(burrow::invalid);
    let mut app = Router::<AppState>::new();
    if let Some(worker) = &state.connect {
        app = app.nest_service(
            "/connect",
            crate::connect::rest::router(crate::connect::rest::RestState {
                worker: Arc::clone(worker),
                read_only: state.read_only,
                admin_token: state.admin_token.clone(),
                allowed_hosts: Arc::clone(&state.allowed_hosts),
            }),
        );
    }
    app.route("/", get(pages::page_overview))
        .route("/brokers", get(pages::page_brokers))
        .route("/brokers/{id}/stop", post(actions::stop_broker))
        .route("/brokers/{id}/start", post(actions::start_broker))
        .route("/topics", get(pages::page_topics).post(actions::create_topic))
        .route("/topics/{topic}", get(pages::page_topic))
        .route("/topics/{topic}/partitions", post(actions::add_partitions))
        .route("/topics/{topic}/configs", post(actions::alter_config))
        .route("/topics/{topic}/delete", post(actions::delete_topic))
        .route("/topics/{topic}/messages", get(pages::page_messages).post(actions::produce))
        .route("/groups", get(pages::page_groups))
        .route("/groups/{group}", get(pages::page_group))
        .route("/groups/{group}/reset-offsets", post(actions::reset_offsets))
        .route("/streams", get(streams::page_streams))
        .route("/streams/{name}", get(streams::page_stream))
        .route("/streams/{name}/{action}", post(streams::form_action))
        .route("/partials/streams/{name}", get(streams::partial_stream))
        .route("/connectors", get(connectors::page_connectors))
        .route("/connectors/{name}", get(connectors::page_connector))
        .route("/connectors/{name}/{action}", post(connectors::form_action))
        .route("/partials/connectors/{name}", get(connectors::partial_connector))
        .route("/alerts", get(pages::page_alerts))
        .route("/alerts/silences", post(actions::create_silence))
        .route("/alerts/silences/{id}/delete", post(actions::delete_silence))
        .route("/login", get(actions::page_login).post(actions::login))
        .route("/logout", post(actions::logout))
        .route("/partials/overview", get(pages::partial_overview))
        .route("/partials/brokers", get(pages::partial_brokers))
        .route("/partials/topics/{topic}", get(pages::partial_topic))
        .route("/partials/groups", get(pages::partial_groups))
        .route("/partials/groups/{group}", get(pages::partial_group))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/static/warren.css", get(stylesheet))
        .route("/static/htmx-2.0.4.min.js", get(htmx))
        .nest("/api/v1", api)
        .nest("/v3", burrow)
        .fallback(not_found_page)
        .layer(axum::middleware::from_fn_with_state(state.clone(), pages::error_pages))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::guard_mutations))
        .layer(axum::middleware::from_fn_with_state(state.clone(), security::guard_hosts_and_headers))
        .with_state(state)
}

async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    if !state.ready.load(Ordering::Acquire) {
        return (StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response();
    }
    let failing = state.cluster.as_ref().map(|c| c.storage_errors()).unwrap_or_default();
    if let Some((broker, error)) = failing.first() {
        let body = format!("broker {broker} cannot flush its logs: {error}\n");
        return (StatusCode::SERVICE_UNAVAILABLE, body).into_response();
    }
    (StatusCode::OK, "ready\n").into_response()
}

const CACHE: &str = "public, max-age=3600";

async fn stylesheet() -> Response {
    (
        [(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, CACHE)],
        include_str!("../../../static/warren.css"),
    )
        .into_response()
}

/// htmx, vendored and pinned (2.0.4, BSD Zero Clause; `static/htmx-LICENSE`).
async fn htmx() -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        include_str!("../../../static/htmx-2.0.4.min.js"),
    )
        .into_response()
}

async fn not_found_page(
    axum::extract::State(state): axum::extract::State<AppState>,
    headers: axum::http::HeaderMap,
) -> Response {
    pages::message_page(&state, &headers, StatusCode::NOT_FOUND, "Not found", "There is no page here.", "/")
}

/// Prometheus' text format (version 0.0.4).
async fn metrics(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    let views = state.monitor.clusters();
    let database_bytes = state.store.size_bytes().await.ok();
    let sources = crate::metrics::Sources {
        embedded: state.cluster.as_deref(),
        views: &views,
        database_bytes,
        deliveries: crate::alerts::feed::delivery_counts(&state.alerts),
        pending_notifications: state.alerts.pending_notifications().await.ok(),
        streams: state.streams.jobs().iter().map(|j| j.snapshot()).collect(),
        connect: state.connect.as_deref().map(crate::metrics::connect_tasks).unwrap_or_default(),
    };
    let text = crate::metrics::render(&sources, state.metrics);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], text).into_response()
}
