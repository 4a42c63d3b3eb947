//! The sandbox's verified-call provider: Exotel has no verified-call API
//! and Truecaller's business one needs an enterprise agreement, so the
//! sandbox sends nothing. It logs what it would have asked for and answers
//! an arrangement, which the call then records (`CallVerificationArranged`),
//! so the whole path — intent, branding before the call, the call — runs
//! end to end. Chosen with `SWITCHBOARD_VERIFIED_CALLS=sandbox`.

use async_trait::async_trait;

use application::calls::verified::{BrandedCall, VerifiedCalls};
use domain::OrganisationId;
use domain::call::VerificationArranged;

/// The brand the sandbox shows.
pub const SANDBOX_BRAND: &str = "Switchboard Sandbox";

/// Arranges every branding asked for, sending nothing.
#[derive(Debug, Default)]
pub struct SandboxVerifiedCalls;

#[async_trait]
impl VerifiedCalls for SandboxVerifiedCalls {
    fn provider(&self, _: OrganisationId) -> Option<&'static str> {
        Some("sandbox")
    }

    async fn arrange(&self, call: &BrandedCall) -> Result<VerificationArranged, String> {
        tracing::info!(call_id = %call.call_id, reason = %call.reason, "sandbox verified call: branding arranged, nothing sent");
        Ok(VerificationArranged {
            provider: "sandbox".into(),
            reference: format!("sandbox-{}", call.call_id.simple()),
            caller_name: SANDBOX_BRAND.into(),
        })
    }
}
