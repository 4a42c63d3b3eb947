//! The one API error type. It alone decides HTTP statuses, and answers
//! with `application/problem+json`: a stable `code`, a message and, where
//! one field is at fault, its name.
//!
//! | cause | status |
//! |---|---|
//! | malformed JSON, bad query | 400 |
//! | missing, invalid or expired credentials | 401 |
//! | role may not act | 403 |
//! | unknown id, or another organisation's | 404 |
//! | optimistic-concurrency conflict, duplicate | 409 |
//! | body over the limit | 413 |
//! | wrong content type | 415 |
//! | a broken rule, an invalid field | 422 |
//! | a WebSocket route without a handshake | 426 |
//! | too many attempts | 429 |
//! | store or broker unreachable | 503 |
//! | anything else | 500 |

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use application::CommandError;
use application::accounts::RegisterError;
use application::error::StoreError;
use application::passwords::PasswordError;
use domain::api_key::ApiKeyError;
use domain::organisation::OrganisationError;
use domain::user::UserError;

#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub field: Option<String>,
}

/// The problem+json body.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub code: String,
    pub detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            field: None,
        }
    }

    pub fn on_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such resource")
    }

    pub fn forbidden() -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", "your role may not do this")
    }

    pub fn unauthenticated(code: &'static str, message: &str) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, message)
    }

    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", message).on_field(field)
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }

    pub fn internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "an unexpected error occurred",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, detail = %self.message, "request failed");
        }
        let title = self.status.canonical_reason().unwrap_or("Error").to_string();
        let body = Problem {
            kind: format!("https://docs.switchboard.dev/problems/{}", self.code),
            title,
            status: self.status.as_u16(),
            code: self.code.to_string(),
            detail: self.message,
            field: self.field,
        };
        let mut response = (self.status, Json(body)).into_response();
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        response
    }
}

/// How a refused command reads over HTTP.
pub trait Rule: std::error::Error {
    fn to_api(&self) -> ApiError;
}

fn rule(status: StatusCode, code: &'static str, error: &impl ToString) -> ApiError {
    ApiError::new(status, code, error.to_string())
}

impl Rule for UserError {
    fn to_api(&self) -> ApiError {
        use StatusCode as S;
        match self {
            UserError::AlreadyRegistered => rule(S::CONFLICT, "user_exists", self).on_field("email"),
            UserError::NotFound => ApiError::not_found(),
            UserError::InvalidDisplayName => {
                rule(S::UNPROCESSABLE_ENTITY, "invalid_field", self).on_field("display_name")
            }
            UserError::InvalidEmail => rule(S::UNPROCESSABLE_ENTITY, "invalid_field", self).on_field("email"),
            UserError::RoleAboveYours => rule(S::FORBIDDEN, "role_above_yours", self).on_field("role"),
            UserError::CannotChangeOwnAccess => rule(S::UNPROCESSABLE_ENTITY, "cannot_change_own_access", self),
            UserError::AlreadyDeactivated => rule(S::CONFLICT, "already_deactivated", self),
            UserError::AlreadyActive => rule(S::CONFLICT, "already_active", self),
            UserError::InvalidPhone => rule(S::UNPROCESSABLE_ENTITY, "invalid_field", self).on_field("phone"),
        }
    }
}

