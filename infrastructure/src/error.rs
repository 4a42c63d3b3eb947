//! The infrastructure layer's one error type.

/// A failure of an adapter: a database, NATS, the file system, or settings.
#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    #[error("configuration: {0}")]
    Config(String),
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
    #[error("nats: {0}")]
    Nats(String),
    #[error("file system: {0}")]
    Io(#[from] std::io::Error),
    #[error("stored event is malformed: {0}")]
    MalformedEvent(String),
}

impl From<InfraError> for application::error::StoreError {
    fn from(error: InfraError) -> Self {
        application::error::StoreError(error.to_string())
    }
}
