//! The SMTP conversation, one step at a time: connect and secure (STARTTLS
//! on 587, implicit TLS on 465, plain only for an account whose security is
//! `none`), log in, `MAIL FROM`, `RCPT TO` — then the caller records that
//! the send started, and only then `DATA`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use lettre::transport::smtp::authentication::{Credentials, DEFAULT_MECHANISMS};
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::ClientId;
use lettre::transport::smtp::response::Response;
use std::future::Future;
use std::time::Duration;

use application::email_accounts::MailAccess;
use application::outbound_email::{AttachmentFile, DataOutcome, MailSender, SmtpSession};
use domain::EmailAddress;
use domain::integration::settings::MailSecurity;
use domain::outbound_email::{DraftError, OutboundMessage, SmtpFailure, SmtpStage};

use super::address;
use crate::mail::smtp::SmtpClient;

type SmtpError = lettre::transport::smtp::Error;

/// Extra time allowed to write a large message: one second per 256 KiB.
const UPLOAD_BYTES_PER_SEC: usize = 256 * 1024;

/// A failure in the server's words: `535 5.7.8 Error: authentication failed: …`.
pub fn failure(stage: SmtpStage, error: &SmtpError) -> SmtpFailure {
    let code = error.status().and_then(|c| c.to_string().parse::<u16>().ok());
    let message = match (code, std::error::Error::source(error)) {
        (Some(code), Some(text)) => format!("{code} {text}"),
        _ => error.to_string(),
    };
    SmtpFailure {
        stage,
        code,
        message,
        permanent: error.is_permanent(),
    }
}

fn timed_out(stage: SmtpStage) -> SmtpFailure {
    SmtpFailure {
        stage,
        code: None,
        message: "the mail server did not answer in time".into(),
        permanent: false,
    }
}

async fn step<T>(
    stage: SmtpStage,
    limit: Duration,
    work: impl Future<Output = Result<T, SmtpError>>,
) -> Result<T, SmtpFailure> {
    match tokio::time::timeout(limit, work).await {
        Ok(Ok(value)) => Ok(value),
        Ok(Err(error)) => Err(failure(stage, &error)),
        Err(_) => Err(timed_out(stage)),
    }
}

/// `QUIT` and close, without waiting long for a server that hangs.
async fn close(conn: &mut AsyncSmtpConnection, limit: Duration) {
    let _ = tokio::time::timeout(limit, conn.abort()).await;
}

fn reply(response: &Response) -> (u16, String) {
    let code = response.code().to_string().parse::<u16>().unwrap_or(250);
    let text = response.message().collect::<Vec<_>>().join(" ");
    (code, text)
}

impl SmtpClient {
    async fn connect(&self, access: &MailAccess) -> Result<AsyncSmtpConnection, SmtpError> {
        let server = &access.settings.smtp;
        let hello = ClientId::default();
        let target = (server.host.as_str(), server.port);
        let timeout = Some(self.tls.timeout);
        match server.security {
            MailSecurity::Tls => {
                let tls = self.parameters(&server.host)?;
                AsyncSmtpConnection::connect_tokio1(target, timeout, &hello, Some(tls), None).await
            }
            MailSecurity::Starttls => {
                let tls = self.parameters(&server.host)?;
                let mut conn = AsyncSmtpConnection::connect_tokio1(target, timeout, &hello, None, None).await?;
                conn.starttls(tls, &hello).await?;
                Ok(conn)
            }
            MailSecurity::None => AsyncSmtpConnection::connect_tokio1(target, timeout, &hello, None, None).await,
        }
    }

    async fn login_and_envelope(
        &self,
        conn: &mut AsyncSmtpConnection,
        access: &MailAccess,
        from: &EmailAddress,
        recipients: &[EmailAddress],
    ) -> Result<(), SmtpFailure> {
        let limit = self.tls.timeout;
        let credentials = Credentials::new(access.settings.smtp.user.clone(), access.smtp_password.to_string());
        step(SmtpStage::Login, limit, conn.auth(DEFAULT_MECHANISMS, &credentials)).await?;
        let envelope_error = |e: DraftError| SmtpFailure {
            stage: SmtpStage::Envelope,
            code: None,
            message: e.to_string(),
            permanent: true,
        };
        let sender = address("from", from).map_err(envelope_error)?;
        step(
            SmtpStage::Envelope,
            limit,
            conn.command(Mail::new(Some(sender), vec![])),
        )
        .await?;
        for recipient in recipients {
            let recipient = address("to", recipient).map_err(envelope_error)?;
            step(SmtpStage::Envelope, limit, conn.command(Rcpt::new(recipient, vec![]))).await?;
        }
        Ok(())
    }
}

#[async_trait]
impl MailSender for SmtpClient {
    fn compose(
        &self,
        message: &OutboundMessage,
        attachments: &[AttachmentFile],
        date: DateTime<Utc>,
    ) -> Result<Vec<u8>, DraftError> {
        super::compose(message, attachments, date)
    }

    async fn open(
        &self,
        access: &MailAccess,
        from: &EmailAddress,
        recipients: &[EmailAddress],
    ) -> Result<Box<dyn SmtpSession>, SmtpFailure> {
        let limit = self.tls.timeout;
        let mut conn = step(SmtpStage::Connect, limit, self.connect(access)).await?;
        if let Err(failure) = self.login_and_envelope(&mut conn, access, from, recipients).await {
            close(&mut conn, limit).await;
            return Err(failure);
        }
        Ok(Box::new(LettreSession { conn, limit }))
    }
}

/// A logged-in connection with the envelope given, waiting for `DATA`.
struct LettreSession {
    conn: AsyncSmtpConnection,
    limit: Duration,
}

#[async_trait]
impl SmtpSession for LettreSession {
    async fn data(mut self: Box<Self>, message: &[u8]) -> DataOutcome {
        // Until the message is written, the server has nothing to deliver.
        if let Err(failure) = step(SmtpStage::Data, self.limit, self.conn.command(Data)).await {
            close(&mut self.conn, self.limit).await;
            return DataOutcome::Refused(failure);
        }
        let limit = self.limit + Duration::from_secs((message.len() / UPLOAD_BYTES_PER_SEC) as u64);
        let outcome = match tokio::time::timeout(limit, self.conn.message(message)).await {
            Ok(Ok(response)) => {
                let (code, response) = reply(&response);
                DataOutcome::Accepted { code, response }
            }
            Ok(Err(error)) if error.status().is_some() => DataOutcome::Refused(failure(SmtpStage::Data, &error)),
            Ok(Err(error)) => DataOutcome::Unknown(error.to_string()),
            Err(_) => DataOutcome::Unknown("no answer to the message in time".into()),
        };
        close(&mut self.conn, self.limit).await;
        outcome
    }

    async fn abandon(mut self: Box<Self>) {
        close(&mut self.conn, self.limit).await;
    }
}
