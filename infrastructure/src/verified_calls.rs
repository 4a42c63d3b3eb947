//! The sandbox's verified-call provider: Exotel has no verified-call API
//! and Truecaller's business one needs an enterprise agreement, so the
//! sandbox records what it would have asked for (each call once) and
//! answers an arrangement, so the whole path — intent, branding before the
//! call, the call — runs end to end. Chosen with
//! `SWITCHBOARD_VERIFIED_CALLS=sandbox`.

use async_trait::async_trait;
use std::sync::Mutex;

use application::calls::verified::{BrandedCall, VerifiedCalls};
use domain::OrganisationId;
use domain::call::VerificationArranged;

/// The brand the sandbox shows.
pub const SANDBOX_BRAND: &str = "Switchboard Sandbox";

/// Records the branded calls it is asked for.
#[derive(Debug, Default)]
pub struct SandboxVerifiedCalls {
    sent: Mutex<Vec<BrandedCall>>,
}

impl SandboxVerifiedCalls {
    /// What it was asked to show, oldest first, each call once.
    pub fn sent(&self) -> Vec<BrandedCall> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

#[async_trait]
impl VerifiedCalls for SandboxVerifiedCalls {
    fn provider(&self, _: OrganisationId) -> Option<&'static str> {
        Some("sandbox")
    }

    async fn arrange(&self, call: &BrandedCall) -> Result<VerificationArranged, String> {
        let mut sent = self
            .sent
            .lock()
            .map_err(|_| "the sandbox's record is unusable".to_string())?;
        if !sent.iter().any(|s| s.call_id == call.call_id) {
            tracing::info!(call_id = %call.call_id, reason = %call.reason, "sandbox verified call: branding recorded, nothing sent");
            sent.push(call.clone());
        }
        Ok(VerificationArranged {
            provider: "sandbox".into(),
            reference: format!("sandbox-{}", call.call_id.simple()),
            caller_name: SANDBOX_BRAND.into(),
        })
    }
}
