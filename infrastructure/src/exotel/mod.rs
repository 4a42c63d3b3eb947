//! The Exotel client: one HTTP client for every Exotel API family, against
//! any base URL. It keeps each account under Exotel's documented rates with
//! a sliding minute per account and family, waits out 429s, puts a timeout on
//! every request, reads JSON or XML, and turns every failure into a typed
//! [`ExotelError`]. Credentials go only into the `Authorization` header;
//! nothing it logs carries them.

mod masking;
mod media;
mod numbers;
pub mod parse;
mod sms;
mod voice;
pub use voice::callback_info;
mod templates;
mod whatsapp;
mod window;

use reqwest::{Method, StatusCode};
use serde_json::Value;
use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use application::exotel::{ExotelAccount, ExotelError};

use crate::outbound::OutboundRule;

/// The API family a request belongs to: each has its own rate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    Voice,
    Sms,
    Whatsapp,
    Numbers,
    Masking,
}

impl Family {
    fn as_str(self) -> &'static str {
        match self {
            Self::Voice => "voice",
            Self::Sms => "sms",
            Self::Whatsapp => "whatsapp",
            Self::Numbers => "numbers",
            Self::Masking => "masking",
        }
    }
}

/// Requests per minute per account. Voice's 200 is Exotel's documented
/// limit; SMS's 200 is the older SMS documentation's; ExoPhone calls are
/// held to 50 (the newer documentation's figure) to be safe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    pub voice_per_minute: u32,
    pub sms_per_minute: u32,
    pub whatsapp_per_minute: u32,
    pub numbers_per_minute: u32,
    pub masking_per_minute: u32,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            voice_per_minute: 200,
            sms_per_minute: 200,
            whatsapp_per_minute: 200,
            numbers_per_minute: 50,
            masking_per_minute: 60,
        }
    }
}

impl Limits {
    fn per_minute(&self, family: Family) -> u32 {
        match family {
            Family::Voice => self.voice_per_minute,
            Family::Sms => self.sms_per_minute,
            Family::Whatsapp => self.whatsapp_per_minute,
            Family::Numbers => self.numbers_per_minute,
            Family::Masking => self.masking_per_minute,
        }
    }
}

/// v1 answers in XML unless `.json` is asked for; the client reads both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum V1Format {
    Json,
    Xml,
}

/// How the client behaves.
#[derive(Debug, Clone)]
pub struct ExotelConfig {
    /// The whole request, connect to last byte.
    pub timeout: Duration,
    pub connect_timeout: Duration,
    /// How often a 429 is waited out before it is returned.
    pub rate_limit_retries: u32,
    /// The longest the client waits, for its own bucket or a `Retry-After`.
    pub max_wait: Duration,
    pub limits: Limits,
    pub v1_format: V1Format,
    /// Which addresses the client may reach (by default public ones only).
    pub outbound: OutboundRule,
}

impl Default for ExotelConfig {
    fn default() -> Self {
        Self {
            timeout: Duration::from_secs(15),
            connect_timeout: Duration::from_secs(5),
            rate_limit_retries: 3,
            max_wait: Duration::from_secs(30),
            limits: Limits::default(),
            v1_format: V1Format::Json,
            outbound: OutboundRule::default(),
        }
    }
}

/// A request body.
enum Body {
    Empty,
    Form(Vec<(String, String)>),
    Json(Value),
}

type Bucket = Arc<window::Window>;

/// What a request's arrival may lag its sending by, counted against the window.
const ARRIVAL_MARGIN: Duration = Duration::from_millis(250);

/// The Exotel client. Cheap to share; holds one connection pool.
pub struct ExotelClient {
    http: reqwest::Client,
    config: ExotelConfig,
    buckets: Mutex<HashMap<(String, String, Family), Bucket>>,
}

