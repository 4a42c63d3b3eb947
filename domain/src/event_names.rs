//! Every event of every aggregate as history stores it: its aggregate type,
//! its payload, its `event_type` and its `event_version`. Renaming an event, its variant or
//! its version orphans what is stored, and a new field that is not
//! `#[serde(default)]` makes it unreadable (docs/events.md): each payload
//! here must keep loading and naming itself exactly so.

use cqrs_es::{Aggregate, DomainEvent};
use serde_json::{Value, json};

use crate::api_key::{ApiKey, ApiKeyEvent};
use crate::call::{Call, CallEvent};
use crate::customer::{Customer, CustomerEvent};
use crate::email_account::{EmailAccount, EmailAccountEvent};
use crate::inbound_email::{InboundEmail, InboundEmailEvent};
use crate::inbound_message::{InboundMessage, InboundMessageEvent};
use crate::integration::{Integration, IntegrationEvent};
use crate::integration_permission::{IntegrationPermission, PermissionEvent};
use crate::login::{LoginEvent, LoginHistory};
use crate::masked_session::{MaskedSession, MaskedSessionEvent};
use crate::organisation::{Organisation, OrganisationEvent};
use crate::outbound_email::{OutboundEmail, OutboundEmailEvent};
use crate::outbound_message::{MessageEvent, OutboundMessage};
use crate::phone_numbers::{PhoneNumbers, PhoneNumbersEvent};
use crate::sms_template::{SmsTemplate, SmsTemplateEvent};
use crate::thread::{Thread, ThreadEvent};
use crate::user::{User, UserEvent};
use crate::webhook_endpoint::{WebhookEndpoint, WebhookEndpointEvent};
use crate::whatsapp_template::{WhatsappTemplate, WhatsappTemplateEvent};

const ID: &str = "00000000-0000-0000-0000-000000000001";
const AT: &str = "2024-01-01T00:00:00Z";

/// Loads `stored` as an `E` and checks the type and version it names.
fn pinned<E: DomainEvent>(stored: Value, event_type: &str, event_version: &str) {
    let event: E = serde_json::from_value(stored.clone()).unwrap_or_else(|e| panic!("{stored} no longer loads: {e}"));
    assert_eq!(event.event_type(), event_type, "the type of {stored}");
    assert_eq!(event.event_version(), event_version, "the version of {stored}");
}

#[test]
fn aggregate_types_keep_their_stored_names() {
    let types = [
        User::TYPE,
        ApiKey::TYPE,
        Organisation::TYPE,
        LoginHistory::TYPE,
        Customer::TYPE,
        Integration::TYPE,
        IntegrationPermission::TYPE,
        PhoneNumbers::TYPE,
        EmailAccount::TYPE,
        InboundEmail::TYPE,
        OutboundEmail::TYPE,
        Call::TYPE,
        WebhookEndpoint::TYPE,
        MaskedSession::TYPE,
        OutboundMessage::TYPE,
        SmsTemplate::TYPE,
        InboundMessage::TYPE,
        WhatsappTemplate::TYPE,
        Thread::TYPE,
    ];
    let stored = [
        "user",
        "api_key",
        "organisation",
        "login",
        "customer",
        "integration",
        "integration_permission",
        "phone_numbers",
        "email_account",
        "inbound_email",
        "outbound_email",
        "call",
        "webhook_endpoint",
        "masked_session",
        "outbound_message",
        "sms_template",
        "inbound_message",
        "whatsapp_template",
        "thread",
    ];
    assert_eq!(types, stored);
}

fn sealed() -> Value {
    json!({"field": "api_token", "nonce": "bm9uY2U=", "ciphertext": "Y2lwaGVy", "fingerprint": "ZmluZ2Vy"})
}

