//! v2_beta `IncomingPhoneNumbers`: list (paged), details, buy, assign flows
//! or rename, and release. JSON only; errors are `RestException`s, as on v1.
//!
//! Guesses: `number_type`, the `date_*` fields (written like v1 times, IST)
//! and `uri` are not in the documented sample's verified part; buying
//! answers 200 with the number and its `rental_price`; releasing answers
//! `202 {"Status":202,"Message":"Accepted"}` (new docs only).

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::Arc;

use super::store::{self, ExoPhone, ExoPhoneChange};
use crate::request::{Answer, Form, Received, Refusal, Refused, bad_request, field};
use crate::state::{SimState, e164};
use crate::wire::{Format, exotel_time};

/// Numbers per page when `PageSize` is not given.
const DEFAULT_PAGE_SIZE: usize = 50;

/// ExoPhone routes.
pub fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route("/v2_beta/Accounts/{sid}/IncomingPhoneNumbers", get(list).post(buy))
        .route(
            "/v2_beta/Accounts/{sid}/IncomingPhoneNumbers/{exophone}",
            get(details).put(assign).delete(release),
        )
}

/// `http://<host>`: Exotel's URIs are absolute on its own API host, so the
/// simulator's point back at itself and a client can follow them.
fn base(headers: &HeaderMap) -> String {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    host.map(|h| format!("http://{h}")).unwrap_or_default()
}

/// One ExoPhone as list, details, buy and the admin routes give it.
pub fn number_json(phone: &ExoPhone, sid: &str, headers: &HeaderMap) -> Value {
    json!({
        "sid": phone.number, "friendly_name": phone.friendly_name, "phone_number": e164(&phone.number),
        "capabilities": {"voice": phone.voice, "sms": phone.sms}, "country": "IN", "region": phone.region,
        "voice_url": phone.voice_url, "sms_url": phone.sms_url, "number_type": phone.number_type,
        "date_created": exotel_time(phone.created), "date_updated": exotel_time(phone.updated),
        "uri": format!("{}/v2_beta/Accounts/{sid}/IncomingPhoneNumbers/{}", base(headers), phone.number),
    })
}

/// Opens the account, or answers the 401 `RestException`.
fn open(state: &SimState, sid: &str, request: &Received) -> Result<(), Refused> {
    request.v1_account(state, sid, Format::Json).map(drop)
}

fn refuse(refusal: Refusal) -> Refused {
    refusal.answer(Format::Json)
}

fn json(body: Value) -> Answer {
    Ok(axum::Json(body).into_response())
}

/// Which page: `Page` (from 0) and `PageSize` (default 50) in the query.
fn paging(query: &Form) -> Result<(usize, usize), Refusal> {
    let number = |name: &str, default: usize| {
        field(query, name).map_or(Ok(default), |v| {
            v.parse::<usize>()
                .map_err(|_| bad_request(&format!("{name} must be a whole number")))
        })
    };
    let (page, size) = (number("Page", 0)?, number("PageSize", DEFAULT_PAGE_SIZE)?);
    match size {
        0 => Err(bad_request("PageSize must be at least 1")),
        _ => Ok((page, size)),
    }
}

fn page_json(phones: &[ExoPhone], sid: &str, headers: &HeaderMap, (page, size): (usize, usize)) -> Value {
    let link = |p: usize| {
        let path = format!("/v2_beta/Accounts/{sid}/IncomingPhoneNumbers");
        format!("{}{path}?Page={p}&PageSize={size}", base(headers))
    };
    let start = page.saturating_mul(size).min(phones.len());
    let end = start.saturating_add(size).min(phones.len());
    let items: Vec<Value> = phones[start..end]
        .iter()
        .map(|p| number_json(p, sid, headers))
        .collect();
    json!({
        "page": page, "page_size": size, "uri": link(page), "first_page_uri": link(0),
        "next_page_uri": (end < phones.len()).then(|| link(page + 1)),
        "previous_page_uri": (page > 0).then(|| link(page - 1)),
        "incoming_phone_numbers": items,
    })
}

/// `GET /v2_beta/Accounts/{sid}/IncomingPhoneNumbers?Page=&PageSize=`;
/// the last page has `next_page_uri: null`.
pub async fn list(State(state): State<Arc<SimState>>, Path(sid): Path<String>, request: Received) -> Answer {
    open(&state, &sid, &request)?;
    let paging = paging(&request.query()).map_err(refuse)?;
    let phones = store::owned(&state, &sid).unwrap_or_default();
    json(page_json(&phones, &sid, &request.headers, paging))
}

/// `GET /v2_beta/Accounts/{sid}/IncomingPhoneNumbers/{exophone_sid}`; the
/// sid is the 0-prefixed number, and the number in any form finds it too.
pub async fn details(
    State(state): State<Arc<SimState>>,
    Path((sid, exophone)): Path<(String, String)>,
    request: Received,
) -> Answer {
    open(&state, &sid, &request)?;
    let not_found = || refuse(Refusal(StatusCode::NOT_FOUND, "No matching results".into()));
    let phone = store::find(&state, &sid, &exophone).ok_or_else(not_found)?;
    json(number_json(&phone, &sid, &request.headers))
}

/// The form's `PhoneNumber`, `FriendlyName`, `VoiceUrl` and `SMSUrl`; a
/// `VoiceUrl` or `SMSUrl` sent empty unassigns the flow.
fn change(body: &[u8]) -> ExoPhoneChange {
    let form: Form = serde_urlencoded::from_bytes(body).unwrap_or_default();
    let raw = |name: &str| form.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone());
    ExoPhoneChange {
        phone_number: raw("PhoneNumber"),
        friendly_name: field(&form, "FriendlyName").map(str::to_string),
        voice_url: raw("VoiceUrl"),
        sms_url: raw("SMSUrl"),
        ..ExoPhoneChange::default()
    }
}

/// `POST /v2_beta/Accounts/{sid}/IncomingPhoneNumbers` with `PhoneNumber`:
/// buys a number no account owns (else 409).
pub async fn buy(State(state): State<Arc<SimState>>, Path(sid): Path<String>, request: Received) -> Answer {
    open(&state, &sid, &request)?;
    let phone = store::add(&state, &sid, &change(&request.body)).map_err(refuse)?;
    let mut bought = number_json(&phone, &sid, &request.headers);
    bought["rental_price"] = json!("499.000000");
    json(bought)
}

/// `PUT /v2_beta/Accounts/{sid}/IncomingPhoneNumbers/{exophone_sid}`:
/// assigns flows (`VoiceUrl`, `SMSUrl`) or renames (`FriendlyName`).
pub async fn assign(
    State(state): State<Arc<SimState>>,
    Path((sid, exophone)): Path<(String, String)>,
    request: Received,
) -> Answer {
    open(&state, &sid, &request)?;
    let mut change = change(&request.body);
    change.phone_number = None;
    let phone = store::update(&state, &sid, &exophone, &change).map_err(refuse)?;
    json(number_json(&phone, &sid, &request.headers))
}

/// `DELETE /v2_beta/Accounts/{sid}/IncomingPhoneNumbers/{exophone_sid}`.
pub async fn release(
    State(state): State<Arc<SimState>>,
    Path((sid, exophone)): Path<(String, String)>,
    request: Received,
) -> Answer {
    open(&state, &sid, &request)?;
    store::release(&state, &sid, &exophone).map_err(refuse)?;
    let accepted = json!({"Status": 202, "Message": "Accepted"});
    Ok((StatusCode::ACCEPTED, axum::Json(accepted)).into_response())
}
