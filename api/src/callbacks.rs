//! Where Exotel posts an integration's call status callbacks, and the
//! token that lets a callback in. Exotel does not sign callbacks, so the
//! path carries a token: an HMAC of the integration's id under a key
//! derived from the server's secret, so nothing secret is stored and every
//! process computes the same token. It is compared in constant time.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use secrecy::{ExposeSecret, SecretString};
use sha2::Sha256;
use std::net::SocketAddr;
use std::sync::RwLock;
use uuid::Uuid;

use application::calls::CallbackUrls;

type HmacSha256 = Hmac<Sha256>;

/// The callback URLs and tokens of this deployment.
pub struct CallbackTokens {
    key: [u8; 32],
    /// `SWITCHBOARD_PUBLIC_URL`, when configured.
    public: Option<String>,
    /// This process's own listen address, for providers on this machine
    /// or network (the simulator) when no public URL is configured.
    local: RwLock<Option<String>>,
}

impl CallbackTokens {
    pub fn new(server_secret: &SecretString, public: Option<String>) -> Self {
        let mut mac = keyed(server_secret.expose_secret().as_bytes());
        mac.update(b"switchboard/exotel-callback-token/v1");
        let key = mac.finalize().into_bytes().into();
        Self {
            key,
            public: public.map(|p| p.trim_end_matches('/').to_string()),
            local: RwLock::new(None),
        }
    }

    /// The address this process listens on, used when no public URL is set.
    pub fn listening_on(&self, addr: SocketAddr) {
        if let Ok(mut local) = self.local.write() {
            *local = Some(format!("http://{addr}"));
        }
    }

    /// Whether a public URL is configured.
    pub fn has_public_url(&self) -> bool {
        self.public.is_some()
    }

    /// Generation 0 is the integration's id alone, so tokens made before
    /// rotation existed stay what they were.
    fn mac(&self, integration_id: Uuid, generation: u32) -> HmacSha256 {
        let mut mac = keyed(&self.key);
        mac.update(integration_id.as_bytes());
        if generation > 0 {
            mac.update(&generation.to_be_bytes());
        }
        mac
    }

    /// The token of a generation in the integration's callback path.
    pub fn token(&self, integration_id: Uuid, generation: u32) -> String {
        URL_SAFE_NO_PAD.encode(self.mac(integration_id, generation).finalize().into_bytes())
    }

    /// Whether `token` is the integration's of `generation`, compared in constant time.
    pub fn verify(&self, integration_id: Uuid, generation: u32, token: &str) -> bool {
        match URL_SAFE_NO_PAD.decode(token.as_bytes()) {
            Ok(bytes) => self.mac(integration_id, generation).verify_slice(&bytes).is_ok(),
            Err(_) => false,
        }
    }

    fn route_url(base: &str, integration_id: Uuid, token: &str, route: &str) -> String {
        format!("{base}/webhooks/exotel/{integration_id}/{token}/{route}")
    }

    /// The URL of one of the integration's webhook routes (`calls`,
    /// `passthru`, `connect`) as a provider at `provider_base_url` reaches
    /// it: under the public URL, or this process's own address for a
    /// provider on this machine or a private network; `None` otherwise.
    pub fn webhook_url(
        &self,
        integration_id: Uuid,
        generation: u32,
        provider_base_url: &str,
        route: &str,
    ) -> Option<String> {
        let token = self.token(integration_id, generation);
        if let Some(public) = &self.public {
            return Some(Self::route_url(public, integration_id, &token, route));
        }
        let local = self.local.read().ok()?.clone()?;
        is_local(provider_base_url).then(|| Self::route_url(&local, integration_id, &token, route))
    }
}

/// A request path as logged: the token of a provider webhook path
/// (`/webhooks/exotel/{integration_id}/{token}/…`) is a secret, and is
/// written as `…`.
pub fn logged_path(path: &str) -> std::borrow::Cow<'_, str> {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["", "webhooks", provider, integration, _token, rest @ ..] => {
            let mut logged = format!("/webhooks/{provider}/{integration}/…");
            for part in rest {
                logged.push('/');
                logged.push_str(part);
            }
            std::borrow::Cow::Owned(logged)
        }
        _ => std::borrow::Cow::Borrowed(path),
    }
}

