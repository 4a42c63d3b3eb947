//! Integrations: their status, settings (never secrets), configuration,
//! connection tests, deletion, per-user permissions, and the dashboard's
//! configuration summary.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

use application::AggregateStore;
use application::integrations::{TestResult, parse_configuration};
use application::policy;
use domain::Role;
use domain::integration::{Integration, IntegrationKind, IntegrationSettings};
use domain::integration_permission::{Grant, PermissionCommand, permission_id};

use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::routes::parse_id;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationResponse {
    #[serde(rename = "type")]
    pub kind: String,
    pub display_name: String,
    pub provider: String,
    /// not_configured, active, verification_failed or disabled
    pub status: String,
    pub verified: bool,
    pub last_verified_at: Option<String>,
    pub last_error: Option<String>,
    pub configured_at: Option<String>,
    /// Non-secret settings (only on the single-integration route).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub settings: Option<Value>,
    /// A fingerprint per secret field (only on the single-integration route).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub secret_fingerprints: Option<Value>,
}

fn kind_from_path(kind: &str) -> Result<IntegrationKind, ApiError> {
    IntegrationKind::parse(kind).ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_integration_type",
            format!("no integration type {kind}"),
        )
    })
}

fn describe(kind: IntegrationKind, integration: Option<&Integration>, detailed: bool) -> IntegrationResponse {
    let configured = integration.filter(|i| i.settings.is_some());
    let display_name = configured
        .and_then(|i| i.settings.as_ref())
        .and_then(|s| s.display_name())
        .unwrap_or(kind.display_name());
    let settings = configured.and_then(|i| i.settings.as_ref()).map(|s| {
        let mut value = serde_json::to_value(s).unwrap_or(Value::Null);
        if let Value::Object(map) = &mut value {
            map.remove("kind");
        }
        value
    });
    let fingerprints = configured.map(|i| {
        Value::Object(
            i.secrets
                .iter()
                .map(|s| (s.field.clone(), Value::String(s.fingerprint.clone())))
                .collect(),
        )
    });
    let status = serde_json::to_value(configured.map(|i| i.status).unwrap_or_default())
        .ok()
        .and_then(|v| v.as_str().map(str::to_string));
    IntegrationResponse {
        kind: kind.as_str().into(),
        display_name: display_name.to_string(),
        provider: kind.provider().into(),
        status: status.unwrap_or_else(|| "not_configured".into()),
        verified: configured.is_some_and(|i| i.verified),
        last_verified_at: configured.and_then(|i| i.last_verified_at).map(|t| t.to_rfc3339()),
        last_error: configured.and_then(|i| i.last_error.clone()),
        configured_at: configured.and_then(|i| i.configured_at).map(|t| t.to_rfc3339()),
        settings: settings.filter(|_| detailed),
        secret_fingerprints: fingerprints.filter(|_| detailed),
    }
}

fn may_see(caller: &Caller) -> Result<(), ApiError> {
    caller.require(Role::can_read_directory)
}

/// Every integration type with its status. Never a secret.
#[utoipa::path(get, path = "/api/v1/settings/integrations", tag = "integrations", security(("bearer" = [])),
    responses((status = 200, body = [IntegrationResponse]), (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Vec<IntegrationResponse>>, ApiError> {
    may_see(&caller)?;
    let mut all = Vec::new();
    for kind in IntegrationKind::ALL {
        let current = state.integrations().current(caller.organisation_id, kind).await?;
        all.push(describe(kind, current.as_ref(), false));
    }
    Ok(Json(all))
}

/// One integration with its non-secret settings and secret fingerprints.
#[utoipa::path(get, path = "/api/v1/settings/integrations/{type}", tag = "integrations", security(("bearer" = [])),
    responses((status = 200, body = IntegrationResponse), (status = 404, body = Problem)))]
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(kind): Path<String>,
) -> Result<Json<IntegrationResponse>, ApiError> {
    may_see(&caller)?;
    let kind = kind_from_path(&kind)?;
    let current = state.integrations().current(caller.organisation_id, kind).await?;
    Ok(Json(describe(kind, current.as_ref(), true)))
}

async fn grant(
    state: &AppState,
    caller: &Caller,
    kind: IntegrationKind,
    user_id: Uuid,
) -> Result<Option<Grant>, ApiError> {
    let id = permission_id(caller.organisation_id, kind, user_id).to_string();
    Ok(state.permissions.load(&id).await?.and_then(|l| l.aggregate.grant))
}

pub(crate) async fn may_configure(state: &AppState, caller: &Caller, kind: IntegrationKind) -> Result<(), ApiError> {
    let grant = match caller.user_id() {
        Some(user_id) => grant(state, caller, kind, user_id).await?,
        None => None,
    };
    Ok(policy::may_configure(caller.role, grant)?)
}