impl Rule for OrganisationError {
    fn to_api(&self) -> ApiError {
        match self {
            OrganisationError::AlreadyExists => rule(StatusCode::CONFLICT, "organisation_exists", self),
            OrganisationError::NotFound => ApiError::not_found(),
            OrganisationError::InvalidName => {
                rule(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", self).on_field("name")
            }
            OrganisationError::InvalidHolidays => {
                rule(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", self).on_field("holidays")
            }
        }
    }
}

impl Rule for ApiKeyError {
    fn to_api(&self) -> ApiError {
        match self {
            ApiKeyError::AlreadyIssued => rule(StatusCode::CONFLICT, "api_key_exists", self),
            ApiKeyError::NotFound => ApiError::not_found(),
            ApiKeyError::AlreadyRevoked => rule(StatusCode::CONFLICT, "already_revoked", self),
            ApiKeyError::InvalidName => rule(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", self).on_field("name"),
            ApiKeyError::RoleAboveIssuer => rule(StatusCode::FORBIDDEN, "role_above_yours", self).on_field("role"),
        }
    }
}

impl<E: Rule> From<CommandError<E>> for ApiError {
    fn from(error: CommandError<E>) -> Self {
        match error {
            CommandError::Rejected(rule) => rule.to_api(),
            CommandError::Conflict => ApiError::new(StatusCode::CONFLICT, "conflict", error.to_string()),
            CommandError::Store(message) => ApiError::unavailable(format!("event store: {message}")),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        ApiError::unavailable(error.to_string())
    }
}

impl From<projections::ProjectionError> for ApiError {
    fn from(error: projections::ProjectionError) -> Self {
        ApiError::unavailable(error.to_string())
    }
}

impl From<PasswordError> for ApiError {
    fn from(error: PasswordError) -> Self {
        match error {
            PasswordError::InvalidLength => ApiError::invalid("password", error.to_string()),
            PasswordError::Hashing => ApiError::internal(),
        }
    }
}

impl From<RegisterError> for ApiError {
    fn from(error: RegisterError) -> Self {
        match error {
            RegisterError::Password(e) => e.into(),
            RegisterError::UnknownOrganisation => ApiError::not_found(),
            RegisterError::Store(e) => e.into(),
            RegisterError::Command(e) => e.into(),
            RegisterError::Address(e) => e.into(),
        }
    }
}

impl Rule for domain::integration::IntegrationError {
    fn to_api(&self) -> ApiError {
        use domain::integration::IntegrationError as E;
        match self {
            E::NotConfigured => rule(StatusCode::NOT_FOUND, "not_configured", self),
            E::KindMismatch => rule(StatusCode::UNPROCESSABLE_ENTITY, "kind_mismatch", self),
            E::AlreadyDisabled => rule(StatusCode::CONFLICT, "already_disabled", self),
            E::AlreadyEnabled => rule(StatusCode::CONFLICT, "already_enabled", self),
            E::UnknownDataKey => rule(StatusCode::CONFLICT, "unknown_data_key", self),
        }
    }
}

impl Rule for domain::integration_permission::PermissionError {
    fn to_api(&self) -> ApiError {
        ApiError::not_found()
    }
}

impl From<domain::integration::settings::SettingsError> for ApiError {
    fn from(error: domain::integration::settings::SettingsError) -> Self {
        ApiError::invalid(&error.field, error.reason)
    }
}

impl From<application::policy::Denied> for ApiError {
    fn from(error: application::policy::Denied) -> Self {
        ApiError::new(StatusCode::FORBIDDEN, "forbidden", error.to_string())
    }
}

impl From<application::integrations::IntegrationsError> for ApiError {
    fn from(error: application::integrations::IntegrationsError) -> Self {
        use application::integrations::IntegrationsError as E;
        match error {
            E::Invalid(e) => e.into(),
            E::TestFailed { error, .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "connection_test_failed", error)
            }
            E::TestUnavailable(reason) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "connection_test_unavailable",
                format!("{reason}; send \"save_unverified\": true to save without a test"),
            ),
            E::Cipher(e) => e.into(),
            E::Store(e) => e.into(),
            E::Command(e) => e.into(),
        }
    }
}

impl Rule for domain::login::LoginError {
    fn to_api(&self) -> ApiError {
        use domain::login::LoginError as E;
        match self {
            E::InvalidCredentials => rule(StatusCode::UNAUTHORIZED, "invalid_credentials", self),
            E::LockedOut { .. } => rule(StatusCode::TOO_MANY_REQUESTS, "locked_out", self),
            E::OrganisationRequired => {
                rule(StatusCode::CONFLICT, "organisation_required", self).on_field("organisation")
            }
        }
    }
}

impl Rule for domain::phone_numbers::PhoneNumbersError {
    fn to_api(&self) -> ApiError {
        use domain::phone_numbers::PhoneNumbersError as E;
        match self {
            E::NotFound => ApiError::not_found(),
            E::Released => rule(StatusCode::CONFLICT, "phone_number_released", self),
            E::CannotCall => rule(StatusCode::UNPROCESSABLE_ENTITY, "phone_number_cannot_call", self),
        }
    }
}

/// Exotel's refusals and failures: 502 when Exotel failed or could not be
/// reached, 422 when it refused what was asked, with its words kept.
impl From<application::exotel::ExotelError> for ApiError {
    fn from(error: application::exotel::ExotelError) -> Self {
        let status = match error.is_retryable() {
            true => StatusCode::BAD_GATEWAY,
            false => StatusCode::UNPROCESSABLE_ENTITY,
        };
        ApiError::new(status, "exotel_error", error.to_string())
    }
}

impl From<application::phone_numbers::PhoneNumbersUseCaseError> for ApiError {
    fn from(error: application::phone_numbers::PhoneNumbersUseCaseError) -> Self {
        use application::phone_numbers::PhoneNumbersUseCaseError as E;
        match error {
            E::NotConfigured => ApiError::new(StatusCode::CONFLICT, "exotel_phone_not_configured", error.to_string()),
            E::UnknownUser => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_user", error.to_string()).on_field("user_id")
            }
            E::UserDeactivated => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "user_deactivated", error.to_string())
                    .on_field("user_id")
            }
            E::Integration(e) => e.into(),
            E::Exotel(e) => e.into(),
            E::Store(e) => e.into(),
            E::Command(e) => e.into(),
        }
    }
}

