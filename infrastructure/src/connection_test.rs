//! Connection tests: each Exotel kind is tried against its account with the
//! credentials given, and answers in the shape users know (account
//! verified, voice/SMS/WhatsApp enabled, number active; or Exotel's status
//! and error). Mail has no test in this build and says so.

use async_trait::async_trait;
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use zeroize::Zeroizing;

use application::exotel::{ExoPhone, ExotelAccount, ExotelError, ExotelNumbers};
use application::integrations::{ConnectionTester, TestResult};
use domain::integration::IntegrationSettings;

/// Connection tests against the providers themselves.
pub struct ProviderConnectionTests {
    pub exotel: Arc<dyn ExotelNumbers>,
}

#[async_trait]
impl ConnectionTester for ProviderConnectionTests {
    async fn test(&self, settings: &IntegrationSettings, secrets: &BTreeMap<String, Zeroizing<String>>) -> TestResult {
        let Some(account) = ExotelAccount::of(settings, secrets) else {
            return TestResult::Unavailable {
                reason: format!(
                    "no connection test for {} is available in this build",
                    settings.kind().as_str()
                ),
            };
        };
        let numbers = match self.exotel.exophones(&account).await {
            Ok(numbers) => numbers,
            Err(error) => return failed(&error),
        };
        match settings {
            IntegrationSettings::ExotelPhone(s) => phone(&numbers, &s.virtual_number),
            IntegrationSettings::ExotelSms(s) => sms(&numbers, &s.sender_id),
            IntegrationSettings::ExotelWhatsapp(s) => whatsapp(&numbers, &s.whatsapp_number),
            IntegrationSettings::ZohoMail(_) => TestResult::Unavailable {
                reason: "no connection test for zoho_mail is available in this build".into(),
            },
        }
    }
}

/// Exotel refused or could not be reached: its status and words, kept.
fn failed(error: &ExotelError) -> TestResult {
    let headline = match error {
        ExotelError::Unauthorized { .. } => "Invalid credentials",
        ExotelError::Refused { status: 403, .. } => "Account suspended or not permitted",
        ExotelError::Refused { status: 404, .. } => "Account not found",
        ExotelError::Timeout { .. } | ExotelError::Unreachable(_) => "Exotel could not be reached",
        _ => "Exotel refused the request",
    };
    TestResult::Failed {
        status_code: error.status_code(),
        error: headline.into(),
        details: json!({"status_code": error.status_code(), "exotel_error": error.exotel_message()}),
    }
}

fn find<'a>(numbers: &'a [ExoPhone], number: &str) -> Option<&'a ExoPhone> {
    numbers.iter().find(|n| n.phone_number == number)
}

fn not_found(error: &str, exotel_error: &str) -> TestResult {
    TestResult::Failed {
        status_code: Some(422),
        error: error.into(),
        details: json!({"status_code": 422, "exotel_error": exotel_error}),
    }
}

fn phone(numbers: &[ExoPhone], virtual_number: &str) -> TestResult {
    match find(numbers, virtual_number) {
        Some(number) if number.voice => TestResult::Passed {
            details: json!({"account_verified": true, "voice_enabled": true, "virtual_number_active": true}),
        },
        Some(_) => not_found("Voice not enabled", "The virtual number has no voice capability"),
        None => not_found("Virtual number not found", "Virtual number not found in account"),
    }
}

/// A sender id is a DLT header, not an ExoPhone: the account must have at
/// least one number able to send SMS.
fn sms(numbers: &[ExoPhone], sender_id: &str) -> TestResult {
    match numbers.iter().any(|n| n.sms) {
        true => TestResult::Passed {
            details: json!({"account_verified": true, "sms_enabled": true, "sender_id": sender_id}),
        },
        false => not_found("SMS not enabled", "No number in the account can send SMS"),
    }
}

fn whatsapp(numbers: &[ExoPhone], business_number: &str) -> TestResult {
    match find(numbers, business_number) {
        Some(_) => TestResult::Passed {
            details: json!({"account_verified": true, "whatsapp_enabled": true, "business_number_active": true}),
        },
        None => not_found("WhatsApp number not verified", "WhatsApp number not found in account"),
    }
}
