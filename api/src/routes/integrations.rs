//! Integrations: their status, settings (never secrets), configuration,
//! connection tests, deletion, per-user permissions, and the dashboard's
//! configuration summary.

mod schema;

use axum::extract::{FromRequest, Path, Request, State};
use axum::http::StatusCode;
use axum::routing::{self, post};
use axum::{Json, RequestExt, Router};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::ToSchema;
use uuid::Uuid;

use application::access::Permission;
use application::integrations::{TestResult, parse_configuration};
use domain::Role;
use domain::integration::{Integration, IntegrationKind, IntegrationSettings};
use domain::integration_permission::Grant;

use crate::auth::Caller;
use crate::envelope::{self, Data, List};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::routes::parse_id;
use crate::state::AppState;
pub use schema::*;

/// The integration routes, relative to `/api/v1`.
pub fn router() -> Router<Arc<AppState>> {
    Router::new()
        .route("/settings/integrations", routing::get(list))
        .route(
            "/settings/integrations/{type}",
            routing::get(get).post(configure).delete(delete),
        )
        .route("/settings/integrations/{type}/test", post(test))
        .route("/settings/integrations/{type}/disable", post(disable))
        .route(
            "/settings/integrations/exotel_phone/callback-token/rotate",
            post(rotate_callback_token),
        )
        .route("/settings/integrations/exotel_phone/flow-urls", routing::get(flow_urls))
        .route(
            "/settings/integrations/exotel_sms/flow-urls",
            routing::get(sms_flow_urls),
        )
        .route("/settings/integrations/{type}/enable", post(enable))
        .route(
            "/settings/integrations/{type}/permissions/{user_id}",
            routing::get(get_permission).put(put_permission),
        )
        .route("/settings/configuration-status", routing::get(configuration_status))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IntegrationResponse {
    #[serde(rename = "type")]
    pub kind: IntegrationType,
    pub display_name: String,
    pub provider: String,
    pub status: Status,
    pub verified: bool,
    pub last_verified_at: Option<String>,
    pub last_error: Option<String>,
    pub configured_at: Option<String>,
    /// Non-secret settings (only on the single-integration routes, once configured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub settings: Option<SettingsResponse>,
    /// A fingerprint per secret field (only on the single-integration routes, once configured).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret_fingerprints: Option<Fingerprints>,
}

/// Where an integration stands.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Status {
    NotConfigured,
    Active,
    VerificationFailed,
    Disabled,
}

impl From<domain::integration::IntegrationStatus> for Status {
    fn from(status: domain::integration::IntegrationStatus) -> Self {
        use domain::integration::IntegrationStatus as S;
        match status {
            S::NotConfigured => Status::NotConfigured,
            S::Active => Status::Active,
            S::VerificationFailed => Status::VerificationFailed,
            S::Disabled => Status::Disabled,
        }
    }
}

impl From<IntegrationKind> for IntegrationType {
    fn from(kind: IntegrationKind) -> Self {
        match kind {
            IntegrationKind::ExotelPhone => IntegrationType::ExotelPhone,
            IntegrationKind::ExotelSms => IntegrationType::ExotelSms,
            IntegrationKind::ExotelWhatsapp => IntegrationType::ExotelWhatsapp,
            IntegrationKind::ZohoMail => IntegrationType::ZohoMail,
        }
    }
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
    let settings = configured.and_then(|i| i.settings.as_deref());
    let display_name = settings.and_then(|s| s.display_name()).unwrap_or(kind.display_name());
    let fingerprints = configured.map(|i| {
        i.secrets
            .iter()
            .map(|s| (s.field.clone(), s.fingerprint.clone()))
            .collect::<Fingerprints>()
    });
    IntegrationResponse {
        kind: kind.into(),
        display_name: display_name.to_string(),
        provider: kind.provider().into(),
        status: configured.map(|i| i.status).unwrap_or_default().into(),
        verified: configured.is_some_and(|i| i.verified),
        last_verified_at: configured.and_then(|i| i.last_verified_at).map(|t| t.to_rfc3339()),
        last_error: configured.and_then(|i| i.last_error.clone()),
        configured_at: configured.and_then(|i| i.configured_at).map(|t| t.to_rfc3339()),
        settings: settings.map(SettingsResponse::from).filter(|_| detailed),
        secret_fingerprints: fingerprints.filter(|_| detailed),
    }
}

