//! The server-rendered pages (`page_<name>`) and their htmx partials (`partial_<name>`). Each
//! handler gathers a view model from the cluster, the monitor's latest view and the store, and
//! renders an askama template (HTML escaping on). Every page works without JavaScript; htmx only
//! refreshes the live parts every few seconds.

mod alerts;
mod brokers;
mod groups;
mod overview;
mod topics;

use std::sync::Arc;

use askama::Template;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};

pub use alerts::page_alerts;
pub use brokers::{page_brokers, partial_brokers};
pub use groups::{page_group, page_groups, partial_group, partial_groups};
pub use overview::{page_overview, partial_overview};
pub use topics::{page_messages, page_topic, page_topics, partial_topic};

use super::error::ErrorPage;
use super::{AppState, WebError};
use crate::monitor::ClusterView;

/// What every page's frame needs: the cluster being shown, the selector, who may change things.
pub struct Layout {
    pub title: String,
    pub cluster: String,
    pub clusters: Vec<String>,
    /// The embedded cluster is shown (broker and topic actions exist only there).
    pub embedded: bool,
    /// The visitor may use mutating actions now.
    pub admin: bool,
    pub read_only: bool,
    /// An admin token is configured (so there is a login).
    pub login: bool,
    pub now_ms: i64,
}

/// A link in a row of choices (filters, ranges), marking the current one.
pub struct Choice {
    pub label: &'static str,
    pub href: String,
    pub current: bool,
}

pub use crate::web::api::ClusterQuery;

impl Layout {
    pub fn new(state: &AppState, headers: &HeaderMap, title: &str, cluster: Option<&str>) -> Layout {
        let clusters: Vec<String> = state.monitor.clusters().iter().map(|c| c.name.clone()).collect();
        let embedded_name = state.cluster.as_ref().map(|c| c.config.name.clone());
        let default = embedded_name.clone().or_else(|| clusters.first().cloned()).unwrap_or_default();
        let cluster = cluster.filter(|c| clusters.iter().any(|n| n == c)).map_or(default, str::to_string);
        let presents = state.admin_token.as_deref().is_none_or(|t| super::auth::headers_present_token(headers, t));
        Layout {
            title: title.to_string(),
            embedded: embedded_name.as_deref() == Some(cluster.as_str()),
            cluster,
            clusters,
            admin: !state.read_only && presents,
            read_only: state.read_only,
            login: state.admin_token.is_some() && !state.read_only,
            now_ms: crate::monitor::now_ms(),
        }
    }

    /// `?cluster=...` to carry the selected cluster through links (empty for the embedded one).
    pub fn query(&self) -> String {
        if self.embedded {
            String::new()
        } else {
            format!("?cluster={}", urlencode(&self.cluster))
        }
    }
}

/// The monitor's view of the cluster a page shows (an empty view before the first tick).
pub fn view_of(state: &AppState, layout: &Layout) -> Arc<ClusterView> {
    state.monitor.cluster(&layout.cluster).unwrap_or_default()
}

/// The frame and the view of `?cluster=NAME` (the default cluster when absent); 404 for a
/// cluster nobody monitors.
pub fn page_view(
    state: &AppState,
    headers: &HeaderMap,
    title: &str,
    cluster: Option<&str>,
) -> Result<(Layout, Arc<ClusterView>), WebError> {
    let view = state.view(cluster)?;
    let layout = Layout::new(state, headers, title, Some(&view.name));
    Ok((layout, view))
}

/// The frame of `?cluster=NAME` for a page that reads only the sampled view (groups, alerts):
/// 404 for a cluster nobody monitors, without reading the embedded cluster's shape.
pub fn frame(state: &AppState, headers: &HeaderMap, title: &str, cluster: Option<&str>) -> Result<Layout, WebError> {
    let view = state.sampled_view(cluster)?;
    Ok(Layout::new(state, headers, title, Some(&view.name)))
}

/// Renders every `WebError` answered outside `/api/v1` as the error page (same status, same
/// message), with the visitor's frame.
pub async fn error_pages(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let headers = request.headers().clone();
    let api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    match response.extensions().get::<ErrorPage>() {
        Some(ErrorPage(e)) if !api => message_page(&state, &headers, e.status, e.heading(), &e.message, &e.back),
        _ => response,
    }
}

/// Percent-encodes a path segment or query value.
pub fn urlencode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for b in text.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Renders a template, or a plain error page (logged, no internals) when rendering fails.
pub fn render(template: &impl Template) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template rendering failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                Html("<h1>Something went wrong</h1><p>The error was logged.</p>".to_string()),
            )
                .into_response()
        }
    }
}

#[derive(Template)]
#[template(path = "pages/message.html")]
pub struct MessagePage {
    pub layout: Layout,
    pub heading: String,
    pub message: String,
    pub back: String,
}

/// A readable error (or notice) page with a way back, for form actions and missing things.
pub fn message_page(
    state: &AppState,
    headers: &HeaderMap,
    status: StatusCode,
    heading: &str,
    message: &str,
    back: &str,
) -> Response {
    let page = MessagePage {
        layout: Layout::new(state, headers, heading, None),
        heading: heading.to_string(),
        message: message.to_string(),
        back: back.to_string(),
    };
    let mut response = render(&page);
    *response.status_mut() = status;
    response
}