#[test]
fn user_events_keep_their_stored_names_and_versions() {
    let registered = json!({"UserRegistered": {
        "user_id": ID, "organisation_id": ID, "email": "asha@example.com", "display_name": "Asha",
        "password_hash": "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA", "role": "admin", "registered_at": AT,
    }});
    pinned::<UserEvent>(registered, "UserRegistered", "1.0");
    pinned::<UserEvent>(json!({"UserRoleChanged": {"role": "agent"}}), "UserRoleChanged", "1.0");
    pinned::<UserEvent>(json!({"UserRenamed": {"display_name": "A"}}), "UserRenamed", "1.0");
    let password = json!({"UserPasswordChanged": {"password_hash": "$argon2id$x"}});
    pinned::<UserEvent>(password, "UserPasswordChanged", "1.0");
    pinned::<UserEvent>(json!("UserDeactivated"), "UserDeactivated", "1.0");
    let phone = json!({"UserPhoneSet": {"phone": "+919876500001"}});
    pinned::<UserEvent>(phone, "UserPhoneSet", "1.0");
    pinned::<UserEvent>(json!("UserReactivated"), "UserReactivated", "1.0");
}

#[test]
fn api_key_events_keep_their_stored_names_and_versions() {
    let issued = json!({"ApiKeyIssued": {
        "key_id": ID, "organisation_id": ID, "name": "ci", "role": "agent",
        "secret_digest": "ZGlnZXN0", "created_by": ID, "issued_at": AT,
    }});
    pinned::<ApiKeyEvent>(issued, "ApiKeyIssued", "1.0");
    pinned::<ApiKeyEvent>(json!({"ApiKeyRevoked": {"revoked_at": AT}}), "ApiKeyRevoked", "1.0");
}

#[test]
fn organisation_events_keep_their_stored_names_and_versions() {
    let created = json!({"OrganisationCreated": {"organisation_id": ID, "name": "Acme", "created_at": AT}});
    pinned::<OrganisationEvent>(created, "OrganisationCreated", "1.0");
    let renamed = json!({"OrganisationRenamed": {"name": "Acme India"}});
    pinned::<OrganisationEvent>(renamed, "OrganisationRenamed", "1.0");
    let holidays = json!({"HolidaysSet": {"holidays": [{"date": "2026-12-25", "name": "Christmas"}]}});
    pinned::<OrganisationEvent>(holidays, "HolidaysSet", "1.0");
}

#[test]
fn login_events_keep_their_stored_names_and_versions() {
    let succeeded = json!({"LoginSucceeded": {"user_id": ID, "organisation_id": ID, "at": AT}});
    pinned::<LoginEvent>(succeeded, "LoginSucceeded", "1.0");
    let failed = json!({"LoginFailed": {"user_id": ID, "organisation_id": ID, "at": AT}});
    pinned::<LoginEvent>(failed, "LoginFailed", "1.0");
}

#[test]
fn customer_events_keep_their_stored_names_and_versions() {
    let created = json!({"CustomerCreated": {
        "customer_id": ID, "organisation_id": ID, "email": "ravi@example.com", "name": null, "at": AT,
    }});
    pinned::<CustomerEvent>(created, "CustomerCreated", "1.0");
    let by_phone = json!({"CustomerCreatedForPhone": {
        "customer_id": ID, "organisation_id": ID, "phone": "+919812300061", "name": "Asha", "at": AT,
    }});
    pinned::<CustomerEvent>(by_phone, "CustomerCreatedForPhone", "1.0");
    let updated = json!({"CustomerUpdated": {"name": "Asha Rao", "notes": "Prefers calls\nafter 6", "at": AT}});
    pinned::<CustomerEvent>(updated, "CustomerUpdated", "1.0");
    let merged = json!({"CustomerMerged": {"into": ID, "at": AT}});
    pinned::<CustomerEvent>(merged, "CustomerMerged", "1.0");
    let absorbed = json!({"CustomerAbsorbed": {"source": ID, "points": [
        {"kind": "email", "value": "ravi@example.com"}, {"kind": "phone", "value": "+919812300061"},
    ], "at": AT}});
    pinned::<CustomerEvent>(absorbed, "CustomerAbsorbed", "1.0");
    let unmerged = json!({"CustomerUnmerged": {"from": ID, "at": AT}});
    pinned::<CustomerEvent>(unmerged, "CustomerUnmerged", "1.0");
    let released = json!({"CustomerReleased": {"source": ID, "at": AT}});
    pinned::<CustomerEvent>(released, "CustomerReleased", "1.0");
}