/// Configures or replaces an integration. The connection test runs first
/// unless `"save_unverified": true`; its outcome is recorded either way.
#[utoipa::path(post, path = "/api/v1/settings/integrations/{type}", tag = "integrations", security(("bearer" = [])),
    request_body(content = Object, description = "the type's settings and secrets, as in the seed's examples"),
    responses((status = 200, body = IntegrationResponse), (status = 403, body = Problem), (status = 422, body = Problem), (status = 503, body = Problem)))]
pub async fn configure(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(kind): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Json<IntegrationResponse>, ApiError> {
    let kind = kind_from_path(&kind)?;
    may_configure(&state, &caller, kind).await?;
    let configuration = parse_configuration(kind, body)?;
    let saved = state
        .integrations()
        .configure(
            caller.organisation_id,
            configuration,
            caller.user_id(),
            &caller.metadata(),
        )
        .await?;
    if kind == IntegrationKind::ExotelPhone {
        sync_after_configure(&state, &caller).await;
    }
    Ok(Json(describe(kind, Some(&saved), true)))
}

/// A newly configured phone integration brings its numbers at once; a
/// failure is logged, not the configuration's failure (the periodic sync
/// and the sync route try again).
async fn sync_after_configure(state: &AppState, caller: &Caller) {
    let synced = state
        .phone_numbers()
        .sync(caller.organisation_id, &state.integrations(), &caller.metadata())
        .await;
    if let Err(error) = synced {
        tracing::warn!(organisation_id = %caller.organisation_id, %error, "phone numbers not synced after configuration");
    }
}

/// Tests settings and secrets against the provider without saving.
#[utoipa::path(post, path = "/api/v1/settings/integrations/{type}/test", tag = "integrations", security(("bearer" = [])),
    request_body(content = Object, description = "the type's settings and secrets"),
    responses((status = 200, description = "the seed's success or failure shape"), (status = 503, body = Problem)))]
pub async fn test(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(kind): Path<String>,
    ApiJson(body): ApiJson<Value>,
) -> Result<Response, ApiError> {
    let kind = kind_from_path(&kind)?;
    may_configure(&state, &caller, kind).await?;
    let configuration = parse_configuration(kind, body)?;
    Ok(match state.integrations().test(&configuration).await {
        TestResult::Passed { details } => {
            Json(json!({"success": true, "message": "Connection test successful", "data": details})).into_response()
        }
        TestResult::Failed {
            status_code,
            error,
            details,
        } => {
            let details = json!({"status_code": status_code, "exotel_error": details.get("exotel_error").cloned().unwrap_or(Value::Null)});
            Json(json!({"success": false, "error": error, "details": details})).into_response()
        }
        TestResult::Unavailable { reason } => {
            ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "connection_test_unavailable", reason).into_response()
        }
    })
}

/// Disables an integration: it keeps its settings but may not be used (admins only).
#[utoipa::path(post, path = "/api/v1/settings/integrations/{type}/disable", tag = "integrations", security(("bearer" = [])),
    responses((status = 200, body = IntegrationResponse), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn disable(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(kind): Path<String>,
) -> Result<Json<IntegrationResponse>, ApiError> {
    set_enabled(&state, &caller, &kind, false).await
}

/// Enables a disabled integration again (admins only).
#[utoipa::path(post, path = "/api/v1/settings/integrations/{type}/enable", tag = "integrations", security(("bearer" = [])),
    responses((status = 200, body = IntegrationResponse), (status = 404, body = Problem), (status = 409, body = Problem)))]
pub async fn enable(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(kind): Path<String>,
) -> Result<Json<IntegrationResponse>, ApiError> {
    set_enabled(&state, &caller, &kind, true).await
}

async fn set_enabled(
    state: &AppState,
    caller: &Caller,
    kind: &str,
    enabled: bool,
) -> Result<Json<IntegrationResponse>, ApiError> {
    caller.require(Role::can_administer)?;
    let kind = kind_from_path(kind)?;
    let integration = state
        .integrations()
        .set_enabled(caller.organisation_id, kind, enabled, &caller.metadata())
        .await?;
    Ok(Json(describe(kind, Some(&integration), true)))
}

