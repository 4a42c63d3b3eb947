//! IMAP sessions through async-imap: implicit TLS (993), STARTTLS (143), or
//! plain only where an account says so.

use async_imap::{Client, Session};
use async_trait::async_trait;
use futures::TryStreamExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_util::either::Either;

use application::email_accounts::MailAccess;
use application::mail::{ImapCheck, ServerCheck};
use domain::integration::settings::MailSecurity;

use super::MailTls;

/// A connection to an IMAP server, with or without TLS.
pub type ImapStream = Either<TcpStream, TlsStream<TcpStream>>;
/// A logged-in IMAP session.
pub type ImapSession = Session<ImapStream>;

/// IMAP for every account, over the shared TLS trust.
#[derive(Debug, Clone)]
pub struct ImapClient {
    pub tls: MailTls,
}

/// Why an IMAP session could not be had.
#[derive(Debug, thiserror::Error)]
pub enum ImapError {
    #[error("connecting to {host}:{port}: {reason}")]
    Connect { host: String, port: u16, reason: String },
    /// The server refused the login (a wrong password, a disabled account).
    #[error("login refused: {0}")]
    Login(String),
    #[error("IMAP: {0}")]
    Protocol(String),
}

impl ImapClient {
    /// Connects, secures and logs in as the account.
    pub async fn session(&self, access: &MailAccess) -> Result<ImapSession, ImapError> {
        let server = &access.settings.imap;
        let connect_error = |reason: String| ImapError::Connect {
            host: server.host.clone(),
            port: server.port,
            reason,
        };
        let connected = tokio::time::timeout(
            self.tls.timeout,
            self.connect(&server.host, server.port, server.security),
        );
        let client = connected
            .await
            .map_err(|_| connect_error("timed out".into()))?
            .map_err(connect_error)?;
        let login = client.login(&server.user, access.imap_password.as_str());
        match tokio::time::timeout(self.tls.timeout, login).await {
            Ok(Ok(session)) => Ok(session),
            Ok(Err((error, _))) => Err(ImapError::Login(error.to_string())),
            Err(_) => Err(ImapError::Protocol("the login timed out".into())),
        }
    }

    async fn connect(&self, host: &str, port: u16, security: MailSecurity) -> Result<Client<ImapStream>, String> {
        let tcp = TcpStream::connect((host, port)).await.map_err(|e| e.to_string())?;
        let mut client = match security {
            MailSecurity::Tls => Client::new(Either::Right(self.secure(host, tcp).await?)),
            MailSecurity::None => Client::new(Either::Left(tcp)),
            MailSecurity::Starttls => {
                let mut plain = Client::new(Either::Left(tcp));
                greeting(&mut plain).await?;
                plain
                    .run_command_and_check_ok("STARTTLS", None)
                    .await
                    .map_err(|e| e.to_string())?;
                let Either::Left(tcp) = plain.into_inner() else {
                    return Err("STARTTLS on a connection that is already secure".into());
                };
                return Ok(Client::new(Either::Right(self.secure(host, tcp).await?)));
            }
        };
        greeting(&mut client).await?;
        Ok(client)
    }

    async fn secure(&self, host: &str, tcp: TcpStream) -> Result<TlsStream<TcpStream>, String> {
        let name = ServerName::try_from(host.to_string()).map_err(|e| e.to_string())?;
        TlsConnector::from(self.tls.client_config())
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS: {e}"))
    }
}

async fn greeting(client: &mut Client<ImapStream>) -> Result<(), String> {
    match client.read_response().await {
        Ok(Some(_)) => Ok(()),
        Ok(None) => Err("the server closed the connection before its greeting".into()),
        Err(error) => Err(error.to_string()),
    }
}

/// Mailboxes and unread messages in the first watched folder.
async fn count(session: &mut ImapSession, folder: &str) -> Result<(u64, u64), ImapError> {
    let protocol = |e: async_imap::error::Error| ImapError::Protocol(e.to_string());
    let names: Vec<_> = session
        .list(None, Some("*"))
        .await
        .map_err(protocol)?
        .try_collect()
        .await
        .map_err(protocol)?;
    let status = session.status(folder, "(MESSAGES UNSEEN)").await.map_err(protocol)?;
    Ok((names.len() as u64, u64::from(status.unseen.unwrap_or(0))))
}

#[async_trait]
impl ImapCheck for ImapClient {
    async fn check_imap(&self, access: &MailAccess) -> ServerCheck {
        let folder = access.settings.folders.first().map(String::as_str).unwrap_or("INBOX");
        let counted = match self.session(access).await {
            Ok(mut session) => {
                let counted = count(&mut session, folder).await;
                let _ = session.logout().await;
                counted
            }
            Err(error) => Err(error),
        };
        ServerCheck::of(&access.settings.imap, counted.map(Some).map_err(|e| e.to_string()))
    }
}
