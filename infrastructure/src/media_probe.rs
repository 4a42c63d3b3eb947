//! Asking a media URL for its type and length before a WhatsApp message
//! carries it: `HEAD`, then a one-byte ranged `GET` when the `HEAD` is
//! refused or leaves either out. The URL and every redirect follow the
//! outbound address rule, and names resolve through its filtering
//! resolver; no body beyond that byte is read.

use async_trait::async_trait;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, HeaderMap, RANGE};
use std::time::Duration;

use application::messages::{MediaFacts, MediaProbe};

use crate::error::InfraError;
use crate::outbound::OutboundRule;

/// Most redirects followed.
const MAX_REDIRECTS: usize = 5;

/// Probes over HTTP.
#[derive(Debug, Clone)]
pub struct HttpMediaProbe {
    rule: OutboundRule,
    http: reqwest::Client,
}

impl HttpMediaProbe {
    /// A client that waits at most `timeout` for each answer.
    pub fn new(rule: OutboundRule, timeout: Duration) -> Result<Self, InfraError> {
        let hops = rule.clone();
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            match attempt.previous().len() < MAX_REDIRECTS && hops.check(attempt.url()).is_ok() {
                true => attempt.follow(),
                false => attempt.stop(),
            }
        });
        let http = rule
            .client_builder()
            .redirect(redirects)
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| InfraError::Config(format!("media probe client: {e}")))?;
        Ok(Self { rule, http })
    }
}

fn content_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn header_number(headers: &HeaderMap, name: reqwest::header::HeaderName) -> Option<u64> {
    headers.get(name)?.to_str().ok()?.trim().parse().ok()
}

/// The whole length a `Content-Range: bytes 0-0/12345` gives.
fn range_total(headers: &HeaderMap) -> Option<u64> {
    let range = headers.get(CONTENT_RANGE)?.to_str().ok()?;
    range.rsplit_once('/')?.1.trim().parse().ok()
}

#[async_trait]
impl MediaProbe for HttpMediaProbe {
    async fn probe(&self, url: &str) -> Result<MediaFacts, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
        self.rule
            .check(&parsed)
            .map_err(|refused| format!("refused by the address rule: {refused}"))?;
        let mut facts = MediaFacts::default();
        if let Ok(head) = self.http.head(parsed.clone()).send().await
            && head.status().is_success()
        {
            facts.content_type = content_type(head.headers());
            facts.length = header_number(head.headers(), CONTENT_LENGTH);
        }
        if facts.content_type.is_some() && facts.length.is_some() {
            return Ok(facts);
        }
        let ranged = self
            .http
            .get(parsed)
            .header(RANGE, "bytes=0-0")
            .send()
            .await
            .map_err(|e| match e.is_timeout() {
                true => "no answer in time".to_string(),
                false => "the URL could not be reached".to_string(),
            })?;
        let status = ranged.status();
        if !status.is_success() {
            return Err(format!("the URL answered {status}"));
        }
        let headers = ranged.headers();
        facts.content_type = facts.content_type.or_else(|| content_type(headers));
        let length = match status {
            reqwest::StatusCode::PARTIAL_CONTENT => range_total(headers),
            _ => header_number(headers, CONTENT_LENGTH),
        };
        facts.length = facts.length.or(length);
        Ok(facts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    #[test]
    fn a_content_range_gives_the_whole_length() {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_RANGE, HeaderValue::from_static("bytes 0-0/6291456"));
        assert_eq!(range_total(&headers), Some(6_291_456));
        headers.insert(CONTENT_RANGE, HeaderValue::from_static("bytes 0-0/*"));
        assert_eq!(range_total(&headers), None);
        assert_eq!(range_total(&HeaderMap::new()), None);
    }
}