fn may_see(caller: &Caller) -> Result<(), ApiError> {
    caller.require(Role::can_read_directory)
}

/// Every integration type with its status. Never a secret.
#[utoipa::path(get, path = "/api/v1/settings/integrations", tag = "integrations", security(("bearer" = [])),
    responses((status = 200, body = List<IntegrationResponse>), (status = 403, body = Problem)))]
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<List<IntegrationResponse>>, ApiError> {
    may_see(&caller)?;
    let mut all = Vec::new();
    for kind in IntegrationKind::ALL {
        let current = state.integrations().current(caller.organisation_id, kind).await?;
        all.push(describe(kind, current.as_ref(), false));
    }
    Ok(envelope::list(all))
}

/// One integration with its non-secret settings and secret fingerprints.
#[utoipa::path(get, path = "/api/v1/settings/integrations/{type}", tag = "integrations", security(("bearer" = [])),
    params(("type" = IntegrationType, Path)),
    responses((status = 200, body = Data<IntegrationResponse>), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "no such integration type")))]
pub async fn get(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(kind): Path<String>,
) -> Result<Json<Data<IntegrationResponse>>, ApiError> {
    may_see(&caller)?;
    let kind = kind_from_path(&kind)?;
    let current = state.integrations().current(caller.organisation_id, kind).await?;
    Ok(envelope::data(describe(kind, current.as_ref(), true)))
}

/// A configuration body, read as the type in the path says: the typed
/// body of that kind, refusing unknown and duplicate fields.
pub struct ConfigurationBody {
    pub kind: IntegrationKind,
    pub configuration: application::integrations::Configuration,
}

impl FromRequest<Arc<AppState>> for ConfigurationBody {
    type Rejection = ApiError;

    async fn from_request(mut request: Request, state: &Arc<AppState>) -> Result<Self, Self::Rejection> {
        let Path(params) = request
            .extract_parts::<Path<Vec<(String, String)>>>()
            .await
            .map_err(|_| ApiError::not_found())?;
        let name = params
            .iter()
            .find(|(name, _)| name == "type")
            .map(|(_, value)| value.as_str())
            .unwrap_or_default();
        let kind = kind_from_path(name)?;
        let typed = match kind {
            IntegrationKind::ExotelPhone => Configuration::ExotelPhone(ApiJson::from_request(request, state).await?.0),
            IntegrationKind::ExotelSms => Configuration::ExotelSms(ApiJson::from_request(request, state).await?.0),
            IntegrationKind::ExotelWhatsapp => {
                Configuration::ExotelWhatsapp(ApiJson::from_request(request, state).await?.0)
            }
            IntegrationKind::ZohoMail => Configuration::ZohoMail(ApiJson::from_request(request, state).await?.0),
        };
        let mut fields = serde_json::to_value(&typed).map_err(|_| ApiError::internal())?;
        // An absent optional field and a null one mean the same: neither is passed on.
        if let Some(object) = fields.as_object_mut() {
            object.retain(|_, value| !value.is_null());
        }
        Ok(Self {
            kind,
            configuration: parse_configuration(kind, fields)?,
        })
    }
}

/// Configures or replaces an integration. The connection test runs first
/// unless `"save_unverified": true`; its outcome is recorded either way.
#[utoipa::path(post, path = "/api/v1/settings/integrations/{type}", tag = "integrations", security(("bearer" = [])),
    params(("type" = IntegrationType, Path)),
    request_body(content = Configuration, description = "the settings and secrets of the type in the path"),
    responses((status = 200, body = Data<IntegrationResponse>), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "no such integration type"),
        (status = 409, body = Problem, description = "a concurrent change"),
        (status = 422, body = Problem, description = "a field breaks its type's rules, or the connection test failed"),
        (status = 503, body = Problem, description = "no connection test exists for this type; send save_unverified")))]
