//! The credential cipher: XChaCha20-Poly1305 envelopes under a keyring of
//! 32-byte master keys.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use chacha20poly1305::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretSlice, SecretString};
use sha2::Sha256;
use std::collections::BTreeMap;
use uuid::Uuid;
use zeroize::Zeroizing;

use application::cipher::{CipherError, CredentialCipher, WrappedKey};
use domain::integration::SealedSecret;

use crate::error::InfraError;

const NONCE_LEN: usize = 24;

/// Master keys by id, and the one new data keys are wrapped with.
pub struct Keyring {
    keys: BTreeMap<String, SecretSlice<u8>>,
    active: String,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keyring")
            .field("key_ids", &self.keys.keys().collect::<Vec<_>>())
            .field("active", &self.active)
            .finish()
    }
}

impl Keyring {
    /// Parses `id=base64key,id=base64key`; `active` defaults to the last one listed.
    pub fn parse(spec: &SecretString, active: Option<&str>) -> Result<Self, InfraError> {
        let mut keys = BTreeMap::new();
        let mut last = None;
        for entry in spec.expose_secret().split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (id, key) = entry
                .split_once('=')
                .ok_or_else(|| InfraError::Config("master keys are written id=base64key,…".into()))?;
            let bytes = Zeroizing::new(
                B64.decode(key.trim())
                    .map_err(|_| InfraError::Config(format!("master key {id} is not base64")))?,
            );
            if bytes.len() != 32 {
                return Err(InfraError::Config(format!(
                    "master key {id} must be 32 bytes, not {}",
                    bytes.len()
                )));
            }
            keys.insert(id.trim().to_string(), SecretSlice::from(bytes.to_vec()));
            last = Some(id.trim().to_string());
        }
        let active = active
            .map(str::to_string)
            .or(last)
            .ok_or_else(|| InfraError::Config("no master key configured".into()))?;
        if !keys.contains_key(&active) {
            return Err(InfraError::Config(format!(
                "the active master key {active} is not in the keyring"
            )));
        }
        Ok(Self { keys, active })
    }

    /// A new random master key in the `id=base64key` form.
    pub fn generate_entry(id: &str) -> String {
        let key = XChaCha20Poly1305::generate_key(&mut OsRng);
        format!("{id}={}", B64.encode(key))
    }

    fn cipher(&self, key_id: &str) -> Result<XChaCha20Poly1305, CipherError> {
        let key = self
            .keys
            .get(key_id)
            .ok_or_else(|| CipherError::UnknownMasterKey(key_id.to_string()))?;
        XChaCha20Poly1305::new_from_slice(key.expose_secret()).map_err(|_| CipherError::Malformed)
    }

    fn unwrap_key(&self, key: &WrappedKey, binding: &str) -> Result<Zeroizing<Vec<u8>>, CipherError> {
        let cipher = self.cipher(&key.master_key_id)?;
        let raw = B64.decode(&key.wrapped).map_err(|_| CipherError::Malformed)?;
        open(&cipher, &raw, &key_aad(key.data_key_id, binding))
            .map_err(|_| CipherError::WrongMasterKey(key.master_key_id.clone()))
    }

    fn wrap(
        &self,
        data_key_id: Uuid,
        integration_id: Uuid,
        binding: &str,
        data_key: &[u8],
    ) -> Result<WrappedKey, CipherError> {
        let sealed = seal(&self.cipher(&self.active)?, data_key, &key_aad(data_key_id, binding))?;
        Ok(WrappedKey {
            data_key_id,
            integration_id,
            master_key_id: self.active.clone(),
            wrapped: B64.encode(sealed),
        })
    }
}

fn key_aad(data_key_id: Uuid, binding: &str) -> Vec<u8> {
    format!("data-key:{data_key_id}:{binding}").into_bytes()
}

fn secret_aad(binding: &str, field: &str) -> Vec<u8> {
    format!("secret:{binding}:{field}").into_bytes()
}

fn seal(cipher: &XChaCha20Poly1305, plaintext: &[u8], aad: &[u8]) -> Result<Vec<u8>, CipherError> {
    let nonce = XChaCha20Poly1305::generate_nonce(&mut OsRng);
    let mut out = nonce.to_vec();
    out.extend(
        cipher
            .encrypt(&nonce, Payload { msg: plaintext, aad })
            .map_err(|_| CipherError::Malformed)?,
    );
    Ok(out)
}

fn open(cipher: &XChaCha20Poly1305, sealed: &[u8], aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, CipherError> {
    if sealed.len() < NONCE_LEN {
        return Err(CipherError::Malformed);
    }
    let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
    let plain = cipher
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ciphertext, aad })
        .map_err(|_| CipherError::CannotOpen)?;
    Ok(Zeroizing::new(plain))
}

fn fingerprint(data_key: &[u8], plaintext: &str) -> Result<String, CipherError> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(data_key).map_err(|_| CipherError::Malformed)?;
    mac.update(b"fingerprint:");
    mac.update(plaintext.as_bytes());
    Ok(hex::encode(&mac.finalize().into_bytes()[..8]))
}

impl CredentialCipher for Keyring {
    fn active_master_key_id(&self) -> &str {
        &self.active
    }

