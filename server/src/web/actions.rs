//! The dashboard's forms: log in and out, stop and start brokers, create, grow and delete topics,
//! change their configs,
//! produce one record, reset a group's offsets. Every one passes the mutation guard first
//! (`--read-only`, `--admin-token`, same-origin); destructive ones ask for confirmation on a page
//! of their own (no JavaScript needed); errors come back as readable pages, never internals.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Path, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use broker_core::NewTopic;
use serde::Deserialize;

use super::auth::{headers_present_token, ADMIN_COOKIE};
use super::pages::{render, urlencode, Layout};
use super::{AppState, WebError};

type Fields = BTreeMap<String, String>;

fn fields(form: Result<Form<Fields>, FormRejection>) -> Result<Fields, String> {
    form.map(|Form(f)| f).map_err(|e| format!("the form could not be read: {}", e.body_text()))
}

fn bad_form(back: &str, message: impl Into<String>) -> WebError {
    WebError::bad_request(message).back(back)
}

/// The redirect after a form did its work (pages read the embedded cluster's shape at the
/// request, so the change shows there at once).
fn done(to: &str) -> Result<Response, WebError> {
    Ok(Redirect::to(to).into_response())
}

#[derive(Template)]
#[template(path = "pages/confirm.html")]
pub struct ConfirmPage {
    pub layout: Layout,
    pub question: String,
    pub action: String,
    pub fields: Vec<(String, String)>,
    pub back: String,
}

/// `None` when the form carries `confirm=yes`; otherwise the page asking for it.
fn confirmation(
    state: &AppState,
    headers: &HeaderMap,
    form: &Fields,
    question: &str,
    action: &str,
    back: &str,
) -> Option<Response> {
    if form.get("confirm").map(String::as_str) == Some("yes") {
        return None;
    }
    Some(render(&ConfirmPage {
        layout: Layout::new(state, headers, "Please confirm", None),
        question: question.to_string(),
        action: action.to_string(),
        fields: form.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
        back: back.to_string(),
    }))
}

#[derive(Template)]
#[template(path = "pages/login.html")]
pub struct LoginPage {
    pub layout: Layout,
    pub error: String,
}

pub async fn page_login(State(state): State<AppState>, headers: HeaderMap) -> Response {
    render(&LoginPage { layout: Layout::new(&state, &headers, "Log in", None), error: String::new() })
}

#[derive(Deserialize)]
pub struct LoginForm {
    pub token: String,
}

pub async fn login(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: Result<Form<LoginForm>, FormRejection>,
) -> Response {
    let Some(token) = state.admin_token.clone() else {
        return Redirect::to("/").into_response();
    };
    let given = form.map(|Form(f)| f.token).unwrap_or_default();
    let mut probe = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("Bearer {}", given.trim())) {
        probe.insert(header::AUTHORIZATION, v);
    }
    if !headers_present_token(&probe, &token) {
        let mut page = render(&LoginPage {
            layout: Layout::new(&state, &headers, "Log in", None),
            error: "That is not the admin token.".into(),
        });
        *page.status_mut() = StatusCode::UNAUTHORIZED;
        return page;
    }
    let cookie = format!("{ADMIN_COOKIE}={}; HttpOnly; SameSite=Strict; Path=/", super::auth::session_value(&token));
    let mut response = Redirect::to("/").into_response();
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}

pub async fn logout() -> Response {
    let mut response = Redirect::to("/").into_response();
    response.headers_mut().insert(
        header::SET_COOKIE,
        HeaderValue::from_static("warren_admin=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0"),
    );
    response
}

pub async fn stop_broker(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i32>,
    form: Result<Form<Fields>, FormRejection>,
) -> Result<Response, WebError> {
    let form = fields(form).unwrap_or_default();
    let question = format!(
        "Stop broker {id}? Its listener and connections close and the partitions it leads move to in-sync replicas."
    );
    if let Some(page) = confirmation(&state, &headers, &form, &question, &format!("/brokers/{id}/stop"), "/brokers") {
        return Ok(page);
    }
    let cluster = std::sync::Arc::clone(state.managed(None)?);
    let stopping = std::sync::Arc::clone(&cluster);
    tokio::task::spawn_blocking(move || stopping.stop_broker(id))
        .await
        .map_err(|_| WebError::internal("stopping the broker failed").back("/brokers"))?
        .map_err(|e| WebError::from(e).back("/brokers"))?;
    done("/brokers")
}

