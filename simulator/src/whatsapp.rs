//! WhatsApp (v2): `POST /v2/accounts/{sid}/messages` with the body wrapped
//! in its channel (`{"whatsapp":{"messages":[…]}}`), per-message results,
//! delivery reports to `status_callback`, and incoming messages injected
//! through `/_simulator/whatsapp/incoming`; and message templates (v2
//! `templates`, with the simulator's own review route), whose verdict
//! decides the receipts of a template message.
//!
//! A request whose messages are all invalid gets a 400 in the v2 error
//! envelope; one with some valid messages gets a 202 in which each invalid
//! message has its own failure entry (Exotel documents both shapes).

mod content;
mod dlr;
mod incoming;
mod media;
mod templates;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};
use std::sync::Arc;

pub use dlr::valid_script;
pub use media::MediaFiles;
pub use templates::{SANDBOX_WABA, Templates};

use crate::request::{Fault, Received, is_http_url, scripted_fault};
use crate::state::{Account, SimState, national};
use crate::wire::{error_data, v2, v2_error};
use dlr::Accepted;

/// Most messages per request.
pub const MAX_MESSAGES: usize = 100;

/// `error_data.code` of a refused request or message (from the docs' example).
const INVALID: u32 = 1001;

/// WhatsApp routes, and the simulator's route for incoming messages.
pub fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route("/v2/accounts/{sid}/messages", post(send))
        .route("/_simulator/whatsapp/incoming", post(incoming::inject))
        .route("/v2/accounts/{sid}/media/{id}", axum::routing::get(media::get))
        .route("/_simulator/accounts/{sid}/media/{id}", axum::routing::put(media::put))
        .merge(templates::routes())
}

/// `POST /v2/accounts/{sid}/messages`.
pub async fn send(State(state): State<Arc<SimState>>, Path(sid): Path<String>, request: Received) -> Response {
    let method = &request.method;
    let Some(account) = request.account(&state, &sid) else {
        return unauthorized(method);
    };
    let body = match unwrap_request(&request.body) {
        Ok(body) => body,
        Err(description) => return v2_error(StatusCode::BAD_REQUEST, method, invalid(&description)),
    };
    let messages = request_messages(&body);
    let recipients = messages.iter().filter_map(|m| m.get("to")?.as_str());
    if let Some(fault) = scripted_fault(&state, recipients).await {
        return fault_response(fault, method);
    }
    let results: Vec<Result<Accepted, String>> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| check(&state, &account, &body, m).map_err(|e| format!("whatsapp.messages[{i}]: {e}")))
        .collect();
    answer(&state, method, results)
}

/// 401 in the v2 error envelope: the credentials do not open the account.
fn unauthorized(method: &Method) -> Response {
    let error = error_data(
        1010,
        "Authentication failed",
        "The API key and token do not open this account",
    );
    v2_error(StatusCode::UNAUTHORIZED, method, error)
}

/// The request as JSON, once its channel wrapper and message count pass.
fn unwrap_request(body: &[u8]) -> Result<Value, String> {
    let request: Value = serde_json::from_slice(body).map_err(|_| "The body is not valid JSON".to_string())?;
    let channel = request.get("whatsapp").filter(|w| w.is_object());
    let channel = channel.ok_or("at least one channel is mandatory")?;
    let messages = channel.get("messages").and_then(Value::as_array);
    let messages = messages.ok_or("whatsapp.messages is mandatory and must be a list")?;
    match messages.len() {
        0 => Err("whatsapp.messages must hold at least one message".into()),
        n if n > MAX_MESSAGES => Err(format!("whatsapp.messages holds {n} messages; at most 100 are allowed")),
        _ => Ok(request),
    }
}

fn request_messages(request: &Value) -> Vec<Value> {
    request["whatsapp"]["messages"].as_array().cloned().unwrap_or_default()
}

fn invalid(description: &str) -> Value {
    let message = description.rsplit(": ").next().unwrap_or(description);
    error_data(INVALID, message, description)
}

/// A scripted fault in the v2 envelope: `error_data.code` 1100 for server
/// errors (as voice v2 documents); no v2 code is known for 429, so the
/// HTTP status is repeated there.
fn fault_response(fault: Fault, method: &Method) -> Response {
    let code = match fault {
        Fault::RateLimited => 429,
        _ => 1100,
    };
    v2_error(
        fault.status(),
        method,
        error_data(code, fault.message(), fault.message()),
    )
}

/// A message Exotel would take, or why not; a template message carries
/// its template's verdict.
fn check(state: &SimState, account: &Account, request: &Value, message: &Value) -> Result<Accepted, String> {
    let from = message.get("from").and_then(Value::as_str).ok_or("from is mandatory")?;
    if !account.owns(from) || national(from).is_empty() {
        return Err(format!("from {from} is not a WhatsApp number of this account"));
    }
    let to = message.get("to").and_then(Value::as_str).ok_or("to is mandatory")?;
    let digits = to.chars().filter(char::is_ascii_digit).count();
    if !(10..=15).contains(&digits) {
        return Err(format!("to {to} is not a phone number"));
    }
    let content = message.get("content").unwrap_or(&Value::Null);
    content::outgoing(content)?;
    let levels = [message, &request["whatsapp"], request];
    let inherited = |key: &str| levels.iter().find_map(|l| l.get(key).filter(|v| !v.is_null())).cloned();
    let status_callback = match inherited("status_callback") {
        Some(Value::String(url)) if is_http_url(&url) => Some(url),
        Some(_) => return Err("status_callback must be an http(s) URL".into()),
        None => account.whatsapp_webhook.clone(),
    };
    Ok(Accepted {
        sid: uuid::Uuid::new_v4().simple().to_string(),
        to: to.to_string(),
        custom_data: inherited("custom_data"),
        status_callback,
        template_failure: templates::verdict(&state.templates, &account.sid, content),
    })
}

/// 202 with a result per message when any was accepted (their receipts
/// start), else 400 naming the first invalid message.
fn answer(state: &Arc<SimState>, method: &Method, results: Vec<Result<Accepted, String>>) -> Response {
    if !results.iter().any(Result::is_ok) {
        let first = results
            .iter()
            .find_map(|r| r.as_ref().err())
            .cloned()
            .unwrap_or_default();
        return v2_error(StatusCode::BAD_REQUEST, method, invalid(&first));
    }
    let accepted = results.iter().filter(|r| r.is_ok()).count();
    let metadata = json!({"total": results.len(), "success": accepted, "failed": results.len() - accepted});
    let entries: Vec<Value> = results.into_iter().map(|r| entry(state, r)).collect();
    let response = json!({"whatsapp": {"messages": entries}});
    v2(StatusCode::ACCEPTED, method, Some(metadata), response)
}

fn entry(state: &Arc<SimState>, result: Result<Accepted, String>) -> Value {
    match result {
        Ok(message) => {
            let sid = message.sid.clone();
            tokio::spawn(dlr::live(state.clone(), message));
            json!({"code": 202, "status": "success", "error_data": null, "data": {"sid": sid}})
        }
        Err(description) => {
            json!({"code": 400, "status": "failure", "error_data": invalid(&description), "data": null})
        }
    }
}
