//! The organisations' DLT templates, for the list route.

use application::error::StoreError;
use application::feed::StoredEvent;
use application::messages::{SmsTemplateDirectory, SmsTemplateSummary};
use async_trait::async_trait;
use domain::OrganisationId;
use domain::sms::dlt;
use domain::sms_template::SmsTemplateEvent;
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, AnyPool, Row};

use crate::calls::{stamp, time, word};
use crate::{ProjectionError, Projector, decode};

pub struct SmsTemplatesView;

#[async_trait]
impl Projector for SmsTemplatesView {
    fn name(&self) -> &'static str {
        "sms_templates"
    }

    fn aggregate_types(&self) -> &'static [&'static str] {
        &["sms_template"]
    }

    async fn apply(&self, conn: &mut AnyConnection, event: &StoredEvent) -> Result<(), ProjectionError> {
        let id = event.aggregate_id.as_str();
        sqlx::query("DELETE FROM sms_templates_view WHERE template_id = $1")
            .bind(id)
            .execute(&mut *conn)
            .await?;
        let SmsTemplateEvent::SmsTemplateRegistered {
            organisation_id,
            spec,
            at,
        } = decode::<SmsTemplateEvent>(event)?
        else {
            return Ok(());
        };
        sqlx::query(
            "INSERT INTO sms_templates_view (organisation_id, dlt_template_id, template_id, name, body, sender_id, \
             sms_type, variables, registered_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(organisation_id.to_string())
        .bind(spec.dlt_template_id)
        .bind(id)
        .bind(spec.name)
        .bind(spec.body.clone())
        .bind(spec.sender_id)
        .bind(word(spec.sms_type))
        .bind(i64::try_from(dlt::variables(&spec.body)).unwrap_or(i64::MAX))
        .bind(stamp(at))
        .execute(conn)
        .await?;
        Ok(())
    }

    async fn reset(&self, conn: &mut AnyConnection) -> Result<(), ProjectionError> {
        sqlx::query("DELETE FROM sms_templates_view").execute(conn).await?;
        Ok(())
    }
}

fn summary(row: &AnyRow) -> Result<SmsTemplateSummary, sqlx::Error> {
    let sms_type: String = row.try_get("sms_type")?;
    let variables: i64 = row.try_get("variables")?;
    Ok(SmsTemplateSummary {
        dlt_template_id: row.try_get("dlt_template_id")?,
        name: row.try_get("name")?,
        body: row.try_get("body")?,
        sender_id: row.try_get("sender_id")?,
        sms_type: serde_json::from_value(serde_json::Value::String(sms_type))
            .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
        variables: usize::try_from(variables).unwrap_or_default(),
        registered_at: time(row.try_get("registered_at")?).unwrap_or_default(),
    })
}

/// The templates view, read.
#[derive(Clone)]
pub struct SqlSmsTemplates(pub AnyPool);

#[async_trait]
impl SmsTemplateDirectory for SqlSmsTemplates {
    async fn list(&self, organisation_id: OrganisationId) -> Result<Vec<SmsTemplateSummary>, StoreError> {
        let rows = sqlx::query(
            "SELECT dlt_template_id, name, body, sender_id, sms_type, variables, registered_at \
             FROM sms_templates_view WHERE organisation_id = $1 ORDER BY dlt_template_id LIMIT 1000",
        )
        .bind(organisation_id.to_string())
        .fetch_all(&self.0)
        .await
        .map_err(|e| StoreError(format!("SMS templates view: {e}")))?;
        rows.iter()
            .map(summary)
            .collect::<Result<_, _>>()
            .map_err(|e| StoreError(format!("SMS templates view: {e}")))
    }
}
