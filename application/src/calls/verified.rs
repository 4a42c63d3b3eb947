//! Verified (branded) calls. Exotel has no API for them, so a call asking
//! to be verified goes through a provider of its own, asked by the
//! dispatcher from the recorded intent before Exotel is: a call whose
//! branding was not arranged is never placed unverified.

use async_trait::async_trait;
use uuid::Uuid;

use domain::OrganisationId;
use domain::call::VerificationArranged;

/// What the verified-call provider is asked to show for one call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrandedCall {
    pub organisation_id: OrganisationId,
    pub call_id: Uuid,
    /// The number the call comes from (the caller id), E.164.
    pub caller_id: String,
    /// The number it goes to, E.164.
    pub customer_phone: String,
    pub reason: String,
}

/// A verified-call provider.
#[async_trait]
pub trait VerifiedCalls: Send + Sync {
    /// The provider's name, if the organisation's calls can be verified.
    fn provider(&self, organisation_id: OrganisationId) -> Option<&'static str>;
    /// Arranges the branding of one call (the same call again is the same
    /// arrangement); why not, when it cannot.
    async fn arrange(&self, call: &BrandedCall) -> Result<VerificationArranged, String>;
}

/// No provider: no call can be verified.
pub struct NoVerifiedCalls;

#[async_trait]
impl VerifiedCalls for NoVerifiedCalls {
    fn provider(&self, _: OrganisationId) -> Option<&'static str> {
        None
    }

    async fn arrange(&self, _: &BrandedCall) -> Result<VerificationArranged, String> {
        Err("no verified-call provider is configured".into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn without_a_provider_no_call_is_verified() {
        let none = NoVerifiedCalls;
        assert_eq!(none.provider(Uuid::from_u128(1)), None);
        let call = BrandedCall {
            organisation_id: Uuid::from_u128(1),
            call_id: Uuid::from_u128(2),
            caller_id: "+918047112233".into(),
            customer_phone: "+919812300002".into(),
            reason: "Your order".into(),
        };
        assert!(none.arrange(&call).await.is_err());
    }
}
