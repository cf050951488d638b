//! Kafka Connect's REST API, paths, status codes and JSON shapes as Kafka's worker answers
//! them, served on `[connect] listen` and under `/connect/` on the dashboard's port. Errors are
//! `{"error_code": N, "message": "..."}`. Mutations pass the same guard as the dashboard's
//! (`--read-only`, `--admin-token`, no cross-site requests), answered in Connect's error shape;
//! requests for a host outside `[http] allowed_hosts` are refused. With an admin token, configs
//! read without it show their secrets `[hidden]` (Kafka shows them to anyone).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, Query, Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use serde_json::{json, Value as Json};

use super::plugin::{Config, Plugin, VERSION};
use super::topics::{OffsetMap, TargetState};
use super::validate;
use super::worker::{Worker, WorkerError};

/// What the API serves and who may change it.
#[derive(Clone)]
pub struct RestState {
    pub worker: Arc<Worker>,
    pub read_only: bool,
    pub admin_token: Option<String>,
    pub allowed_hosts: Arc<Vec<String>>,
}

/// A REST answer that failed.
struct RestError(StatusCode, String);

impl IntoResponse for RestError {
    fn into_response(self) -> Response {
        let body = json!({"error_code": self.0.as_u16(), "message": self.1});
        (self.0, axum::Json(body)).into_response()
    }
}

impl From<WorkerError> for RestError {
    fn from(e: WorkerError) -> RestError {
        RestError(StatusCode::from_u16(e.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR), e.to_string())
    }
}

fn bad_request(message: impl Into<String>) -> RestError {
    RestError(StatusCode::BAD_REQUEST, message.into())
}

type Answer = Result<Response, RestError>;

fn ok(body: Json) -> Answer {
    Ok(axum::Json(body).into_response())
}

fn status(code: StatusCode) -> Answer {
    Ok(code.into_response())
}

pub fn router(state: RestState) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/connectors", get(list).post(create))
        .route("/connectors/{c}", get(info).delete(delete))
        .route("/connectors/{c}/config", get(config).put(put_config))
        .route("/connectors/{c}/status", get(connector_status))
        .route("/connectors/{c}/tasks", get(tasks))
        .route("/connectors/{c}/tasks/{t}/status", get(task_status))
        .route("/connectors/{c}/tasks/{t}/restart", post(restart_task))
        .route("/connectors/{c}/pause", put(pause))
        .route("/connectors/{c}/resume", put(resume))
        .route("/connectors/{c}/stop", put(stop))
        .route("/connectors/{c}/restart", post(restart))
        .route("/connectors/{c}/topics", get(topics))
        .route("/connectors/{c}/topics/reset", put(reset_topics))
        .route("/connectors/{c}/offsets", get(offsets).patch(alter_offsets).delete(reset_offsets))
        .route("/connector-plugins", get(plugins))
        .route("/connector-plugins/{p}/config", get(plugin_config))
        .route("/connector-plugins/{p}/config/validate", put(validate_config))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(state.clone(), guard))
        .with_state(state)
}

async fn not_found() -> RestError {
    RestError(StatusCode::NOT_FOUND, "HTTP 404 Not Found".into())
}

async fn method_not_allowed() -> RestError {
    RestError(StatusCode::METHOD_NOT_ALLOWED, "HTTP 405 Method Not Allowed".into())
}

/// The host check for every request; the dashboard's rules for every change.
async fn guard(State(state): State<RestState>, request: Request, next: Next) -> Response {
    if let Some(host) = request.headers().get(header::HOST) {
        if !crate::web::security::host_allowed(host.to_str().unwrap_or(""), &state.allowed_hosts) {
            return RestError(StatusCode::FORBIDDEN, "host is not in [http] allowed_hosts".into()).into_response();
        }
    }
    // Validating a config changes nothing: kafbat and scripts call it as a read.
    let validate = *request.method() == Method::PUT && request.uri().path().ends_with("/config/validate");
    if matches!(*request.method(), Method::GET | Method::HEAD) || validate {
        return next.run(request).await;
    }
    match crate::web::auth::refusal(&request, state.read_only, state.admin_token.as_deref()) {
        None => next.run(request).await,
        Some(refused) => {
            let unauthorized = refused.status == StatusCode::UNAUTHORIZED;
            let mut response = RestError(refused.status, refused.message).into_response();
            if unauthorized {
                response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            }
            response
        }
    }
}

/// Whether the caller may see secrets in configs: always without an admin token, else only
/// with it (Kafka shows them to anyone; with `--admin-token` warren shows them `[hidden]`).
fn reveal(state: &RestState, headers: &axum::http::HeaderMap) -> bool {
    state.admin_token.as_ref().is_none_or(|t| crate::web::auth::headers_present_token(headers, t))
}