pub async fn start_broker(State(state): State<AppState>, Path(id): Path<i32>) -> Result<Response, WebError> {
    let cluster = state.managed(None)?;
    broker_core::start_broker(cluster, id).await.map_err(|e| WebError::from(e).back("/brokers"))?;
    done("/brokers")
}

fn parse_configs(text: &str) -> Result<BTreeMap<String, String>, String> {
    text.split([',', '\n'])
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .ok_or_else(|| format!("config '{kv}' is not name=value"))
        })
        .collect()
}

fn optional_number(form: &Fields, name: &str) -> Result<Option<i32>, String> {
    match form.get(name).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| format!("{name} '{v}' is not a whole number")),
    }
}

pub async fn create_topic(
    State(state): State<AppState>,
    form: Result<Form<Fields>, FormRejection>,
) -> Result<Response, WebError> {
    let new = fields(form)
        .and_then(|form| {
            Ok(NewTopic {
                name: form.get("name").map(|n| n.trim().to_string()).unwrap_or_default(),
                partitions: optional_number(&form, "partitions")?,
                replication_factor: optional_number(&form, "replication_factor")?,
                config: parse_configs(form.get("config").map_or("", String::as_str))?,
            })
        })
        .map_err(|e| bad_form("/topics", e))?;
    let cluster = state.managed(None)?;
    cluster.create_topic(&new, false).map_err(|e| WebError::from(e).back("/topics"))?;
    done(&format!("/topics/{}", urlencode(&new.name)))
}

pub async fn add_partitions(
    State(state): State<AppState>,
    Path(topic): Path<String>,
    form: Result<Form<Fields>, FormRejection>,
) -> Result<Response, WebError> {
    let back = format!("/topics/{}", urlencode(&topic));
    let count = fields(form)
        .and_then(|f| optional_number(&f, "count"))
        .map_err(|e| bad_form(&back, e))?
        .ok_or_else(|| bad_form(&back, "give the new partition count"))?;
    let cluster = state.managed(None)?;
    cluster.create_partitions(&topic, count, false).map_err(|e| WebError::from(e).back(&back))?;
    done(&back)
}

/// Sets one config of a topic (`name`, `value`) or returns one to its default (`reset`).
pub async fn alter_config(
    State(state): State<AppState>,
    Path(topic): Path<String>,
    form: Result<Form<Fields>, FormRejection>,
) -> Result<Response, WebError> {
    let back = format!("/topics/{}", urlencode(&topic));
    let form = fields(form).map_err(|e| bad_form(&back, e))?;
    let cluster = std::sync::Arc::clone(state.managed(None)?);
    let mut overrides = cluster
        .metadata()
        .topics
        .get(&topic)
        .map(|t| t.config.clone())
        .ok_or_else(|| WebError::not_found(format!("Topic '{topic}' does not exist.")).back("/topics"))?;
    match (form.get("reset"), form.get("name"), form.get("value")) {
        (Some(reset), _, _) => {
            overrides.remove(reset.trim());
        }
        (None, Some(name), Some(value)) if !name.trim().is_empty() && !value.trim().is_empty() => {
            overrides.insert(name.trim().to_string(), value.trim().to_string());
        }
        _ => return Err(bad_form(&back, "give a config name and a value, or the config to reset")),
    }
    let name = topic.clone();
    tokio::task::spawn_blocking(move || cluster.alter_topic_config(&name, overrides, false))
        .await
        .map_err(|e| WebError::internal(e.to_string()))?
        .map_err(|e| WebError::from(e).back(&back))?;
    done(&back)
}

pub async fn delete_topic(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(topic): Path<String>,
    form: Result<Form<Fields>, FormRejection>,
) -> Result<Response, WebError> {
    let back = format!("/topics/{}", urlencode(&topic));
    let form = fields(form).unwrap_or_default();
    let question = format!("Delete topic '{topic}' and all of its data on every broker? This cannot be undone.");
    if let Some(page) = confirmation(&state, &headers, &form, &question, &format!("{back}/delete"), &back) {
        return Ok(page);
    }
    let cluster = state.managed(None)?;
    cluster.delete_topic(&topic).map_err(|e| WebError::from(e).back(&back))?;
    done("/topics")
}