/// Deletes an integration and destroys its data key: its secrets can no
/// longer be recovered, even with the master key.
#[utoipa::path(delete, path = "/api/v1/settings/integrations/{type}", tag = "integrations", security(("bearer" = [])),
    responses((status = 204), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(kind): Path<String>,
) -> Result<StatusCode, ApiError> {
    caller.require(Role::can_administer)?;
    let kind = kind_from_path(&kind)?;
    state
        .integrations()
        .delete(caller.organisation_id, kind, &caller.metadata())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionBody {
    pub can_use: bool,
    pub can_configure: bool,
    pub daily_limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionResponse {
    pub user_id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    pub can_use: bool,
    pub can_configure: bool,
    pub daily_limit: Option<u32>,
    /// Whether an admin set this explicitly (otherwise it is the role's default).
    pub explicit: bool,
}

async fn user_in_organisation(
    state: &AppState,
    caller: &Caller,
    user_id: Uuid,
) -> Result<domain::user::User, ApiError> {
    let user = state.users.load(&user_id.to_string()).await?.map(|l| l.aggregate);
    user.filter(|u| u.organisation_id == Some(caller.organisation_id))
        .ok_or_else(ApiError::not_found)
}

fn permission_response(user: &domain::user::User, kind: IntegrationKind, grant: Option<Grant>) -> PermissionResponse {
    let admin = user.role == Some(Role::Admin);
    let effective = grant.unwrap_or(Grant {
        can_use: admin,
        can_configure: admin,
        daily_limit: None,
    });
    PermissionResponse {
        user_id: user.id.unwrap_or_default(),
        kind: kind.as_str().into(),
        can_use: admin || effective.can_use,
        can_configure: admin || effective.can_configure,
        daily_limit: effective.daily_limit,
        explicit: grant.is_some(),
    }
}

/// What a user may do with an integration (admins, or the user themselves).
#[utoipa::path(get, path = "/api/v1/settings/integrations/{type}/permissions/{user_id}", tag = "integrations", security(("bearer" = [])),
    responses((status = 200, body = PermissionResponse), (status = 404, body = Problem)))]
pub async fn get_permission(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((kind, user_id)): Path<(String, String)>,
) -> Result<Json<PermissionResponse>, ApiError> {
    let kind = kind_from_path(&kind)?;
    let user_id = parse_id(&user_id)?;
    if caller.role != Role::Admin && caller.user_id() != Some(user_id) {
        return Err(ApiError::forbidden());
    }
    let user = user_in_organisation(&state, &caller, user_id).await?;
    Ok(Json(permission_response(
        &user,
        kind,
        grant(&state, &caller, kind, user_id).await?,
    )))
}

/// Grants or withdraws a user's use and configuration of an integration (admins only).
#[utoipa::path(put, path = "/api/v1/settings/integrations/{type}/permissions/{user_id}", request_body = PermissionBody,
    tag = "integrations", security(("bearer" = [])),
    responses((status = 200, body = PermissionResponse), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn put_permission(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((kind, user_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<PermissionBody>,
) -> Result<Json<PermissionResponse>, ApiError> {
    caller.require(Role::can_administer)?;
    let kind = kind_from_path(&kind)?;
    let user_id = parse_id(&user_id)?;
    let user = user_in_organisation(&state, &caller, user_id).await?;
    let grant = Grant {
        can_use: body.can_use,
        can_configure: body.can_configure,
        daily_limit: body.daily_limit,
    };
    let command = PermissionCommand::Set {
        organisation_id: caller.organisation_id,
        kind,
        user_id,
        grant,
        granted_by: caller.user_id(),
    };
    let id = permission_id(caller.organisation_id, kind, user_id).to_string();
    state.permissions.execute(&id, command, &caller.metadata()).await?;
    Ok(Json(permission_response(&user, kind, Some(grant))))
}

/// The dashboard's summary of what is configured.
#[utoipa::path(get, path = "/api/v1/settings/configuration-status", tag = "integrations", security(("bearer" = [])),
    responses((status = 200, description = "the seed's configuration-status shape")))]
pub async fn configuration_status(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json<Value>, ApiError> {
    may_see(&caller)?;
    let integrations = state.integrations();
    let current = |kind| integrations.current(caller.organisation_id, kind);
    let (phone, sms, whatsapp, mail) = (
        current(IntegrationKind::ExotelPhone).await?,
        current(IntegrationKind::ExotelSms).await?,
        current(IntegrationKind::ExotelWhatsapp).await?,
        current(IntegrationKind::ZohoMail).await?,
    );
    let settings = |i: &Option<Integration>| i.as_ref().and_then(|i| i.settings.as_deref().cloned());
    let email = match settings(&mail) {
        Some(IntegrationSettings::ZohoMail(m)) => {
            json!({"configured": true, "accounts": 1, "default_account": m.email})
        }
        _ => json!({"configured": false, "accounts": 0}),
    };
    let phone = match settings(&phone) {
        Some(IntegrationSettings::ExotelPhone(_)) => json!({"configured": true, "provider": "exotel", "numbers": 1}),
        _ => json!({"configured": false}),
    };
    let whatsapp = match settings(&whatsapp) {
        Some(IntegrationSettings::ExotelWhatsapp(w)) => {
            json!({"configured": true, "provider": "exotel", "number": w.whatsapp_number})
        }
        _ => json!({"configured": false}),
    };
    let sms = match settings(&sms) {
        Some(IntegrationSettings::ExotelSms(s)) => {
            json!({"configured": true, "provider": "exotel", "sender_id": s.sender_id})
        }
        _ => json!({"configured": false}),
    };
    Ok(Json(
        json!({"success": true, "data": {"email": email, "phone": phone, "whatsapp": whatsapp, "sms": sms}}),
    ))
}
