//! What every Exotel route does first: read the form, log the request
//! (never its token), and open the account from Basic credentials.

use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use base64::Engine;

use crate::state::{Account, LoggedRequest, SimState};

pub type Form = Vec<(String, String)>;

pub fn field<'a>(form: &'a Form, name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

pub fn basic_user(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = base64::engine::general_purpose::STANDARD.decode(value.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (user, token) = text.split_once(':')?;
    Some((user.to_string(), token.to_string()))
}

pub fn log(state: &SimState, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) {
    let entry = LoggedRequest {
        method: method.to_string(),
        path: uri.path().to_string(),
        query: uri.query().map(str::to_string),
        user: basic_user(headers).map(|(user, _)| user),
        body: String::from_utf8_lossy(body).to_string(),
    };
    if let Ok(mut log) = state.log.lock() {
        log.push(entry);
    }
}

/// The account the credentials open: key:token, or (older accounts) sid:token.
pub fn authenticate(state: &SimState, sid: &str, headers: &HeaderMap) -> Option<Account> {
    let (user, token) = basic_user(headers)?;
    let account = state.accounts.lock().ok()?.get(sid).cloned()?;
    ((user == account.api_key || user == account.sid) && token == account.api_token).then_some(account)
}

/// Why Exotel would refuse a call: its status and message.
pub struct Refusal(pub StatusCode, pub String);

pub fn bad_request(message: &str) -> Refusal {
    Refusal(StatusCode::BAD_REQUEST, message.to_string())
}

/// A fault scripted for a number (`Scenario::fault`), as any area answers it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// 500.
    ServerError,
    /// 503.
    Unavailable,
    /// 429.
    RateLimited,
    /// No answer for a minute, then 504.
    Timeout,
}

impl Fault {
    pub fn status(self) -> StatusCode {
        match self {
            Fault::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            Fault::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Fault::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Fault::Timeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Fault::ServerError => "Internal server error",
            Fault::Unavailable => "Service unavailable",
            Fault::RateLimited => "Too many requests",
            Fault::Timeout => "Gateway timeout",
        }
    }
}

/// The fault scripted for the first of `numbers` that has one. A timeout
/// is served here: this waits a real minute before returning it.
pub async fn scripted_fault<'a>(state: &SimState, numbers: impl IntoIterator<Item = &'a str>) -> Option<Fault> {
    let fault = numbers.into_iter().find_map(|n| state.scenario(n).fault)?;
    let fault = match fault.as_str() {
        "server_error" => Fault::ServerError,
        "unavailable" => Fault::Unavailable,
        "rate_limited" => Fault::RateLimited,
        _ => Fault::Timeout,
    };
    if fault == Fault::Timeout {
        tokio::time::sleep(std::time::Duration::from_secs(60)).await;
    }
    Some(fault)
}
