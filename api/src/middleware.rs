//! Middleware at the edge of every request: the request id a client may
//! choose, and the time a request may take, answered like every other error.

use axum::extract::Request;
use axum::http::{HeaderName, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::time::Duration;

use crate::error::ApiError;

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id a client may choose.
const MAX_REQUEST_ID_LEN: usize = 128;

/// Whether a client's `x-request-id` may be kept: 1 to 128 of
/// `A-Z a-z 0-9 . _ : -`. Anything else is replaced by a new id, in the
/// answer, the logs and the events alike.
pub fn is_acceptable_request_id(id: &str) -> bool {
    (1..=MAX_REQUEST_ID_LEN).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
}

/// Drops an `x-request-id` that is not acceptable, so the id layer after it
/// generates one.
pub async fn drop_unacceptable_request_id(mut request: Request, next: Next) -> Response {
    let acceptable = request
        .headers()
        .get_all(REQUEST_ID)
        .iter()
        .map(|v| v.to_str().ok().filter(|id| is_acceptable_request_id(id)))
        .collect::<Vec<_>>();
    if !matches!(acceptable.as_slice(), [] | [Some(_)]) {
        request.headers_mut().remove(REQUEST_ID);
    }
    next.run(request).await
}

/// Answers 408 problem+json when a request, its body included, takes
/// longer than `limit`.
pub async fn time_limit(limit: Duration, request: Request, next: Next) -> Response {
    match tokio::time::timeout(limit, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!("the request took longer than {} s", limit.as_secs()),
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_short_token_of_safe_characters_is_acceptable() {
        for id in ["a", "trace-7f3a.1:span_2", "0123456789ABCDEFabcdef", &"x".repeat(128)] {
            assert!(is_acceptable_request_id(id), "{id}");
        }
    }

    #[test]
    fn an_empty_long_or_unsafe_id_is_not() {
        for id in [
            "",
            &"x".repeat(129),
            "two words",
            "<script>",
            "a/b",
            "quote\"",
            "tab\t",
            "é",
        ] {
            assert!(!is_acceptable_request_id(id), "{id:?}");
        }
    }
}
