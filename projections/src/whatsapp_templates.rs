//! The organisations' WhatsApp templates as last synced, for the list route
//! and the sync's removals.

use application::error::StoreError;
use application::feed::StoredEvent;
use application::messages::{WhatsappTemplateDirectory, WhatsappTemplateSummary};
use async_trait::async_trait;
use domain::OrganisationId;
use domain::whatsapp_template::{TemplateStatus, WhatsappTemplateEvent};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};
use uuid::Uuid;

use crate::calls::{stamp, time, word};
use crate::{ProjectionError, Projector, decode};

pub struct WhatsappTemplatesView;

#[async_trait]
impl Projector for WhatsappTemplatesView {
    fn name(&self) -> &'static str {
        "whatsapp_templates"
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["whatsapp_template"]
    }

    async fn apply(&self, conn: &mut AnyConnection, event: &StoredEvent) -> Result<(), ProjectionError> {
        let id = event.aggregate_id.as_str();
        sqlx::query("DELETE FROM whatsapp_templates_view WHERE template_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        let WhatsappTemplateEvent::WhatsappTemplateSynced {
            organisation_id,
            definition,
            at,
        } = decode::<WhatsappTemplateEvent>(event)?
        else {
            return Ok(());
        };
        let kept = serde_json::to_string(&definition).map_err(|e| ProjectionError::UndecodableEvent {
            event_type: event.event_type.clone(),
            reason: e.to_string(),
        })?;
        sqlx::query(
            "INSERT INTO whatsapp_templates_view (template_id, organisation_id, name, language, status, definition, \
             synced_at) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(id)
        .bind(organisation_id.to_string())
        .bind(definition.name)
        .bind(definition.language)
        .bind(word(definition.status))
        .bind(kept)
        .bind(stamp(at))
        .execute(conn)
        .await?;
        Ok(())
    }

    async fn reset(&self, conn: &mut AnyConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM whatsapp_templates_view").execute(conn).await?;
        Ok(())
    }
}

fn summary(row: &AnyRow) -> Result<WhatsappTemplateSummary, sqlx::Error> {
    let decode = |e: String| sqlx::Error::Decode(e.into());
    let id: String = row.try_get("template_id")?;
    let definition: String = row.try_get("definition")?;
    Ok(WhatsappTemplateSummary {
        template_id: Uuid::try_parse(&id).map_err(|e| decode(e.to_string()))?,
        definition: serde_json::from_str(&definition).map_err(|e| decode(e.to_string()))?,
        synced_at: time(row.try_get("synced_at")?).unwrap_or_default(),
    })
}

/// The templates view, read.
#[derive(Clone)]
pub struct SqlWhatsappTemplates(pub AnyPool);

#[async_trait]
impl WhatsappTemplateDirectory for SqlWhatsappTemplates {
    async fn list(
        &self,
        organisation_id: OrganisationId,
        status: Option<TemplateStatus>,
    ) -> Result<Vec<WhatsappTemplateSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT template_id, definition, synced_at FROM whatsapp_templates_view \
             WHERE organisation_id = $1 AND ($2 = '' OR status = $2) ORDER BY name, language LIMIT 5000",
        )
        .bind(organisation_id.to_string())
        .bind(status.map(word).unwrap_or_default())
        .fetch_all(&self.0)
        .await
        .map_err(|e| StoreError(format!("WhatsApp templates view: {e}")))?;
        rows.iter()
            .map(summary)
            .collect::<Result<_, _>>()
            .map_err(|e| StoreError(format!("WhatsApp templates view: {e}")))
    }
}
