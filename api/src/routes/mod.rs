//! HTTP routes, one module per resource.

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod calls;
pub mod customers;
pub mod email_accounts;
pub mod email_inbox;
pub mod emails;
pub mod holidays;
pub mod integrations;
pub mod masked_sessions;
pub mod organisation;
pub mod phone_numbers;
pub mod seed;
pub mod sms;
pub mod system;
pub mod thread_messages;
pub mod threads;
pub mod users;
pub mod webhook_endpoints;
pub mod webhooks;
pub mod whatsapp;
pub mod whatsapp_templates;

use serde::Deserialize;
use uuid::Uuid;

use crate::error::ApiError;

/// A time as the API writes it: RFC 3339, UTC, microseconds.
pub(crate) fn stamp(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// A unit enum's wire word (`no_answer`), as serde writes it.
/// A file kept by content, served with ranges under its content type.
pub(crate) async fn serve_kept(
    path: &std::path::Path,
    content_type: &str,
    request: axum::extract::Request,
) -> Result<axum::response::Response, crate::error::ApiError> {
    use tower::ServiceExt;
    let served = tower_http::services::ServeFile::new(path)
        .oneshot(request)
        .await
        .map_err(|_| crate::error::ApiError::internal())?;
    let mut response = served.map(axum::body::Body::new);
    if let Ok(value) = axum::http::HeaderValue::from_str(content_type) {
        response.headers_mut().insert(axum::http::header::CONTENT_TYPE, value);
    }
    Ok(response)
}

pub(crate) fn word<T: serde::Serialize>(value: T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// Paging of list routes, in the query string.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Page {
    /// At most this many items (1–500, default 100).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<i64>,
    /// Skip this many items.
    #[param(minimum = 0)]
    pub offset: Option<i64>,
}

impl Page {
    pub fn bounds(&self) -> Result<(i64, i64), ApiError> {
        let limit = self.limit.unwrap_or(100);
        if !(1..=500).contains(&limit) {
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "invalid_query",
                "limit must be 1 to 500",
            )
            .on_field("limit"));
        }
        let offset = self.offset.unwrap_or(0);
        if offset < 0 {
            return Err(ApiError::new(
                axum::http::StatusCode::BAD_REQUEST,
                "invalid_query",
                "offset must not be negative",
            )
            .on_field("offset"));
        }
        Ok((limit, offset))
    }
}

/// An optional count that JSON may write as `20` or `20.0` (both are the
/// integer 20 to a JSON schema); anything fractional, negative or over
/// `u32::MAX` is refused.
pub fn whole_u32<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<u32>, D::Error> {
    use serde::de::Error;
    let Some(number) = Option::<serde_json::Number>::deserialize(deserializer)? else {
        return Ok(None);
    };
    let whole = number.as_u64().or_else(|| {
        number
            .as_f64()
            .filter(|f| f.fract() == 0.0 && *f >= 0.0)
            .map(|f| f as u64)
    });
    whole
        .and_then(|n| u32::try_from(n).ok())
        .map(Some)
        .ok_or_else(|| D::Error::custom(format!("expected a whole number from 0 to {}", u32::MAX)))
}

/// An id from a path: one that is not even a UUID cannot exist.
pub fn parse_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(text).map_err(|_| ApiError::not_found())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Count {
        #[serde(default, deserialize_with = "whole_u32")]
        n: Option<u32>,
    }

    fn count(json: &str) -> Result<Option<u32>, serde_json::Error> {
        serde_json::from_str::<Count>(json).map(|c| c.n)
    }

    #[test]
    fn a_whole_number_written_with_a_fraction_of_zero_is_that_number() {
        assert_eq!(count(r#"{"n": 20}"#).unwrap(), Some(20));
        assert_eq!(count(r#"{"n": 20.0}"#).unwrap(), Some(20));
        assert_eq!(count(r#"{"n": null}"#).unwrap(), None);
        assert_eq!(count("{}").unwrap(), None);
        assert_eq!(count(r#"{"n": 4294967295}"#).unwrap(), Some(u32::MAX));
    }

    #[test]
    fn a_fraction_a_negative_or_a_count_past_u32_is_refused() {
        for json in [
            r#"{"n": 20.5}"#,
            r#"{"n": -1}"#,
            r#"{"n": 4294967296}"#,
            r#"{"n": "20"}"#,
        ] {
            assert!(count(json).is_err(), "{json}");
        }
    }
}
