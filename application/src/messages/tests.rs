//! The messaging use cases over in-memory stores and scripted ports.
//!
//! A [`Harness`] holds every store `Messages` needs (each a [`Listed`]
//! in-memory store that is also its own read model), a cipher that seals by
//! binding, a scripted Exotel and media probe, a DND cache and a manual
//! clock, and an organisation whose Exotel SMS and WhatsApp integrations are
//! configured and active through the real `Integrations::configure`.

mod auto_replies;
mod directories;
mod dispatching;
mod media;
mod permissions;
mod ports;
mod provider_content;
mod sms_incoming;
mod sms_requests;
mod template_sync;
mod whatsapp_callbacks;
mod whatsapp_requests;

use std::collections::BTreeMap;

use chrono::{DateTime, TimeZone, Utc};
use uuid::Uuid;
use zeroize::Zeroizing;

use domain::Role;
use domain::customer::Customer;
use domain::inbound_message::{InboundContent, InboundMessage};
use domain::integration::settings::{ExotelSms as SmsSettings, ExotelWhatsapp as WhatsappSettings};
use domain::integration::{Integration, IntegrationKind, IntegrationSettings};
use domain::integration_permission::{Grant, IntegrationPermission, PermissionCommand, permission_id};
use domain::organisation::Organisation;
use domain::outbound_message::{OutboundMessage, SmsType};
use domain::sms_template::{SmsTemplate, SmsTemplateSpec};
use domain::user::User;
use domain::whatsapp::WhatsappContent;
use domain::whatsapp_template::{TemplateDefinition, TemplateStatus, WhatsappTemplate};

use self::directories::Listed;
use self::ports::{Exotel, Hooks, PassingTester, Probe};
use super::{DndCache, MessageTiming, Messages, MessagesError, TemplateSync, WhatsappInput, WhatsappItem};
use crate::access::IntegrationAccess;
use crate::calls::Callback;
use crate::clock::{Clock, ManualClock};
use crate::integrations::{Configuration, Integrations};
use crate::memory::{BindingCipher, Keys, Memory};
use crate::metadata::EventMetadata;
use crate::store::AggregateStore;
use crate::users::Acting;

const ORG: Uuid = Uuid::from_u128(1);
const OTHER_ORG: Uuid = Uuid::from_u128(9);
const ADMIN: Uuid = Uuid::from_u128(2);
const AGENT: Uuid = Uuid::from_u128(3);

/// The organisation's WhatsApp number.
const OWN_NUMBER: &str = "+919800000001";
const CUSTOMER: &str = "+919800000002";
const CUSTOMER_2: &str = "+919800000003";
/// On India's Do-Not-Disturb registry, as the scripted Exotel says.
const ON_DND: &str = "+919800000009";
const ABROAD: &str = "+14155550100";

const HEADER: &str = "SWTCHB";
const ENTITY: &str = "1201159000000000001";
const ORDER_TEMPLATE: &str = "1107000000000000001";
const SALE_TEMPLATE: &str = "1107000000000000002";
const WABA: &str = "waba-1";

/// When every test starts: 10:00 UTC on a Tuesday, 15:30 IST, inside
/// promotional hours.
fn afternoon() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, 0).unwrap()
}

/// The time it is in India at `hour:minute` on the harness's day, in UTC.
fn ist(hour: u32, minute: u32) -> DateTime<Utc> {
    let utc_minutes = i64::from(hour * 60 + minute) - (5 * 60 + 30);
    Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap() + chrono::Duration::minutes(utc_minutes)
}

fn meta() -> EventMetadata {
    EventMetadata::system("test", Some(ORG))
}

fn admin() -> Acting {
    Acting {
        organisation_id: ORG,
        role: Role::Admin,
        user_id: Some(ADMIN),
    }
}

fn agent() -> Acting {
    Acting {
        organisation_id: ORG,
        role: Role::Agent,
        user_id: Some(AGENT),
    }
}

/// The SMS settings the harness starts with.
fn sms_settings() -> SmsSettings {
    SmsSettings {
        account_sid: "acme".into(),
        sender_id: HEADER.into(),
        dlt_entity_id: Some(ENTITY.into()),
        display_name: None,
        api_host: None,
    }
}

