//! The organisation's holidays: `GET` and `PUT /api/v1/settings/holidays`.
//! On a holiday the WhatsApp away message answers customers all day.

use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use chrono::NaiveDate;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;

use domain::Role;
use domain::organisation::Holiday;

use crate::auth::Caller;
use crate::envelope::{self, List};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::state::AppState;

/// The routes of this module, relative to `/api/v1`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new().route("/settings/holidays", get(list).put(replace))
}

/// A day the business is closed.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolidayBody {
    /// The date, in the business's own time zone (`YYYY-MM-DD`).
    pub date: NaiveDate,
    /// 1 to 100 characters.
    #[schema(min_length = 1, max_length = 100)]
    pub name: String,
}

/// Every holiday at once; what is not listed is no longer a holiday.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolidaysBody {
    /// At most 366, each date once.
    #[schema(max_items = 366)]
    pub holidays: Vec<HolidayBody>,
}

fn response(holidays: Vec<Holiday>) -> Json<List<HolidayBody>> {
    envelope::list(
        holidays
            .into_iter()
            .map(|h| HolidayBody {
                date: h.date,
                name: h.name,
            })
            .collect(),
    )
}

#[utoipa::path(get, path = "/api/v1/settings/holidays", tag = "organisation", security(("bearer" = [])),
    responses((status = 200, body = List<HolidayBody>), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn list(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json<List<HolidayBody>>, ApiError> {
    caller.require(Role::can_read_directory)?;
    Ok(response(state.accounts().holidays(caller.organisation_id).await?))
}

#[utoipa::path(put, path = "/api/v1/settings/holidays", request_body = HolidaysBody, tag = "organisation", security(("bearer" = [])),
    responses((status = 200, body = List<HolidayBody>), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 422, body = Problem, description = "too many holidays, a date twice, or a name blank or too long")))]
pub async fn replace(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    ApiJson(body): ApiJson<HolidaysBody>,
) -> Result<Json<List<HolidayBody>>, ApiError> {
    caller.require(Role::can_administer)?;
    let holidays = body
        .holidays
        .into_iter()
        .map(|h| Holiday {
            date: h.date,
            name: h.name,
        })
        .collect();
    let kept = state
        .accounts()
        .set_holidays(caller.organisation_id, holidays, &caller.metadata())
        .await?;
    Ok(response(kept))
}
