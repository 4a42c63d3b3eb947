//! The embedded default's sandbox: an organisation and an admin created on
//! first start, so a newcomer can log in at once, and its Exotel
//! integrations pointed at an in-process simulator, so a first click-to-call
//! completes with no account anywhere. Real credentials, once configured,
//! are left alone: they switch the organisation to real Exotel.

use rand::Rng;
use rand::distributions::Alphanumeric;
use uuid::Uuid;

use serde_json::{Value, json};

use application::accounts::NewUser;
use application::integrations::parse_configuration;
use application::{AggregateStore, EventMetadata};
use domain::integration::{Integration, IntegrationKind, IntegrationSettings};
use domain::{EmailAddress, Role};
use infrastructure::InfraError;

use crate::secrets::write_private;
use crate::state::AppState;

/// The sandbox organisation's fixed id.
pub const SANDBOX_ORGANISATION: Uuid = Uuid::from_u128(0x5b1c_0a2e_7d41_4e3a_9f10_5a4d_b0c5_0001);
/// The sandbox admin's e-mail address.
pub const SANDBOX_ADMIN: &str = "admin@sandbox.switchboard.local";
const CREDENTIALS_FILE: &str = "sandbox-admin.txt";

/// Creates the sandbox on first start and says how to log in.
pub async fn ensure(state: &AppState) -> Result<(), InfraError> {
    ensure_organisation(state).await
}

async fn ensure_organisation(state: &AppState) -> Result<(), InfraError> {
    let path = state.settings.data_dir.join(CREDENTIALS_FILE);
    let exists = state
        .organisations
        .load(&SANDBOX_ORGANISATION.to_string())
        .await
        .map_err(|e| InfraError::Config(e.0))?
        .is_some();
    if exists {
        println!(
            "Sandbox: log in as {SANDBOX_ADMIN}; the password is in {}",
            path.display()
        );
        return Ok(());
    }
    let meta = EventMetadata::system("sandbox", Some(SANDBOX_ORGANISATION));
    let accounts = state.accounts();
    accounts
        .create_organisation_with_id(SANDBOX_ORGANISATION, "Sandbox", &meta)
        .await
        .map_err(|e| InfraError::Config(format!("creating the sandbox organisation: {e}")))?;
    let password: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(20)
        .map(char::from)
        .collect();
    let email = EmailAddress::parse(SANDBOX_ADMIN).map_err(|e| InfraError::Config(e.to_string()))?;
    let admin = NewUser {
        organisation_id: SANDBOX_ORGANISATION,
        email,
        display_name: "Sandbox admin".into(),
        password: password.clone(),
        role: Role::Admin,
    };
    accounts
        .register_user(admin, &meta)
        .await
        .map_err(|e| InfraError::Config(format!("creating the sandbox admin: {e}")))?;
    write_private(&path, &format!("email: {SANDBOX_ADMIN}\npassword: {password}\n"))?;
    println!(
        "Sandbox ready. Log in with:\n  curl -s http://{}/api/v1/auth/login -H 'content-type: application/json' \\\n    -d '{{\"email\":\"{SANDBOX_ADMIN}\",\"password\":\"{password}\"}}'\n(the password is also in {})",
        state.settings.listen,
        path.display()
    );
    Ok(())
}

/// The simulator's sandbox account, as the integrations are configured with.
const SIM_ACCOUNT: &str = "sandbox";
const SIM_KEY: &str = "sandbox-key";
const SIM_TOKEN: &str = "sandbox-token";
/// The sandbox's ExoPhones: calls go out on the first, WhatsApp on the second.
pub const SANDBOX_LINE: &str = "+918047112233";
pub const SANDBOX_WHATSAPP: &str = "+918047112234";

/// The sandbox's DLT registration: its entity id and one template, so an
/// SMS to an Indian number can be tried at once.
pub const SANDBOX_DLT_ENTITY: &str = "1101000000000000001";
pub const SANDBOX_DLT_TEMPLATE: &str = "1107000000000000001";
const SANDBOX_DLT_TEXT: &str = "Your Switchboard sandbox code is {#var#}. -Sandbox";

