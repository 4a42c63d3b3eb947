//! The application's error: a command refused by its aggregate is a
//! different thing from an outcome that could not be saved.

use cqrs_es::AggregateError;

/// Why a command did not take effect.
#[derive(Debug, thiserror::Error)]
pub enum CommandError<E: std::error::Error> {
    /// The aggregate refused the command: a broken rule (4xx).
    #[error(transparent)]
    Rejected(E),
    /// Other writers kept winning the same aggregate version (409).
    #[error("the resource was changed by another request; try again")]
    Conflict,
    /// The store could not be reached or answered garbage (503/500).
    #[error("event store failure: {0}")]
    Store(String),
}

impl<E: std::error::Error> From<AggregateError<E>> for CommandError<E> {
    fn from(error: AggregateError<E>) -> Self {
        match error {
            AggregateError::UserError(e) => CommandError::Rejected(e),
            AggregateError::AggregateConflict => CommandError::Conflict,
            AggregateError::DatabaseConnectionError(e) => CommandError::Store(e.to_string()),
            AggregateError::DeserializationError(e) => CommandError::Store(format!("deserialisation: {e}")),
            AggregateError::UnexpectedError(e) => CommandError::Store(e.to_string()),
        }
    }
}

/// A store failure outside a command (loading, reading the feed).
#[derive(Debug, Clone, thiserror::Error)]
#[error("event store failure: {0}")]
pub struct StoreError(pub String);
