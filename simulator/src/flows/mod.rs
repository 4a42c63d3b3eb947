//! Call flows (reference §3): a call placed with
//! `Url=http://my.exotel.com/{sid}/exoml/start_voice/{app_id}`, or a call a
//! caller makes to an ExoPhone whose `VoiceUrl` names `app_id`
//! (`POST /_simulator/incoming-calls {"from": "<caller>", "to": "<ExoPhone>"}`),
//! runs the flow registered for `app_id` through
//! `PUT /_simulator/flows/{app_id}`, a JSON list of applets:
//!
//! ```json
//! [{"type": "greeting", "text": "Welcome"},
//!  {"type": "greeting", "url": "https://crm.example/greeting"},
//!  {"type": "gather", "prompt": "Press 1 for sales", "digits_max": 1},
//!  {"type": "passthru", "url": "https://crm.example/route", "on_200": "next", "on_302": 5},
//!  {"type": "connect", "to": "09123456789", "popup_url": "https://crm.example/popup"},
//!  {"type": "connect", "url": "https://crm.example/whom", "popup_url": "https://crm.example/popup"},
//!  {"type": "hangup"}]
//! ```
//!
//! Branches are an applet index, `"next"` (the default) or `"hangup"`.
//! Running off the end of the list hangs up. What each step did is kept
//! for `GET /_simulator/calls/{sid}/flow`.
//!
//! A Connect names exactly one of `to` (a fixed number) and `url`, which
//! chooses the destination at call time (addendum §C): a GET with the
//! call-detail query parameters a Passthru gets and the header
//! `Exotel-Version: 1.0`, answered either with the number to dial ("Dial
//! whom": text/plain or a JSON string, `"09876543210"`) or with
//! Programmable Connect JSON, `{"destination": {"numbers": ["+91…"]},
//! "outgoing_phone_number": "0…", "record": true, "recording_channels":
//! "dual", "max_ringing_duration": 45, "max_conversation_duration": 3600}`
//! (the first number is dialled; `outgoing_phone_number` is the caller id
//! the dialled party sees). `"numbers": []`, an answer other than 200, no
//! answer in time or a body that names no phone number dial nobody: the
//! step's `outcome` says why (`not_dialled`, `fetch_failed`, `unreadable`)
//! and the flow goes on to the next applet.
//!
//! Calls into a flow are told apart in what the flow's URLs receive:
//! `Direction=outbound-dial` for an API call, `Direction=incoming` (with
//! `CallFrom`/`From` the caller and `CallTo`/`To` the ExoPhone) for a call
//! to an ExoPhone.

mod destination;
mod params;
mod popup;
mod run;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, put};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

pub(crate) use run::run;

use crate::request::is_http_url;
use crate::state::SimState;

/// One applet of a flow.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum Applet {
    /// Speaks `text`, or fetches the text (or an audio URL) from `url`.
    Greeting { text: Option<String>, url: Option<String> },
    /// Plays a prompt and collects the keys the caller's scenario presses
    /// (`digits`); `url` fetches the configuration instead.
    Gather {
        prompt: Option<String>,
        digits_max: Option<usize>,
        finish_on_key: Option<String>,
        input_timeout: Option<u64>,
        url: Option<String>,
    },
    /// GETs `url` with the call's details; 200 takes `on_200`, anything
    /// else (302 as documented) takes `on_302`.
    Passthru {
        url: String,
        #[serde(default)]
        on_200: Branch,
        #[serde(default)]
        on_302: Branch,
    },
    /// Dials `to`, or the number `url` answers with, and bridges the caller
    /// with them; `popup_url` gets the call popup events (`Dial`,
    /// `Answered`, `Terminal`). Exactly one of `to` and `url` is given.
    Connect {
        to: Option<String>,
        url: Option<String>,
        popup_url: Option<String>,
    },
    /// Ends the call.
    Hangup,
}

/// Where a Passthru goes next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Branch {
    /// The applet at this index.
    Step(usize),
    /// `"next"` or `"hangup"`.
    Named(Named),
}

/// A branch by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Named {
    Next,
    Hangup,
}

impl Default for Branch {
    fn default() -> Self {
        Branch::Named(Named::Next)
    }
}

impl Branch {
    /// The index this branch leads to from applet `index`; `None` hangs up.
    pub fn target(self, index: usize) -> Option<usize> {
        match self {
            Branch::Step(step) => Some(step),
            Branch::Named(Named::Next) => Some(index + 1),
            Branch::Named(Named::Hangup) => None,
        }
    }
}

/// What one applet did, as `GET /_simulator/calls/{sid}/flow` shows it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FlowStep {
    pub index: usize,
    pub applet: String,
    /// Simulated seconds since the call was placed, when the applet began.
    pub at: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The query parameters sent to `url`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<BTreeMap<String, String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub audio_url: Option<String>,
    /// The digits a Gather collected, without Exotel's quotes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digits: Option<String>,
    /// The number a Connect dialled, 0-prefixed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dialled: Option<String>,
    /// The caller id the party a Connect dialled saw: the ExoPhone, or a
    /// Programmable Connect's `outgoing_phone_number`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caller_id: Option<String>,
    /// How a Connect's leg ended (`completed`, `busy`, `no-answer`,
    /// `failed`), or why it dialled nobody: `not_dialled` (the URL named no
    /// number), `fetch_failed` (an answer other than 200, or none in time),
    /// `unreadable` (a body naming no phone number).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outcome: Option<String>,
    /// The applet that followed; absent when the call hung up here.
    pub next: Option<usize>,
}