impl Rule for domain::email_account::EmailAccountError {
    fn to_api(&self) -> ApiError {
        use domain::email_account::EmailAccountError as E;
        match self {
            E::NotFound => ApiError::not_found(),
            E::AlreadyExists => rule(StatusCode::CONFLICT, "email_account_exists", self),
        }
    }
}

/// Sealed credentials that cannot be opened: a server fault, never the caller's.
impl From<application::cipher::CipherError> for ApiError {
    fn from(error: application::cipher::CipherError) -> Self {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "credentials_unreadable",
            error.to_string(),
        )
    }
}

// E-mail: accounts, sending, receiving, and access to the mail integration.

impl From<application::email_accounts::EmailAccountsError> for ApiError {
    fn from(error: application::email_accounts::EmailAccountsError) -> Self {
        use application::email_accounts::EmailAccountsError as E;
        match error {
            E::Invalid(e) => e.into(),
            E::Cipher(e) => e.into(),
            E::Store(e) => e.into(),
            E::Command(e) => e.into(),
        }
    }
}

impl From<application::access::AccessError> for ApiError {
    fn from(error: application::access::AccessError) -> Self {
        use application::access::AccessError as E;
        match error {
            E::Denied(e) => e.into(),
            E::UnknownUser => ApiError::not_found(),
            E::Store(e) => e.into(),
            E::Command(e) => e.into(),
        }
    }
}

impl Rule for domain::outbound_email::OutboundEmailError {
    fn to_api(&self) -> ApiError {
        use domain::outbound_email::OutboundEmailError as E;
        match self {
            E::NotFound => ApiError::not_found(),
            E::IntentReused => rule(StatusCode::UNPROCESSABLE_ENTITY, "intent_reused", self).on_field("intent_id"),
            E::AlreadyStarted | E::AlreadyFinished | E::NotStarted => {
                rule(StatusCode::CONFLICT, "email_send_conflict", self)
            }
        }
    }
}

impl From<application::outbound_email::SendEmailError> for ApiError {
    fn from(error: application::outbound_email::SendEmailError) -> Self {
        use application::outbound_email::SendEmailError as E;
        let on_account = |code, error: &E| rule(StatusCode::UNPROCESSABLE_ENTITY, code, error).on_field("account_id");
        match error {
            E::Denied(e) => e.into(),
            E::Invalid(e) => ApiError::invalid(&e.field, e.reason),
            E::AttachmentsTooLarge { .. } => {
                rule(StatusCode::PAYLOAD_TOO_LARGE, "attachments_too_large", &error).on_field("attachments")
            }
            E::UnknownAccount => on_account("unknown_email_account", &error),
            E::NoDefaultAccount => on_account("no_default_email_account", &error),
            E::SmtpDisabled => on_account("smtp_disabled", &error),
            E::Smtp(failure) => ApiError::new(StatusCode::BAD_GATEWAY, "smtp_error", failure.message),
            E::Accounts(e) => e.into(),
            E::Store(e) => e.into(),
            E::Command(e) => e.into(),
        }
    }
}

