//! `Status` error bodies shaped like the real API server's, so clients print the same messages.

use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

/// A failed request, answered with a `metav1.Status` body.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `reason`, for example `NotFound` or `TooManyRequests`.
    pub reason: &'static str,
    /// `message`, which kubectl prints after `Error from server (<reason>):`.
    pub message: String,
    /// `details`, when the API server gives them.
    pub details: Option<Value>,
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    /// The error about object `name` of `plural`: the message `<plural> "<name>" <what>`, and
    /// the details naming it.
    fn about(code: u16, reason: &'static str, plural: &str, name: &str, what: &str) -> Self {
        ApiError {
            details: Some(json!({"name": name, "kind": plural})),
            ..ApiError::new(code, reason, format!("{plural} \"{name}\" {what}"))
        }
    }

    /// 404 for `<plural> "<name>" not found`.
    pub fn not_found(plural: &str, name: &str) -> Self {
        ApiError::about(404, "NotFound", plural, name, "not found")
    }

    /// 400 with `message`.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(400, "BadRequest", message)
    }

    /// 409 for an object that already exists.
    pub fn already_exists(plural: &str, name: &str) -> Self {
        ApiError::about(409, "AlreadyExists", plural, name, "already exists")
    }

    /// 415 for a patch type the emulator does not implement.
    pub fn unsupported_media(message: impl Into<String>) -> Self {
        ApiError::new(415, "UnsupportedMediaType", message)
    }

    /// 405 for a verb the emulator does not implement.
    pub fn not_supported(message: impl Into<String>) -> Self {
        ApiError::new(405, "MethodNotAllowed", message)
    }

    /// The `Status` body.
    pub fn body(&self) -> Value {
        let mut v = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            v["details"] = d.clone();
        }
        v
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = StatusCode::from_u16(self.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        json_response(code, &self.body())
    }
}

/// A JSON response with the content type Kubernetes clients expect.
pub fn json_response(code: StatusCode, body: &Value) -> Response {
    (
        code,
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The `Status` a successful eviction or deletion answers with.
pub fn success(code: u16) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": code})
}
