//! Login tokens (JWT, HS256): signing and checking. Held by `AppState`, so
//! it knows nothing of it.

use chrono::Utc;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use domain::{OrganisationId, Role};

use crate::error::ApiError;

/// What a login token says.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Claims {
    pub sub: Uuid,
    pub org: OrganisationId,
    pub role: Role,
    pub iat: i64,
    pub exp: i64,
    /// The user's count of ended sessions when the token was issued: a
    /// password change or a deactivation raises it and ends the token.
    #[serde(default)]
    pub sv: u32,
}

/// Signs and checks login tokens.
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    pub ttl_secs: u64,
}

impl TokenKeys {
    pub fn new(secret: &secrecy::SecretString, ttl_secs: u64) -> Self {
        let bytes = secret.expose_secret().as_bytes();
        Self {
            encoding: EncodingKey::from_secret(bytes),
            decoding: DecodingKey::from_secret(bytes),
            ttl_secs,
        }
    }

    /// A signed token for a user, valid until their sessions are next ended.
    pub fn issue(
        &self,
        user_id: Uuid,
        organisation_id: OrganisationId,
        role: Role,
        sessions_ended: u32,
    ) -> Result<String, ApiError> {
        let now = Utc::now().timestamp();
        let claims = Claims {
            sub: user_id,
            org: organisation_id,
            role,
            iat: now,
            exp: now + self.ttl_secs as i64,
            sv: sessions_ended,
        };
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding).map_err(|_| ApiError::internal())
    }

    /// The claims of a token this process's secret signed and that has not expired.
    pub fn check(&self, token: &str) -> Result<Claims, ApiError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = 5;
        jsonwebtoken::decode::<Claims>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => {
                    ApiError::unauthenticated("token_expired", "the token has expired; log in again")
                }
                _ => ApiError::unauthenticated("invalid_token", "the token is not valid"),
            })
    }
}
