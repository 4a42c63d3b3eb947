//! SMTP through lettre: STARTTLS (587), implicit TLS (465), or plain only
//! where an account says so (a relay on the same machine or network).

use async_trait::async_trait;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, Tokio1Executor};

use application::email_accounts::MailAccess;
use application::mail::{ServerCheck, SmtpCheck};
use domain::integration::settings::MailSecurity;

use super::MailTls;

/// SMTP for every account, over the shared TLS trust.
#[derive(Debug, Clone)]
pub struct SmtpClient {
    pub tls: MailTls,
}

impl SmtpClient {
    /// A transport logged in as the account, secured as it says.
    pub fn transport(
        &self,
        access: &MailAccess,
    ) -> Result<AsyncSmtpTransport<Tokio1Executor>, lettre::transport::smtp::Error> {
        let server = &access.settings.smtp;
        let credentials = Credentials::new(server.user.clone(), access.smtp_password.to_string());
        let builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(server.host.clone())
            .port(server.port)
            .credentials(credentials)
            .timeout(Some(self.tls.timeout));
        let builder = match server.security {
            MailSecurity::Starttls => builder.tls(Tls::Required(self.parameters(&server.host)?)),
            MailSecurity::Tls => builder.tls(Tls::Wrapper(self.parameters(&server.host)?)),
            MailSecurity::None => builder.tls(Tls::None),
        };
        Ok(builder.build())
    }

    pub(crate) fn parameters(&self, host: &str) -> Result<TlsParameters, lettre::transport::smtp::Error> {
        let mut builder = TlsParameters::builder(host.to_string());
        if !self.tls.extra_pem().is_empty() {
            builder = builder.add_root_certificate(Certificate::from_pem(self.tls.extra_pem())?);
        }
        builder.build_rustls()
    }
}

/// The server's refusal in the words users search for: `Invalid login: 535 …`.
pub fn describe(error: &lettre::transport::smtp::Error) -> String {
    match error.status().map(|code| code.to_string()) {
        Some(code) if code == "535" => format!("Invalid login: {error}"),
        _ => error.to_string(),
    }
}

#[async_trait]
impl SmtpCheck for SmtpClient {
    async fn check_smtp(&self, access: &MailAccess) -> ServerCheck {
        let tested = match self.transport(access) {
            Ok(transport) => transport.test_connection().await,
            Err(error) => Err(error),
        };
        let outcome = match tested {
            Ok(true) => Ok(None),
            Ok(false) => Err("the server did not accept the connection".to_string()),
            Err(error) => Err(describe(&error)),
        };
        ServerCheck::of(&access.settings.smtp, outcome)
    }
}