/// "Poll now": 409 when the account does not receive or another process
/// polls it, 502 when its server failed.
impl From<infrastructure::mail::poll::PollNowError> for ApiError {
    fn from(error: infrastructure::mail::poll::PollNowError) -> Self {
        use infrastructure::mail::poll::PollNowError as E;
        match error {
            E::NotPollable => ApiError::new(
                StatusCode::CONFLICT,
                "imap_disabled",
                "receiving is not enabled for this account",
            )
            .on_field("imap_enabled"),
            E::PolledElsewhere => rule(StatusCode::CONFLICT, "polled_elsewhere", &error),
            E::Failed(reason) => ApiError::new(StatusCode::BAD_GATEWAY, "mail_server_error", reason),
        }
    }
}

// Identities: users, their addresses, logins.

impl Rule for domain::user::address::UserAddressError {
    fn to_api(&self) -> ApiError {
        use domain::user::address::UserAddressError as E;
        match self {
            E::TakenInOrganisation => rule(StatusCode::CONFLICT, "user_exists", self).on_field("email"),
            E::OtherAddress => ApiError::internal(),
        }
    }
}

impl From<application::users::UsersError> for ApiError {
    fn from(error: application::users::UsersError) -> Self {
        use application::users::UsersError as E;
        match error {
            E::NotFound => ApiError::not_found(),
            E::WrongCurrentPassword => ApiError::invalid("current_password", error.to_string()),
            E::OwnPasswordNeedsCurrent => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "own_password_needs_current",
                error.to_string(),
            ),
            E::Password(PasswordError::InvalidLength) => ApiError::invalid("new_password", error.to_string()),
            E::Password(PasswordError::Hashing) => ApiError::internal(),
            E::Store(e) => e.into(),
            E::Command(e) => e.into(),
        }
    }
}

/// A refused login: problem+json, with `Retry-After` when the client must wait.
#[derive(Debug)]
pub struct LoginRefused {
    pub error: ApiError,
    pub retry_after_secs: Option<u64>,
}

impl From<ApiError> for LoginRefused {
    fn from(error: ApiError) -> Self {
        Self {
            error,
            retry_after_secs: None,
        }
    }
}

impl From<StoreError> for LoginRefused {
    fn from(error: StoreError) -> Self {
        ApiError::from(error).into()
    }
}

impl From<application::login::LogInError> for LoginRefused {
    fn from(error: application::login::LogInError) -> Self {
        use application::login::LogInError as E;
        use domain::login::LoginError;
        match error {
            E::Refused(LoginError::LockedOut { until }) => {
                let wait = (until - chrono::Utc::now()).num_milliseconds().max(0) as u64;
                let refused = LoginError::LockedOut { until };
                Self {
                    error: refused.to_api(),
                    retry_after_secs: Some(wait.div_ceil(1000).max(1)),
                }
            }
            E::Refused(refused) => refused.to_api().into(),
            E::RateLimited { retry_after_secs } => Self {
                error: ApiError::new(StatusCode::TOO_MANY_REQUESTS, "rate_limited", error.to_string()),
                retry_after_secs: Some(retry_after_secs),
            },
            E::Store(e) => e.into(),
        }
    }
}