#[test]
fn thread_events_keep_their_stored_names_and_versions() {
    let assigned = json!({"ThreadAssigned": {
        "thread_id": ID, "organisation_id": ID, "assignee": ID, "previous": null, "at": AT,
    }});
    pinned::<ThreadEvent>(assigned, "ThreadAssigned", "1.0");
    let closed = json!({"ThreadClosed": {"thread_id": ID, "organisation_id": ID, "at": AT}});
    pinned::<ThreadEvent>(closed, "ThreadClosed", "1.0");
    let reopened = json!({"ThreadReopened": {
        "thread_id": ID, "organisation_id": ID, "reason": "customer_wrote", "at": AT,
    }});
    pinned::<ThreadEvent>(reopened, "ThreadReopened", "1.0");
    let by_agent = json!({"ThreadReopened": {"thread_id": ID, "organisation_id": ID, "reason": "agent", "at": AT}});
    pinned::<ThreadEvent>(by_agent, "ThreadReopened", "1.0");
    let read = json!({"ThreadRead": {
        "thread_id": ID, "organisation_id": ID, "user_id": ID, "through": AT, "at": AT,
    }});
    pinned::<ThreadEvent>(read, "ThreadRead", "1.0");
}

#[test]
fn integration_events_keep_their_stored_names_and_versions() {
    let configured = json!({"IntegrationConfigured": {
        "integration_id": ID, "organisation_id": ID, "kind": "exotel_phone",
        "settings": {"kind": "exotel_phone", "account_sid": "acme1", "virtual_number": "+911141169368"},
        "secrets": [sealed()], "data_key_id": ID, "master_key_id": "k1", "configured_by": null, "configured_at": AT,
    }});
    pinned::<IntegrationEvent>(configured, "IntegrationConfigured", "1.0");
    let verified = json!({"IntegrationVerified": {"at": AT}});
    pinned::<IntegrationEvent>(verified, "IntegrationVerified", "1.0");
    let failed = json!({"IntegrationVerificationFailed": {"status_code": 401, "error": "denied", "at": AT}});
    pinned::<IntegrationEvent>(failed, "IntegrationVerificationFailed", "1.0");
    let rejected = json!({"IntegrationConfigurationRejected": {
        "integration_id": ID, "organisation_id": ID, "kind": "exotel_sms", "status_code": null,
        "error": "unreachable", "at": AT,
    }});
    pinned::<IntegrationEvent>(rejected, "IntegrationConfigurationRejected", "1.0");
    let disabled = json!({"IntegrationDisabled": {"at": AT}});
    pinned::<IntegrationEvent>(disabled, "IntegrationDisabled", "1.0");
    let enabled = json!({"IntegrationEnabled": {"at": AT}});
    pinned::<IntegrationEvent>(enabled, "IntegrationEnabled", "1.0");
    let rewrapped = json!({"IntegrationDataKeyRewrapped": {"data_key_id": ID, "master_key_id": "k2", "at": AT}});
    pinned::<IntegrationEvent>(rewrapped, "IntegrationDataKeyRewrapped", "1.0");
    let deleted = json!({"IntegrationDeleted": {"data_key_id": ID, "at": AT}});
    pinned::<IntegrationEvent>(deleted, "IntegrationDeleted", "1.0");
    let rotated = json!({"IntegrationCallbackTokenRotated": {"generation": 2, "at": AT}});
    pinned::<IntegrationEvent>(rotated, "IntegrationCallbackTokenRotated", "1.0");
}

#[test]
fn integration_permission_events_keep_their_stored_names_and_versions() {
    let set = json!({"IntegrationPermissionSet": {
        "organisation_id": ID, "kind": "exotel_whatsapp", "user_id": ID,
        "grant": {"can_use": true, "can_configure": false, "daily_limit": 50}, "granted_by": null,
    }});
    pinned::<PermissionEvent>(set, "IntegrationPermissionSet", "1.0");
}

