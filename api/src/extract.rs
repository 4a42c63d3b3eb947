//! Extractors that answer bad input with problem+json instead of axum's
//! plain-text rejections.

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;
use std::net::SocketAddr;

use crate::error::ApiError;

/// A JSON body, with the failing field named on error. The body is one
/// JSON object and nothing after it but white space: every request body of
/// this API is an object, so an array (which serde would read into a
/// struct field by field) and trailing bytes are both malformed.
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

fn malformed(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "malformed_json", message)
}

fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'[') {
        return Err(malformed("the body must be a JSON object, not an array"));
    }
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let value = deserialize(&mut deserializer)?;
    deserializer
        .end()
        .map_err(|e| malformed(format!("nothing may follow the JSON object: {e}")))?;
    Ok(value)
}

fn deserialize<T: DeserializeOwned>(
    deserializer: &mut serde_json::Deserializer<serde_json::de::SliceRead<'_>>,
) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
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
            malformed(inner.to_string())
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
            request_id: header("x-request-id")
                .filter(|id| crate::middleware::is_acceptable_request_id(id))
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string()),
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
    fn trailing_bytes_after_the_object_are_malformed_but_white_space_is_not() {
        for body in [
            &br#"{"name":"a","limits":{"daily":1}}xx"#[..],
            br#"{"name":"a","limits":{"daily":1}} {}"#,
        ] {
            let error = parse::<Body>(body).unwrap_err();
            assert_eq!((error.status, error.code), (StatusCode::BAD_REQUEST, "malformed_json"));
        }
        assert!(parse::<Body>(b" {\"name\":\"a\",\"limits\":{\"daily\":1}}\r\n\t ").is_ok());
    }

    #[test]
    fn an_array_in_place_of_the_object_is_malformed() {
        for body in [&br#"["a", {"daily": 1}]"#[..], b" \n [\"a\", [1]]"] {
            let error = parse::<Body>(body).unwrap_err();
            assert_eq!((error.status, error.code), (StatusCode::BAD_REQUEST, "malformed_json"));
        }
    }

    #[test]
    fn broken_json_is_a_bad_request() {
        let error = parse::<Body>(b"{\"name\":").unwrap_err();
        assert_eq!((error.status, error.code), (StatusCode::BAD_REQUEST, "malformed_json"));
    }
}
