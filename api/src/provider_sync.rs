//! The periodic sync of what every organisation keeps at Exotel: its
//! ExoPhones, so numbers bought, renamed or released in Exotel's dashboard
//! show up without anyone asking, and its WhatsApp templates, so one Meta
//! approved is sendable and one it paused or disabled is not.

use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use application::EventMetadata;
use application::messages::MessagesError;
use application::phone_numbers::PhoneNumbersUseCaseError;

use crate::state::AppState;

/// Syncs every organisation's numbers and templates, then
/// waits `interval`, until stopped. One organisation's failure is logged
/// and does not stop the others.
pub async fn run(state: Arc<AppState>, interval: Duration, stop: CancellationToken) -> Result<(), String> {
    loop {
        tokio::select! {
            _ = stop.cancelled() => return Ok(()),
            _ = tokio::time::sleep(interval) => {}
        }
        let organisations = projections::organisations::all_ids(&state.db.read)
            .await
            .map_err(|e| e.to_string())?;
        for id in organisations.iter().filter_map(|id| Uuid::try_parse(id).ok()) {
            sync_one(&state, id).await;
            sync_templates(&state, id).await;
        }
    }
}

async fn sync_one(state: &AppState, organisation_id: Uuid) {
    let meta = EventMetadata::system("phone-sync", Some(organisation_id));
    match state
        .phone_numbers()
        .sync(organisation_id, &state.integrations(), &meta)
        .await
    {
        Ok(counts) if counts.new + counts.updated + counts.released > 0 => {
            tracing::info!(%organisation_id, ?counts, "phone numbers synced")
        }
        Ok(_) | Err(PhoneNumbersUseCaseError::NotConfigured) => {}
        Err(error) => tracing::warn!(%organisation_id, %error, "phone number sync failed"),
    }
}

async fn sync_templates(state: &AppState, organisation_id: Uuid) {
    let meta = EventMetadata::system("template-sync", Some(organisation_id));
    match state.messages().sync_whatsapp_templates(organisation_id, &meta).await {
        Ok(sync) if sync.changed + sync.removed + sync.unreadable > 0 => {
            tracing::info!(%organisation_id, ?sync, "WhatsApp templates synced")
        }
        // No WhatsApp integration, or one without a business account.
        Ok(_) | Err(MessagesError::WhatsappNotConfigured | MessagesError::Invalid(_)) => {}
        Err(error) => tracing::warn!(%organisation_id, %error, "WhatsApp template sync failed"),
    }
}
