//! The one response envelope of every successful JSON answer:
//! `{"success": true, "data": …}`, and for lists also `count` (items in
//! this answer) and, where the route knows it, `total` and `next_cursor`.
//! Errors are problem+json instead (`crate::error`).

use axum::Json;
use serde::Serialize;
use utoipa::ToSchema;

/// One item.
#[derive(Debug, Serialize, ToSchema)]
pub struct Data<T> {
    pub success: bool,
    pub data: T,
}

/// A list of items.
#[derive(Debug, Serialize, ToSchema)]
pub struct List<T> {
    pub success: bool,
    pub data: Vec<T>,
    /// Items in this answer.
    pub count: usize,
    /// Items matching the query in all, where the route counts them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<i64>,
    /// Pass as `cursor` for the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// `{"success": true, "data": data}`.
pub fn data<T: Serialize>(data: T) -> Json<Data<T>> {
    Json(Data { success: true, data })
}

/// `{"success": true, "data": items, "count": n}`.
pub fn list<T: Serialize>(items: Vec<T>) -> Json<List<T>> {
    Json(List {
        success: true,
        count: items.len(),
        data: items,
        total: None,
        next_cursor: None,
    })
}