impl ExotelClient {
    pub fn new(config: ExotelConfig) -> Result<Self, ExotelError> {
        let http = config
            .outbound
            .client_builder()
            .timeout(config.timeout)
            .connect_timeout(config.connect_timeout)
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ExotelError::Unreachable(e.to_string()))?;
        Ok(Self {
            http,
            config,
            buckets: Mutex::new(HashMap::new()),
        })
    }

    /// The outbound rule this client keeps; the sandbox adds its simulator.
    pub fn outbound(&self) -> &OutboundRule {
        &self.config.outbound
    }

    /// `url` parsed and checked against the outbound rule.
    fn target(&self, url: &str) -> Result<reqwest::Url, ExotelError> {
        let parsed = reqwest::Url::parse(url).map_err(|e| ExotelError::Unreachable(format!("{url}: {e}")))?;
        self.config.outbound.check(&parsed).map_err(|refused| {
            ExotelError::Unreachable(format!(
                "refused to request {}: {refused}",
                parsed.origin().ascii_serialization()
            ))
        })?;
        Ok(parsed)
    }

    /// `/v1/Accounts/{sid}/{rest}` with `.json` when the client asks for JSON.
    fn v1_path(&self, account: &ExotelAccount, rest: &str) -> String {
        let suffix = match self.config.v1_format {
            V1Format::Json => ".json",
            V1Format::Xml => "",
        };
        format!("/v1/Accounts/{}/{rest}{suffix}", account.account_sid)
    }

    fn bucket(&self, account: &ExotelAccount, family: Family) -> Option<Bucket> {
        let per_minute = NonZeroU32::new(self.config.limits.per_minute(family))?;
        let key = (account.base_url.clone(), account.account_sid.clone(), family);
        let mut buckets = self.buckets.lock().ok()?;
        let bucket = buckets.entry(key).or_insert_with(|| {
            Arc::new(window::Window::new(
                per_minute.get(),
                Duration::from_secs(60),
                ARRIVAL_MARGIN,
            ))
        });
        Some(bucket.clone())
    }

    /// Waits, however long, until the account's minute has room for a
    /// request of the family, taking none.
    pub(crate) async fn capacity(&self, account: &ExotelAccount, family: Family) {
        if let Some(bucket) = self.bucket(account, family) {
            bucket.until_free().await;
        }
    }

    /// Waits for the account's bucket, or answers `RateLimited` when the
    /// wait would be longer than the client is willing to wait.
    async fn admit(&self, account: &ExotelAccount, family: Family) -> Result<(), ExotelError> {
        let Some(bucket) = self.bucket(account, family) else {
            return Ok(());
        };
        match tokio::time::timeout(self.config.max_wait, bucket.until_ready()).await {
            Ok(()) => Ok(()),
            Err(_) => Err(ExotelError::RateLimited {
                retry_after_secs: Some(self.config.max_wait.as_secs()),
                message: format!("{} requests for this account are over their rate", family.as_str()),
            }),
        }
    }

    /// Sends a request and reads its answer, waiting out 429s (Exotel did
    /// not act on those, so even a POST is safe to repeat).
    async fn request(
        &self,
        account: &ExotelAccount,
        family: Family,
        method: Method,
        path: &str,
        body: Body,
    ) -> Result<Value, ExotelError> {
        let mut attempt = 0;
        loop {
            self.admit(account, family).await?;
            match self.once(account, family, &method, path, &body).await {
                Err(ExotelError::RateLimited { retry_after_secs, .. }) if attempt < self.config.rate_limit_retries => {
                    tokio::time::sleep(self.backoff(attempt, retry_after_secs)).await;
                    attempt += 1;
                }
                outcome => return outcome,
            }
        }
    }

    fn backoff(&self, attempt: u32, retry_after_secs: Option<u64>) -> Duration {
        let exponential = Duration::from_millis(500 * 2u64.pow(attempt.min(6)));
        retry_after_secs
            .map(Duration::from_secs)
            .unwrap_or(exponential)
            .min(self.config.max_wait)
    }

    async fn once(
        &self,
        account: &ExotelAccount,
        family: Family,
        method: &Method,
        path: &str,
        body: &Body,
    ) -> Result<Value, ExotelError> {
        let started = Instant::now();
        let url = match self.target(&format!("{}{path}", account.base_url)) {
            Ok(url) => url,
            Err(refused) => {
                let outcome = Err(refused);
                record(family, method, path, &outcome, started);
                return outcome;
            }
        };
        let request = self
            .http
            .request(method.clone(), url)
            .basic_auth(account.api_key.as_str(), Some(account.api_token.as_str()));
        let request = match body {
            Body::Empty => request,
            Body::Form(fields) => request.form(fields),
            Body::Json(value) => request.json(value),
        };
        let outcome = match request.send().await {
            Ok(response) => read(response).await,
            Err(error) => Err(transport_error(&error, self.config.timeout)),
        };
        record(family, method, path, &outcome, started);
        outcome
    }
}

impl ExotelClient {
    /// The bytes at an absolute URL Exotel gave (a recording), fetched with
    /// the account's credentials, under the same bucket, timeout and errors.
    async fn download(&self, account: &ExotelAccount, family: Family, url: &str) -> Result<Vec<u8>, ExotelError> {
        let url = self.target(url)?;
        self.admit(account, family).await?;
        let credentials = credentials_go_to(&account.base_url, &url);
        let mut request = self.http.get(url);
        if credentials {
            request = request.basic_auth(account.api_key.as_str(), Some(account.api_token.as_str()));
        }
        let response = request
            .send()
            .await
            .map_err(|e| transport_error(&e, self.config.timeout))?;
        bytes_of(response).await
    }
}

/// Whether the account's credentials may go with a request to `url`: only
/// to the account's own API origin, or over HTTPS to Exotel's own hosts.
/// A URL that arrived in a callback may name any host; a recording kept
/// elsewhere (a pre-signed storage URL) is fetched without them.
fn credentials_go_to(base_url: &str, url: &reqwest::Url) -> bool {
    let same_origin = reqwest::Url::parse(base_url).is_ok_and(|base| base.origin() == url.origin());
    let exotel = url.scheme() == "https"
        && url.host_str().is_some_and(|h| {
            let h = h.to_ascii_lowercase();
            h == "exotel.com" || h.ends_with(".exotel.com") || h.ends_with(".exotel.in")
        });
    same_origin || exotel
}

