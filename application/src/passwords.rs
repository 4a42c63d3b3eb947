//! Password hashing with Argon2id (the RustCrypto `argon2` defaults: 19 MiB,
//! two passes), run off the async threads.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};

/// Shortest password accepted.
pub const MIN_PASSWORD_LEN: usize = 10;
/// Longest password accepted (hashing cost grows with length).
pub const MAX_PASSWORD_LEN: usize = 256;

/// Why a password cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PasswordError {
    #[error("the password must be {MIN_PASSWORD_LEN} to {MAX_PASSWORD_LEN} characters")]
    InvalidLength,
    #[error("password hashing failed")]
    Hashing,
}

/// Hashes a password into a PHC string.
pub async fn hash(password: String) -> Result<String, PasswordError> {
    let length = password.chars().count();
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&length) {
        return Err(PasswordError::InvalidLength);
    }
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(|_| PasswordError::Hashing)?
    .map_err(|_| PasswordError::Hashing)
}

/// Whether a password matches a stored PHC string. A malformed hash never matches.
pub async fn verify(password: String, phc: String) -> bool {
    if password.len() > MAX_PASSWORD_LEN * 4 {
        return false;
    }
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&phc)
            .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .unwrap_or(false)
}

/// A hash of a random password: verified against when the user does not
/// exist, so a login takes as long either way.
pub async fn decoy_hash() -> String {
    hash(uuid::Uuid::new_v4().to_string()).await.unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hashed_password_verifies_and_another_does_not() {
        let phc = hash("correct horse battery".into()).await.unwrap();
        assert!(verify("correct horse battery".into(), phc.clone()).await);
        assert!(!verify("wrong horse battery".into(), phc).await);
    }

    #[tokio::test]
    async fn a_short_password_is_refused() {
        assert_eq!(hash("short".into()).await, Err(PasswordError::InvalidLength));
    }

    #[tokio::test]
    async fn a_malformed_hash_never_matches() {
        assert!(!verify("anything at all".into(), "not-a-phc".into()).await);
    }
}
