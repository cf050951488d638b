//! One error type for every HTTP answer that went wrong: `{"error": "...", "message": "..."}`
//! with its status under `/api/v1`, the error page (same status, same message) everywhere else.
//! Handlers return `Result<_, WebError>` and `?` their way out; the page layer
//! (`pages::error_pages`) turns the marked response into HTML, so no handler renders its own.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use broker_core::AdminError;
use kafka_protocol::ResponseError;
use serde_json::json;

#[derive(Debug, Clone)]
pub struct WebError {
    pub status: StatusCode,
    /// A short machine-readable kind (`not_found`, `bad_request`, `conflict`, ...).
    pub error: &'static str,
    /// For people: what was wrong and, where it helps, what to do.
    pub message: String,
    /// Where the error page's way back leads.
    pub back: String,
}

impl WebError {
    pub fn new(status: StatusCode, error: &'static str, message: impl Into<String>) -> WebError {
        WebError { status, error, message: message.into(), back: "/".into() }
    }

    pub fn not_found(message: impl Into<String>) -> WebError {
        WebError::new(StatusCode::NOT_FOUND, "not_found", message)
    }

    pub fn bad_request(message: impl Into<String>) -> WebError {
        WebError::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    /// 409: the request is fine, but not possible on this cluster (or in this state).
    pub fn conflict(message: impl Into<String>) -> WebError {
        WebError::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn internal(message: impl Into<String>) -> WebError {
        WebError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }

    /// The error page's way back.
    pub fn back(mut self, to: impl Into<String>) -> WebError {
        self.back = to.into();
        self
    }

    /// The error page's heading.
    pub fn heading(&self) -> &'static str {
        match self.status {
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::CONFLICT => "Not possible here",
            StatusCode::FORBIDDEN | StatusCode::UNAUTHORIZED => "Not allowed",
            s if s.is_server_error() => "Something went wrong",
            _ => "Please check the request",
        }
    }
}

/// Marks a response that the page layer renders as the error page.
#[derive(Debug, Clone)]
pub struct ErrorPage(pub WebError);

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(error = self.error, message = %self.message, "request failed");
        }
        let mut response = (self.status, Json(json!({"error": self.error, "message": self.message}))).into_response();
        response.extensions_mut().insert(ErrorPage(self));
        response
    }
}

impl From<AdminError> for WebError {
    fn from(e: AdminError) -> Self {
        let (status, error) = match e.code {
            ResponseError::TopicAlreadyExists => (StatusCode::CONFLICT, "already_exists"),
            ResponseError::NonEmptyGroup => (StatusCode::CONFLICT, "group_has_members"),
            ResponseError::UnknownTopicOrPartition | ResponseError::GroupIdNotFound => {
                (StatusCode::NOT_FOUND, "not_found")
            }
            ResponseError::BrokerNotAvailable => (StatusCode::NOT_FOUND, "not_found"),
            ResponseError::KafkaStorageError | ResponseError::UnknownServerError => {
                (StatusCode::INTERNAL_SERVER_ERROR, "internal")
            }
            ResponseError::LeaderNotAvailable | ResponseError::CoordinatorNotAvailable => {
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
            }
            _ => (StatusCode::BAD_REQUEST, "invalid"),
        };
        WebError::new(status, error, e.message)
    }
}