/// The WhatsApp settings the harness starts with: auto-replies off.
fn whatsapp_settings() -> WhatsappSettings {
    WhatsappSettings {
        account_sid: "acme-wa".into(),
        whatsapp_number: OWN_NUMBER.into(),
        waba_id: Some(WABA.into()),
        business_name: None,
        auto_reply_enabled: false,
        auto_reply_message: None,
        business_hours: None,
        welcome_message: None,
        keyword_rules: Vec::new(),
        auto_reply_cooldown_minutes: None,
        api_host: None,
    }
}

fn order_template() -> SmsTemplateSpec {
    SmsTemplateSpec {
        dlt_template_id: ORDER_TEMPLATE.into(),
        name: "Order".into(),
        body: "Your order {#var#} is on its way".into(),
        sender_id: HEADER.into(),
        sms_type: SmsType::Transactional,
    }
}

fn sale_template() -> SmsTemplateSpec {
    SmsTemplateSpec {
        dlt_template_id: SALE_TEMPLATE.into(),
        name: "Sale".into(),
        body: "Sale: {#var#} off today".into(),
        sender_id: HEADER.into(),
        sms_type: SmsType::Promotional,
    }
}

struct Harness {
    messages: Listed<OutboundMessage>,
    templates: Listed<SmsTemplate>,
    whatsapp_templates: Listed<WhatsappTemplate>,
    customers: Memory<Customer>,
    threads: Memory<domain::thread::Thread>,
    organisations: Memory<Organisation>,
    permissions: Memory<IntegrationPermission>,
    users: Memory<User>,
    integrations: Memory<Integration>,
    keys: Keys,
    inbound: Listed<InboundMessage>,
    exotel: Exotel,
    probe: Probe,
    dnd: DndCache,
    hooks: Hooks,
    clock: ManualClock,
}

impl Harness {
    /// Active SMS and WhatsApp integrations, both DLT templates registered,
    /// the clock at [`afternoon`].
    async fn new() -> Self {
        let harness = Self {
            messages: Listed::new(),
            templates: Listed::new(),
            whatsapp_templates: Listed::new(),
            customers: Memory::new(),
            threads: Memory::new(),
            organisations: Memory::new(),
            permissions: Memory::new(),
            users: Memory::new(),
            integrations: Memory::new(),
            keys: Keys::default(),
            inbound: Listed::new(),
            exotel: Exotel::default(),
            probe: Probe::default(),
            dnd: DndCache::default(),
            hooks: Hooks,
            clock: ManualClock::new(afternoon()),
        };
        harness.configure_sms(sms_settings()).await;
        harness.configure_whatsapp(whatsapp_settings()).await;
        for spec in [order_template(), sale_template()] {
            let (kept, _) = harness
                .use_case()
                .register_template(ORG, spec.clone(), &meta())
                .await
                .unwrap();
            assert_eq!(kept, spec);
        }
        harness
    }