    fn new_data_key(&self, data_key_id: Uuid, integration_id: Uuid, binding: &str) -> Result<WrappedKey, CipherError> {
        let data_key = Zeroizing::new(XChaCha20Poly1305::generate_key(&mut OsRng).to_vec());
        self.wrap(data_key_id, integration_id, binding, &data_key)
    }

    fn seal(&self, key: &WrappedKey, binding: &str, field: &str, plaintext: &str) -> Result<SealedSecret, CipherError> {
        let data_key = self.unwrap_key(key, binding)?;
        let cipher = XChaCha20Poly1305::new_from_slice(&data_key).map_err(|_| CipherError::Malformed)?;
        let sealed = seal(&cipher, plaintext.as_bytes(), &secret_aad(binding, field))?;
        let (nonce, ciphertext) = sealed.split_at(NONCE_LEN);
        Ok(SealedSecret {
            field: field.to_string(),
            nonce: B64.encode(nonce),
            ciphertext: B64.encode(ciphertext),
            fingerprint: fingerprint(&data_key, plaintext)?,
        })
    }

    fn open(&self, key: &WrappedKey, binding: &str, sealed: &SealedSecret) -> Result<Zeroizing<String>, CipherError> {
        let data_key = self.unwrap_key(key, binding)?;
        let cipher = XChaCha20Poly1305::new_from_slice(&data_key).map_err(|_| CipherError::Malformed)?;
        let mut raw = B64.decode(&sealed.nonce).map_err(|_| CipherError::Malformed)?;
        raw.extend(B64.decode(&sealed.ciphertext).map_err(|_| CipherError::Malformed)?);
        let plain = open(&cipher, &raw, &secret_aad(binding, &sealed.field))?;
        String::from_utf8(plain.to_vec())
            .map(Zeroizing::new)
            .map_err(|_| CipherError::Malformed)
    }

    fn rewrap(&self, key: &WrappedKey, binding: &str) -> Result<WrappedKey, CipherError> {
        let data_key = self.unwrap_key(key, binding)?;
        self.wrap(key.data_key_id, key.integration_id, binding, &data_key)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keyring(spec: &str, active: Option<&str>) -> Keyring {
        Keyring::parse(&SecretString::from(spec.to_string()), active).unwrap()
    }

    #[test]
    fn a_sealed_secret_opens_and_never_contains_its_plaintext() {
        let ring = keyring(&Keyring::generate_entry("k1"), None);
        let id = Uuid::new_v4();
        let key = ring.new_data_key(Uuid::new_v4(), id, "integration:a").unwrap();
        let sealed = ring.seal(&key, "integration:a", "api_token", "tok-SECRET-123").unwrap();
        assert!(!format!("{sealed:?}").contains("SECRET"));
        assert_eq!(
            ring.open(&key, "integration:a", &sealed).unwrap().as_str(),
            "tok-SECRET-123"
        );
    }

    #[test]
    fn ciphertext_moved_to_another_record_or_field_does_not_open() {
        let ring = keyring(&Keyring::generate_entry("k1"), None);
        let key = ring
            .new_data_key(Uuid::new_v4(), Uuid::new_v4(), "integration:a")
            .unwrap();
        let mut sealed = ring.seal(&key, "integration:a", "api_token", "tok").unwrap();
        assert_eq!(
            ring.open(&key, "integration:b", &sealed).unwrap_err(),
            CipherError::WrongMasterKey("k1".into())
        );
        sealed.field = "api_key".into();
        assert_eq!(
            ring.open(&key, "integration:a", &sealed).unwrap_err(),
            CipherError::CannotOpen
        );
    }

    #[test]
    fn a_rewrapped_key_opens_with_the_new_master_key_alone() {
        let (k1, k2) = (Keyring::generate_entry("k1"), Keyring::generate_entry("k2"));
        let old = keyring(&k1, None);
        let key = old.new_data_key(Uuid::new_v4(), Uuid::new_v4(), "b").unwrap();
        let sealed = old.seal(&key, "b", "f", "secret").unwrap();
        let both = keyring(&format!("{k1},{k2}"), Some("k2"));
        let rewrapped = both.rewrap(&key, "b").unwrap();
        assert_eq!(rewrapped.master_key_id, "k2");
        let new = keyring(&k2, None);
        assert_eq!(new.open(&rewrapped, "b", &sealed).unwrap().as_str(), "secret");
        assert_eq!(
            new.open(&key, "b", &sealed).unwrap_err(),
            CipherError::UnknownMasterKey("k1".into())
        );
    }

    #[test]
    fn a_wrong_master_key_is_named() {
        let key = keyring(&Keyring::generate_entry("k1"), None)
            .new_data_key(Uuid::new_v4(), Uuid::new_v4(), "b")
            .unwrap();
        let impostor = keyring(&Keyring::generate_entry("k1"), None);
        assert_eq!(
            impostor.rewrap(&key, "b").unwrap_err(),
            CipherError::WrongMasterKey("k1".into())
        );
    }

    #[test]
    fn the_keyring_never_prints_its_keys() {
        let entry = Keyring::generate_entry("k1");
        let printed = format!("{:?}", keyring(&entry, None));
        assert!(!printed.contains(entry.split_once('=').unwrap().1));
    }
}
