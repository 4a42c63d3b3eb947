//! The ExoPhones each account owns. `Account::exophones` says which numbers
//! an account owns (so `Calls/connect` keeps checking `CallerId` against
//! it) and seeds this store: a number seen there for the first time gets
//! default details, which buying, `PUT` and the admin routes then change.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use serde::Deserialize;
use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use super::metadata;
use super::whitelist::Whitelisting;
use crate::request::{Refusal, bad_request, is_http_url};
use crate::state::{SimState, is_indian, national};

/// Per-account number details: ExoPhones and whitelisted customers, keyed
/// by (account sid, 0-prefixed number).
#[derive(Default)]
pub struct Registry {
    exophones: Mutex<HashMap<(String, String), ExoPhone>>,
    pub(super) whitelist: Mutex<HashMap<(String, String), Whitelisting>>,
}

/// One ExoPhone as the account sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct ExoPhone {
    /// The 0-prefixed national form, which is also the ExoPhone's sid.
    pub number: String,
    pub friendly_name: String,
    pub voice_url: Option<String>,
    pub sms_url: Option<String>,
    /// Telecom circle code, e.g. `KA`.
    pub region: String,
    /// `Landline`, `Mobile` or `TollFree`.
    pub number_type: String,
    pub voice: bool,
    pub sms: bool,
    pub created: DateTime<Utc>,
    pub updated: DateTime<Utc>,
}

impl ExoPhone {
    fn seeded(state: &SimState, number: &str, now: DateTime<Utc>) -> Self {
        let number = national(number);
        Self {
            friendly_name: number.clone(),
            voice_url: None,
            sms_url: None,
            region: metadata::circle(state, &number),
            number_type: metadata::number_type(state, &number),
            voice: true,
            sms: true,
            created: now,
            updated: now,
            number,
        }
    }
}

/// What an ExoPhone is bought with or changed to; unset fields stay as they
/// are, and an empty `voice_url` or `sms_url` unassigns the flow.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ExoPhoneChange {
    pub phone_number: Option<String>,
    pub friendly_name: Option<String>,
    pub voice_url: Option<String>,
    pub sms_url: Option<String>,
    pub region: Option<String>,
    pub number_type: Option<String>,
    pub capabilities: Option<Capabilities>,
}

/// Whether an ExoPhone takes calls and SMS.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct Capabilities {
    pub voice: bool,
    pub sms: bool,
}

impl ExoPhoneChange {
    fn validate(&self) -> Result<(), Refusal> {
        for (name, url) in [("VoiceUrl", &self.voice_url), ("SMSUrl", &self.sms_url)] {
            let url = url.as_deref().unwrap_or_default();
            if !(url.is_empty() || is_http_url(url)) {
                return Err(bad_request(&format!("{name} must be an http or https URL")));
            }
        }
        if self
            .number_type
            .as_deref()
            .is_some_and(|t| !metadata::TYPES.contains(&t))
        {
            return Err(bad_request("number_type must be Landline, Mobile or TollFree"));
        }
        Ok(())
    }

    /// Applies the change; `true` when something changed.
    fn apply(&self, phone: &mut ExoPhone) -> bool {
        let before = phone.clone();
        set(&mut phone.friendly_name, &self.friendly_name);
        set(&mut phone.region, &self.region);
        set(&mut phone.number_type, &self.number_type);
        let url = |value: &String| Some(value.clone()).filter(|v| !v.is_empty());
        if let Some(voice_url) = &self.voice_url {
            phone.voice_url = url(voice_url);
        }
        if let Some(sms_url) = &self.sms_url {
            phone.sms_url = url(sms_url);
        }
        if let Some(capabilities) = self.capabilities {
            (phone.voice, phone.sms) = (capabilities.voice, capabilities.sms);
        }
        *phone != before
    }
}

fn set(target: &mut String, value: &Option<String>) {
    if let Some(value) = value {
        target.clone_from(value);
    }
}

fn key(sid: &str, number: &str) -> (String, String) {
    (sid.to_string(), national(number))
}

