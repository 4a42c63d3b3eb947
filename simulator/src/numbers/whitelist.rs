//! The DND customer whitelist (v1 `CustomerWhitelist`): adding numbers,
//! which sends them an opt-in SMS, and checking a number's state.
//!
//! Exotel documents no list or delete for it, so there is none. The add
//! response, `{"Result":{"Total","Duplicate","Processed","Succeeded",
//! "Redundant","Failed"}}`, comes from production client code that sums
//! those counts, not from the reference's documentation excerpts.

use axum::Router;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};
use std::collections::HashSet;
use std::sync::Arc;

use crate::request::{Answer, Form, Received, Refusal, bad_request, field};
use crate::state::{Account, SimState, is_indian, national};
use crate::wire::{Format, respond};

/// How long a whitelisting lasts ("valid only for the next 6 months").
const VALIDITY_DAYS: i64 = 180;

/// A number added through the API.
#[derive(Debug, Clone)]
pub struct Whitelisting {
    pub at: DateTime<Utc>,
    /// The customer unsubscribed from the opt-in SMS.
    pub blacklisted: bool,
}

/// Whitelist routes; the add route also takes the documented trailing slash.
pub fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route("/v1/Accounts/{sid}/CustomerWhitelist", post(add))
        .route("/v1/Accounts/{sid}/CustomerWhitelist/", post(add))
        .route("/v1/Accounts/{sid}/CustomerWhitelist.json", post(add))
        .route("/v1/Accounts/{sid}/CustomerWhitelist/{number}", get(check))
}

/// `POST /v1/Accounts/{sid}/CustomerWhitelist[.json]` with `VirtualNumber`,
/// `Number` (comma-separated) and `Language`, in the body or (as some
/// clients send them) the query string.
pub async fn add(State(state): State<Arc<SimState>>, Path(sid): Path<String>, request: Received) -> Answer {
    let format = if request.uri.path().ends_with(".json") {
        Format::Json
    } else {
        Format::Xml
    };
    let account = request.v1_account(&state, &sid, format)?;
    let mut form = request.form();
    form.extend(request.query());
    let result = whitelist(&state, &account, &form).map_err(|r| r.answer(format))?;
    Ok(respond(StatusCode::OK, format, "Result", result))
}

/// How each number of one request fared.
#[derive(Debug, Default)]
struct Tally {
    total: usize,
    duplicate: usize,
    succeeded: usize,
    redundant: usize,
    failed: usize,
}

fn whitelist(state: &SimState, account: &Account, form: &Form) -> Result<Value, Refusal> {
    let virtual_number =
        field(form, "VirtualNumber").ok_or_else(|| bad_request("VirtualNumber is a mandatory parameter"))?;
    if !account.owns(virtual_number) {
        let message = format!("VirtualNumber {virtual_number} is not an ExoPhone of this account");
        return Err(bad_request(&message));
    }
    let numbers: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "Number" || k.starts_with("Number["))
        .flat_map(|(_, v)| v.split(','))
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .collect();
    if numbers.is_empty() {
        return Err(bad_request("Number is a mandatory parameter"));
    }
    let tally = enter(state, &account.sid, &numbers);
    Ok(json!({
        "Total": tally.total, "Duplicate": tally.duplicate, "Processed": tally.total - tally.duplicate,
        "Succeeded": tally.succeeded, "Redundant": tally.redundant, "Failed": tally.failed,
    }))
}

/// Whitelists each number once: invalid or unsubscribed numbers fail, ones
/// already whitelisted are redundant. A number whose scenario says it
/// unsubscribes is blacklisted at once (the opt-in SMS was still sent).
fn enter(state: &SimState, sid: &str, numbers: &[&str]) -> Tally {
    let mut tally = Tally {
        total: numbers.len(),
        ..Tally::default()
    };
    let mut seen = HashSet::new();
    let Ok(mut list) = state.numbers.whitelist.lock() else {
        tally.failed = numbers.len();
        return tally;
    };
    for number in numbers {
        let key = (sid.to_string(), national(number));
        if !seen.insert(key.1.clone()) {
            tally.duplicate += 1;
            continue;
        }
        match list.get(&key).map(current) {
            _ if !is_indian(number) => tally.failed += 1,
            Some(Standing::Blacklisted) => tally.failed += 1,
            Some(Standing::Whitelisted(_)) => tally.redundant += 1,
            _ => {
                let blacklisted = state.scenario(number).unsubscribes;
                list.insert(
                    key,
                    Whitelisting {
                        at: Utc::now(),
                        blacklisted,
                    },
                );
                tally.succeeded += 1;
            }
        }
    }
    tally
}

enum Standing {
    Neutral,
    Blacklisted,
    /// Seconds left.
    Whitelisted(i64),
}

fn current(entry: &Whitelisting) -> Standing {
    let left = (entry.at + Duration::days(VALIDITY_DAYS) - Utc::now()).num_seconds();
    match entry {
        Whitelisting { blacklisted: true, .. } => Standing::Blacklisted,
        _ if left > 0 => Standing::Whitelisted(left),
        _ => Standing::Neutral,
    }
}

/// Where `number` stands on the account's whitelist now.
fn standing_of(state: &SimState, sid: &str, number: &str) -> Standing {
    let entry = state
        .numbers
        .whitelist
        .lock()
        .ok()
        .and_then(|list| list.get(&(sid.to_string(), national(number))).cloned());
    entry.as_ref().map(current).unwrap_or(Standing::Neutral)
}

/// Whether the account has whitelisted `number` (status `Whitelist`): a
/// call may then reach it even on the DND registry.
pub fn whitelisted(state: &SimState, sid: &str, number: &str) -> bool {
    matches!(standing_of(state, sid, number), Standing::Whitelisted(_))
}

/// `{Status, Type, Expiry}`: `Whitelist`/`API`/seconds left for numbers
/// added here, `Blacklist`/`""`/-1 once they unsubscribed, else
/// `Neutral`/`""`/-1.
fn standing(state: &SimState, sid: &str, number: &str) -> Value {
    match standing_of(state, sid, number) {
        Standing::Whitelisted(left) => json!({"Status": "Whitelist", "Type": "API", "Expiry": left}),
        Standing::Blacklisted => json!({"Status": "Blacklist", "Type": "", "Expiry": -1}),
        Standing::Neutral => json!({"Status": "Neutral", "Type": "", "Expiry": -1}),
    }
}

/// `GET /v1/Accounts/{sid}/CustomerWhitelist/{number}[.json]`.
pub async fn check(
    State(state): State<Arc<SimState>>,
    Path((sid, number)): Path<(String, String)>,
    request: Received,
) -> Answer {
    let describe = |number: &str| standing(&state, &sid, number);
    super::about_number(&state, &sid, &number, &request, "Result", describe)
}