impl IntoResponse for LoginRefused {
    fn into_response(self) -> Response {
        let mut response = self.error.into_response();
        if let Some(seconds) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

// Calls.

impl Rule for domain::call::CallError {
    fn to_api(&self) -> ApiError {
        use domain::call::CallError as E;
        match self {
            E::NotFound => ApiError::not_found(),
            E::CallIdReused => rule(StatusCode::UNPROCESSABLE_ENTITY, "call_id_reused", self).on_field("call_id"),
            E::TimeLimitTooLong => rule(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", self).on_field("time_limit"),
            E::SameNumbers => rule(StatusCode::UNPROCESSABLE_ENTITY, "same_numbers", self).on_field("customer_phone"),
            E::RecordingChannels => {
                rule(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", self).on_field("recording_channels")
            }
            E::AlreadyDispatched | E::DispatchInDoubt | E::NotStarted | E::SidMismatch | E::NotInbound => {
                rule(StatusCode::CONFLICT, "call_conflict", self)
            }
            E::NoRecording => rule(StatusCode::NOT_FOUND, "no_recording", self),
            E::VerificationReason => {
                rule(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", self).on_field("verification_reason")
            }
            E::NotVerified | E::NotAwaitingVerification => rule(StatusCode::CONFLICT, "call_conflict", self),
        }
    }
}

impl From<application::calls::CallsError> for ApiError {
    fn from(error: application::calls::CallsError) -> Self {
        use application::calls::CallsError as E;
        let unprocessable = |code: &'static str, field: &str, error: &E| {
            ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, error.to_string()).on_field(field)
        };
        match error {
            E::NotConfigured => ApiError::new(StatusCode::CONFLICT, "exotel_phone_not_configured", error.to_string()),
            E::NoCallbackUrl => ApiError::new(StatusCode::CONFLICT, "public_url_missing", error.to_string()),
            E::Denied(e) => e.into(),
            E::Invalid(e) => e.into(),
            E::UnknownAgent => unprocessable("unknown_user", "agent_user_id", &error),
            E::AgentPhoneMissing => unprocessable("agent_phone_missing", "agent_phone", &error),
            E::UnknownCallerId => unprocessable("unknown_caller_id", "caller_id", &error),
            E::NoCallerId => unprocessable("no_caller_id", "caller_id", &error),
            E::VerificationUnavailable => unprocessable("verified_calls_unavailable", "verified", &error),
            E::CustomDataTooLong => unprocessable("invalid_field", "custom_data", &error),
            E::CustomerOnDnd => unprocessable("customer_on_dnd", "customer_phone", &error),
            E::NoRecording => ApiError::new(StatusCode::NOT_FOUND, "no_recording", error.to_string()),
            E::RecordingGone => ApiError::new(StatusCode::NOT_FOUND, "recording_gone", error.to_string()),
            E::Exotel(e) => e.into(),
            E::Storage(message) => ApiError::unavailable(message),
            E::Integration(e) => e.into(),
            E::Store(e) => e.into(),
            E::Command(e) => e.into(),
        }
    }
}

// Webhooks to client systems.

impl Rule for domain::webhook_endpoint::WebhookEndpointError {
    fn to_api(&self) -> ApiError {
        use domain::webhook_endpoint::WebhookEndpointError as E;
        let invalid = |field: &str| rule(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", self).on_field(field);
        match self {
            E::NotFound => ApiError::not_found(),
            E::AlreadyRegistered => rule(StatusCode::CONFLICT, "webhook_endpoint_exists", self),
            E::InvalidUrl => invalid("url"),
            E::NoEventTypes => invalid("event_types"),
            E::InvalidDescription => invalid("description"),
            E::AlreadyDisabled => rule(StatusCode::CONFLICT, "already_disabled", self),
            E::AlreadyEnabled => rule(StatusCode::CONFLICT, "already_enabled", self),
        }
    }
}

impl From<application::webhooks::WebhooksError> for ApiError {
    fn from(error: application::webhooks::WebhooksError) -> Self {
        use application::webhooks::WebhooksError as E;
        match error {
            E::Command(e) => e.into(),
            E::UrlRefused(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "url_not_allowed", error.to_string()).on_field("url")
            }
            E::DeliveryNotFound => ApiError::new(StatusCode::NOT_FOUND, "not_found", error.to_string()),
            E::EndpointDisabled => ApiError::new(StatusCode::CONFLICT, "webhook_endpoint_disabled", error.to_string()),
            E::Cipher(e) => e.into(),
            E::Store(e) => e.into(),
        }
    }
}

// Number masking.

impl Rule for domain::masked_session::MaskedSessionError {
    fn to_api(&self) -> ApiError {
        use domain::masked_session::MaskedSessionError as E;
        let invalid =
            |code: &'static str, field: &str| rule(StatusCode::UNPROCESSABLE_ENTITY, code, self).on_field(field);
        match self {
            E::NotFound => ApiError::not_found(),
            E::AlreadyOpen => rule(StatusCode::CONFLICT, "masked_session_exists", self),
            E::SameParties => invalid("same_parties", "party_b"),
            E::VirtualNumberIsAParty => invalid("virtual_number_is_a_party", "virtual_number"),
            E::Lifetime => invalid("invalid_field", "expires_in_secs"),
            E::CapOutOfRange => invalid("invalid_field", "max_calls"),
            E::AlreadyEnded => rule(StatusCode::CONFLICT, "already_ended", self),
        }
    }
}

impl From<application::masked_sessions::MaskedSessionsError> for ApiError {
    fn from(error: application::masked_sessions::MaskedSessionsError) -> Self {
        use application::masked_sessions::MaskedSessionsError as E;
        match error {
            E::Denied(e) => e.into(),
            E::Invalid(e) => e.into(),
            E::UnknownVirtualNumber => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown_virtual_number",
                error.to_string(),
            )
            .on_field("virtual_number"),
            E::NoVirtualNumber => ApiError::new(StatusCode::CONFLICT, "no_virtual_number", error.to_string()),
            E::NumberInUse => ApiError::new(StatusCode::CONFLICT, "virtual_number_in_use", error.to_string())
                .on_field("virtual_number"),
            E::Store(e) => e.into(),
            E::Command(e) => e.into(),
            E::Call(e) => e.into(),
        }
    }
}

// SMS.

impl Rule for domain::outbound_message::MessageError {
    fn to_api(&self) -> ApiError {
        use domain::outbound_message::MessageError as E;
        match self {
            E::NotFound => ApiError::not_found(),
            E::MessageIdReused => rule(StatusCode::UNPROCESSABLE_ENTITY, "message_id_reused", self),
            E::EmptyBody | E::BodyTooLong => {
                rule(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", self).on_field("body")
            }
            E::AlreadyDispatched | E::DispatchInDoubt | E::NotStarted | E::NotDue | E::SidMismatch => {
                rule(StatusCode::CONFLICT, "message_conflict", self)
            }
            E::Whatsapp(broken) => {
                rule(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", self).on_field(broken.field())
            }
        }
    }
}

impl Rule for domain::sms_template::SmsTemplateError {
    fn to_api(&self) -> ApiError {
        use domain::sms_template::SmsTemplateError as E;
        let invalid = |field: &str| rule(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", self).on_field(field);
        match self {
            E::NotFound => ApiError::not_found(),
            E::TemplateId => invalid("template_id"),
            E::Name => invalid("name"),
            E::Body(_) => invalid("body"),
            E::SenderId => invalid("sender_id"),
            E::Exists => rule(StatusCode::CONFLICT, "sms_template_exists", self),
        }
    }
}

impl From<application::messages::MessagesError> for ApiError {
    fn from(error: application::messages::MessagesError) -> Self {
        use application::messages::MessagesError as E;
        match error {
            E::NotConfigured => ApiError::new(StatusCode::CONFLICT, "exotel_sms_not_configured", error.to_string()),
            E::WhatsappNotConfigured => ApiError::new(
                StatusCode::CONFLICT,
                "exotel_whatsapp_not_configured",
                error.to_string(),
            ),
            E::WindowClosed(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "whatsapp_window_closed",
                error.to_string(),
            )
            .on_field("to"),
            E::Denied(e) => e.into(),
            E::Invalid(e) => e.into(),
            E::TemplateMismatch { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "dlt_template_mismatch",
                error.to_string(),
            )
            .on_field("body"),
            E::RecipientOnDnd(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "recipient_on_dnd", error.to_string()).on_field("to")
            }
            E::Exotel(e) => e.into(),
            E::Integration(e) => e.into(),
            E::Store(e) => e.into(),
            E::Command(e) => e.into(),
            E::Template(e) => e.into(),
            E::UnknownTemplate { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "whatsapp_template_unknown",
                error.to_string(),
            )
            .on_field("content.name"),
            E::TemplateRule(rule) => {
                let code = match rule {
                    domain::whatsapp_template::TemplateRule::NotApproved { .. } => "whatsapp_template_not_approved",
                    _ => "whatsapp_template_mismatch",
                };
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, code, rule.to_string()).on_field(rule.field())
            }
            E::WhatsappTemplate(e) => e.into(),
            E::MediaUnavailable => ApiError::new(StatusCode::NOT_FOUND, "media_unavailable", error.to_string()),
        }
    }
}

impl Rule for domain::whatsapp_template::WhatsappTemplateError {
    fn to_api(&self) -> ApiError {
        rule(StatusCode::CONFLICT, "whatsapp_template_conflict", self)
    }
}

// Threads and customers.

impl Rule for domain::thread::ThreadError {
    fn to_api(&self) -> ApiError {
        use domain::thread::ThreadError as E;
        match self {
            E::OtherOrganisation => ApiError::not_found(),
            E::OtherThread => rule(StatusCode::UNPROCESSABLE_ENTITY, "other_thread", self),
        }
    }
}

impl From<application::threads::ThreadsError> for ApiError {
    fn from(error: application::threads::ThreadsError) -> Self {
        use application::threads::ThreadsError as E;
        match error {
            E::NotFound => ApiError::not_found(),
            E::AssignOthers => ApiError::new(StatusCode::FORBIDDEN, "forbidden", error.to_string()).on_field("user_id"),
            E::UnknownUser => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "unknown_user", error.to_string()).on_field("user_id")
            }
            E::NoReader => ApiError::new(StatusCode::FORBIDDEN, "no_reader", error.to_string()),
            E::Command(e) => e.into(),
            E::Store(e) => e.into(),
        }
    }
}

impl Rule for domain::customer::CustomerError {
    fn to_api(&self) -> ApiError {
        use domain::customer::CustomerError as E;
        match self {
            E::Unknown => ApiError::not_found(),
            E::AlreadyExists => rule(StatusCode::CONFLICT, "customer_exists", self),
            E::IdNotDerivedFromAddress => rule(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", self).on_field("id"),
            E::MergeIntoItself => rule(StatusCode::UNPROCESSABLE_ENTITY, "merge_into_itself", self).on_field("value"),
            E::AlreadyMerged { .. } | E::Merged { .. } => rule(StatusCode::CONFLICT, "customer_merged", self),
            E::NotMerged => rule(StatusCode::CONFLICT, "customer_not_merged", self),
        }
    }
}

impl From<application::customers::CustomersError> for ApiError {
    fn from(error: application::customers::CustomersError) -> Self {
        use application::customers::CustomersError as E;
        match error {
            E::NotFound => ApiError::not_found(),
            E::Merged(_) => ApiError::new(StatusCode::CONFLICT, "customer_merged", error.to_string()),
            E::MayNotUnmerge => ApiError::new(StatusCode::FORBIDDEN, "forbidden", error.to_string()),
            E::InvalidPoint(_) => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_field", error.to_string()).on_field("value")
            }
            E::Command(e) => e.into(),
            E::Store(e) => e.into(),
        }
    }
}

/// A realtime WebSocket request that is not a WebSocket handshake: 426
/// `websocket_upgrade_required` (the route adds `Upgrade: websocket`); a
/// handshake without its key or with another protocol version is 400
/// `invalid_websocket_handshake`.
impl From<axum::extract::ws::rejection::WebSocketUpgradeRejection> for ApiError {
    fn from(error: axum::extract::ws::rejection::WebSocketUpgradeRejection) -> Self {
        use axum::extract::ws::rejection::WebSocketUpgradeRejection as R;
        match error {
            R::InvalidWebSocketVersionHeader(_) | R::WebSocketKeyHeaderMissing(_) => ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_websocket_handshake",
                "a WebSocket handshake needs Sec-WebSocket-Key and Sec-WebSocket-Version: 13",
            ),
            _ => ApiError::new(
                StatusCode::UPGRADE_REQUIRED,
                "websocket_upgrade_required",
                "this route is a WebSocket: send the handshake (Connection: Upgrade, Upgrade: websocket)",
            ),
        }
    }
}
