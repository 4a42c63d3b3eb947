//! What every Exotel route does first: log the request (never its token),
//! read its form, and open the account from Basic credentials.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use serde::Serialize;
use std::sync::Arc;

use crate::state::{Account, SimState};
use crate::wire::{Format, rest_exception};

/// A request as received, without its credentials' secret.
#[derive(Debug, Clone, Serialize)]
pub struct LoggedRequest {
    pub method: String,
    pub path: String,
    pub query: Option<String>,
    /// The Basic-auth user name, never the token.
    pub user: Option<String>,
    pub body: String,
}

/// Form fields (or query parameters) in the order they came.
pub type Form = Vec<(String, String)>;

/// What an Exotel route answers: `Err` holds a refusal already written in
/// the route's error shape, so that `?` ends the handler with it.
pub type Answer = Result<Response, Refused>;

/// A refusal written as the response to send (boxed: responses are large).
#[derive(Debug)]
pub struct Refused(Box<Response>);

impl From<Response> for Refused {
    fn from(response: Response) -> Self {
        Self(Box::new(response))
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        *self.0
    }
}

/// A request to one of Exotel's routes, logged as it is received. Extract
/// it last, after the path.
pub struct Received {
    pub method: Method,
    pub uri: Uri,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl FromRequest<Arc<SimState>> for Received {
    type Rejection = Response;

    async fn from_request(request: Request, state: &Arc<SimState>) -> Result<Self, Self::Rejection> {
        let (method, uri, headers) = (
            request.method().clone(),
            request.uri().clone(),
            request.headers().clone(),
        );
        let body = Bytes::from_request(request, state)
            .await
            .map_err(IntoResponse::into_response)?;
        log(state, &method, &uri, &headers, &body);
        Ok(Self {
            method,
            uri,
            headers,
            body,
        })
    }
}

impl Received {
    /// The body's form fields.
    pub fn form(&self) -> Form {
        serde_urlencoded::from_bytes(&self.body).unwrap_or_default()
    }

    /// The query string's parameters.
    pub fn query(&self) -> Form {
        serde_urlencoded::from_str(self.uri.query().unwrap_or_default()).unwrap_or_default()
    }

    /// The account of `sid` when the Basic credentials open it.
    pub fn account(&self, state: &SimState, sid: &str) -> Option<Account> {
        authenticate(state, sid, &self.headers)
    }

    /// The account, or v1's 401 `RestException` in `format`.
    pub fn v1_account(&self, state: &SimState, sid: &str, format: Format) -> Result<Account, Refused> {
        let unauthorized = || rest_exception(StatusCode::UNAUTHORIZED, format, "Authentication failed").into();
        self.account(state, sid).ok_or_else(unauthorized)
    }
}

/// A form field's first value, unless it is empty.
pub fn field<'a>(form: &'a Form, name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .filter(|v| !v.is_empty())
}

/// The Basic-auth user name and token.
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

fn log(state: &SimState, method: &Method, uri: &Uri, headers: &HeaderMap, body: &[u8]) {
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

impl Refusal {
    /// The refusal as v1's `RestException` in `format`.
    pub fn answer(self, format: Format) -> Refused {
        rest_exception(self.0, format, &self.1).into()
    }
}

/// A 400 refusal.
pub fn bad_request(message: &str) -> Refusal {
    Refusal(StatusCode::BAD_REQUEST, message.to_string())
}

/// Whether a URL is one Exotel would call: `http://` or `https://`.
pub fn is_http_url(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://")
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
    /// The HTTP status it answers.
    pub fn status(self) -> StatusCode {
        match self {
            Fault::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            Fault::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
            Fault::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Fault::Timeout => StatusCode::GATEWAY_TIMEOUT,
        }
    }

    /// The message it answers.
    pub fn message(self) -> &'static str {
        match self {
            Fault::ServerError => "Internal server error",
            Fault::Unavailable => "Service unavailable",
            Fault::RateLimited => "Too many requests",
            Fault::Timeout => "Gateway timeout",
        }
    }
}

/// Faults that strike after the request has acted (the call is placed):
/// the answer never comes in time, or is a 500. A client cannot tell these
/// from the faults before acting, which is the point.
pub const AFTER_ACCEPTING: [&str; 2] = ["timeout_after_accepting", "server_error_after_accepting"];

/// The after-accepting fault scripted for the first of `numbers` that has one.
pub fn fault_after_accepting<'a>(state: &SimState, numbers: impl IntoIterator<Item = &'a str>) -> Option<Fault> {
    let fault = numbers.into_iter().find_map(|n| {
        state
            .scenario(n)
            .fault
            .filter(|f| AFTER_ACCEPTING.contains(&f.as_str()))
    })?;
    Some(match fault.as_str() {
        "server_error_after_accepting" => Fault::ServerError,
        _ => Fault::Timeout,
    })
}

/// The fault scripted for the first of `numbers` that has one. A timeout
/// is served here: this waits a real minute before returning it.
pub async fn scripted_fault<'a>(state: &SimState, numbers: impl IntoIterator<Item = &'a str>) -> Option<Fault> {
    let fault = numbers.into_iter().find_map(|n| {
        state
            .scenario(n)
            .fault
            .filter(|f| !AFTER_ACCEPTING.contains(&f.as_str()))
    })?;
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
