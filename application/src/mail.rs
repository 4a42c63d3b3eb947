//! What the application asks of mail servers: connection checks for the
//! account test. Sending and receiving add their own ports beside these.

use async_trait::async_trait;
use serde::Serialize;

use domain::email_account::Server;
use domain::integration::settings::MailSecurity;

use crate::email_accounts::MailAccess;

/// What a check of one server found, in the shape users know:
/// `{success, host, port, secure}` plus the mailbox figures for IMAP, or
/// `{success: false, error}` with the server's own words (`535 …`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ServerCheck {
    pub success: bool,
    pub host: String,
    pub port: u16,
    /// Implicit TLS (465, 993) rather than STARTTLS or plain.
    pub secure: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mailbox_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unread_count: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl ServerCheck {
    /// What a check of `server` found: its mailbox figures (IMAP) when it
    /// answered, else its error.
    pub fn of(server: &Server, outcome: Result<Option<(u64, u64)>, String>) -> Self {
        let (figures, error) = match outcome {
            Ok(figures) => (figures, None),
            Err(error) => (None, Some(error)),
        };
        Self {
            success: error.is_none(),
            host: server.host.clone(),
            port: server.port,
            secure: server.security == MailSecurity::Tls,
            mailbox_count: figures.map(|f| f.0),
            unread_count: figures.map(|f| f.1),
            error,
        }
    }
}

/// Logs in to the account's SMTP server and leaves.
#[async_trait]
pub trait SmtpCheck: Send + Sync {
    async fn check_smtp(&self, access: &MailAccess) -> ServerCheck;
}

/// Logs in to the account's IMAP server, counts mailboxes and unread mail, and leaves.
#[async_trait]
pub trait ImapCheck: Send + Sync {
    async fn check_imap(&self, access: &MailAccess) -> ServerCheck;
}
