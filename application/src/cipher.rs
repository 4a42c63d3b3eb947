//! The credential cipher port: envelope encryption of integration secrets.
//!
//! Each integration has its own random data key; the data key is kept only
//! wrapped by a master key (see [`DataKeyStore`]), and secrets are sealed
//! with it. Both steps bind the integration's id and kind as associated
//! data, so ciphertext copied to another record does not open.

use async_trait::async_trait;
use domain::integration::SealedSecret;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::error::StoreError;

/// A data key as stored: sealed by one master key.
#[derive(Clone, PartialEq, Eq)]
pub struct WrappedKey {
    pub data_key_id: Uuid,
    pub integration_id: Uuid,
    pub master_key_id: String,
    /// Base64 of nonce and ciphertext.
    pub wrapped: String,
}

impl std::fmt::Debug for WrappedKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WrappedKey")
            .field("data_key_id", &self.data_key_id)
            .field("master_key_id", &self.master_key_id)
            .finish()
    }
}

/// Why sealing or opening failed. Never carries key material or plaintext.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CipherError {
    #[error("master key {0} is not in the keyring")]
    UnknownMasterKey(String),
    #[error("master key {0} cannot open this data key (wrong key, or the data key was tampered with)")]
    WrongMasterKey(String),
    #[error("the secret cannot be opened with this record's data key")]
    CannotOpen,
    #[error("the data key was destroyed")]
    DataKeyDestroyed,
    #[error("malformed ciphertext")]
    Malformed,
}

/// Seals and opens secrets under a keyring of master keys.
pub trait CredentialCipher: Send + Sync {
    /// The master key new data keys are wrapped with.
    fn active_master_key_id(&self) -> &str;
    /// A new random data key for a record, wrapped by the active master key.
    fn new_data_key(&self, data_key_id: Uuid, integration_id: Uuid, binding: &str) -> Result<WrappedKey, CipherError>;
    /// Seals one secret field.
    fn seal(&self, key: &WrappedKey, binding: &str, field: &str, plaintext: &str) -> Result<SealedSecret, CipherError>;
    /// Opens one sealed secret.
    fn open(&self, key: &WrappedKey, binding: &str, sealed: &SealedSecret) -> Result<Zeroizing<String>, CipherError>;
    /// The same data key wrapped by the active master key.
    fn rewrap(&self, key: &WrappedKey, binding: &str) -> Result<WrappedKey, CipherError>;
}

/// Where wrapped data keys live. Deleting one is crypto-shredding: every
/// secret sealed with it becomes unreadable, even with the master key.
#[async_trait]
pub trait DataKeyStore: Send + Sync {
    async fn put(&self, key: &WrappedKey) -> Result<(), StoreError>;
    async fn get(&self, data_key_id: Uuid) -> Result<Option<WrappedKey>, StoreError>;
    async fn replace(&self, key: &WrappedKey) -> Result<(), StoreError>;
    /// Destroys every data key of an integration but `keep`; returns how many.
    async fn destroy_for(&self, integration_id: Uuid, keep: Option<Uuid>) -> Result<u64, StoreError>;
    async fn all(&self) -> Result<Vec<WrappedKey>, StoreError>;
}
