//! `PUT /_simulator/accounts/{sid}/templates/{name}`: the simulator's own
//! route (never Exotel's), which plays Meta's review of a template.
//!
//! Body: `{"status": "APPROVED"|"PENDING"|"REJECTED"|"PAUSED"|"DISABLED"|"IN_APPEAL",
//! "rejected_reason"?: "…", "language"?: "en", "quality_score"?:
//! "GREEN"|"YELLOW"|"RED"|"UNKNOWN"}` (status and quality score in any
//! case). It changes that name's templates, only the `language` ones when
//! given, under every WABA of the account. A rejection keeps
//! `rejected_reason` (`INVALID_FORMAT` unless given); any other status
//! sets it to `NONE`.
//!
//! Answers 200 with the changed templates as Meta objects, a JSON array;
//! 404 when the account has no template of that name (and language); 400
//! for an unknown status or quality score. Refusals are `{"error": "…"}`,
//! as the simulator's other routes write them.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use serde::Deserialize;
use serde_json::json;
use std::sync::Arc;

use super::template::{Review, Status, Template};
use crate::state::SimState;

/// Meta's quality ratings.
const QUALITY_SCORES: [&str; 4] = ["GREEN", "YELLOW", "RED", "UNKNOWN"];

/// A review outcome, as the admin route takes it.
#[derive(Debug, Deserialize)]
pub struct Reviewed {
    pub status: String,
    pub rejected_reason: Option<String>,
    /// Only this language's template; every language when absent.
    pub language: Option<String>,
    pub quality_score: Option<String>,
}

/// Gives the account's templates of `name` a review outcome.
pub async fn review(
    State(state): State<Arc<SimState>>,
    Path((sid, name)): Path<(String, String)>,
    Json(body): Json<Reviewed>,
) -> Response {
    let Some(status) = Status::parse(&body.status) else {
        let message = "status must be APPROVED, PENDING, REJECTED, PAUSED, DISABLED or IN_APPEAL";
        return refuse(StatusCode::BAD_REQUEST, message);
    };
    let quality_score = body.quality_score.map(|q| q.trim().to_uppercase());
    if quality_score.as_deref().is_some_and(|q| !QUALITY_SCORES.contains(&q)) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "quality_score must be GREEN, YELLOW, RED or UNKNOWN",
        );
    }
    let review = Review {
        status,
        rejected_reason: body.rejected_reason,
        quality_score,
    };
    let changed = state
        .templates
        .review(&sid, &name, body.language.as_deref(), &review, Utc::now());
    if changed.is_empty() {
        return refuse(StatusCode::NOT_FOUND, "The account has no template of this name");
    }
    let templates: Vec<_> = changed.iter().map(Template::meta).collect();
    (StatusCode::OK, Json(templates)).into_response()
}

fn refuse(status: StatusCode, message: &str) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}
