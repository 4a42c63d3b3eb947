//! Event sources for projectors, and reading the store in order.

pub mod jetstream;
pub mod live;
pub mod scan;
pub mod tail;

use async_trait::async_trait;

use application::error::StoreError;
use application::feed::Acknowledge;

/// Acknowledgement for sources whose progress lives in the projector's own
/// checkpoint (the store tail and rebuild scans): nothing to confirm.
pub struct CheckpointedAck;

#[async_trait]
impl Acknowledge for CheckpointedAck {
    async fn ack(&self) -> Result<(), StoreError> {
        Ok(())
    }

    async fn retry_later(&self) -> Result<(), StoreError> {
        Ok(())
    }
}
