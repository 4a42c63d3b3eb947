//! A call's recording for an authorised caller: fetched from Exotel with
//! the integration's credentials the first time, kept by content, then
//! served from where it is kept. Exotel's URL never leaves the server.

use chrono::Utc;
use std::path::PathBuf;
use uuid::Uuid;

use domain::OrganisationId;
use domain::call::{CallCommand, RecordingFile};

use super::{Calls, CallsError};
use crate::exotel::ExotelError;
use crate::metadata::EventMetadata;
use crate::phone_numbers::exotel_phone_account;

/// Where kept recordings live.
pub trait RecordingFiles: Send + Sync {
    /// Keeps the bytes by content and describes them.
    fn keep(&self, bytes: &[u8]) -> std::io::Result<RecordingFile>;
    /// Where content with this SHA-256 is kept, if it is.
    fn find(&self, sha256: &str) -> Option<std::path::PathBuf>;
}

/// A recording ready to be served.
#[derive(Debug, Clone)]
pub struct KeptRecording {
    pub file: RecordingFile,
    pub path: PathBuf,
}

impl Calls<'_> {
    /// The call's recording, fetched and kept on first use.
    pub async fn recording(
        &self,
        organisation_id: OrganisationId,
        call_id: Uuid,
        meta: &EventMetadata,
    ) -> Result<KeptRecording, CallsError> {
        let call = self.get(organisation_id, call_id).await?;
        let url = call.details.recording_url.clone().ok_or(CallsError::NoRecording)?;
        if let Some(file) = call.recording.clone()
            && let Some(path) = self.recordings.find(&file.sha256)
        {
            return Ok(KeptRecording { file, path });
        }
        let account = exotel_phone_account(organisation_id, &self.integrations)
            .await
            .map_err(|_| CallsError::NotConfigured)?;
        let bytes = match self.voice.recording(&account, &url).await {
            Ok(bytes) => bytes,
            Err(ExotelError::Refused { status: 404 | 410, .. }) => return Err(CallsError::RecordingGone),
            Err(error) => return Err(CallsError::Exotel(error)),
        };
        let file = self
            .recordings
            .keep(&bytes)
            .map_err(|e| CallsError::Storage(e.to_string()))?;
        let path = self
            .recordings
            .find(&file.sha256)
            .ok_or_else(|| CallsError::Storage("a kept recording could not be found".into()))?;
        let command = CallCommand::StoreRecording {
            recording: file.clone(),
            at: Utc::now(),
        };
        self.store.execute(&call_id.to_string(), command, meta).await?;
        Ok(KeptRecording { file, path })
    }
}
