//! Headers and checks on every HTTP response and request: a Host allow-list (so a DNS-rebinding
//! page cannot reach warren through a name that resolves to 127.0.0.1), and a strict
//! Content-Security-Policy with frame and sniffing protection (so a name that slips past escaping
//! still cannot run script in warren's origin).

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;

/// Scripts and styles only from warren's own files, no inline script or style, no plugins, no
/// framing, forms only to warren.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

pub async fn guard_hosts_and_headers(State(state): State<AppState>, request: Request, next: Next) -> Response {
    if let Some(host) = request.headers().get(header::HOST) {
        let host = host.to_str().unwrap_or("");
        if !host_allowed(host, &state.allowed_hosts) {
            let name = host_name(host);
            tracing::warn!(host = name, "refused a request for a host not in [http] allowed_hosts");
            let message =
                format!("host '{name}' is not in [http] allowed_hosts; add it there to reach warren by that name\n");
            return with_headers((StatusCode::FORBIDDEN, message).into_response());
        }
    }
    with_headers(next.run(request).await)
}

fn with_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    response
}

/// The name part of a Host header: `example.com:8080` -> `example.com`, `[::1]:8080` -> `::1`.
fn host_name(host: &str) -> &str {
    let host = host.trim();
    if let Some(rest) = host.strip_prefix('[') {
        return rest.split_once(']').map_or(rest, |(name, _)| name);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

pub(crate) fn host_allowed(host: &str, allowed: &[String]) -> bool {
    let name = host_name(host);
    allowed.iter().any(|a| a == "*" || a.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::default_allowed_hosts;

    #[test]
    fn host_names_and_the_allow_list() {
        let allowed = default_allowed_hosts(&"127.0.0.1:8080".parse().expect("addr"));
        for host in ["127.0.0.1:8080", "localhost:8080", "LOCALHOST", "[::1]:8080", "127.0.0.1"] {
            assert!(host_allowed(host, &allowed), "{host}");
        }
        for host in ["evil.example:8080", "127.0.0.1.evil.example", "[::2]:80", "localhost.:8080", ""] {
            assert!(!host_allowed(host, &allowed), "{host}");
        }
        assert!(host_allowed("anything", &["*".to_string()]));
        let wildcard = default_allowed_hosts(&"0.0.0.0:8080".parse().expect("addr"));
        assert!(!wildcard.contains(&"0.0.0.0".to_string()));
    }
}