pub async fn configure(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: ConfigurationBody,
) -> Result<Json<Data<IntegrationResponse>>, ApiError> {
    let kind = body.kind;
    state.access().may_configure(&caller.acting(), kind).await?;
    let saved = state
        .integrations()
        .configure(
            caller.organisation_id,
            body.configuration,
            caller.user_id(),
            &caller.metadata(),
        )
        .await?;
    if kind == IntegrationKind::ExotelPhone {
        sync_after_configure(&state, &caller).await;
    }
    Ok(envelope::data(describe(kind, Some(&saved), true)))
}

/// How long a configuration's answer waits for its first sync of numbers.
const SYNC_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A newly configured phone integration brings its numbers at once; a
/// failure is logged, not the configuration's failure (the periodic sync
/// and the sync route try again). The answer waits for the sync at most a
/// few seconds (Exotel may be slow, or its rate spent by the calls being
/// placed): a longer sync goes on in the background.
pub(crate) async fn sync_after_configure(state: &Arc<AppState>, caller: &Caller) {
    let (state, organisation_id, meta) = (state.clone(), caller.organisation_id, caller.metadata());
    let sync = tokio::spawn(async move {
        let integrations = state.integrations();
        state
            .phone_numbers()
            .sync(organisation_id, &integrations, &meta)
            .await
            .map(|_| ())
            .map_err(|e| e.to_string())
    });
    match tokio::time::timeout(SYNC_WAIT, sync).await {
        Ok(Ok(Ok(()))) => {}
        Ok(Ok(Err(error))) => {
            tracing::warn!(%organisation_id, %error, "phone numbers not synced after configuration")
        }
        Ok(Err(error)) => tracing::warn!(%organisation_id, %error, "the sync after configuration stopped"),
        Err(_) => tracing::info!(%organisation_id, "phone numbers still syncing after configuration; it goes on"),
    }
}

/// Tests settings and secrets against the provider without saving. A
/// provider's refusal is an answer (200, `success: false`), not an error.
#[utoipa::path(post, path = "/api/v1/settings/integrations/{type}/test", tag = "integrations", security(("bearer" = [])),
    params(("type" = IntegrationType, Path)),
    request_body(content = Configuration, description = "the settings and secrets of the type in the path"),
    responses((status = 200, body = TestResponse), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "no such integration type"),
        (status = 422, body = Problem, description = "a field breaks its type's rules"),
        (status = 503, body = Problem, description = "no connection test exists for this type")))]
pub async fn test(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    body: ConfigurationBody,
) -> Result<Json<TestResponse>, ApiError> {
    state.access().may_configure(&caller.acting(), body.kind).await?;
    match state.integrations().test(&body.configuration).await {
        TestResult::Passed { details } => Ok(Json(TestResponse::Passed {
            success: true,
            message: "Connection test successful".into(),
            data: serde_json::from_value(details).unwrap_or_default(),
        })),
        TestResult::Failed {
            status_code,
            error,
            details,
        } => Ok(Json(TestResponse::Failed {
            success: false,
            error,
            details: FailureDetails {
                status_code,
                exotel_error: details.get("exotel_error").and_then(|e| e.as_str()).map(str::to_string),
            },
        })),
        TestResult::Unavailable { reason } => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "connection_test_unavailable",
            reason,
        )),
    }
}

/// Disables an integration: it keeps its settings but may not be used (admins only).
#[utoipa::path(post, path = "/api/v1/settings/integrations/{type}/disable", tag = "integrations", security(("bearer" = [])),
    params(("type" = IntegrationType, Path)),
    responses((status = 200, body = Data<IntegrationResponse>), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "no such type, or not configured"),
        (status = 409, body = Problem, description = "already disabled")))]
pub async fn disable(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(kind): Path<String>,
) -> Result<Json<Data<IntegrationResponse>>, ApiError> {
    set_enabled(&state, &caller, &kind, false).await
}