fn keyed(key: &[u8]) -> HmacSha256 {
    match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        // HMAC takes keys of any length.
        Err(_) => unreachable!("HMAC accepts every key length"),
    }
}

/// Whether a provider at `base_url` is on this machine or a private
/// network, so it can reach this process's own address.
fn is_local(base_url: &str) -> bool {
    let Ok(url) = url::Url::parse(base_url) else {
        return false;
    };
    match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback() || ip.is_private(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => name == "localhost",
        None => false,
    }
}

impl CallbackUrls for CallbackTokens {
    fn status_callback(&self, integration_id: Uuid, generation: u32, provider_base_url: &str) -> Option<String> {
        self.webhook_url(integration_id, generation, provider_base_url, "calls")
    }

    fn webhook(&self, integration_id: Uuid, generation: u32, provider_base_url: &str, route: &str) -> Option<String> {
        self.webhook_url(integration_id, generation, provider_base_url, route)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tokens(public: Option<&str>) -> CallbackTokens {
        CallbackTokens::new(
            &SecretString::from("a server secret of thirty-two bytes!"),
            public.map(str::to_string),
        )
    }

    #[test]
    fn a_webhook_paths_token_is_not_logged() {
        assert_eq!(
            logged_path("/webhooks/exotel/0f1e/s3cr3t-token/calls"),
            "/webhooks/exotel/0f1e/…/calls"
        );
        assert_eq!(logged_path("/webhooks/exotel/0f1e/s3cr3t"), "/webhooks/exotel/0f1e/…");
        assert_eq!(logged_path("/api/v1/calls/abc"), "/api/v1/calls/abc");
        assert_eq!(logged_path("/webhooks/exotel"), "/webhooks/exotel");
    }

    #[test]
    fn a_token_verifies_for_its_integration_only() {
        let tokens = tokens(None);
        let (one, two) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let token = tokens.token(one, 0);
        assert!(tokens.verify(one, 0, &token));
        assert!(!tokens.verify(two, 0, &token));
        assert!(!tokens.verify(one, 1, &token), "a rotation retires the token");
        assert!(tokens.verify(one, 1, &tokens.token(one, 1)));
        assert_ne!(tokens.token(one, 1), tokens.token(one, 2));
        assert!(!tokens.verify(one, 0, "not-base64-!!"));
        assert!(!tokens.verify(one, 0, &token[..token.len() - 2]));
        let other = CallbackTokens::new(&SecretString::from("another server secret of 32 bytes"), None);
        assert!(
            !other.verify(one, 0, &token),
            "another server's secret makes other tokens"
        );
    }

    #[test]
    fn the_public_url_is_used_for_every_provider_and_the_own_address_only_for_local_ones() {
        let id = Uuid::from_u128(1);
        let public = tokens(Some("https://sb.example.com/"));
        let url = public.status_callback(id, 2, "https://api.exotel.com").unwrap();
        assert_eq!(
            url,
            format!(
                "https://sb.example.com/webhooks/exotel/{id}/{}/calls",
                public.token(id, 2)
            )
        );
        let local = tokens(None);
        assert_eq!(
            local.status_callback(id, 0, "http://127.0.0.1:4010"),
            None,
            "not listening yet"
        );
        local.listening_on("127.0.0.1:8080".parse().unwrap());
        assert!(
            local
                .status_callback(id, 0, "http://127.0.0.1:4010")
                .unwrap()
                .starts_with("http://127.0.0.1:8080/")
        );
        assert!(local.status_callback(id, 0, "http://10.0.0.5").is_some());
        assert_eq!(local.status_callback(id, 0, "https://api.exotel.com"), None);
        assert!(!local.has_public_url() && public.has_public_url());
    }
}
