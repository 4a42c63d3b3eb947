//! Everything a request handler or background task needs, built once.

use metrics_exporter_prometheus::PrometheusHandle;
use std::sync::Arc;
use tokio::sync::watch;

use application::access::IntegrationAccess;
use application::accounts::Accounts;
use application::integrations::Integrations;
use application::login::LoginThrottle;
use domain::api_key::ApiKey;
use domain::email_account::EmailAccount;
use domain::integration::Integration;
use domain::integration_permission::IntegrationPermission;
use domain::login::LoginHistory;
use domain::organisation::Organisation;
use domain::phone_numbers::PhoneNumbers;
use domain::user::User;
use domain::user::address::UserAddress;
use infrastructure::cipher::Keyring;
use infrastructure::connection_test::ProviderConnectionTests;
use infrastructure::data_keys::SqlDataKeys;
use infrastructure::database::Database;
use infrastructure::event_store::{CommitSignal, EsStore};
use infrastructure::exotel::{ExotelClient, ExotelConfig};
use infrastructure::mail::MailTls;
use infrastructure::mail::imap::ImapClient;
use infrastructure::mail::smtp::SmtpClient;
use infrastructure::nats::EventStream;
use infrastructure::{InfraError, Settings};
use projections::ProjectionStore;

use crate::limits::RateLimits;
use crate::secrets;
use crate::tokens::TokenKeys;

pub struct AppState {
    pub settings: Settings,
    pub db: Database,
    pub organisations: EsStore<Organisation>,
    pub users: EsStore<User>,
    pub user_addresses: EsStore<UserAddress>,
    pub login_throttle: LoginThrottle,
    pub logins: EsStore<LoginHistory>,
    pub api_keys: EsStore<ApiKey>,
    pub integrations: EsStore<Integration>,
    pub permissions: EsStore<IntegrationPermission>,
    pub phone_numbers: EsStore<PhoneNumbers>,
    pub email_accounts: EsStore<EmailAccount>,
    pub outbound_emails: EsStore<domain::outbound_email::OutboundEmail>,
    pub call_store: EsStore<domain::call::Call>,
    pub call_directory: projections::calls::CallsDirectory,
    pub callback_tokens: crate::callbacks::CallbackTokens,
    pub webhook_endpoints: EsStore<domain::webhook_endpoint::WebhookEndpoint>,
    pub verified_calls: Arc<dyn application::calls::verified::VerifiedCalls>,
    pub masked_session_store: EsStore<domain::masked_session::MaskedSession>,
    pub masked_session_directory: projections::masked_sessions::SqlMaskedSessions,
    pub message_store: EsStore<domain::outbound_message::OutboundMessage>,
    pub message_directory: projections::messages::SqlMessages,
    pub sms_templates: EsStore<domain::sms_template::SmsTemplate>,
    pub sms_template_directory: projections::sms_templates::SqlSmsTemplates,
    pub whatsapp_templates: EsStore<domain::whatsapp_template::WhatsappTemplate>,
    pub whatsapp_template_directory: projections::whatsapp_templates::SqlWhatsappTemplates,
    pub dnd: application::messages::DndCache,
    pub inbound_messages: EsStore<domain::inbound_message::InboundMessage>,
    pub inbound_directory: projections::inbound_messages::SqlInboundMessages,
    pub thread_store: EsStore<domain::thread::Thread>,
    pub thread_directory: projections::threads::SqlThreadDirectory,
    pub customer_directory: projections::customers::SqlCustomerDirectory,
    /// What events mean to threads, for realtime push.
    pub thread_changes: Arc<dyn application::realtime::ThreadChanges>,
    pub media_probe: infrastructure::media_probe::HttpMediaProbe,
    pub clock: Arc<dyn application::clock::Clock>,
    pub webhook_outbox: projections::webhook_outbox::SqlWebhookOutbox,
    pub webhook_transport: infrastructure::webhooks::HttpWebhooks,
    pub recordings: infrastructure::recordings::RecordingStore,
    pub media_files: infrastructure::media::MediaStore,
    pub mail_directory: infrastructure::mail::send::EventDirectory,
    pub smtp: SmtpClient,
    pub imap: ImapClient,
    pub keyring: Keyring,
    pub data_keys: SqlDataKeys,
    pub exotel: Arc<ExotelClient>,
    pub tester: ProviderConnectionTests,
    pub limits: RateLimits,
    pub projections: ProjectionStore,
    pub tokens: TokenKeys,
    pub nats: Option<Nats>,
    pub commits: CommitSignal,
    pub metrics: Option<PrometheusHandle>,
    pub receiving: crate::receiving::Receiving,
    /// Realtime push: this process's hub of thread changes.
    pub realtime: Arc<crate::realtime::hub::Hub>,
}