/// Enables a disabled integration again (admins only).
#[utoipa::path(post, path = "/api/v1/settings/integrations/{type}/enable", tag = "integrations", security(("bearer" = [])),
    params(("type" = IntegrationType, Path)),
    responses((status = 200, body = Data<IntegrationResponse>), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "no such type, or not configured"),
        (status = 409, body = Problem, description = "already enabled")))]
pub async fn enable(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path(kind): Path<String>,
) -> Result<Json<Data<IntegrationResponse>>, ApiError> {
    set_enabled(&state, &caller, &kind, true).await
}

/// The callback token's generation after a rotation.
#[derive(Debug, Serialize, ToSchema)]
pub struct CallbackTokenRotation {
    /// Counts rotations; the token itself is never shown.
    pub generation: u32,
}

/// The URLs to put in an ExoPhone's flow for number masking and inbound
/// calls; each `null` when Exotel cannot reach this server (no public URL
/// configured, and Exotel not on this network).
#[derive(Debug, Serialize, ToSchema)]
pub struct FlowUrls {
    /// A Passthru applet's URL: 200 (branch A) puts a masked session's
    /// call through, 302 (branch B) says the number is no longer in service.
    pub passthru_url: Option<String>,
    /// A Connect applet's dynamic URL (Programmable Connect): whom to dial.
    pub connect_url: Option<String>,
    /// Where status callbacks of calls placed by Switchboard go.
    pub status_callback_url: Option<String>,
}

/// The flow URLs of the organisation's Exotel phone integration, with its
/// current callback token (admins only; rotating the token changes them).
#[utoipa::path(get, path = "/api/v1/settings/integrations/exotel_phone/flow-urls", tag = "integrations",
    security(("bearer" = [])),
    responses((status = 200, body = Data<FlowUrls>), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "Exotel phone is not configured or is disabled")))]
pub async fn flow_urls(State(state): State<Arc<AppState>>, caller: Caller) -> Result<Json<Data<FlowUrls>>, ApiError> {
    caller.require(Role::can_administer)?;
    let integrations = state.integrations();
    let (integration, account) =
        application::phone_numbers::exotel_phone_integration(caller.organisation_id, &integrations).await?;
    let id = domain::integration::integration_id(caller.organisation_id, IntegrationKind::ExotelPhone);
    let url = |route: &str| {
        state
            .callback_tokens
            .webhook_url(id, integration.callback_generation, &account.base_url, route)
    };
    Ok(envelope::data(FlowUrls {
        passthru_url: url("passthru"),
        connect_url: url("connect"),
        status_callback_url: url("calls"),
    }))
}

/// The URLs of the organisation's Exotel SMS integration; each `null` when
/// Exotel cannot reach this server.
#[derive(Debug, Serialize, ToSchema)]
pub struct SmsFlowUrls {
    /// A Passthru applet's URL in an ExoPhone's SMS flow (`SMSUrl`): the
    /// SMS customers send to the ExoPhone, recorded on their threads.
    pub incoming_url: Option<String>,
    /// Where status callbacks of SMS sent by Switchboard go.
    pub status_callback_url: Option<String>,
}

/// The SMS flow URLs of the organisation's Exotel SMS integration, with
/// its current callback token (admins only).
#[utoipa::path(get, path = "/api/v1/settings/integrations/exotel_sms/flow-urls", tag = "integrations",
    security(("bearer" = [])),
    responses((status = 200, body = Data<SmsFlowUrls>), (status = 403, body = Problem),
        (status = 409, body = Problem, description = "Exotel SMS is not configured or is disabled")))]