    fn integrations(&self) -> Integrations<'_> {
        Integrations {
            store: &self.integrations,
            keys: &self.keys,
            cipher: &BindingCipher,
            tester: &PassingTester,
        }
    }

    fn use_case(&self) -> Messages<'_> {
        Messages {
            store: &self.messages,
            templates: &self.templates,
            whatsapp_templates: &self.whatsapp_templates,
            whatsapp_template_directory: &self.whatsapp_templates,
            customers: &self.customers,
            organisations: &self.organisations,
            access: IntegrationAccess {
                permissions: &self.permissions,
                users: &self.users,
            },
            integrations: self.integrations(),
            provider: &self.exotel,
            whatsapp: &self.exotel,
            inbound: &self.inbound,
            inbound_directory: &self.inbound,
            media_probe: &self.probe,
            numbers_api: &self.exotel,
            dnd: &self.dnd,
            directory: &self.messages,
            template_directory: &self.templates,
            callbacks: &self.hooks,
            clock: &self.clock,
            timing: MessageTiming::default(),
            threads: crate::threads::ThreadLinks {
                directory: &crate::memory::NoThreads,
                store: &self.threads,
                reopen_within: chrono::Duration::days(7),
            },
        }
    }

    async fn configure(&self, settings: IntegrationSettings, prefix: &str) {
        let secrets = BTreeMap::from([
            ("api_key".to_string(), Zeroizing::new(format!("{prefix}-key"))),
            ("api_token".to_string(), Zeroizing::new(format!("{prefix}-token"))),
        ]);
        let configuration = Configuration {
            settings: settings.validated().unwrap(),
            secrets,
            save_unverified: false,
        };
        let configured = self
            .integrations()
            .configure(ORG, configuration, Some(ADMIN), &meta())
            .await
            .unwrap();
        assert_eq!(configured.status, domain::integration::IntegrationStatus::Active);
    }

    async fn configure_sms(&self, settings: SmsSettings) {
        self.configure(IntegrationSettings::ExotelSms(settings), "sms").await;
    }

    async fn configure_whatsapp(&self, settings: WhatsappSettings) {
        self.configure(IntegrationSettings::ExotelWhatsapp(settings), "wa")
            .await;
    }

    async fn disable(&self, kind: IntegrationKind) {
        let disabled = self
            .integrations()
            .set_enabled(ORG, kind, false, &meta())
            .await
            .unwrap();
        assert_eq!(disabled.status, domain::integration::IntegrationStatus::Disabled);
    }

    /// Gives the agent a grant on an integration.
    async fn grant(&self, kind: IntegrationKind, grant: Grant) {
        let command = PermissionCommand::Set {
            organisation_id: ORG,
            kind,
            user_id: AGENT,
            grant,
            granted_by: Some(ADMIN),
        };
        let id = permission_id(ORG, kind, AGENT).to_string();
        self.permissions.execute(&id, command, &meta()).await.unwrap();
    }

    /// The message as stored, and how many events it has.
    async fn stored(&self, id: Uuid) -> Option<(OutboundMessage, usize)> {
        let loaded = self.messages.load(&id.to_string()).await.unwrap();
        loaded.map(|l| (l.aggregate, l.version))
    }

    /// Syncs the templates Exotel lists on one page.
    async fn sync(&self, templates: Vec<TemplateDefinition>) -> TemplateSync {
        let page = crate::exotel::TemplatePage {
            templates,
            unreadable: 0,
            after: None,
        };
        self.exotel.answer_page(Ok(page));
        self.use_case().sync_whatsapp_templates(ORG, &meta()).await.unwrap()
    }

    /// A customer's WhatsApp text, received through the callback route.
    async fn incoming(&self, sid: &str, from: &str, body: &str) -> Vec<Callback> {
        let item = WhatsappItem::Incoming {
            sid: sid.into(),
            from: from.into(),
            to: OWN_NUMBER.into(),
            profile_name: Some("Asha".into()),
            content: InboundContent::Text { body: body.into() },
            context_sid: None,
            sent_at: Some(self.clock.now()),
        };
        self.use_case()
            .record_whatsapp_callback(ORG, vec![item], &meta())
            .await
            .unwrap()
    }
}

/// A template as Exotel lists it: two body variables, no header or buttons.
fn definition(name: &str, status: TemplateStatus) -> TemplateDefinition {
    TemplateDefinition {
        provider_id: format!("meta-{name}"),
        name: name.into(),
        language: "en".into(),
        category: "UTILITY".into(),
        status,
        rejected_reason: None,
        header: None,
        body: "Hi {{1}}, order {{2}} has shipped".into(),
        footer: None,
        buttons: Vec::new(),
    }
}

/// A free-form WhatsApp text, by its id.
fn text(message_id: u128, to: &str, body: &str) -> WhatsappInput {
    WhatsappInput {
        message_id: Uuid::from_u128(message_id),
        to: to.into(),
        content: WhatsappContent::Text {
            body: body.into(),
            preview_url: false,
        },
        custom_data: None,
        thread_id: None,
    }
}

/// The field a 422 names.
fn field_of(error: MessagesError) -> String {
    match error {
        MessagesError::Invalid(e) => e.field,
        other => panic!("not a field error: {other:?}"),
    }
}

#[test]
fn the_harness_clock_reads_india_standard_time_as_it_should() {
    assert_eq!(ist(15, 30), afternoon());
    assert_eq!(ist(22, 0), Utc.with_ymd_and_hms(2026, 12, 1, 16, 30, 0).unwrap());
}
