//! HTTP routes, one module per resource.

pub mod api_keys;
pub mod audit;
pub mod auth;
pub mod email_accounts;
pub mod email_inbox;
pub mod emails;
pub mod integrations;
pub mod organisation;
pub mod phone_numbers;
pub mod system;
pub mod users;

use serde::Deserialize;
use uuid::Uuid;

use crate::error::ApiError;

/// Paging of list routes.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct Page {
    /// At most this many items (1–500, default 100).
    pub limit: Option<i64>,
    /// Skip this many items.
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

/// An id from a path: one that is not even a UUID cannot exist.
pub fn parse_id(text: &str) -> Result<Uuid, ApiError> {
    Uuid::try_parse(text).map_err(|_| ApiError::not_found())
}