pub async fn sms_flow_urls(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Data<SmsFlowUrls>>, ApiError> {
    caller.require(Role::can_administer)?;
    let integrations = state.integrations();
    let (integration, account) =
        application::messages::provider_account(caller.organisation_id, IntegrationKind::ExotelSms, &integrations)
            .await?;
    let id = domain::integration::integration_id(caller.organisation_id, IntegrationKind::ExotelSms);
    let url = |route: &str| {
        state
            .callback_tokens
            .webhook_url(id, integration.callback_generation, &account.base_url, route)
    };
    Ok(envelope::data(SmsFlowUrls {
        incoming_url: url("sms/incoming"),
        status_callback_url: url("sms"),
    }))
}

/// Replaces the token in Exotel's call status callback URLs (admins only):
/// callbacks to the old URL answer 404 from now on, so the calls still
/// under way then are reconciled from Exotel's call details instead. Calls
/// placed afterwards carry the new URL.
#[utoipa::path(post, path = "/api/v1/settings/integrations/exotel_phone/callback-token/rotate", tag = "integrations",
    security(("bearer" = [])),
    responses((status = 200, body = Data<CallbackTokenRotation>), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "Exotel phone is not configured")))]
pub async fn rotate_callback_token(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Data<CallbackTokenRotation>>, ApiError> {
    caller.require(Role::can_administer)?;
    let integration = state
        .integrations()
        .rotate_callback_token(caller.organisation_id, IntegrationKind::ExotelPhone, &caller.metadata())
        .await?;
    Ok(envelope::data(CallbackTokenRotation {
        generation: integration.callback_generation,
    }))
}

async fn set_enabled(
    state: &AppState,
    caller: &Caller,
    kind: &str,
    enabled: bool,
) -> Result<Json<Data<IntegrationResponse>>, ApiError> {
    caller.require(Role::can_administer)?;
    let kind = kind_from_path(kind)?;
    let integration = state
        .integrations()
        .set_enabled(caller.organisation_id, kind, enabled, &caller.metadata())
        .await?;
    Ok(envelope::data(describe(kind, Some(&integration), true)))
}

/// Deletes an integration and destroys its data key: its secrets can no
/// longer be recovered, even with the master key.
#[utoipa::path(delete, path = "/api/v1/settings/integrations/{type}", tag = "integrations", security(("bearer" = [])),
    params(("type" = IntegrationType, Path)),
    responses((status = 204, description = "deleted"), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "no such type, or not configured"),
        (status = 409, body = Problem, description = "a concurrent change")))]
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

/// What a user may do with an integration.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionBody {
    pub can_use: bool,
    pub can_configure: bool,
    /// Uses a day; none for no limit.
    #[serde(default, deserialize_with = "crate::routes::whole_u32")]
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64)]
    pub daily_limit: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionResponse {
    pub user_id: Uuid,
    #[serde(rename = "type")]
    pub kind: IntegrationType,
    pub can_use: bool,
    pub can_configure: bool,
    #[schema(value_type = Option<i64>, minimum = 0, maximum = 4294967295_i64)]
    pub daily_limit: Option<u32>,
    /// Whether an admin set this explicitly (otherwise it is the role's default).
    pub explicit: bool,
}

fn permission_response(kind: IntegrationKind, permission: &Permission) -> PermissionResponse {
    let effective = permission.effective();
    PermissionResponse {
        user_id: permission.user.id.unwrap_or_default(),
        kind: kind.into(),
        can_use: effective.can_use,
        can_configure: effective.can_configure,
        daily_limit: effective.daily_limit,
        explicit: permission.grant.is_some(),
    }
}

/// What a user may do with an integration (admins, or the user themselves).
#[utoipa::path(get, path = "/api/v1/settings/integrations/{type}/permissions/{user_id}", tag = "integrations", security(("bearer" = [])),
    params(("type" = IntegrationType, Path), ("user_id" = Uuid, Path)),
    responses((status = 200, body = Data<PermissionResponse>), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "no such type or user")))]
pub async fn get_permission(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((kind, user_id)): Path<(String, String)>,
) -> Result<Json<Data<PermissionResponse>>, ApiError> {
    let kind = kind_from_path(&kind)?;
    let user_id = parse_id(&user_id)?;
    if caller.role != Role::Admin && caller.user_id() != Some(user_id) {
        return Err(ApiError::forbidden());
    }
    let permission = state.access().permission(caller.organisation_id, kind, user_id).await?;
    Ok(envelope::data(permission_response(kind, &permission)))
}

