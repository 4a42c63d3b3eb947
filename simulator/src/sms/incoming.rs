//! `POST /_simulator/incoming-sms {"from": "<customer>", "to": "<ExoPhone>",
//! "body": "…"}`: a scripted customer texts an ExoPhone. Exotel has no API
//! that makes a customer text you, so the simulator's admin route does.
//! The flow the ExoPhone's `SMSUrl` names (`…/exoml/start_sms/{app_id}`,
//! registered with `PUT /_simulator/flows/{app_id}`) runs at once: each
//! Passthru applet's URL is fetched with a GET whose query carries the SMS
//! (`SmsSid`, `From` the customer 0-prefixed, `To` the ExoPhone, `Body`,
//! `Date` in India time, `Direction=incoming`) and branches as in a call
//! flow; an SMS flow has nothing to say, play or dial, so other applets
//! are passed over.
//!
//! The reference names the SMS flow's URL but not what its Passthru
//! sends: the field names here are Exotel's SMS callback names (a GUESS),
//! and Switchboard's receiver takes the call flow's names too.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{FixedOffset, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

use crate::calls::exophone;
use crate::flows::Applet;
use crate::state::{SimState, national};

/// The most applets one SMS's flow runs (a flow may branch back).
const MAX_STEPS: usize = 100;
const URL_TIMEOUT: Duration = Duration::from_secs(10);

/// A text to send: `from` the customer, `to` an ExoPhone (numbers in any form).
#[derive(Debug, Deserialize)]
pub struct Text {
    pub from: String,
    pub to: String,
    #[serde(default)]
    pub body: String,
}

/// Delivers the SMS through the ExoPhone's flow and answers `201 {"sid",
/// "account_sid", "from", "to", "app_id", "steps": [{"index", "applet",
/// "url", "http_status", "error"}]}` once the flow has run; 422 when
/// `from` is no phone number, 404 when `to` is no account's ExoPhone, 409
/// when its `SMSUrl` names no registered flow. Errors are `{"error": "…"}`.
pub async fn receive(State(state): State<Arc<SimState>>, Json(text): Json<Text>) -> (StatusCode, Json<Value>) {
    if !(10..=15).contains(&text.from.chars().filter(char::is_ascii_digit).count()) {
        let error = "from must be the customer's phone number";
        return (StatusCode::UNPROCESSABLE_ENTITY, Json(json!({ "error": error })));
    }
    let Some((account_sid, phone)) = exophone(&state, &text.to) else {
        let error = format!("{} is no ExoPhone of any account", national(&text.to));
        return (StatusCode::NOT_FOUND, Json(json!({ "error": error })));
    };
    let app_id = phone.sms_url.as_deref().and_then(sms_app_id).map(str::to_string);
    let applets = app_id
        .as_ref()
        .and_then(|id| state.flows.lock().ok().and_then(|f| f.get(id).cloned()));
    let (Some(app_id), Some(applets)) = (app_id, applets) else {
        let number = &phone.number;
        let error = format!("ExoPhone {number} has no SMSUrl naming a registered flow");
        return (StatusCode::CONFLICT, Json(json!({ "error": error })));
    };
    let sid = uuid::Uuid::new_v4().simple().to_string();
    let ist = FixedOffset::east_opt(5 * 3600 + 30 * 60).expect("India's offset");
    let query = [
        ("SmsSid", sid.clone()),
        ("From", national(&text.from)),
        ("To", phone.number.clone()),
        ("Body", text.body.clone()),
        (
            "Date",
            Utc::now().with_timezone(&ist).format("%Y-%m-%d %H:%M:%S").to_string(),
        ),
        ("Direction", "incoming".to_string()),
    ];
    let steps = run(&state, &applets, &query).await;
    let body = json!({
        "sid": sid, "account_sid": account_sid, "from": national(&text.from), "to": phone.number,
        "app_id": app_id, "steps": steps,
    });
    (StatusCode::CREATED, Json(body))
}

/// The app id an `SMSUrl` names (`…/exoml/start_sms/{app_id}`).
pub fn sms_app_id(url: &str) -> Option<&str> {
    let path = url.split(['?', '#']).next()?.trim_end_matches('/');
    let (_, rest) = path.split_once("/exoml/start_sms/")?;
    Some(rest).filter(|id| !id.is_empty() && !id.contains('/'))
}

/// Runs the flow's Passthru applets in order of their branches; what each did.
async fn run(state: &SimState, applets: &[Applet], query: &[(&str, String)]) -> Vec<Value> {
    let mut steps = Vec::new();
    let mut index = Some(0);
    while let Some(at) = index.filter(|i| *i < applets.len() && steps.len() < MAX_STEPS) {
        index = match &applets[at] {
            Applet::Passthru { url, on_200, on_302 } => {
                let answer = state
                    .passthru_http
                    .get(url)
                    .query(query)
                    .timeout(URL_TIMEOUT)
                    .send()
                    .await;
                let (status, error) = match answer {
                    Ok(response) => (Some(response.status().as_u16()), None),
                    Err(e) => (None, Some(e.to_string())),
                };
                steps.push(
                    json!({"index": at, "applet": "passthru", "url": url, "http_status": status, "error": error}),
                );
                if status == Some(200) { on_200 } else { on_302 }.target(at)
            }
            Applet::Hangup => None,
            _ => {
                steps
                    .push(json!({"index": at, "applet": "skipped", "error": "nothing to say, play or dial to an SMS"}));
                Some(at + 1)
            }
        };
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::sms_app_id;

    #[test]
    fn an_sms_url_names_its_flow() {
        assert_eq!(
            sms_app_id("http://my.exotel.com/sandbox/exoml/start_sms/42"),
            Some("42")
        );
        assert_eq!(sms_app_id("http://my.exotel.com/sandbox/exoml/start_voice/42"), None);
        assert_eq!(sms_app_id("http://my.exotel.com/sandbox/exoml/start_sms/"), None);
    }
}