fn broken() -> Refusal {
    Refusal(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error".into())
}

fn not_found() -> Refusal {
    Refusal(StatusCode::NOT_FOUND, "No matching results".into())
}

/// The account's ExoPhones in the order it got them; `None` for an unknown
/// account.
pub fn owned(state: &SimState, sid: &str) -> Option<Vec<ExoPhone>> {
    let numbers = state.accounts.lock().ok()?.get(sid)?.exophones.clone();
    let mut records = state.numbers.exophones.lock().ok()?;
    let (now, mut seen) = (Utc::now(), HashSet::new());
    let phones = numbers
        .iter()
        .filter(|n| seen.insert(national(n)))
        .map(|n| {
            let record = records.entry(key(sid, n));
            record.or_insert_with(|| ExoPhone::seeded(state, n, now)).clone()
        })
        .collect();
    Some(phones)
}

/// One of the account's ExoPhones, by its sid or its number in any form.
pub fn find(state: &SimState, sid: &str, exophone: &str) -> Option<ExoPhone> {
    let wanted = national(exophone);
    owned(state, sid)?.into_iter().find(|p| p.number == wanted)
}

/// Gives the account a number no account owns yet.
pub fn add(state: &SimState, sid: &str, change: &ExoPhoneChange) -> Result<ExoPhone, Refusal> {
    let number = change.phone_number.as_deref().unwrap_or_default();
    if number.is_empty() {
        return Err(bad_request("PhoneNumber is a mandatory parameter"));
    }
    if !is_indian(number) {
        return Err(bad_request(&format!(
            "PhoneNumber {number} is not a valid phone number"
        )));
    }
    change.validate()?;
    claim(state, sid, &national(number))?;
    let mut phone = ExoPhone::seeded(state, number, Utc::now());
    change.apply(&mut phone);
    let mut records = state.numbers.exophones.lock().map_err(|_| broken())?;
    records.insert(key(sid, number), phone.clone());
    Ok(phone)
}

fn claim(state: &SimState, sid: &str, number: &str) -> Result<(), Refusal> {
    let mut accounts = state.accounts.lock().map_err(|_| broken())?;
    if accounts
        .values()
        .any(|a| a.exophones.iter().any(|n| national(n) == number))
    {
        let message = format!("PhoneNumber {number} is not available");
        return Err(Refusal(StatusCode::CONFLICT, message));
    }
    let account = accounts.get_mut(sid).ok_or_else(not_found)?;
    account.exophones.push(number.to_string());
    Ok(())
}

/// Changes an ExoPhone's name, flows, region, type or capabilities.
pub fn update(state: &SimState, sid: &str, exophone: &str, change: &ExoPhoneChange) -> Result<ExoPhone, Refusal> {
    if change.phone_number.is_some() {
        return Err(bad_request("PhoneNumber cannot be changed"));
    }
    change.validate()?;
    let phone = find(state, sid, exophone).ok_or_else(not_found)?;
    let mut records = state.numbers.exophones.lock().map_err(|_| broken())?;
    let record = records.get_mut(&key(sid, &phone.number)).ok_or_else(not_found)?;
    if change.apply(record) {
        record.updated = Utc::now();
    }
    Ok(record.clone())
}

/// Takes a number away from the account.
pub fn release(state: &SimState, sid: &str, exophone: &str) -> Result<(), Refusal> {
    let number = national(exophone);
    let mut accounts = state.accounts.lock().map_err(|_| broken())?;
    let account = accounts.get_mut(sid).ok_or_else(not_found)?;
    let before = account.exophones.len();
    account.exophones.retain(|n| national(n) != number);
    if account.exophones.len() == before {
        return Err(not_found());
    }
    drop(accounts);
    let mut records = state.numbers.exophones.lock().map_err(|_| broken())?;
    records.remove(&key(sid, &number));
    Ok(())
}

/// Drops the details of an account's numbers, as when it is replaced: its
/// `exophones` seed the store afresh.
pub fn forget(state: &SimState, sid: &str) {
    if let Ok(mut records) = state.numbers.exophones.lock() {
        records.retain(|(account, _), _| account != sid);
    }
}