fn parse_headers(text: &str) -> Result<Vec<(String, Option<bytes::Bytes>)>, String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|kv| match kv.split_once('=') {
            Some((k, v)) => Ok((k.trim().to_string(), Some(bytes::Bytes::from(v.trim().to_string())))),
            None => Err(format!("header '{kv}' is not name=value")),
        })
        .collect()
}

pub async fn produce(
    State(state): State<AppState>,
    Path(topic): Path<String>,
    form: Result<Form<Fields>, FormRejection>,
) -> Result<Response, WebError> {
    let back = format!("/topics/{}", urlencode(&topic));
    let (partition, key, value, record_headers) = fields(form)
        .and_then(|f| {
            let partition = optional_number(&f, "partition")?.unwrap_or(0);
            let key = f.get("key").filter(|k| !k.is_empty()).map(|k| bytes::Bytes::from(k.clone()));
            let value = f.get("value").map(|v| bytes::Bytes::from(v.clone()));
            Ok((partition, key, value, parse_headers(f.get("headers").map_or("", String::as_str))?))
        })
        .map_err(|e| bad_form(&back, e))?;
    let cluster = state.managed(None)?;
    let offset = cluster
        .produce_record(&topic, partition, key, value, record_headers)
        .await
        .map_err(|e| WebError::from(e).back(&back))?;
    done(&format!("/topics/{}/messages?partition={partition}&offset={offset}", urlencode(&topic)))
}

pub async fn reset_offsets(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(group): Path<String>,
    form: Result<Form<Fields>, FormRejection>,
) -> Result<Response, WebError> {
    let back = format!("/groups/{}", urlencode(&group));
    let form = fields(form).map_err(|e| bad_form(&back, e))?;
    let topic = form
        .get("other_topic")
        .map(|t| t.trim())
        .filter(|t| !t.is_empty())
        .or(form.get("topic").map(String::as_str))
        .unwrap_or("")
        .to_string();
    let value = form.get("value").map(|v| v.trim().to_string()).unwrap_or_default();
    let to = match form.get("to").map(String::as_str) {
        Some("earliest") => broker_core::ResetTo::Earliest,
        Some("latest") => broker_core::ResetTo::Latest,
        Some("offset") => broker_core::ResetTo::Offset(
            value.parse().map_err(|_| bad_form(&back, format!("'{value}' is not an offset")))?,
        ),
        Some("datetime") => {
            broker_core::ResetTo::Timestamp(crate::time::parse_iso8601_ms(&value).map_err(|e| bad_form(&back, e))?)
        }
        other => return Err(bad_form(&back, format!("'{}' is not a reset target", other.unwrap_or("")))),
    };
    let question = format!("Move the committed offsets of group '{group}' on every partition of '{topic}'? Its consumers will resume from there.");
    if let Some(page) = confirmation(&state, &headers, &form, &question, &format!("{back}/reset-offsets"), &back) {
        return Ok(page);
    }
    let cluster = state.managed(None)?;
    cluster.reset_offsets(&group, &topic, to).await.map_err(|e| WebError::from(e).back(&back))?;
    // Group lag comes from the sampler: a tick now, so the group page shows the new offsets.
    state.refreshed(&cluster.config.name).await;
    done(&back)
}

pub async fn create_silence(
    State(state): State<AppState>,
    form: Result<Form<Fields>, FormRejection>,
) -> Result<Response, WebError> {
    let form = fields(form).map_err(|e| bad_form("/alerts", e))?;
    let get = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    let request = super::api::silence_request(
        get("matcher"),
        get("target"),
        Some(get("cluster").to_string()),
        get("duration"),
        get("comment"),
        "dashboard",
    )
    .map_err(|e| e.back("/alerts"))?;
    state.alerts.create_silence(request).await.map_err(|e| bad_form("/alerts", e.to_string()))?;
    Ok(Redirect::to("/alerts").into_response())
}

pub async fn delete_silence(State(state): State<AppState>, Path(id): Path<i64>) -> Result<Response, WebError> {
    match state.alerts.delete_silence(id).await {
        Ok(true) => Ok(Redirect::to("/alerts").into_response()),
        Ok(false) => Err(WebError::not_found(format!("There is no silence {id}.")).back("/alerts")),
        Err(e) => Err(WebError::internal(e.to_string()).back("/alerts")),
    }
}
