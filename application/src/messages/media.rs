//! Customers' media files: the provider's URL of a WhatsApp image,
//! document, audio, video or sticker is fetched with the integration's
//! credentials (under the outbound address rule), the file is kept by
//! content like e-mail attachments, and the message records which file it
//! is. A fetcher goes through the messages whose media is still at the
//! provider; the media route fetches on first use too. A provider that
//! answers 404 or 410 has lost the file: that is recorded and the file is
//! not asked for again. Any other failure is left for the next pass.

use async_trait::async_trait;
use std::path::PathBuf;
use uuid::Uuid;

use domain::OrganisationId;
use domain::inbound_message::{InboundMessage, InboundMessageCommand, MediaFile};

use super::MessagesError;
use super::dispatch::whatsapp_account;
use crate::error::{CommandError, StoreError};
use crate::exotel::{ExotelAccount, ExotelError};
use crate::integrations::Integrations;
use crate::metadata::EventMetadata;
use crate::store::AggregateStore;

/// The largest file fetched (WhatsApp's own limit, for documents).
pub const MAX_MEDIA_BYTES: u64 = 100 * 1024 * 1024;

/// Where kept media files live.
pub trait MediaFiles: Send + Sync {
    /// Keeps the bytes by content; the file as kept.
    fn keep(&self, bytes: &[u8], content_type: &str) -> std::io::Result<MediaFile>;
    /// Where content with this SHA-256 is kept, if it is.
    fn find(&self, sha256: &str) -> Option<PathBuf>;
}

/// Fetches a provider's media URL with the account's credentials.
#[async_trait]
pub trait MediaDownloader: Send + Sync {
    /// The bytes and their content type, or why not; at most `max_bytes`.
    async fn download_media(
        &self,
        account: &ExotelAccount,
        url: &str,
        max_bytes: u64,
    ) -> Result<(Vec<u8>, Option<String>), ExotelError>;
}

/// What the inbound messages' read model answers about media.
#[async_trait]
pub trait PendingMedia: Send + Sync {
    /// Messages whose media is still at the provider, oldest first.
    async fn pending_media(&self, limit: u32) -> Result<Vec<Uuid>, StoreError>;
}

/// A media file ready to be served.
#[derive(Debug, Clone)]
pub struct KeptMedia {
    pub file: MediaFile,
    pub path: PathBuf,
}

/// The stores and ports fetching media needs.
pub struct InboundMedia<'a> {
    pub inbound: &'a dyn AggregateStore<InboundMessage>,
    pub integrations: Integrations<'a>,
    pub downloader: &'a dyn MediaDownloader,
    pub files: &'a dyn MediaFiles,
    pub pending: &'a dyn PendingMedia,
    pub clock: &'a dyn crate::clock::Clock,
}

/// What fetching one message's media came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    Kept(MediaFile),
    /// The provider no longer has it.
    Unavailable(String),
    /// Nothing to fetch: no media, or settled already.
    Nothing,
}

fn store_error(error: CommandError<domain::inbound_message::InboundMessageError>) -> MessagesError {
    MessagesError::Store(StoreError(error.to_string()))
}

impl InboundMedia<'_> {
    /// Fetches and keeps one message's media, if it is still to fetch; its
    /// events carry the metadata `meta` gives for the message's organisation.
    pub async fn fetch(
        &self,
        message_id: Uuid,
        meta: &(dyn Fn(OrganisationId) -> EventMetadata + Sync),
    ) -> Result<Fetched, MessagesError> {
        let loaded = self.inbound.load(&message_id.to_string()).await?;
        let Some(inbound) = loaded.map(|l| l.aggregate) else {
            return Ok(Fetched::Nothing);
        };
        let (Some(url), Some(message)) = (inbound.media_to_fetch(), inbound.message.as_deref()) else {
            return Ok(Fetched::Nothing);
        };
        let (_, account) = whatsapp_account(message.organisation_id, &self.integrations).await?;
        let meta = &meta(message.organisation_id);
        let at = self.clock.now();
        let (bytes, content_type) = match self.downloader.download_media(&account, url, MAX_MEDIA_BYTES).await {
            Ok(fetched) => fetched,
            Err(ExotelError::Refused { status: 404 | 410, .. }) => {
                let reason = "the provider no longer has the file".to_string();
                let command = InboundMessageCommand::MediaUnavailable {
                    reason: reason.clone(),
                    at,
                };
                self.inbound
                    .execute(&message_id.to_string(), command, meta)
                    .await
                    .map_err(store_error)?;
                return Ok(Fetched::Unavailable(reason));
            }
            Err(error) => return Err(MessagesError::Exotel(error)),
        };
        let said = match &message.content {
            domain::inbound_message::InboundContent::Media { mime_type, .. } => mime_type.clone(),
            _ => None,
        };
        let content_type = content_type
            .or(said)
            .unwrap_or_else(|| "application/octet-stream".into());
        let file = self
            .files
            .keep(&bytes, &content_type)
            .map_err(|e| MessagesError::Store(StoreError(format!("keeping a media file: {e}"))))?;
        let command = InboundMessageCommand::KeepMedia { file: file.clone(), at };
        self.inbound
            .execute(&message_id.to_string(), command, meta)
            .await
            .map_err(store_error)?;
        Ok(Fetched::Kept(file))
    }

    /// Fetches the media of up to `limit` messages still waiting, except
    /// those `waiting` says to leave for now, as Switchboard's media
    /// fetcher; what each attempt came to.
    pub async fn fetch_pending(
        &self,
        limit: u32,
        waiting: &(dyn Fn(Uuid) -> bool + Sync),
    ) -> Result<Vec<(Uuid, Result<Fetched, MessagesError>)>, MessagesError> {
        let meta = |organisation_id| EventMetadata::system("media-fetcher", Some(organisation_id));
        let mut outcomes = Vec::new();
        for message_id in self.pending.pending_media(limit).await? {
            if waiting(message_id) {
                continue;
            }
            outcomes.push((message_id, self.fetch(message_id, &meta).await));
        }
        Ok(outcomes)
    }

    /// The organisation's message's media file, fetched on first use.
    pub async fn media(
        &self,
        organisation_id: OrganisationId,
        message_id: Uuid,
        meta: &EventMetadata,
    ) -> Result<KeptMedia, MessagesError> {
        let not_found =
            || MessagesError::Command(CommandError::Rejected(domain::outbound_message::MessageError::NotFound));
        let loaded = self.inbound.load(&message_id.to_string()).await?;
        let inbound = loaded
            .map(|l| l.aggregate)
            .filter(|m| m.of(organisation_id).is_some())
            .ok_or_else(not_found)?;
        let file = match (inbound.media, inbound.media_unavailable) {
            (Some(file), _) => file,
            (None, Some(_)) => return Err(MessagesError::MediaUnavailable),
            (None, None) => match self.fetch(message_id, &|_| meta.clone()).await? {
                Fetched::Kept(file) => file,
                Fetched::Unavailable(_) => return Err(MessagesError::MediaUnavailable),
                Fetched::Nothing => return Err(not_found()),
            },
        };
        let path = self.files.find(&file.sha256).ok_or(MessagesError::MediaUnavailable)?;
        Ok(KeptMedia { file, path })
    }
}
