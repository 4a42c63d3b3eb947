//! Password hashing with Argon2id (the RustCrypto `argon2` defaults: 19 MiB,
//! two passes), run off the async threads.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString, rand_core::OsRng};
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::OnceCell;

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

static ARGON2_RUNS: AtomicU64 = AtomicU64::new(0);
static DECOY: OnceCell<String> = OnceCell::const_new();

/// How many Argon2 hashes and verifications this process has run: what a
/// login costs is counted in these.
pub fn argon2_runs() -> u64 {
    ARGON2_RUNS.load(Ordering::Relaxed)
}

/// Hashes a password into a PHC string.
pub async fn hash(password: String) -> Result<String, PasswordError> {
    let length = password.chars().count();
    if !(MIN_PASSWORD_LEN..=MAX_PASSWORD_LEN).contains(&length) {
        return Err(PasswordError::InvalidLength);
    }
    ARGON2_RUNS.fetch_add(1, Ordering::Relaxed);
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
    ARGON2_RUNS.fetch_add(1, Ordering::Relaxed);
    tokio::task::spawn_blocking(move || {
        PasswordHash::new(&phc)
            .is_ok_and(|parsed| Argon2::default().verify_password(password.as_bytes(), &parsed).is_ok())
    })
    .await
    .unwrap_or(false)
}

/// A hash of a random password, made once per process: verified against
/// when the user does not exist, so that a login costs one verification
/// either way. Call it at start-up so that no login pays for making it.
pub async fn decoy_hash() -> &'static str {
    DECOY
        .get_or_init(|| async { hash(uuid::Uuid::new_v4().to_string()).await.unwrap_or_default() })
        .await
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
    async fn the_decoy_is_made_once_and_then_costs_one_verification_like_a_real_hash() {
        let first = decoy_hash().await;
        let before = argon2_runs();
        assert!(!verify("anything at all".into(), decoy_hash().await.to_string()).await);
        assert_eq!(argon2_runs() - before, 1);
        assert_eq!(decoy_hash().await, first);
        let real = hash("correct horse battery".into()).await.unwrap();
        let params = |phc: &str| phc.split('$').nth(3).map(str::to_string);
        assert_eq!(
            params(first),
            params(&real),
            "the decoy must cost what a real hash costs"
        );
    }

    #[tokio::test]
    async fn a_malformed_hash_never_matches() {
        assert!(!verify("anything at all".into(), "not-a-phc".into()).await);
    }
}