/// The sandbox integrations' bodies, as a user would post them.
fn sandbox_configurations(simulator: &str) -> [(IntegrationKind, Value); 3] {
    let account =
        json!({"account_sid": SIM_ACCOUNT, "api_key": SIM_KEY, "api_token": SIM_TOKEN, "api_host": simulator});
    let with = |extra: Value| {
        let mut body = account.clone();
        if let (Some(target), Some(extra)) = (body.as_object_mut(), extra.as_object()) {
            target.extend(extra.clone());
        }
        body
    };
    [
        (
            IntegrationKind::ExotelPhone,
            with(json!({"virtual_number": SANDBOX_LINE, "caller_id": SANDBOX_LINE, "display_name": "Sandbox line"})),
        ),
        (
            IntegrationKind::ExotelSms,
            with(json!({"sender_id": "SNDBOX", "dlt_entity_id": SANDBOX_DLT_ENTITY, "display_name": "Sandbox SMS"})),
        ),
        (
            IntegrationKind::ExotelWhatsapp,
            with(json!({"whatsapp_number": SANDBOX_WHATSAPP, "business_name": "Sandbox",
                "waba_id": simulator::SANDBOX_WABA})),
        ),
    ]
}

/// Points the sandbox organisation's Exotel integrations at the simulator
/// on `simulator` (a loopback URL), unless they are configured for real
/// Exotel or already point there; then syncs its numbers.
pub async fn connect_simulator(state: &AppState, simulator: &str) -> Result<(), InfraError> {
    let meta = EventMetadata::system("sandbox", Some(SANDBOX_ORGANISATION));
    let integrations = state.integrations();
    for (kind, body) in sandbox_configurations(simulator) {
        let current = integrations
            .current(SANDBOX_ORGANISATION, kind)
            .await
            .map_err(|e| InfraError::Config(e.to_string()))?;
        if !needs_simulator(current.as_ref(), simulator) {
            continue;
        }
        let configuration = parse_configuration(kind, body).map_err(|e| InfraError::Config(e.to_string()))?;
        integrations
            .configure(SANDBOX_ORGANISATION, configuration, None, &meta)
            .await
            .map_err(|e| InfraError::Config(format!("configuring the sandbox's {}: {e}", kind.as_str())))?;
    }
    let template = domain::sms_template::SmsTemplateSpec {
        dlt_template_id: SANDBOX_DLT_TEMPLATE.into(),
        name: "Sandbox code".into(),
        body: SANDBOX_DLT_TEXT.into(),
        sender_id: "SNDBOX".into(),
        sms_type: domain::outbound_message::SmsType::Transactional,
    };
    state
        .messages()
        .register_template(SANDBOX_ORGANISATION, template, &meta)
        .await
        .map_err(|e| InfraError::Config(format!("registering the sandbox's DLT template: {e}")))?;
    state
        .phone_numbers()
        .sync(SANDBOX_ORGANISATION, &integrations, &meta)
        .await
        .map_err(|e| InfraError::Config(format!("syncing the sandbox's numbers: {e}")))?;
    state
        .messages()
        .sync_whatsapp_templates(SANDBOX_ORGANISATION, &meta)
        .await
        .map_err(|e| InfraError::Config(format!("syncing the sandbox's WhatsApp templates: {e}")))?;
    println!("Sandbox Exotel simulator on {simulator} (account {SIM_ACCOUNT}, key {SIM_KEY}, token {SIM_TOKEN})");
    Ok(())
}

/// Unconfigured, deleted, or pointing at another (older) simulator address.
fn needs_simulator(current: Option<&Integration>, simulator: &str) -> bool {
    let Some(settings) = current.and_then(|i| i.settings.as_deref()) else {
        return true;
    };
    let host = match settings {
        IntegrationSettings::ExotelPhone(s) => s.api_host.as_deref(),
        IntegrationSettings::ExotelSms(s) => s.api_host.as_deref(),
        // A sandbox configured before templates were synced gains its business account.
        IntegrationSettings::ExotelWhatsapp(s) if s.waba_id.is_none() => return true,
        IntegrationSettings::ExotelWhatsapp(s) => s.api_host.as_deref(),
        IntegrationSettings::ZohoMail(_) => return false,
    };
    host.is_some_and(|h| h.starts_with("http://") && h != simulator)
}

/// Has the sandbox simulator post its customers' WhatsApp messages to this
/// process's WhatsApp callback, so a message injected at
/// `POST /_simulator/whatsapp/incoming` opens a customer's window here.
pub async fn route_whatsapp(state: &AppState, simulator: &simulator::RunningSimulator) -> Result<(), InfraError> {
    let kind = IntegrationKind::ExotelWhatsapp;
    let integration = state
        .integrations()
        .current(SANDBOX_ORGANISATION, kind)
        .await
        .map_err(|e| InfraError::Config(e.to_string()))?;
    let Some(integration) = integration else {
        return Ok(());
    };
    let id = domain::integration::integration_id(SANDBOX_ORGANISATION, kind);
    let url = state
        .callback_tokens
        .webhook_url(id, integration.callback_generation, &simulator.base_url(), "whatsapp");
    if let Some(url) = url {
        simulator.state.set_whatsapp_webhook(SIM_ACCOUNT, url);
    }
    Ok(())
}
