//! Connection tests. The provider clients (Exotel, SMTP/IMAP) are not part
//! of this build yet, so every test answers that none is available rather
//! than pretending to succeed.

use async_trait::async_trait;
use std::collections::BTreeMap;
use zeroize::Zeroizing;

use application::integrations::{ConnectionTester, TestResult};
use domain::integration::IntegrationSettings;

pub struct NoConnectionTests;

#[async_trait]
impl ConnectionTester for NoConnectionTests {
    async fn test(&self, settings: &IntegrationSettings, _secrets: &BTreeMap<String, Zeroizing<String>>) -> TestResult {
        TestResult::Unavailable {
            reason: format!(
                "no connection test for {} is available in this build",
                settings.kind().as_str()
            ),
        }
    }
}
