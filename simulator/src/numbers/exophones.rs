//! v2_beta `IncomingPhoneNumbers`: list (paged), details, buy, assign flows
//! or rename, and release. JSON only; errors are `RestException`s, as on v1.
//!
//! Guesses: `number_type`, the `date_*` fields (written like v1 times, IST)
//! and `uri` are not in the documented sample's verified part; buying
//! answers 200 with the number and its `rental_price`; releasing answers
//! `202 {"Status":202,"Message":"Accepted"}` (new docs only).

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::Arc;

use super::store::{self, ExoPhone, ExoPhoneChange};
use crate::request::{Form, Refusal, authenticate, bad_request, field, log};
use crate::state::{SimState, e164};
use crate::wire::{Format, exotel_time, rest_exception};

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

/// Logs the request and opens the account, or refuses with 401.
fn open(state: &SimState, sid: &str, parts: (&Method, &Uri, &HeaderMap), body: &[u8]) -> Result<(), Refusal> {
    let (method, uri, headers) = parts;
    log(state, method, uri, headers, body);
    let unauthorized = || Refusal(StatusCode::UNAUTHORIZED, "Authentication failed".into());
    authenticate(state, sid, headers).map(|_| ()).ok_or_else(unauthorized)
}

fn refuse(Refusal(status, message): Refusal) -> Response {
    rest_exception(status, Format::Json, &message)
}

/// Which page: `Page` (from 0) and `PageSize` (default 50) in the query.
fn paging(uri: &Uri) -> Result<(usize, usize), Refusal> {
    let query: Form = serde_urlencoded::from_str(uri.query().unwrap_or_default()).unwrap_or_default();
    let number = |name: &str, default: usize| {
        field(&query, name).map_or(Ok(default), |v| {
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
pub async fn list(
    State(state): State<Arc<SimState>>,
    Path(sid): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(refusal) = open(&state, &sid, (&method, &uri, &headers), &[]) {
        return refuse(refusal);
    }
    let paging = match paging(&uri) {
        Ok(paging) => paging,
        Err(refusal) => return refuse(refusal),
    };
    let phones = store::owned(&state, &sid).unwrap_or_default();
    axum::Json(page_json(&phones, &sid, &headers, paging)).into_response()
}

/// `GET /v2_beta/Accounts/{sid}/IncomingPhoneNumbers/{exophone_sid}`; the
/// sid is the 0-prefixed number, and the number in any form finds it too.
pub async fn details(
    State(state): State<Arc<SimState>>,
    Path((sid, exophone)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(refusal) = open(&state, &sid, (&method, &uri, &headers), &[]) {
        return refuse(refusal);
    }
    match store::find(&state, &sid, &exophone) {
        Some(phone) => axum::Json(number_json(&phone, &sid, &headers)).into_response(),
        None => refuse(Refusal(StatusCode::NOT_FOUND, "No matching results".into())),
    }
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
pub async fn buy(
    State(state): State<Arc<SimState>>,
    Path(sid): Path<String>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refusal) = open(&state, &sid, (&method, &uri, &headers), &body) {
        return refuse(refusal);
    }
    match store::add(&state, &sid, &change(&body)) {
        Ok(phone) => {
            let mut bought = number_json(&phone, &sid, &headers);
            bought["rental_price"] = json!("499.000000");
            axum::Json(bought).into_response()
        }
        Err(refusal) => refuse(refusal),
    }
}

/// `PUT /v2_beta/Accounts/{sid}/IncomingPhoneNumbers/{exophone_sid}`:
/// assigns flows (`VoiceUrl`, `SMSUrl`) or renames (`FriendlyName`).
pub async fn assign(
    State(state): State<Arc<SimState>>,
    Path((sid, exophone)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refusal) = open(&state, &sid, (&method, &uri, &headers), &body) {
        return refuse(refusal);
    }
    let mut change = change(&body);
    change.phone_number = None;
    match store::update(&state, &sid, &exophone, &change) {
        Ok(phone) => axum::Json(number_json(&phone, &sid, &headers)).into_response(),
        Err(refusal) => refuse(refusal),
    }
}

/// `DELETE /v2_beta/Accounts/{sid}/IncomingPhoneNumbers/{exophone_sid}`.
pub async fn release(
    State(state): State<Arc<SimState>>,
    Path((sid, exophone)): Path<(String, String)>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
) -> Response {
    if let Err(refusal) = open(&state, &sid, (&method, &uri, &headers), &[]) {
        return refuse(refusal);
    }
    match store::release(&state, &sid, &exophone) {
        Ok(()) => {
            let accepted = json!({"Status": 202, "Message": "Accepted"});
            (StatusCode::ACCEPTED, axum::Json(accepted)).into_response()
        }
        Err(refusal) => refuse(refusal),
    }
}