/// Hides the secrets of every `config` object in `json` unless `reveal`.
fn guard_secrets(mut json: Json, reveal: bool) -> Json {
    if reveal {
        return json;
    }
    fn walk(json: &mut Json) {
        match json {
            Json::Object(map) => {
                for (key, value) in map.iter_mut() {
                    match value {
                        Json::Object(config) if key == "config" => validate::hide_secrets(config),
                        other => walk(other),
                    }
                }
            }
            Json::Array(items) => items.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut json);
    json
}

/// A query string's parameters, repeated ones included (`?expand=status&expand=info`).
type Params = Query<Vec<(String, String)>>;

/// The values of `name` among `params`.
fn query_values<'a>(params: &'a [(String, String)], name: &'a str) -> impl Iterator<Item = &'a str> {
    params.iter().filter(move |(k, _)| k == name).map(|(_, v)| v.as_str())
}

/// A boolean query parameter (default false).
fn flag(params: &[(String, String)], name: &str) -> Result<bool, RestError> {
    match query_values(params, name).last() {
        None => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(bad_request(format!("{name} must be true or false, not '{v}'"))),
    }
}

fn parse_json(body: &Bytes) -> Result<Json, RestError> {
    serde_json::from_slice(body).map_err(|e| bad_request(format!("Request body is not valid JSON: {e}")))
}

/// A flat map of strings, as Kafka takes configs (numbers and booleans are taken as their text).
fn config_map(json: &Json) -> Result<Config, RestError> {
    let Json::Object(map) = json else { return Err(bad_request("A connector config must be a JSON object")) };
    map.iter()
        .map(|(k, v)| match v {
            Json::String(s) => Ok((k.clone(), s.clone())),
            Json::Number(n) => Ok((k.clone(), n.to_string())),
            Json::Bool(b) => Ok((k.clone(), b.to_string())),
            _ => Err(bad_request(format!("Config value of '{k}' must be a string"))),
        })
        .collect()
}

async fn root(State(state): State<RestState>) -> Answer {
    ok(json!({
        "version": VERSION,
        "commit": concat!("warren-", env!("CARGO_PKG_VERSION")),
        "kafka_cluster_id": state.worker.cluster_id,
    }))
}

async fn list(State(state): State<RestState>, headers: axum::http::HeaderMap, Query(params): Params) -> Answer {
    state.worker.ready().await?;
    let expand: Vec<&str> = query_values(&params, "expand").collect();
    let names = state.worker.names();
    if expand.is_empty() {
        return ok(json!(names));
    }
    let mut out = serde_json::Map::new();
    for name in names {
        let mut item = serde_json::Map::new();
        if expand.contains(&"status") {
            let Ok(status) = state.worker.status(&name) else { continue };
            item.insert("status".into(), status);
        }
        if expand.contains(&"info") {
            let Ok(info) = state.worker.info(&name) else { continue };
            item.insert("info".into(), info);
        }
        out.insert(name, Json::Object(item));
    }
    ok(guard_secrets(Json::Object(out), reveal(&state, &headers)))
}

fn created(name: &str, info: Json) -> Answer {
    let location = format!("/connectors/{}", crate::web::pages::urlencode(name));
    let mut response = (StatusCode::CREATED, axum::Json(info)).into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    Ok(response)
}

async fn create(State(state): State<RestState>, body: Bytes) -> Answer {
    let json = parse_json(&body)?;
    let name = json.get("name").and_then(Json::as_str).unwrap_or("").trim().to_string();
    let mut config = match json.get("config") {
        Some(c) => config_map(c)?,
        None => Config::new(),
    };
    check_name(&name, &mut config)?;
    let initial = match json.get("initial_state").and_then(Json::as_str).map(str::to_ascii_uppercase).as_deref() {
        None | Some("RUNNING") => TargetState::Started,
        Some("PAUSED") => TargetState::Paused,
        Some("STOPPED") => TargetState::Stopped,
        Some(other) => return Err(bad_request(format!("Invalid initial state {other}: RUNNING, PAUSED or STOPPED"))),
    };
    let info = state.worker.create(&name, config, initial).await?;
    created(&name, info)
}

/// Kafka's name checks: a name in the body must match; one is put in when missing.
fn check_name(name: &str, config: &mut Config) -> Result<(), RestError> {
    if name.is_empty() {
        return Err(bad_request("Connector name configuration must not be empty"));
    }
    if name.contains('/') || name.chars().any(char::is_control) {
        return Err(bad_request("Connector name may not contain '/' or control characters"));
    }
    match config.get("name") {
        Some(given) if given != name => Err(bad_request(format!(
            "Connector name configuration ({given}) doesn't match connector name in the URL ({name})"
        ))),
        Some(_) => Ok(()),
        None => {
            config.insert("name".into(), name.to_string());
            Ok(())
        }
    }
}

async fn info(State(state): State<RestState>, headers: axum::http::HeaderMap, Path(name): Path<String>) -> Answer {
    state.worker.ready().await?;
    ok(guard_secrets(state.worker.info(&name)?, reveal(&state, &headers)))
}

async fn delete(State(state): State<RestState>, Path(name): Path<String>) -> Answer {
    state.worker.delete(&name).await?;
    status(StatusCode::NO_CONTENT)
}

async fn config(State(state): State<RestState>, headers: axum::http::HeaderMap, Path(name): Path<String>) -> Answer {
    state.worker.ready().await?;
    let config = json!({ "config": state.worker.entry(&name)?.state().config });
    ok(guard_secrets(config, reveal(&state, &headers))["config"].take())
}

async fn put_config(State(state): State<RestState>, Path(name): Path<String>, body: Bytes) -> Answer {
    let mut config = config_map(&parse_json(&body)?)?;
    check_name(&name, &mut config)?;
    match state.worker.put_config(&name, config).await? {
        (true, info) => created(&name, info),
        (false, info) => ok(info),
    }
}

async fn connector_status(State(state): State<RestState>, Path(name): Path<String>) -> Answer {
    state.worker.ready().await?;
    ok(state.worker.status(&name)?)
}

async fn tasks(State(state): State<RestState>, headers: axum::http::HeaderMap, Path(name): Path<String>) -> Answer {
    state.worker.ready().await?;
    ok(guard_secrets(state.worker.tasks(&name)?, reveal(&state, &headers)))
}

fn task_id(name: &str, task: &str) -> Result<u32, RestError> {
    task.parse().map_err(|_| RestError(StatusCode::NOT_FOUND, format!("No status found for task {name}-{task}")))
}

async fn task_status(State(state): State<RestState>, Path((name, task)): Path<(String, String)>) -> Answer {
    state.worker.ready().await?;
    ok(state.worker.task_status(&name, task_id(&name, &task)?)?)
}

async fn restart_task(State(state): State<RestState>, Path((name, task)): Path<(String, String)>) -> Answer {
    let id = task.parse().map_err(|_| RestError(StatusCode::NOT_FOUND, format!("Unknown task: {name}-{task}")))?;
    state.worker.restart_task(&name, id).await?;
    status(StatusCode::NO_CONTENT)
}

async fn target(state: &RestState, name: &str, target: TargetState, done: StatusCode) -> Answer {
    state.worker.set_target(name, target).await.map_err(|e| match e {
        WorkerError::NotFound(_) if target != TargetState::Stopped => {
            RestError(StatusCode::NOT_FOUND, format!("Unknown connector {name}"))
        }
        e => e.into(),
    })?;
    status(done)
}

async fn pause(State(state): State<RestState>, Path(name): Path<String>) -> Answer {
    target(&state, &name, TargetState::Paused, StatusCode::ACCEPTED).await
}

async fn resume(State(state): State<RestState>, Path(name): Path<String>) -> Answer {
    target(&state, &name, TargetState::Started, StatusCode::ACCEPTED).await
}

async fn stop(State(state): State<RestState>, Path(name): Path<String>) -> Answer {
    target(&state, &name, TargetState::Stopped, StatusCode::NO_CONTENT).await
}

async fn restart(State(state): State<RestState>, Path(name): Path<String>, Query(params): Params) -> Answer {
    let include_tasks = flag(&params, "includeTasks")?;
    let only_failed = flag(&params, "onlyFailed")?;
    match state.worker.restart(&name, include_tasks, only_failed).await? {
        None => status(StatusCode::NO_CONTENT),
        Some(plan) => Ok((StatusCode::ACCEPTED, axum::Json(plan)).into_response()),
    }
}

async fn topics(State(state): State<RestState>, Path(name): Path<String>) -> Answer {
    state.worker.ready().await?;
    ok(state.worker.active_topics(&name)?)
}

async fn reset_topics(State(state): State<RestState>, Path(name): Path<String>) -> Answer {
    // Active topics are what the running tasks touched; there is no history to reset.
    state.worker.entry(&name)?;
    status(StatusCode::ACCEPTED)
}

async fn offsets(State(state): State<RestState>, Path(name): Path<String>) -> Answer {
    ok(state.worker.offsets(&name).await?)
}

async fn alter_offsets(State(state): State<RestState>, Path(name): Path<String>, body: Bytes) -> Answer {
    let json = parse_json(&body)?;
    let entries = json.get("offsets").and_then(Json::as_array).cloned().unwrap_or_default();
    if entries.is_empty() {
        return Err(bad_request("Partitions / offsets need to be provided for an alter offsets request"));
    }
    let mut changes: Vec<(OffsetMap, Option<OffsetMap>)> = Vec::new();
    for entry in entries {
        let Some(Json::Object(partition)) = entry.get("partition") else {
            return Err(bad_request("Each offset needs a 'partition' object"));
        };
        let offset = match entry.get("offset") {
            None | Some(Json::Null) => None,
            Some(Json::Object(o)) => Some(o.clone()),
            Some(_) => return Err(bad_request("An 'offset' must be an object or null")),
        };
        let primitive = |m: &OffsetMap| m.values().all(|v| !v.is_object() && !v.is_array());
        if !primitive(partition) || offset.as_ref().is_some_and(|o| !primitive(o)) {
            return Err(bad_request("Partitions and offsets may only hold primitive values"));
        }
        changes.push((partition.clone(), offset));
    }
    ok(state.worker.modify_offsets(&name, Some(changes)).await?)
}

async fn reset_offsets(State(state): State<RestState>, Path(name): Path<String>) -> Answer {
    ok(state.worker.modify_offsets(&name, None).await?)
}

async fn plugins(Query(params): Params) -> Answer {
    let connectors_only = !matches!(
        query_values(&params, "connectorsOnly").last(),
        Some(v) if v.eq_ignore_ascii_case("false")
    );
    let mut out: Vec<Json> =
        Plugin::ALL.iter().map(|p| json!({"class": p.class(), "type": p.kind().name(), "version": VERSION})).collect();
    if !connectors_only {
        for class in super::transforms::CLASSES {
            out.push(json!({"class": class, "type": "transformation", "version": VERSION}));
        }
        for class in [
            "org.apache.kafka.connect.converters.ByteArrayConverter",
            "org.apache.kafka.connect.json.JsonConverter",
            "org.apache.kafka.connect.storage.StringConverter",
        ] {
            out.push(json!({"class": class, "type": "converter", "version": VERSION}));
        }
    }
    ok(Json::Array(out))
}

fn find_plugin(name: &str) -> Result<Plugin, RestError> {
    Plugin::find(name).ok_or_else(|| RestError(StatusCode::NOT_FOUND, format!("Unknown plugin {name}.")))
}

async fn plugin_config(Path(name): Path<String>) -> Answer {
    let plugin = find_plugin(&name)?;
    let defs: Vec<Json> = plugin
        .config_defs()
        .iter()
        .enumerate()
        .map(|(order, d)| {
            json!({
                "name": d.name, "type": d.kind, "required": d.default.is_none(), "default_value": d.default,
                "importance": d.importance, "documentation": d.documentation, "group": null, "order": order + 1,
                "width": "NONE", "display_name": d.name, "dependents": [],
            })
        })
        .collect();
    ok(Json::Array(defs))
}

async fn validate_config(Path(name): Path<String>, body: Bytes) -> Answer {
    let requested = find_plugin(&name).map_err(|_| bad_request(format!("Unknown plugin {name}.")))?;
    let config = config_map(&parse_json(&body)?)?;
    if let Some(class) = config.get("connector.class") {
        if Plugin::find(class) != Some(requested) {
            return Err(bad_request(format!("Included connector type {class} does not match request type {name}")));
        }
    }
    let mut config = config;
    config.entry("connector.class".into()).or_insert_with(|| requested.class().to_string());
    let validation = validate::validate(&config).await.map_err(|e| bad_request(e.to_string()))?;
    ok(validation.infos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_decode_repeated_and_escaped_values() {
        let parse = |query: &str| {
            let uri: axum::http::Uri = format!("/connectors?{query}").parse().expect("test");
            Params::try_from_uri(&uri).expect("test").0
        };
        let params = parse("expand=status&expand=info&x=1");
        assert_eq!(query_values(&params, "expand").collect::<Vec<_>>(), vec!["status", "info"]);
        assert_eq!(query_values(&parse("a=a%2Fb+c%zz"), "a").collect::<Vec<_>>(), vec!["a/b c%zz"]);
        assert_eq!(flag(&parse("includeTasks=TRUE"), "includeTasks").ok(), Some(true));
        assert!(flag(&parse("onlyFailed=yes"), "onlyFailed").is_err());
    }

    #[test]
    fn names_are_checked_as_kafka_checks_them() {
        let mut config = Config::new();
        check_name("a", &mut config).ok().expect("test");
        assert_eq!(config["name"], "a");
        config.insert("name".into(), "b".into());
        let Err(RestError(code, message)) = check_name("a", &mut config) else { panic!("a mismatch passed") };
        assert_eq!(code, StatusCode::BAD_REQUEST);
        assert_eq!(message, "Connector name configuration (b) doesn't match connector name in the URL (a)");
    }
}
