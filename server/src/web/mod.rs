//! The HTTP surface: health probes, the server-rendered pages and static files.
//!
//! Handlers read state through `AppState`; they never write to the broker except through its
//! public operations, and every page escapes what it shows (askama's HTML escaping is on).

pub mod api;
pub mod auth;
mod burrow;
mod groups;
mod pages;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;

/// Everything a handler may need.
#[derive(Clone)]
pub struct AppState {
    pub cluster: Arc<broker_core::Cluster>,
    pub ready: Arc<AtomicBool>,
    /// `--read-only`: every mutating action is refused.
    pub read_only: bool,
    /// `--admin-token`: mutating actions need it.
    pub admin_token: Option<String>,
    pub monitor: Arc<crate::monitor::Monitor>,
    pub store: crate::store::Store,
    /// This machine's host name, for Burrow's `request.host`.
    pub hostname: String,
    pub sample_interval_s: u64,
}

impl AppState {
    /// The bootstrap servers of a monitored cluster (the embedded brokers for the embedded one).
    pub fn cluster_servers(&self, name: &str) -> Vec<String> {
        if name == self.cluster.config.name {
            return self.cluster.brokers().iter().map(|b| b.addr.to_string()).collect();
        }
        Vec::new()
    }
}

pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/cluster", get(api::get_cluster))
        .route("/topics", get(api::get_topics).post(api::create_topic))
        .route("/topics/{topic}", get(api::get_topic).delete(api::delete_topic))
        .route("/brokers/{id}/stop", post(api::stop_broker))
        .route("/brokers/{id}/start", post(api::start_broker))
        .route("/groups", get(groups::list_groups))
        .route("/groups/{group}", get(groups::get_group))
        .route("/groups/{group}/history", get(groups::group_history))
        .route("/groups/{group}/reset-offsets", post(groups::reset_offsets))
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
    Router::new()
        .route("/", get(pages::page_overview))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/static/warren.css", get(stylesheet))
        .nest("/api/v1", api)
        .nest("/v3", burrow)
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::guard_mutations))
        .with_state(state)
}

async fn readyz(axum::extract::State(state): axum::extract::State<AppState>) -> Response {
    if state.ready.load(Ordering::Acquire) {
        (StatusCode::OK, "ready\n").into_response()
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "starting\n").into_response()
    }
}

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("../../../static/warren.css")).into_response()
}

/// A page handler's error: logged, shown as a plain message, never with internals.
pub struct AppError(anyhow::Error);

impl<E: Into<anyhow::Error>> From<E> for AppError {
    fn from(e: E) -> Self {
        AppError(e.into())
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        tracing::error!(error = %self.0, "request failed");
        (StatusCode::INTERNAL_SERVER_ERROR, Html("<h1>Something went wrong</h1><p>The error was logged.</p>"))
            .into_response()
    }
}