#[test]
fn phone_number_events_keep_their_stored_names_and_versions() {
    let details = json!({
        "exotel_sid": "918047112233", "display_name": null, "number_type": "Landline",
        "can_call": true, "can_sms": false, "region": "KA",
    });
    let added = json!({"PhoneNumberAdded": {
        "organisation_id": ID, "number_id": ID, "integration_id": ID, "phone_number": "+918047112233",
        "details": details, "at": AT,
    }});
    pinned::<PhoneNumbersEvent>(added, "PhoneNumberAdded", "1.0");
    let updated = json!({"PhoneNumberUpdated": {"number_id": ID, "details": details, "at": AT}});
    pinned::<PhoneNumbersEvent>(updated, "PhoneNumberUpdated", "1.0");
    let released = json!({"PhoneNumberReleased": {"number_id": ID, "at": AT}});
    pinned::<PhoneNumbersEvent>(released, "PhoneNumberReleased", "1.0");
    let assigned = json!({"PhoneNumberAssigned": {"number_id": ID, "user_id": ID, "assigned_by": null, "at": AT}});
    pinned::<PhoneNumbersEvent>(assigned, "PhoneNumberAssigned", "1.0");
    let primary = json!({"PrimaryPhoneNumberChosen": {"number_id": ID, "at": AT}});
    pinned::<PhoneNumbersEvent>(primary, "PrimaryPhoneNumberChosen", "1.0");
}

#[test]
fn email_account_events_keep_their_stored_names_and_versions() {
    let server = |host: &str, port: u16, security: &str| json!({"host": host, "port": port, "security": security, "user": "support@acme.example"});
    let settings = json!({
        "name": "Support", "address": "support@acme.example",
        "smtp": server("smtp.acme.example", 587, "starttls"), "imap": server("imap.acme.example", 993, "tls"),
        "folders": ["INBOX"], "poll_interval_secs": 60, "smtp_enabled": true, "imap_enabled": true,
        "is_default": true, "signature_html": null, "signature_text": null,
    });
    let passwords = json!({"secrets": [sealed()], "data_key_id": ID, "master_key_id": "k1"});
    let added = json!({"EmailAccountAdded": {
        "account_id": ID, "organisation_id": ID, "settings": settings, "passwords": passwords,
        "added_by": ID, "at": AT,
    }});
    pinned::<EmailAccountEvent>(added, "EmailAccountAdded", "1.0");
    let updated = json!({"EmailAccountUpdated": {"settings": settings, "passwords": null, "at": AT}});
    pinned::<EmailAccountEvent>(updated, "EmailAccountUpdated", "1.0");
    let removed = json!({"EmailAccountRemoved": {"at": AT}});
    pinned::<EmailAccountEvent>(removed, "EmailAccountRemoved", "1.0");
    let failed = json!({"MailLoginFailed": {
        "side": "imap", "error": "bad credentials", "consecutive": 3, "needs_attention": true, "at": AT,
    }});
    pinned::<EmailAccountEvent>(failed, "MailLoginFailed", "1.0");
    let recovered = json!({"MailLoginRecovered": {"side": "smtp", "at": AT}});
    pinned::<EmailAccountEvent>(recovered, "MailLoginRecovered", "1.0");
}

#[test]
fn inbound_email_events_keep_their_stored_names_and_versions() {
    let position = json!({"folder": "INBOX", "uidvalidity": 7, "uid": 42});
    let received = json!({"EmailReceived": {
        "email_id": ID, "organisation_id": ID, "account_id": ID, "position": position,
        "message_id": "<a@b>", "in_reply_to": null, "references": [],
        "from": {"name": "Ravi", "address": "ravi@example.com"}, "to": [], "cc": [],
        "subject": "Hello", "date": AT, "received_at": AT,
        "bodies": {"text": "hi", "html": null, "text_truncated": false, "html_truncated": false},
        "attachments": [{
            "filename": "a.txt", "content_type": "text/plain", "size": 2, "sha256": "ab",
            "content_id": null, "inline": false, "storage": {"status": "stored"},
        }],
        "size": 100, "sha256": "cd", "thread_id": ID, "new_thread": true, "customer_id": null,
    }});
    pinned::<InboundEmailEvent>(received, "EmailReceived", "1.0");
    let rejected = json!({"EmailRejected": {
        "email_id": ID, "organisation_id": ID, "account_id": ID, "position": position,
        "message_id": null, "sha256": null, "size": 0, "reason": {"reason": "unparseable"},
        "detail": "no headers", "at": AT,
    }});
    pinned::<InboundEmailEvent>(rejected, "EmailRejected", "1.0");
}

