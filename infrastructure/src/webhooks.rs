//! Posting webhooks to client systems under the outbound address rule: the
//! URL as written is checked, names are resolved through the rule's
//! filtering resolver, and no redirect is followed (a receiver answers for
//! itself, and a redirect could point anywhere).

use async_trait::async_trait;
use std::error::Error as _;
use std::time::Duration;

use application::webhooks::{Answer, WebhookTransport};

use crate::error::InfraError;
use crate::outbound::{OutboundRule, Refused};

/// Reaches receivers over HTTP.
#[derive(Debug, Clone)]
pub struct HttpWebhooks {
    rule: OutboundRule,
    http: reqwest::Client,
}

impl HttpWebhooks {
    /// A client that waits at most `timeout` for an answer.
    pub fn new(rule: OutboundRule, timeout: Duration) -> Result<Self, InfraError> {
        let http = rule
            .client_builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .build()
            .map_err(|e| InfraError::Config(format!("webhook client: {e}")))?;
        Ok(Self { rule, http })
    }
}

/// An error and its causes, as one line: reqwest's own words name only the
/// step that failed. A refusal by the address rule is told without the
/// addresses the name resolved to: a tenant's admin reads this text, and
/// must not learn what the server's resolver knows of private names.
fn described(error: &reqwest::Error) -> String {
    let mut text = match error.is_timeout() {
        true => "no answer in time".to_string(),
        false => "the request failed".to_string(),
    };
    let mut source = error.source();
    while let Some(cause) = source {
        if cause.downcast_ref::<Refused>().is_some() {
            text.push_str(": refused by the address rule: the host is not at a public address");
            return text;
        }
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[async_trait]
impl WebhookTransport for HttpWebhooks {
    fn check(&self, url: &str) -> Result<(), String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| e.to_string())?;
        self.rule.check(&parsed).map_err(|refused| refused.to_string())
    }

    async fn post(&self, url: &str, headers: &[(&'static str, String)], body: &str) -> Answer {
        if let Err(refused) = self.check(url) {
            return Answer::Failed(format!("refused by the address rule: {refused}"));
        }
        let mut request = self.http.post(url).body(body.to_string());
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        match request.send().await {
            Ok(response) => Answer::Status(response.status().as_u16()),
            Err(error) => Answer::Failed(described(&error)),
        }
    }
}
