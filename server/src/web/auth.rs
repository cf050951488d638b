//! The guard on every mutating HTTP action: any request that is not GET or HEAD passes through
//! here, so no route can forget it. `--read-only` refuses them all with 403; `--admin-token`
//! requires `Authorization: Bearer TOKEN` or the `warren_admin` cookie (401 otherwise). The token
//! is compared in constant time. The cookie never holds the token: it holds an HMAC of it under a
//! key drawn at start, so a leaked cookie does not give the token away, and a restart ends every
//! dashboard session.

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::api::WebError;
use super::AppState;

/// The cookie the login form sets.
pub const ADMIN_COOKIE: &str = "warren_admin";

pub async fn guard_mutations(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    // Kafka Connect's API under /connect/ has the same guard, answering in Connect's error shape.
    if matches!(*request.method(), Method::GET | Method::HEAD) || path == "/connect" || path.starts_with("/connect/") {
        return next.run(request).await;
    }
    let json = path.starts_with("/api/");
    let Some(refused) = refusal(&request, state.read_only, state.admin_token.as_deref()) else {
        return next.run(request).await;
    };
    let mut response = refuse(&state, &request, json, refused.status, refused.error, &refused.message);
    if refused.status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
    }
    response
}

/// Why a mutating request is refused, if it is.
pub(crate) struct Refusal {
    pub status: StatusCode,
    pub error: &'static str,
    pub message: String,
}

/// The rules every mutating request passes, whoever answers it (the dashboard, the JSON API,
/// Kafka Connect's API): no cross-site request, nothing under `--read-only`, and the admin token
/// when there is one (the login form excepted).
pub(crate) fn refusal(request: &Request, read_only: bool, admin_token: Option<&str>) -> Option<Refusal> {
    let refused = |status, error, message: &str| Some(Refusal { status, error, message: message.to_string() });
    if let Some(reason) = cross_site(request) {
        return refused(StatusCode::FORBIDDEN, "cross_site", &reason);
    }
    if read_only {
        return refused(
            StatusCode::FORBIDDEN,
            "read_only",
            "warren runs with --read-only: changes through HTTP are disabled",
        );
    }
    let login = matches!(request.uri().path(), "/login" | "/logout");
    match admin_token {
        Some(token) if !login && !presents_token(request, token) => refused(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "this action needs the admin token: send 'Authorization: Bearer <token>' or log in",
        ),
        _ => None,
    }
}

/// A refusal as JSON for the API, as a readable page for the dashboard's forms.
fn refuse(
    state: &AppState,
    request: &Request,
    json: bool,
    status: StatusCode,
    error: &'static str,
    message: &str,
) -> Response {
    if json {
        WebError::new(status, error, message).into_response()
    } else {
        let back = if status == StatusCode::UNAUTHORIZED { "/login" } else { "/" };
        super::pages::message_page(state, request.headers(), status, "Not allowed", message, back)
    }
}

/// Why a request comes from another site, if it does: browsers send `Origin` (and
/// `Sec-Fetch-Site`) with form posts, so a page elsewhere cannot drive warren's forms with the
/// visitor's cookie. Clients that send neither (curl, scripts) are not browsers and pass.
fn cross_site(request: &Request) -> Option<String> {
    let headers = request.headers();
    if headers.get("sec-fetch-site").and_then(|v| v.to_str().ok()) == Some("cross-site") {
        return Some("cross-site requests are refused".into());
    }
    let origin = headers.get(header::ORIGIN)?.to_str().ok()?;
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok()).unwrap_or("");
    let origin_host = origin.split_once("://").map_or(origin, |(_, rest)| rest);
    (origin == "null" || origin_host != host)
        .then(|| format!("a request from {origin} may not change warren at {host}"))
}

/// Whether the request carries `token` as a bearer token or in the admin cookie.
pub fn presents_token(request: &Request, token: &str) -> bool {
    headers_present_token(request.headers(), token)
}

/// The admin cookie's value for `token`: HMAC-SHA256 of it under this process's session key.
pub fn session_value(token: &str) -> String {
    use hmac::Mac;
    static KEY: std::sync::OnceLock<[u8; 32]> = std::sync::OnceLock::new();
    let key = KEY.get_or_init(|| {
        let mut key = [0u8; 32];
        let random = std::fs::File::open("/dev/urandom").and_then(|mut f| std::io::Read::read_exact(&mut f, &mut key));
        if random.is_err() {
            // No /dev/urandom: fall back to the clock and the process id (sessions still need
            // the token; they are only easier to tell apart across restarts).
            let seed = format!("{:?}{}", std::time::SystemTime::now(), std::process::id());
            key.copy_from_slice(&<sha2::Sha256 as sha2::Digest>::digest(seed.as_bytes()));
        }
        key
    });
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(b"warren admin session\0");
    mac.update(token.as_bytes());
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// Whether `headers` carry `token` as a bearer token or the admin cookie made from it.
pub fn headers_present_token(headers: &axum::http::HeaderMap, token: &str) -> bool {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| constant_time_eq(given.trim().as_bytes(), token.as_bytes()));
    let session = session_value(token);
    let cookie = headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).any(|cookies| {
        cookies
            .split(';')
            .filter_map(|c| c.trim().split_once('='))
            .any(|(name, value)| name == ADMIN_COOKIE && constant_time_eq(value.as_bytes(), session.as_bytes()))
    });
    bearer || cookie
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_whole() {
        assert!(constant_time_eq(b"s3cret", b"s3cret"));
        assert!(!constant_time_eq(b"s3cret", b"s3cre"));
        assert!(!constant_time_eq(b"s3cret", b"s3creT"));
        let request = |name: header::HeaderName, value: &str| {
            Request::builder().header(name, value).body(axum::body::Body::empty()).expect("request")
        };
        assert!(presents_token(&request(header::AUTHORIZATION, "Bearer s3cret"), "s3cret"));
        assert!(!presents_token(&request(header::AUTHORIZATION, "Bearer nope"), "s3cret"));
        assert!(!presents_token(&request(header::AUTHORIZATION, "s3cret"), "s3cret"));
        let session = session_value("s3cret");
        assert!(presents_token(&request(header::COOKIE, &format!("a=b; warren_admin={session}")), "s3cret"));
        assert!(!presents_token(&request(header::COOKIE, "warren_admin=s3cret"), "s3cret"), "never the token itself");
        assert!(!session.contains("s3cret"));
        assert_ne!(session_value("other"), session);
    }
}