#[test]
fn outbound_email_events_keep_their_stored_names_and_versions() {
    let message = json!({
        "from": "support@acme.example", "from_name": null, "message_id": "<m@acme.example>",
        "content": {
            "to": ["ravi@example.com"], "cc": [], "bcc": [], "reply_to": [], "subject": "Hello",
            "html": null, "text": "hi", "headers": [], "priority": "normal", "in_reply_to": null,
            "references": [], "thread_id": null,
        },
        "attachments": [],
    });
    let requested = json!({"EmailSendRequested": {"intent": {
        "intent_id": ID, "organisation_id": ID, "account_id": ID, "message": message,
        "html": null, "text": {"bytes": 2, "sha256": "ef"}, "request_digest": "01",
    }, "at": AT}});
    pinned::<OutboundEmailEvent>(requested, "EmailSendRequested", "1.0");
    let started = json!({"EmailSendStarted": {"at": AT}});
    pinned::<OutboundEmailEvent>(started, "EmailSendStarted", "1.0");
    let accepted = json!({"EmailAccepted": {"code": 250, "response": "queued", "at": AT}});
    pinned::<OutboundEmailEvent>(accepted, "EmailAccepted", "1.0");
    let failed = json!({"EmailSendFailed": {
        "failure": {"stage": "login", "code": 535, "message": "denied", "permanent": true}, "at": AT,
    }});
    pinned::<OutboundEmailEvent>(failed, "EmailSendFailed", "1.0");
}

#[test]
fn call_events_keep_their_stored_names_and_versions() {
    let requested = json!({"CallRequested": {"request": {
        "organisation_id": ID, "direction": "outbound", "requested_by": ID, "agent_user_id": ID,
        "agent_phone": "+919800000001", "customer_phone": "+919800000002", "customer_id": null,
        "caller_id": "+911141169368", "time_limit_secs": 600, "record": true, "recording_channels": 2,
        "custom_data": null, "purpose": "transactional", "verified": false,
    }, "at": AT}});
    pinned::<CallEvent>(requested, "CallRequested", "1.0");
    pinned::<CallEvent>(
        json!({"CallDispatchStarted": {"attempt": 1, "at": AT}}),
        "CallDispatchStarted",
        "1.0",
    );
    pinned::<CallEvent>(
        json!({"CallPlaced": {"provider_sid": "s", "at": AT}}),
        "CallPlaced",
        "1.0",
    );
    let refused = json!({"CallRefused": {"refusal": {"http_status": 403, "code": null, "message": "DND"}, "at": AT}});
    pinned::<CallEvent>(refused, "CallRefused", "1.0");
    pinned::<CallEvent>(
        json!({"CallNotFoundAtProvider": {"at": AT}}),
        "CallNotFoundAtProvider",
        "1.0",
    );
    let details = json!({
        "duration_secs": 42, "conversation_duration_secs": 40, "price_paise": 150, "disconnected_by": "agent",
        "recording_url": null, "legs": [{"status": "completed", "on_call_duration_secs": 41}],
    });
    let received = json!({"CallReportReceived": {"report": {
        "report_id": "r1", "source": "callback", "provider_sid": "s", "provider_status": "completed",
        "status": "completed", "details": details, "received_at": AT,
    }}});
    pinned::<CallEvent>(received, "CallReportReceived", "1.0");
    pinned::<CallEvent>(
        json!({"CallProgressed": {"status": "no_answer", "at": AT}}),
        "CallProgressed",
        "1.0",
    );
    let added = json!({"CallDetailsAdded": {"details": details, "at": AT}});
    pinned::<CallEvent>(added, "CallDetailsAdded", "1.0");
    let recording = json!({"CallRecordingStored": {"recording": {
        "sha256": "ab", "format": "wav", "content_type": "audio/wav", "size_bytes": 16044,
        "channels": 2, "duration_secs": 1,
    }, "at": AT}});
    pinned::<CallEvent>(recording, "CallRecordingStored", "1.0");
    let verified = json!({"CallVerificationArranged": {"arranged": {
        "provider": "sandbox", "reference": "ref", "caller_name": "Acme Foods",
    }, "at": AT}});
    pinned::<CallEvent>(verified, "CallVerificationArranged", "1.0");
}