/// A failure to connect (a refused address, DNS, TLS) sent nothing; any
/// other failure came once the request was on its way, and it may have acted.
fn transport_error(error: &reqwest::Error, timeout: Duration) -> ExotelError {
    if error.is_timeout() {
        return ExotelError::Timeout {
            seconds: timeout.as_secs(),
        };
    }
    match error.is_connect() || error.is_builder() {
        true => ExotelError::Unreachable(with_causes(error)),
        false => ExotelError::Interrupted(with_causes(error)),
    }
}

/// An error and the chain of its causes, one line: reqwest's own words
/// name the URL, its causes say why (a refused address among them).
fn with_causes(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        text.push_str(": ");
        text.push_str(&inner.to_string());
        cause = inner.source();
    }
    text
}

/// The body of a 2xx answer, or Exotel's refusal typed from its status
/// and whichever error body its family writes.
async fn bytes_of(response: reqwest::Response) -> Result<Vec<u8>, ExotelError> {
    let status = response.status();
    let retry_after = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    let bytes = response
        .bytes()
        .await
        .map_err(|e| ExotelError::Interrupted(e.to_string()))?;
    if status.is_success() {
        return Ok(bytes.to_vec());
    }
    let (code, message) = match parse::body_value(&bytes).as_ref().and_then(parse::error_of) {
        Some((_, code, message)) => (code, message),
        None => (None, parse::excerpt(&bytes)),
    };
    Err(classify(status.as_u16(), code, message, retry_after))
}

/// A 2xx answer read as JSON (XML converted); a `RestException` inside an
/// HTTP 200, as Exotel has been seen to send, is still a refusal.
async fn read(response: reqwest::Response) -> Result<Value, ExotelError> {
    let bytes = bytes_of(response).await?;
    let body = parse::body_value(&bytes).ok_or_else(|| ExotelError::Malformed(parse::excerpt(&bytes)))?;
    match parse::error_of(&body) {
        Some((inner, code, message)) => Err(classify(inner.unwrap_or(400), code, message, None)),
        None => Ok(body),
    }
}

fn classify(status: u16, code: Option<i64>, message: String, retry_after_secs: Option<u64>) -> ExotelError {
    match StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY) {
        StatusCode::UNAUTHORIZED => ExotelError::Unauthorized { message },
        StatusCode::TOO_MANY_REQUESTS => ExotelError::RateLimited {
            retry_after_secs,
            message,
        },
        s if s.is_server_error() => ExotelError::ServerError { status, message },
        _ => ExotelError::Refused { status, code, message },
    }
}

fn record(family: Family, method: &Method, path: &str, outcome: &Result<Value, ExotelError>, started: Instant) {
    let result = match outcome {
        Ok(_) => "ok",
        Err(error) if error.is_retryable() => "retryable",
        Err(_) => "refused",
    };
    metrics::counter!("exotel_requests_total", "family" => family.as_str(), "result" => result).increment(1);
    metrics::histogram!("exotel_request_seconds", "family" => family.as_str()).record(started.elapsed());
    match outcome {
        Ok(_) => tracing::debug!(%method, path, "exotel request succeeded"),
        Err(error) => tracing::warn!(%method, path, %error, "exotel request failed"),
    }
}

/// A field of an object, or a typed error saying which is missing.
fn object<'a>(body: &'a Value, key: &str) -> Result<&'a Value, ExotelError> {
    body.get(key)
        .filter(|v| !v.is_null())
        .ok_or_else(|| ExotelError::Malformed(format!("no `{key}` in the answer")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> reqwest::Url {
        reqwest::Url::parse(text).unwrap()
    }

    #[test]
    fn credentials_go_only_to_the_accounts_origin_or_exotels_own_hosts_over_https() {
        let base = "http://127.0.0.1:4010";
        assert!(credentials_go_to(
            base,
            &url("http://127.0.0.1:4010/v1/Accounts/s/Recordings/c.wav")
        ));
        assert!(
            !credentials_go_to(base, &url("http://127.0.0.1:4011/r.wav")),
            "another port"
        );
        assert!(credentials_go_to(base, &url("https://recordings.exotel.com/r.mp3")));
        assert!(credentials_go_to(base, &url("https://API.in.exotel.in/r.mp3")));
        assert!(
            !credentials_go_to(base, &url("http://recordings.exotel.com/r.mp3")),
            "not in the clear"
        );
        assert!(!credentials_go_to(base, &url("https://exotel.com.evil.example/r.mp3")));
        assert!(!credentials_go_to(
            base,
            &url("https://s3-ap-southeast-1.amazonaws.com/exotelrecordings/r.mp3")
        ));
    }
}
