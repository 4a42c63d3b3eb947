//! Extractors that answer bad input with problem+json instead of axum's
//! plain-text rejections.

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use std::net::SocketAddr;

use crate::error::ApiError;

/// A JSON body, with the failing field named on error.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| {
                v.split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !is_json {
            return Err(ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send application/json",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", rejection.body_text())
        })?;
        parse(&bytes).map(ApiJson)
    }
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let field = error.path().to_string();
        let inner = error.into_inner();
        if inner.is_data() {
            let field = if field == "." {
                missing_field(&inner.to_string()).unwrap_or(field)
            } else {
                field
            };
            ApiError::invalid(&field, inner.to_string())
        } else {
            ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", inner.to_string())
        }
    })
}

fn missing_field(message: &str) -> Option<String> {
    let rest = message.strip_prefix("missing field `")?;
    Some(rest.split('`').next()?.to_string())
}

/// Query-string parameters, with a problem+json rejection.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Query::<T>::try_from_uri(&parts.uri)
            .map(|Query(value)| ApiQuery(value))
            .map_err(|rejection| ApiError::new(StatusCode::BAD_REQUEST, "invalid_query", rejection.body_text()))
    }
}

/// Where a request came from, for event metadata.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    pub request_id: String,
    pub correlation_id: Option<String>,
    pub causation_id: Option<String>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

impl<S: Send + Sync> FromRequestParts<S> for RequestContext {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let header = |name: &str| {
            parts
                .headers
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(|v| v.chars().take(200).collect::<String>())
        };
        let client_ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| addr.ip().to_string());
        Ok(Self {
            request_id: header("x-request-id").unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
            correlation_id: header("x-correlation-id"),
            causation_id: header("x-causation-id"),
            client_ip,
            user_agent: header("user-agent"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[expect(dead_code, reason = "only deserialised")]
    struct Body {
        name: String,
        limits: Limits,
    }

    #[derive(Debug, serde::Deserialize)]
    #[expect(dead_code, reason = "only deserialised")]
    struct Limits {
        daily: u32,
    }

    #[test]
    fn a_wrong_type_names_the_nested_field() {
        let error = parse::<Body>(br#"{"name":"a","limits":{"daily":"x"}}"#).unwrap_err();
        assert_eq!(error.code, "invalid_field");
        assert_eq!(error.field.as_deref(), Some("limits.daily"));
    }

    #[test]
    fn a_missing_field_is_named() {
        let error = parse::<Body>(br#"{"limits":{"daily":1}}"#).unwrap_err();
        assert_eq!(error.field.as_deref(), Some("name"));
    }

    #[test]
    fn broken_json_is_a_bad_request() {
        let error = parse::<Body>(b"{\"name\":").unwrap_err();
        assert_eq!((error.status, error.code), (StatusCode::BAD_REQUEST, "malformed_json"));
    }
}
