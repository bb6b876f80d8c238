//! The server's one mapping from failures to HTTP answers (../shared/STYLE.md §8, axum's
//! `examples/error-handling`): a 4xx says what was wrong with the request; a 5xx says only
//! "internal error" and a request id, and the cause goes to the log under that id, so no path,
//! file name or library message of the server ever reaches a client.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use predio_tiles::TileSourceError;
use serde_json::json;

/// An HTTP error with a JSON body `{"error": ...}`. The text of a 4xx (and of a 503, whose
/// texts are the server's own advice, e.g. to install the viewer) is sent; the text of any
/// other 5xx is the internal cause, logged and never sent.
pub(super) struct ApiError(pub(super) StatusCode, pub(super) String);

/// A 400 with `message`.
pub(super) fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError(StatusCode::BAD_REQUEST, message.into())
}

impl ApiError {
    /// A 500 whose `cause` is logged, not sent.
    pub(super) fn internal(cause: impl std::fmt::Display) -> ApiError {
        ApiError(StatusCode::INTERNAL_SERVER_ERROR, cause.to_string())
    }
}

/// Whether a response of `status` may carry its message: client errors, and 503 (texts the
/// server writes for its operator, never an error's own text).
pub(super) fn message_is_public(status: StatusCode) -> bool {
    !status.is_server_error() || status == StatusCode::SERVICE_UNAVAILABLE
}

/// A fresh id for one failed request: 16 hex digits, unique in the process and not guessable
/// from the ones before it.
pub(super) fn request_id() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    static SEED: OnceLock<RandomState> = OnceLock::new();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("{:016x}", SEED.get_or_init(RandomState::new).hash_one(n))
}

/// Logs an internal failure under a new request id and returns the id.
pub(super) fn log_internal(status: StatusCode, cause: &str) -> String {
    let id = request_id();
    tracing::error!(request_id = %id, status = status.as_u16(), %cause, "internal error");
    id
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if message_is_public(self.0) {
            return (self.0, Json(json!({ "error": self.1 }))).into_response();
        }
        let id = log_internal(self.0, &self.1);
        let mut r = (
            self.0,
            Json(json!({ "error": "internal error", "request_id": id })),
        )
            .into_response();
        if let Ok(v) = HeaderValue::from_str(&id) {
            r.headers_mut().insert("x-request-id", v);
        }
        r
    }
}

impl From<TileSourceError> for ApiError {
    fn from(e: TileSourceError) -> Self {
        match e {
            TileSourceError::Filter(m) => bad_request(m),
            other => ApiError::internal(other),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_500_sends_no_cause_and_a_400_sends_its_message() {
        let cause = "cannot read /srv/predio/versions/v000003/reports.parquet: No such file";
        let r = ApiError::internal(cause).into_response();
        assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let id = r.headers()["x-request-id"]
            .to_str()
            .expect("an ASCII id")
            .to_owned();
        let body = axum::body::to_bytes(r.into_body(), 1 << 16)
            .await
            .expect("the body");
        let v: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(v, json!({ "error": "internal error", "request_id": id }));

        let r = bad_request("window must be one of 30d, 90d").into_response();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
        let body = axum::body::to_bytes(r.into_body(), 1 << 16)
            .await
            .expect("the body");
        assert!(String::from_utf8_lossy(&body).contains("window must be one of 30d, 90d"));
    }

    #[test]
    fn request_ids_differ() {
        let ids: std::collections::HashSet<String> = (0..1000).map(|_| request_id()).collect();
        assert_eq!(ids.len(), 1000);
        assert!(ids.iter().all(|i| i.len() == 16));
    }
}
