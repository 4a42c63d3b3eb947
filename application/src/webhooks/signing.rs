//! Standard Webhooks 1.0 signatures: `v1,` and the base64 HMAC-SHA256 of
//! `{webhook-id}.{webhook-timestamp}.{body}` under the secret's bytes, one
//! per secret, space-separated. Secrets are `whsec_` and the base64 of 32
//! random bytes, as receivers' libraries expect.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use zeroize::Zeroizing;

/// What every secret starts with.
pub const SECRET_PREFIX: &str = "whsec_";
/// Random bytes in a new secret.
pub const SECRET_BYTES: usize = 32;

/// A new random secret, `whsec_…`.
pub fn new_secret() -> Zeroizing<String> {
    let mut bytes = Zeroizing::new([0u8; SECRET_BYTES]);
    rand::thread_rng().fill_bytes(bytes.as_mut());
    Zeroizing::new(format!("{SECRET_PREFIX}{}", STANDARD.encode(bytes.as_ref())))
}

/// The key bytes of a `whsec_…` secret (the prefix is optional, as in the
/// reference libraries); `None` if the rest is not base64.
pub fn key_of(secret: &str) -> Option<Zeroizing<Vec<u8>>> {
    let encoded = secret.strip_prefix(SECRET_PREFIX).unwrap_or(secret);
    STANDARD.decode(encoded).ok().map(Zeroizing::new)
}

/// One `v1,…` signature.
pub fn sign(key: &[u8], webhook_id: &str, timestamp: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(webhook_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

/// The `webhook-signature` header: one signature per key, in order.
pub fn signature_header(keys: &[Zeroizing<Vec<u8>>], webhook_id: &str, timestamp: i64, body: &str) -> String {
    keys.iter()
        .map(|key| sign(key, webhook_id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The specification's own example.
    const SECRET: &str = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
    const ID: &str = "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk";
    const BODY: &str = r#"{"email":"test@example.com","username":"test_user"}"#;

    #[test]
    fn a_signature_matches_the_specification_example() {
        let key = key_of(SECRET).unwrap();
        assert_eq!(
            sign(&key, ID, 1649367553, BODY),
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw="
        );
    }

    #[test]
    fn the_header_carries_one_signature_per_key_in_order() {
        let first = key_of(SECRET).unwrap();
        let second = key_of(&new_secret()).unwrap();
        let header = signature_header(&[first.clone(), second.clone()], ID, 1649367553, BODY);
        let expected = format!(
            "{} {}",
            sign(&first, ID, 1649367553, BODY),
            sign(&second, ID, 1649367553, BODY)
        );
        assert_eq!(header, expected);
        assert_ne!(sign(&first, ID, 1649367553, BODY), sign(&second, ID, 1649367553, BODY));
    }

    #[test]
    fn a_new_secret_is_prefixed_base64_of_32_random_bytes() {
        let secret = new_secret();
        assert!(secret.starts_with(SECRET_PREFIX));
        assert_eq!(key_of(&secret).unwrap().len(), SECRET_BYTES);
        assert_ne!(*secret, *new_secret());
    }

    #[test]
    fn a_secret_that_is_not_base64_has_no_key() {
        assert!(key_of("whsec_not base64!").is_none());
        assert_eq!(key_of("C2FVsBQIhrscChlQIMV+b5sSYspob7oD"), key_of(SECRET));
    }
}
