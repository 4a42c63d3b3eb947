//! The periodic sync of every organisation's ExoPhones, so numbers bought,
//! renamed or released in Exotel's dashboard show up without anyone asking.

use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use application::EventMetadata;
use application::phone_numbers::PhoneNumbersUseCaseError;

use crate::state::AppState;

/// Syncs every organisation with an active Exotel phone integration, then
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
