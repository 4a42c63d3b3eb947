//! Aggregates kept in memory through cqrs-es's own store, and a cipher and
//! data-key store that keep nothing secret, for the use cases' tests.

use async_trait::async_trait;
use cqrs_es::mem_store::MemStore;
use cqrs_es::{Aggregate, AggregateError, CqrsFramework, EventStore};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use domain::integration::SealedSecret;
use std::sync::Mutex;
use uuid::Uuid;
use zeroize::Zeroizing;

use crate::cipher::{CipherError, CredentialCipher, DataKeyStore, WrappedKey};
use crate::error::StoreError;
use crate::metadata::EventMetadata;
use crate::store::{AggregateStore, Loaded};

/// Aggregates kept in memory, through the framework's own store.
pub(crate) struct Memory<A: Aggregate<Services = ()> + Clone> {
    store: MemStore<A>,
    cqrs: CqrsFramework<A, MemStore<A>>,
}

impl<A: Aggregate<Services = ()> + Clone> Memory<A> {
    pub(crate) fn new() -> Self {
        let store = MemStore::<A>::default();
        let cqrs = CqrsFramework::new(store.clone(), Vec::new(), ());
        Self { store, cqrs }
    }
}

#[async_trait]
impl<A: Aggregate<Services = ()> + Clone + 'static> AggregateStore<A> for Memory<A>
where
    A::Command: Send + Sync,
{
    async fn execute_once(
        &self,
        aggregate_id: &str,
        command: A::Command,
        metadata: &EventMetadata,
    ) -> Result<(), AggregateError<A::Error>> {
        self.cqrs
            .execute_with_metadata(aggregate_id, command, metadata.to_map())
            .await
    }

    async fn load(&self, aggregate_id: &str) -> Result<Option<Loaded<A>>, StoreError> {
        let events = self
            .store
            .load_events(aggregate_id)
            .await
            .map_err(|e| StoreError(e.to_string()))?;
        let version = events.len();
        let mut aggregate = A::default();
        for event in events {
            aggregate.apply(event.payload);
        }
        Ok((version > 0).then_some(Loaded { aggregate, version }))
    }
}

/// Seals by writing the binding beside the plaintext: opening with another
/// binding or key fails, as the real cipher's associated data makes it.
pub(crate) struct BindingCipher;

impl CredentialCipher for BindingCipher {
    fn active_master_key_id(&self) -> &str {
        "test"
    }
    fn new_data_key(&self, data_key_id: Uuid, integration_id: Uuid, _: &str) -> Result<WrappedKey, CipherError> {
        Ok(WrappedKey {
            data_key_id,
            integration_id,
            master_key_id: "test".into(),
            wrapped: data_key_id.to_string(),
        })
    }
    fn seal(&self, key: &WrappedKey, binding: &str, field: &str, plaintext: &str) -> Result<SealedSecret, CipherError> {
        Ok(SealedSecret {
            field: field.into(),
            nonce: format!("{}|{binding}", key.wrapped),
            ciphertext: STANDARD.encode(plaintext),
            fingerprint: String::new(),
        })
    }
    fn open(&self, key: &WrappedKey, binding: &str, sealed: &SealedSecret) -> Result<Zeroizing<String>, CipherError> {
        if sealed.nonce != format!("{}|{binding}", key.wrapped) {
            return Err(CipherError::CannotOpen);
        }
        let bytes = STANDARD
            .decode(&sealed.ciphertext)
            .map_err(|_| CipherError::Malformed)?;
        Ok(Zeroizing::new(
            String::from_utf8(bytes).map_err(|_| CipherError::Malformed)?,
        ))
    }
    fn rewrap(&self, key: &WrappedKey, _: &str) -> Result<WrappedKey, CipherError> {
        Ok(key.clone())
    }
}

#[derive(Default)]
pub(crate) struct Keys(Mutex<Vec<WrappedKey>>);

#[async_trait]
impl DataKeyStore for Keys {
    async fn put(&self, key: &WrappedKey) -> Result<(), StoreError> {
        self.0.lock().unwrap().push(key.clone());
        Ok(())
    }
    async fn get(&self, data_key_id: Uuid) -> Result<Option<WrappedKey>, StoreError> {
        let keys = self.0.lock().unwrap();
        Ok(keys.iter().find(|k| k.data_key_id == data_key_id).cloned())
    }
    async fn replace(&self, key: &WrappedKey) -> Result<(), StoreError> {
        let mut keys = self.0.lock().unwrap();
        keys.retain(|k| k.data_key_id != key.data_key_id);
        keys.push(key.clone());
        Ok(())
    }
    async fn destroy_for(&self, integration_id: Uuid, keep: Option<Uuid>) -> Result<u64, StoreError> {
        let mut keys = self.0.lock().unwrap();
        let before = keys.len();
        keys.retain(|k| k.integration_id != integration_id || Some(k.data_key_id) == keep);
        Ok((before - keys.len()) as u64)
    }
    async fn all(&self) -> Result<Vec<WrappedKey>, StoreError> {
        Ok(self.0.lock().unwrap().clone())
    }
}

/// A thread directory that knows no thread: every message starts its own.
pub(crate) struct NoThreads;

#[async_trait]
impl crate::threads::ThreadDirectory for NoThreads {
    async fn find(
        &self,
        _: domain::OrganisationId,
        _: Uuid,
    ) -> Result<Option<crate::threads::ThreadState>, StoreError> {
        Ok(None)
    }

    async fn latest_of_customer(
        &self,
        _: domain::OrganisationId,
        _: Uuid,
    ) -> Result<Option<crate::threads::ThreadState>, StoreError> {
        Ok(None)
    }
}