#[test]
fn webhook_endpoint_events_keep_their_stored_names_and_versions() {
    let spec = json!({"url": "https://crm.example.com/hooks", "event_types": ["call.requested", "recording.available"], "description": "CRM"});
    let registered = json!({"WebhookEndpointRegistered": {
        "endpoint_id": ID, "organisation_id": ID, "spec": spec, "secret": sealed(), "data_key_id": ID,
        "created_by": ID, "at": AT,
    }});
    pinned::<WebhookEndpointEvent>(registered, "WebhookEndpointRegistered", "1.0");
    pinned::<WebhookEndpointEvent>(
        json!({"WebhookEndpointChanged": {"spec": spec, "at": AT}}),
        "WebhookEndpointChanged",
        "1.0",
    );
    pinned::<WebhookEndpointEvent>(
        json!({"WebhookSecretRotated": {"secret": sealed(), "previous_valid_until": AT, "at": AT}}),
        "WebhookSecretRotated",
        "1.0",
    );
    pinned::<WebhookEndpointEvent>(
        json!({"WebhookEndpointDisabled": {"reason": "HTTP 500", "by": null, "at": AT}}),
        "WebhookEndpointDisabled",
        "1.0",
    );
    pinned::<WebhookEndpointEvent>(
        json!({"WebhookEndpointEnabled": {"at": AT}}),
        "WebhookEndpointEnabled",
        "1.0",
    );
    pinned::<WebhookEndpointEvent>(
        json!({"WebhookEndpointDeleted": {"at": AT}}),
        "WebhookEndpointDeleted",
        "1.0",
    );
}

#[test]
fn masked_session_events_keep_their_stored_names_and_versions() {
    let opened = json!({"MaskedSessionOpened": {"session_id": ID, "terms": {
        "organisation_id": ID, "party_a": "+919800000001", "party_b": "+919800000002",
        "virtual_number": "+918047112233", "expires_at": AT, "max_calls": 3, "created_by": ID,
    }, "at": AT}});
    pinned::<MaskedSessionEvent>(opened, "MaskedSessionOpened", "1.0");
    let connected = json!({"MaskedCallRouted": {"provider_sid": "sid", "caller": "+919800000001",
        "decision": {"Connected": {"from": "a"}}, "at": AT}});
    pinned::<MaskedSessionEvent>(connected, "MaskedCallRouted", "1.0");
    let refused = json!({"MaskedCallRouted": {"provider_sid": "sid", "caller": "+919800000001",
        "decision": {"Refused": {"reason": "cap_reached"}}, "at": AT}});
    pinned::<MaskedSessionEvent>(refused, "MaskedCallRouted", "1.0");
    pinned::<MaskedSessionEvent>(json!({"MaskedSessionEnded": {"at": AT}}), "MaskedSessionEnded", "1.0");
}

#[test]
fn outbound_message_events_keep_their_stored_names_and_versions() {
    let requested = json!({"MessageRequested": {"request": {
        "organisation_id": ID, "requested_by": ID, "to": "+919800000002", "customer_id": null,
        "content": {"channel": "sms", "body": "Hi", "sms_type": "service_implicit", "sender_id": "SWTCHB",
            "dlt_entity_id": "1101234567890123456", "dlt_template_id": "1107", "encoding": "gsm7", "segments": 1},
        "custom_data": null, "not_before": AT, "batch_id": ID,
    }, "at": AT}});
    pinned::<MessageEvent>(requested, "MessageRequested", "1.0");
    let started = json!({"MessageDispatchStarted": {"attempt": 1, "at": AT}});
    pinned::<MessageEvent>(started, "MessageDispatchStarted", "1.0");
    let submitted = json!({"MessageSubmitted": {"provider_sid": "sid", "at": AT}});
    pinned::<MessageEvent>(submitted, "MessageSubmitted", "1.0");
    let refused =
        json!({"MessageRefused": {"refusal": {"http_status": 400, "code": 40205, "message": "From"}, "at": AT}});
    pinned::<MessageEvent>(refused, "MessageRefused", "1.0");
    let not_sent = json!({"MessageNotSent": {"reason": "429", "at": AT}});
    pinned::<MessageEvent>(not_sent, "MessageNotSent", "1.0");
    pinned::<MessageEvent>(
        json!({"MessageOutcomeUnknown": {"at": AT}}),
        "MessageOutcomeUnknown",
        "1.0",
    );
    let report = json!({"MessageReportReceived": {"report": {"report_id": "r", "source": "callback",
        "provider_sid": "sid", "provider_status": "sent", "status": "delivered", "detailed_code": 20005,
        "detailed_status": "DELIVERED_TO_HANDSET", "units": 1, "price_paise": 18, "received_at": AT}}});
    pinned::<MessageEvent>(report, "MessageReportReceived", "1.0");
    let progressed = json!({"MessageProgressed": {"status": "failed",
        "failure": {"code": 23005, "description": "FAILED_REJECTED_DND"}, "at": AT}});
    pinned::<MessageEvent>(progressed, "MessageProgressed", "1.0");
}

