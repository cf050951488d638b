//! The guard on every mutating HTTP action: any request that is not GET or HEAD passes through
//! here, so no route can forget it. `--read-only` refuses them all with 403; `--admin-token`
//! requires `Authorization: Bearer TOKEN` or the `warren_admin` cookie (401 otherwise). The token
//! is compared in constant time.

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::api::ApiError;
use super::AppState;

/// The cookie the login form sets.
pub const ADMIN_COOKIE: &str = "warren_admin";

pub async fn guard_mutations(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    if state.read_only {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            "read_only",
            "warren runs with --read-only: changes through HTTP are disabled",
        )
        .into_response();
    }
    if let Some(token) = &state.admin_token {
        if !presents_token(&request, token) {
            let mut response = ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "this action needs the admin token: send 'Authorization: Bearer <token>' or log in",
            )
            .into_response();
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    next.run(request).await
}

/// Whether the request carries `token` as a bearer token or in the admin cookie.
pub fn presents_token(request: &Request, token: &str) -> bool {
    let headers = request.headers();
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| constant_time_eq(given.trim().as_bytes(), token.as_bytes()));
    let cookie = headers.get_all(header::COOKIE).iter().filter_map(|v| v.to_str().ok()).any(|cookies| {
        cookies
            .split(';')
            .filter_map(|c| c.trim().split_once('='))
            .any(|(name, value)| name == ADMIN_COOKIE && constant_time_eq(value.as_bytes(), token.as_bytes()))
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
        assert!(presents_token(&request(header::COOKIE, "a=b; warren_admin=s3cret"), "s3cret"));
        assert!(!presents_token(&request(header::COOKIE, "warren_admin=s3cre"), "s3cret"));
    }
}
