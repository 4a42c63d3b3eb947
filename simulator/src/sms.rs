//! SMS (v1): `Sms/send` (one body to up to 100 numbers), `Sms/bulksend`
//! (up to 100 messages), SMS details, and the life of each SMS ending in
//! its status callback. Exotel's clients spell the path `Sms` and `SMS`
//! both ways; both are served.

mod delivery;
mod draft;
mod incoming;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use serde_json::{Value, json};
use std::sync::Arc;

pub use delivery::valid_script;
pub use incoming::receive as receive_incoming;

use crate::request::{Fault, Received, fault_after_accepting, scripted_fault};
use crate::state::{SimState, SmsRecord};
use crate::wire::{Format, coded_exception, exotel_time, respond, respond_list, rest_exception};

/// Why Exotel refuses an SMS request: HTTP status, its documented `Code`
/// when there is one, and a message.
#[derive(Debug)]
pub struct Rejection {
    status: StatusCode,
    code: Option<u32>,
    message: String,
}

impl Rejection {
    /// A 400 with Exotel's code.
    fn bad(code: u32, message: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some(code), message)
    }

    /// A 400 for a rule Exotel gives no code.
    fn plain(message: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, None, message)
    }

    fn new(status: StatusCode, code: Option<u32>, message: &str) -> Self {
        Self {
            status,
            code,
            message: message.to_string(),
        }
    }

    /// The same refusal, naming the part of the request at fault.
    fn at(self, place: &str) -> Self {
        Self {
            message: format!("{place}: {}", self.message),
            ..self
        }
    }

    fn respond(&self, format: Format) -> Response {
        match self.code {
            Some(code) => coded_exception(self.status, format, code, &self.message),
            None => rest_exception(self.status, format, &self.message),
        }
    }
}

/// A scripted fault as the SMS API answers it (codes 40402 and 40405 are
/// Exotel's for 429 and 503).
impl From<Fault> for Rejection {
    fn from(fault: Fault) -> Self {
        let code = match fault {
            Fault::RateLimited => Some(40402),
            Fault::Unavailable => Some(40405),
            _ => None,
        };
        Rejection::new(fault.status(), code, fault.message())
    }
}

/// SMS routes, under both spellings.
pub fn routes() -> Router<Arc<SimState>> {
    ["Sms", "SMS"].into_iter().fold(Router::new(), |router, area| {
        router
            .route(&format!("/v1/Accounts/{{sid}}/{area}/{{action}}"), post(send))
            .route(&format!("/v1/Accounts/{{sid}}/{area}/Messages/{{sms}}"), get(details))
    })
}

/// `POST /v1/Accounts/{sid}/Sms/send[.json]` and `…/Sms/bulksend[.json]`.
pub async fn send(
    State(state): State<Arc<SimState>>,
    Path((sid, action)): Path<(String, String)>,
    request: Received,
) -> Response {
    let (action, format) = Format::split(&action);
    match accept(&state, &sid, action, &request).await {
        Ok((false, messages)) => respond(StatusCode::OK, format, "SMSMessage", sms_json(&messages[0], format)),
        Ok((true, messages)) => {
            let items = messages.iter().map(|sms| sms_json(sms, format)).collect();
            respond_list(StatusCode::OK, format, "SMSMessage", items)
        }
        Err(rejection) => rejection.respond(format),
    }
}

/// The queued SMS of an accepted request, and whether they answer as a
/// list. A fault scripted to strike after accepting queues the messages
/// (they live on and report) and then answers the fault.
async fn accept(
    state: &Arc<SimState>,
    sid: &str,
    action: &str,
    request: &Received,
) -> Result<(bool, Vec<SmsRecord>), Rejection> {
    let account = request.account(state, sid).ok_or_else(unauthorized)?;
    let form = &request.form();
    if !state.admit_sms(&account.sid) {
        return Err(Rejection::new(
            StatusCode::TOO_MANY_REQUESTS,
            Some(40402),
            "Too many POST requests",
        ));
    }
    let (list, drafts) = match action {
        "send" => draft::static_send(&account, form)?,
        "bulksend" => draft::bulk_send(&account, form)?,
        _ => return Err(not_found()),
    };
    if let Some(fault) = scripted_fault(state, drafts.iter().map(|d| d.to.as_str())).await {
        return Err(fault.into());
    }
    let recipients: Vec<String> = drafts.iter().map(|d| d.to.clone()).collect();
    let queued = drafts
        .into_iter()
        .map(|d| delivery::queue(state, &account.sid, d))
        .collect();
    if let Some(fault) = fault_after_accepting(state, recipients.iter().map(String::as_str)) {
        if fault == Fault::Timeout {
            tokio::time::sleep(std::time::Duration::from_secs(60)).await;
        }
        return Err(fault.into());
    }
    Ok((list, queued))
}

fn unauthorized() -> Rejection {
    Rejection::new(StatusCode::UNAUTHORIZED, Some(34010), "Authentication failed")
}

fn not_found() -> Rejection {
    Rejection::new(StatusCode::NOT_FOUND, None, "The requested resource was not found")
}

/// `GET /v1/Accounts/{sid}/SMS/Messages/{SmsSid}[.json]`.
///
/// An unknown sid answers HTTP 200 with a `RestException` of status 404
/// "No matching results": Exotel's SMS docs give the 200, a real fixture
/// the 404 inside the body, and this serves both.
pub async fn details(
    State(state): State<Arc<SimState>>,
    Path((sid, sms)): Path<(String, String)>,
    request: Received,
) -> Response {
    let (sms_sid, format) = Format::split(&sms);
    if request.account(&state, &sid).is_none() {
        return unauthorized().respond(format);
    }
    if !state.admit_sms(&sid) {
        return Rejection::new(StatusCode::TOO_MANY_REQUESTS, Some(40403), "Too many GET requests").respond(format);
    }
    match stored(&state, &sid, sms_sid) {
        Some(sms) => respond(StatusCode::OK, format, "SMSMessage", sms_json(&sms, format)),
        None => respond(
            StatusCode::OK,
            format,
            "RestException",
            json!({"Status": 404, "Message": "No matching results"}),
        ),
    }
}

/// An SMS of the account, as stored.
fn stored(state: &SimState, account_sid: &str, sms_sid: &str) -> Option<SmsRecord> {
    let messages = state.sms.lock().ok()?;
    messages.get(sms_sid).filter(|m| m.account_sid == account_sid).cloned()
}

/// The `SMSMessage` object. An unsent SMS has `DateSent` null in JSON and
/// the IST epoch in XML, as real captures show.
fn sms_json(sms: &SmsRecord, format: Format) -> Value {
    let unsent = match format {
        Format::Json => Value::Null,
        Format::Xml => Value::String("1970-01-01 05:30:00".into()),
    };
    json!({
        "Sid": sms.sid, "AccountSid": sms.account_sid, "From": sms.from, "To": sms.to,
        "DateCreated": exotel_time(sms.created), "DateUpdated": exotel_time(sms.updated),
        "DateSent": sms.sent.map(|t| Value::String(exotel_time(t))).unwrap_or(unsent),
        "Body": sms.body, "Direction": "outbound-api",
        "Uri": format!("/v1/Accounts/{}/SMS/Messages/{}{}", sms.account_sid, sms.sid, format.extension()),
        "ApiVersion": null, "Price": sms.price, "Status": sms.status,
        "DetailedStatusCode": sms.detailed_status_code,
        "DetailedStatus": delivery::detailed_status(sms.detailed_status_code), "SmsUnits": sms.units,
    })
}
