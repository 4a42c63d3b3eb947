//! Mail clients: SMTP (lettre) and IMAP (async-imap over tokio-rustls).
//! Both trust the public web roots plus, when configured, extra CA
//! certificates (a company's own mail relay, or a test server's
//! self-signed certificate) — never "accept any certificate".

pub mod attachments;
pub mod imap;
pub mod parse;
pub mod poll;
pub mod send;
pub mod smtp;

use std::sync::Arc;
use std::time::Duration;
use tokio_rustls::rustls::pki_types::CertificateDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::error::InfraError;

/// How mail connections are made: which certificates are trusted and how
/// long a server may take.
#[derive(Clone)]
pub struct MailTls {
    extra_pem: Arc<Vec<u8>>,
    config: Arc<ClientConfig>,
    pub timeout: Duration,
}

impl std::fmt::Debug for MailTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MailTls")
            .field("timeout", &self.timeout)
            .finish_non_exhaustive()
    }
}

impl MailTls {
    /// Web roots, plus the PEM certificates in `extra_ca_file` if given.
    pub fn new(extra_ca_file: Option<&std::path::Path>, timeout: Duration) -> Result<Self, InfraError> {
        let extra_pem = match extra_ca_file {
            Some(path) => {
                std::fs::read(path).map_err(|e| InfraError::Config(format!("mail CA file {}: {e}", path.display())))?
            }
            None => Vec::new(),
        };
        let mut roots = RootCertStore::empty();
        roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        for cert in CertificateDer::pem_slice_iter(&extra_pem) {
            let cert = cert.map_err(|e| InfraError::Config(format!("mail CA file: {e}")))?;
            roots
                .add(cert)
                .map_err(|e| InfraError::Config(format!("mail CA file: {e}")))?;
        }
        let config = ClientConfig::builder()
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(Self {
            extra_pem: Arc::new(extra_pem),
            config: Arc::new(config),
            timeout,
        })
    }

    /// The rustls configuration for IMAP.
    pub fn client_config(&self) -> Arc<ClientConfig> {
        self.config.clone()
    }

    /// The extra CA certificates, PEM, for lettre.
    pub fn extra_pem(&self) -> &[u8] {
        &self.extra_pem
    }
}