/// The JetStream side of the distributed mode.
#[derive(Clone)]
pub struct Nats {
    pub client: async_nats::Client,
    pub js: async_nats::jetstream::Context,
    pub events: EventStream,
}

impl AppState {
    /// Connects, migrates and wires the stores.
    pub async fn build(settings: Settings, metrics: Option<PrometheusHandle>) -> Result<Arc<Self>, InfraError> {
        Self::build_with_clock(settings, metrics, Arc::new(application::clock::SystemClock)).await
    }

    /// The same, with the clock the use cases that wait for a time read.
    pub async fn build_with_clock(
        settings: Settings,
        metrics: Option<PrometheusHandle>,
        clock: Arc<dyn application::clock::Clock>,
    ) -> Result<Arc<Self>, InfraError> {
        let db = Database::connect(&settings).await?;
        db.migrate().await?;
        let nats = match &settings.nats_url {
            Some(url) if settings.database_url.is_some() => Some(connect_nats(url, &settings).await?),
            _ => None,
        };
        let server_secret = secrets::jwt_secret(&settings)?;
        let tokens = TokenKeys::new(&server_secret, settings.jwt_ttl_secs);
        let callback_tokens = crate::callbacks::CallbackTokens::new(&server_secret, settings.public_url.clone());
        let keyring = secrets::master_keyring(&settings)?;
        let (commits, _) = watch::channel(0);
        let mail_tls = MailTls::new(
            settings.mail_ca_file.as_deref(),
            std::time::Duration::from_secs(settings.mail_timeout_secs.max(1)),
        )?;
        let exotel_config = ExotelConfig {
            timeout: std::time::Duration::from_secs(settings.exotel_timeout_secs.max(1)),
            outbound: infrastructure::outbound::OutboundRule::from_settings(&settings)?,
            ..ExotelConfig::default()
        };
        let webhook_transport = infrastructure::webhooks::HttpWebhooks::new(
            exotel_config.outbound.clone(),
            std::time::Duration::from_secs(settings.webhook_timeout_secs.max(1)),
        )?;
        let media_probe = infrastructure::media_probe::HttpMediaProbe::new(
            exotel_config.outbound.clone(),
            std::time::Duration::from_secs(settings.exotel_timeout_secs.max(1)),
        )?;
        let exotel = Arc::new(ExotelClient::new(exotel_config).map_err(|e| InfraError::Config(e.to_string()))?);
        let realtime = Arc::new(crate::realtime::hub::Hub::with_capacity(
            Arc::new(projections::threads::SqlThreadChanges::new(db.read.clone())),
            Arc::new(infrastructure::feed::live::StoreBacklog(db.clone())),
            settings.realtime_buffer,
        ));
        let state = Arc::new(Self {
            organisations: EsStore::new(&db, (), commits.clone()),
            users: EsStore::new(&db, (), commits.clone()),
            user_addresses: EsStore::new(&db, (), commits.clone()),
            login_throttle: LoginThrottle::new(
                settings.login_rate_limit_per_client,
                settings.login_rate_limit_per_address,
            ),
            logins: EsStore::new(&db, (), commits.clone()),
            api_keys: EsStore::new(&db, (), commits.clone()),
            integrations: EsStore::new(&db, (), commits.clone()),
            permissions: EsStore::new(&db, (), commits.clone()),
            phone_numbers: EsStore::new(&db, (), commits.clone()),
            email_accounts: EsStore::new(&db, (), commits.clone()),
            outbound_emails: EsStore::new(&db, (), commits.clone()),
            call_store: EsStore::new(&db, (), commits.clone()),
            call_directory: projections::calls::CallsDirectory(db.read.clone()),
            callback_tokens,
            webhook_endpoints: EsStore::new(&db, (), commits.clone()),
            verified_calls: match settings.verified_calls.as_str() {
                "sandbox" => Arc::new(infrastructure::verified_calls::SandboxVerifiedCalls),
                _ => Arc::new(application::calls::verified::NoVerifiedCalls),
            },
            masked_session_store: EsStore::new(&db, (), commits.clone()),
            masked_session_directory: projections::masked_sessions::SqlMaskedSessions(db.read.clone()),
            message_store: EsStore::new(&db, (), commits.clone()),
            message_directory: projections::messages::SqlMessages(db.read.clone()),
            sms_templates: EsStore::new(&db, (), commits.clone()),
            sms_template_directory: projections::sms_templates::SqlSmsTemplates(db.read.clone()),
            whatsapp_templates: EsStore::new(&db, (), commits.clone()),
            whatsapp_template_directory: projections::whatsapp_templates::SqlWhatsappTemplates(db.read.clone()),
            dnd: application::messages::DndCache::new(
                chrono::Duration::seconds(i64::try_from(settings.dnd_cache_secs).unwrap_or(i64::MAX / 1000)),
                100_000,
            ),
            inbound_messages: EsStore::new(&db, (), commits.clone()),
            inbound_directory: projections::inbound_messages::SqlInboundMessages(db.read.clone()),
            thread_store: EsStore::new(&db, (), commits.clone()),
            thread_directory: projections::threads::SqlThreadDirectory::new(db.read.clone()),
            customer_directory: projections::customers::SqlCustomerDirectory::new(db.read.clone()),
            thread_changes: Arc::new(projections::threads::SqlThreadChanges::new(db.read.clone())),
            media_probe,
            clock,
            webhook_outbox: projections::webhook_outbox::SqlWebhookOutbox(db.read.clone()),
            webhook_transport,
            recordings: infrastructure::recordings::RecordingStore::new(&settings.data_dir),
            media_files: infrastructure::media::MediaStore::new(&settings.data_dir),
            mail_directory: infrastructure::mail::send::EventDirectory(db.read.clone()),
            receiving: crate::receiving::Receiving::new(&db, &settings, ImapClient { tls: mail_tls.clone() }, &commits),
            smtp: SmtpClient { tls: mail_tls.clone() },
            imap: ImapClient { tls: mail_tls },
            keyring,
            data_keys: SqlDataKeys(db.read.clone()),
            tester: ProviderConnectionTests { exotel: exotel.clone() },
            exotel,
            limits: RateLimits::new(settings.rate_limit_per_actor, settings.rate_limit_per_organisation),
            projections: ProjectionStore::new(db.read.clone()).with_write_gate(db.write_gate.clone()),
            realtime,
            settings,
            db,
            tokens,
            nats,
            commits,
            metrics,
        });
        application::passwords::decoy_hash().await;
        state
            .integrations()
            .check_keyring()
            .await
            .map_err(|e| InfraError::Config(format!("master keys: {e}")))?;
        Ok(state)
    }

