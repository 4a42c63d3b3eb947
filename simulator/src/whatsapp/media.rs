//! Customers' media files as Exotel serves them to the account: an
//! incoming image, document, audio, video or sticker names a URL that
//! answers only the account's Basic credentials. Where Exotel hosts these
//! files is not documented (a GUESS): the simulator serves them under the
//! account, at `GET /v2/accounts/{sid}/media/{id}`, and a test puts a file
//! there first with `PUT /_simulator/accounts/{sid}/media/{id}` (the raw
//! bytes, with their `Content-Type`).

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::request::Received;
use crate::state::SimState;

/// Files by account and id: their content type and bytes.
#[derive(Debug, Default)]
pub struct MediaFiles(Mutex<HashMap<(String, String), (String, Bytes)>>);

/// `PUT /_simulator/accounts/{sid}/media/{id}`: keeps the file; answers 201
/// with the path its URL has on the simulator.
pub async fn put(
    State(state): State<Arc<SimState>>,
    Path((sid, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if state.account(&sid).is_none() {
        return (StatusCode::NOT_FOUND, Json(json!({"error": "No such account"}))).into_response();
    }
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/octet-stream")
        .to_string();
    if let Ok(mut files) = state.media.0.lock() {
        files.insert((sid.clone(), id.clone()), (content_type, body));
    }
    let path = format!("/v2/accounts/{sid}/media/{id}");
    (StatusCode::CREATED, Json(json!({ "path": path }))).into_response()
}

/// `GET /v2/accounts/{sid}/media/{id}`: the file, to the account's own
/// credentials only; 404 when there is none.
pub async fn get(
    State(state): State<Arc<SimState>>,
    Path((sid, id)): Path<(String, String)>,
    request: Received,
) -> Response {
    if request.account(&state, &sid).is_none() {
        return super::unauthorized(&request.method);
    }
    let file = state.media.0.lock().ok().and_then(|f| f.get(&(sid, id)).cloned());
    match file {
        Some((content_type, bytes)) => ([(header::CONTENT_TYPE, content_type)], bytes).into_response(),
        None => (StatusCode::NOT_FOUND, Json(json!({"error": "No such media"}))).into_response(),
    }
}