/// The app id of a flow URL, in any of the forms seen in use (reference
/// §1.1): `http://my.exotel.com/{sid}/exoml/start_voice/{app_id}`, the
/// Mumbai `my.in.exotel.com` host, or the older `my.exotel.in/exoml/start/{app_id}`
/// and sid-less forms. Any host is accepted.
pub fn app_id(url: &str) -> Option<&str> {
    let path = url.split(['?', '#']).next()?.trim_end_matches('/');
    let (_, rest) = path
        .split_once("/exoml/start_voice/")
        .or_else(|| path.split_once("/exoml/start/"))?;
    Some(rest).filter(|id| !id.is_empty() && !id.contains('/'))
}

/// The simulator's flow routes.
pub fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route("/_simulator/flows/{app_id}", put(register))
        .route("/_simulator/calls/{sid}/flow", get(steps))
}

/// Registers (or replaces) the flow `app_id`; 422 when it is not a valid flow.
pub async fn register(
    State(state): State<Arc<SimState>>,
    Path(app_id): Path<String>,
    Json(applets): Json<Vec<Applet>>,
) -> StatusCode {
    if !valid(&applets) {
        return StatusCode::UNPROCESSABLE_ENTITY;
    }
    let register = |flows: &mut HashMap<String, Vec<Applet>>| flows.insert(app_id, applets);
    crate::admin::change(&state.flows, StatusCode::NO_CONTENT, register)
}

/// What a flow call has done so far, step by step; 404 for an unknown call.
pub async fn steps(
    State(state): State<Arc<SimState>>,
    Path(sid): Path<String>,
) -> Result<Json<Vec<FlowStep>>, StatusCode> {
    let known = state.calls.lock().map(|c| c.contains_key(&sid)).unwrap_or(false);
    if !known {
        return Err(StatusCode::NOT_FOUND);
    }
    let steps = state.flow_steps.lock().ok().and_then(|s| s.get(&sid).cloned());
    Ok(Json(steps.unwrap_or_default()))
}

fn valid(applets: &[Applet]) -> bool {
    let branch = |b: &Branch| !matches!(b, Branch::Step(step) if *step >= applets.len());
    let key = |k: &Option<String>| k.as_deref().is_none_or(|k| k.len() == 1 && is_key(k));
    !applets.is_empty()
        && applets.iter().all(|applet| match applet {
            Applet::Greeting { text, url } => text.is_some() != url.is_some(),
            Applet::Gather {
                digits_max,
                finish_on_key,
                ..
            } => digits_max.is_none_or(|m| m > 0) && key(finish_on_key),
            Applet::Passthru { url, on_200, on_302 } => !url.is_empty() && branch(on_200) && branch(on_302),
            Applet::Connect { to, url, .. } => match (to, url) {
                (Some(to), None) => to.chars().any(|c| c.is_ascii_digit()),
                (None, Some(url)) => is_http_url(url),
                _ => false,
            },
            Applet::Hangup => true,
        })
}

/// Keys on a phone keypad.
pub fn is_key(keys: &str) -> bool {
    keys.chars().all(|c| c.is_ascii_digit() || c == '*' || c == '#')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flow_urls_are_read_in_every_form_seen_in_use() {
        for url in [
            "http://my.exotel.com/sandbox/exoml/start_voice/1234",
            "http://my.in.exotel.com/navi63m/exoml/start_voice/1234/",
            "http://my.exotel.in/exoml/start/1234",
            "http://127.0.0.1:9/exoml/start_voice/1234?x=1",
        ] {
            assert_eq!(app_id(url), Some("1234"), "{url}");
        }
        assert_eq!(app_id("http://my.exotel.com/sandbox/exoml/start_voice/"), None);
        assert_eq!(app_id("http://example.com/flow/1234"), None);
    }

    #[test]
    fn a_branch_to_a_missing_applet_makes_the_flow_invalid() {
        let flow: Vec<Applet> =
            serde_json::from_str(r#"[{"type":"passthru","url":"http://x","on_302":3},{"type":"hangup"}]"#).unwrap();
        assert!(!valid(&flow));
        let flow: Vec<Applet> =
            serde_json::from_str(r#"[{"type":"passthru","url":"http://x","on_302":"hangup"},{"type":"hangup"}]"#)
                .unwrap();
        assert!(valid(&flow));
    }

    #[test]
    fn a_connect_names_exactly_one_of_a_number_and_a_url() {
        let flow = |connect: &str| serde_json::from_str::<Vec<Applet>>(&format!("[{connect}]")).unwrap();
        assert!(valid(&flow(r#"{"type":"connect","to":"09123456789"}"#)));
        assert!(valid(&flow(r#"{"type":"connect","url":"http://x/whom"}"#)));
        for refused in [
            r#"{"type":"connect"}"#,
            r#"{"type":"connect","popup_url":"http://x/popup"}"#,
            r#"{"type":"connect","to":"09123456789","url":"http://x/whom"}"#,
            r#"{"type":"connect","url":"whom"}"#,
        ] {
            assert!(!valid(&flow(refused)), "{refused}");
        }
    }
}