    /// The integration use cases over this state's stores and keyring.
    pub fn integrations(&self) -> Integrations<'_> {
        Integrations {
            store: &self.integrations,
            keys: &self.data_keys,
            cipher: &self.keyring,
            tester: &self.tester,
        }
    }

    /// Who may use or configure the organisation's integrations.
    pub fn access(&self) -> IntegrationAccess<'_> {
        IntegrationAccess {
            permissions: &self.permissions,
            users: &self.users,
        }
    }

    /// The phone-number use cases over this state's store and Exotel client.
    pub fn phone_numbers(&self) -> application::phone_numbers::PhoneNumberBook<'_> {
        application::phone_numbers::PhoneNumberBook {
            store: &self.phone_numbers,
            users: &self.users,
            exotel: self.exotel.as_ref(),
        }
    }

    /// Where new messages and calls go on threads.
    pub fn thread_links(&self) -> application::threads::ThreadLinks<'_> {
        application::threads::ThreadLinks {
            directory: &self.thread_directory,
            store: &self.thread_store,
            reopen_within: chrono::Duration::days(i64::from(self.settings.thread_reopen_days)),
        }
    }

    /// The thread use cases: assignment, closing, reading.
    pub fn threads(&self) -> application::threads::Threads<'_> {
        application::threads::Threads {
            store: &self.thread_store,
            directory: &self.thread_directory,
            users: &self.users,
        }
    }

    /// The customer use cases: linking, merging, editing.
    pub fn customers(&self) -> application::customers::Customers<'_> {
        application::customers::Customers {
            store: &self.receiving.customers,
            directory: &self.customer_directory,
        }
    }

    /// The call use cases over this state's stores and Exotel client.
    pub fn calls(&self) -> application::calls::Calls<'_> {
        let settings = &self.settings;
        application::calls::Calls {
            store: &self.call_store,
            numbers: &self.phone_numbers,
            access: self.access(),
            integrations: self.integrations(),
            voice: self.exotel.as_ref(),
            numbers_api: self.exotel.as_ref(),
            directory: &self.call_directory,
            callbacks: &self.callback_tokens,
            recordings: &self.recordings,
            verified: self.verified_calls.as_ref(),
            timing: application::calls::CallTiming {
                in_doubt_after: std::time::Duration::from_secs(settings.call_in_doubt_after_secs),
                settle: std::time::Duration::from_secs(settings.call_settle_secs),
                ring_timeout_secs: settings.call_ring_timeout_secs,
            },
            threads: self.thread_links(),
        }
    }

    /// The SMS use cases over this state's stores and Exotel client.
    pub fn messages(&self) -> application::messages::Messages<'_> {
        let settings = &self.settings;
        application::messages::Messages {
            store: &self.message_store,
            templates: &self.sms_templates,
            whatsapp_templates: &self.whatsapp_templates,
            whatsapp_template_directory: &self.whatsapp_template_directory,
            organisations: &self.organisations,
            customers: &self.receiving.customers,
            access: self.access(),
            integrations: self.integrations(),
            provider: self.exotel.as_ref(),
            whatsapp: self.exotel.as_ref(),
            inbound: &self.inbound_messages,
            inbound_directory: &self.inbound_directory,
            media_probe: &self.media_probe,
            numbers_api: self.exotel.as_ref(),
            dnd: &self.dnd,
            directory: &self.message_directory,
            template_directory: &self.sms_template_directory,
            callbacks: &self.callback_tokens,
            clock: self.clock.as_ref(),
            timing: application::messages::MessageTiming {
                in_doubt_after: std::time::Duration::from_secs(settings.call_in_doubt_after_secs),
                report_wait: std::time::Duration::from_secs(settings.message_report_wait_secs),
                look_up_after: std::time::Duration::from_secs(settings.message_look_up_after_secs),
            },
            threads: self.thread_links(),
        }
    }

    /// Customers' media files: fetched from the provider and kept.
    pub fn inbound_media(&self) -> application::messages::InboundMedia<'_> {
        application::messages::InboundMedia {
            inbound: &self.inbound_messages,
            integrations: self.integrations(),
            downloader: self.exotel.as_ref(),
            files: &self.media_files,
            pending: &self.inbound_directory,
            clock: self.clock.as_ref(),
        }
    }

    /// The number-masking use cases over this state's stores.
    pub fn masked_sessions(&self) -> application::masked_sessions::MaskedSessions<'_> {
        application::masked_sessions::MaskedSessions {
            store: &self.masked_session_store,
            calls: &self.call_store,
            numbers: &self.phone_numbers,
            directory: &self.masked_session_directory,
            access: self.access(),
        }
    }

    /// The webhook use cases over this state's stores, keyring and HTTP client.
    pub fn webhooks(&self) -> application::webhooks::Webhooks<'_> {
        let settings = &self.settings;
        let secs = std::time::Duration::from_secs;
        application::webhooks::Webhooks {
            store: &self.webhook_endpoints,
            keys: &self.data_keys,
            cipher: &self.keyring,
            outbox: &self.webhook_outbox,
            transport: &self.webhook_transport,
            timing: application::webhooks::WebhookTiming {
                retry_initial: std::time::Duration::from_millis(settings.webhook_retry_initial_ms.max(1)),
                window: secs(settings.webhook_retry_window_secs),
                secret_overlap: secs(settings.webhook_secret_overlap_secs),
                lease: secs(settings.webhook_timeout_secs.max(1) + 30),
            },
        }
    }

    /// The e-mail account use cases over this state's store and keyring.
    pub fn email_accounts(&self) -> application::email_accounts::EmailAccounts<'_> {
        application::email_accounts::EmailAccounts {
            store: &self.email_accounts,
            keys: &self.data_keys,
            cipher: &self.keyring,
        }
    }

    /// The account use cases over this state's stores.
    pub fn accounts(&self) -> Accounts<'_> {
        Accounts {
            organisations: &self.organisations,
            users: &self.users,
            user_addresses: &self.user_addresses,
            logins: &self.logins,
            api_keys: &self.api_keys,
            throttle: &self.login_throttle,
        }
    }
}

async fn connect_nats(url: &str, settings: &Settings) -> Result<Nats, InfraError> {
    let client = infrastructure::nats::connect(url).await?;
    let js = infrastructure::nats::jetstream(client.clone());
    let events = EventStream {
        name: settings.nats_stream.clone(),
        subject_prefix: settings.nats_subject_prefix.clone(),
    };
    Ok(Nats { client, js, events })
}