/// Grants or withdraws a user's use and configuration of an integration (admins only).
#[utoipa::path(put, path = "/api/v1/settings/integrations/{type}/permissions/{user_id}", request_body = PermissionBody,
    tag = "integrations", security(("bearer" = [])),
    params(("type" = IntegrationType, Path), ("user_id" = Uuid, Path)),
    responses((status = 200, body = Data<PermissionResponse>), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "no such type or user"),
        (status = 409, body = Problem, description = "a concurrent change")))]
pub async fn put_permission(
    State(state): State<Arc<AppState>>,
    caller: Caller,
    Path((kind, user_id)): Path<(String, String)>,
    ApiJson(body): ApiJson<PermissionBody>,
) -> Result<Json<Data<PermissionResponse>>, ApiError> {
    caller.require(Role::can_administer)?;
    let kind = kind_from_path(&kind)?;
    let user_id = parse_id(&user_id)?;
    let grant = Grant {
        can_use: body.can_use,
        can_configure: body.can_configure,
        daily_limit: body.daily_limit,
    };
    let permission = state
        .access()
        .set_grant(&caller.acting(), kind, user_id, grant, &caller.metadata())
        .await?;
    Ok(envelope::data(permission_response(kind, &permission)))
}

/// The dashboard's summary of what is configured: the e-mail accounts (and
/// the default one), the Exotel voice integration and its active numbers,
/// WhatsApp and SMS.
#[utoipa::path(get, path = "/api/v1/settings/configuration-status", tag = "integrations", security(("bearer" = [])),
    responses((status = 200, body = Data<ConfigurationStatus>), (status = 403, body = Problem)))]
pub async fn configuration_status(
    State(state): State<Arc<AppState>>,
    caller: Caller,
) -> Result<Json<Data<ConfigurationStatus>>, ApiError> {
    may_see(&caller)?;
    let settings = |kind| settings_of(&state, &caller, kind);
    let phone = match settings(IntegrationKind::ExotelPhone).await? {
        Some(IntegrationSettings::ExotelPhone(_)) => ChannelStatus {
            numbers: Some(state.phone_numbers().active_numbers(caller.organisation_id).await?),
            ..ChannelStatus::exotel()
        },
        _ => ChannelStatus::default(),
    };
    let whatsapp = match settings(IntegrationKind::ExotelWhatsapp).await? {
        Some(IntegrationSettings::ExotelWhatsapp(w)) => ChannelStatus {
            number: Some(w.whatsapp_number),
            ..ChannelStatus::exotel()
        },
        _ => ChannelStatus::default(),
    };
    let sms = match settings(IntegrationKind::ExotelSms).await? {
        Some(IntegrationSettings::ExotelSms(s)) => ChannelStatus {
            sender_id: Some(s.sender_id),
            ..ChannelStatus::exotel()
        },
        _ => ChannelStatus::default(),
    };
    Ok(envelope::data(ConfigurationStatus {
        email: email_status(&state, &caller).await?,
        phone,
        whatsapp,
        sms,
    }))
}

async fn settings_of(
    state: &AppState,
    caller: &Caller,
    kind: IntegrationKind,
) -> Result<Option<IntegrationSettings>, ApiError> {
    let current = state.integrations().current(caller.organisation_id, kind).await?;
    Ok(current.and_then(|i| i.settings.map(|s| *s)))
}

/// The organisation's e-mail accounts, as `GET /settings/email-accounts` lists them.
async fn email_status(state: &AppState, caller: &Caller) -> Result<EmailStatus, ApiError> {
    let accounts = projections::email_accounts::list(&state.db.read, &caller.organisation_id.to_string()).await?;
    let default_account = accounts
        .iter()
        .find(|a| a.settings.is_default)
        .map(|a| a.settings.address.to_string());
    Ok(EmailStatus {
        configured: !accounts.is_empty(),
        accounts: accounts.len(),
        default_account,
    })
}