#[test]
fn sms_template_events_keep_their_stored_names_and_versions() {
    let registered = json!({"SmsTemplateRegistered": {"organisation_id": ID, "spec": {
        "dlt_template_id": "1107160000000000001", "name": "Order", "body": "Order {#var#}",
        "sender_id": "SWTCHB", "sms_type": "transactional"}, "at": AT}});
    pinned::<SmsTemplateEvent>(registered, "SmsTemplateRegistered", "1.0");
    pinned::<SmsTemplateEvent>(json!({"SmsTemplateRemoved": {"at": AT}}), "SmsTemplateRemoved", "1.0");
}

#[test]
fn inbound_message_events_keep_their_stored_names_and_versions() {
    let received = json!({"InboundMessageReceived": {"message": {"organisation_id": ID, "channel": "whatsapp",
        "provider_sid": "sid", "from": "+919812300002", "to": "+918047112233", "profile_name": "Asha",
        "content": {"type": "text", "body": "Hi"}, "context_sid": null, "received_at": AT}}});
    pinned::<InboundMessageEvent>(received, "InboundMessageReceived", "1.0");
    let kept = json!({"InboundMediaKept": {"file": {"sha256": "ab", "content_type": "image/jpeg", "size_bytes": 12},
        "at": AT}});
    pinned::<InboundMessageEvent>(kept, "InboundMediaKept", "1.0");
    let gone = json!({"InboundMediaUnavailable": {"reason": "404", "at": AT}});
    pinned::<InboundMessageEvent>(gone, "InboundMediaUnavailable", "1.0");
    let whatsapp = json!({"MessageRequested": {"request": {
        "organisation_id": ID, "requested_by": ID, "to": "+919800000002", "customer_id": null,
        "content": {"channel": "whatsapp", "from": "+918047112233",
            "content": {"type": "interactive", "kind": "buttons", "body": "Confirm?", "header": null, "footer": null,
                "buttons": [{"id": "y", "title": "Yes"}]}},
        "custom_data": null, "not_before": null, "batch_id": null,
    }, "at": AT}});
    pinned::<MessageEvent>(whatsapp, "MessageRequested", "1.0");
}

#[test]
fn whatsapp_template_events_keep_their_stored_names_and_versions() {
    let synced = json!({"WhatsappTemplateSynced": {"organisation_id": ID, "definition": {
        "provider_id": "1189", "name": "order_update", "language": "en", "category": "UTILITY",
        "status": "approved", "rejected_reason": null,
        "header": {"format": "image", "text": null}, "body": "Hi {{1}}", "footer": null,
        "buttons": [{"kind": "quick_reply", "text": "Thanks", "url": null}]}, "at": AT}});
    pinned::<WhatsappTemplateEvent>(synced, "WhatsappTemplateSynced", "1.0");
    let removed = json!({"WhatsappTemplateRemoved": {"at": AT}});
    pinned::<WhatsappTemplateEvent>(removed, "WhatsappTemplateRemoved", "1.0");
    let template = json!({"MessageRequested": {"request": {
        "organisation_id": ID, "requested_by": ID, "to": "+919800000002", "customer_id": null,
        "content": {"channel": "whatsapp", "from": "+918047112233",
            "content": {"type": "template", "name": "order_update", "language": "en",
                "header": {"type": "media", "kind": "image", "url": "https://x.example/a.jpg", "filename": null},
                "body": ["Asha"], "buttons": [{"index": 1, "text": "A-1"}]}},
        "custom_data": null, "not_before": null, "batch_id": null,
    }, "at": AT}});
    pinned::<MessageEvent>(template, "MessageRequested", "1.0");
}
