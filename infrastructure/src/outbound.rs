//! The one rule for every URL the server requests on a user's behalf (an
//! Exotel `api_host` today; status callbacks and webhooks next), and the
//! HTTP client that keeps it. A URL passes `domain::outbound_url`'s shape
//! rule (http or https, no user name or password), and the address it
//! reaches must be public unless the configuration allows private ones
//! (`SWITCHBOARD_OUTBOUND_ALLOW_PRIVATE`) or lists it
//! (`SWITCHBOARD_OUTBOUND_ALLOW`). The address is checked where it is
//! known: in the URL when written literally, after resolution for a name
//! (a resolver that drops refused addresses), and again for every redirect
//! (a policy that stops at a refused one). Requests go direct, never
//! through a proxy from the environment, so the address checked is the one
//! connected to.

use ipnet::IpNet;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, RwLock};
use url::Url;

use domain::outbound_url::{self, OutboundUrlError};

use crate::config::Settings;
use crate::error::InfraError;

/// Redirects followed at most, as reqwest's own default.
const MAX_REDIRECTS: usize = 10;

/// Why a request was not sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error(transparent)]
    Shape(#[from] OutboundUrlError),
    #[error("{0} is not a public address, and the configuration does not allow it")]
    Address(SocketAddr),
    #[error(
        "{name} resolves only to addresses that are not public ({address}), and the configuration does not allow them"
    )]
    Resolved { name: String, address: IpAddr },
    #[error("{0} resolves to no address")]
    Unresolved(String),
}

/// Which addresses outbound requests may reach. Cheap to clone; clones
/// share what `permit` adds.
#[derive(Debug, Clone, Default)]
pub struct OutboundRule {
    inner: Arc<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    allow_private: bool,
    networks: Vec<IpNet>,
    addresses: RwLock<Vec<SocketAddr>>,
}

impl OutboundRule {
    /// Private addresses refused but for `allow`: comma-separated networks
    /// (`10.1.0.0/16`, `fd00::/8`) and `address:port` pairs.
    pub fn new(allow_private: bool, allow: &str) -> Result<Self, String> {
        let mut networks = Vec::new();
        let mut addresses = Vec::new();
        for entry in allow.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            if let Ok(address) = entry.parse::<SocketAddr>() {
                addresses.push(address);
            } else if let Ok(network) = entry.parse::<IpNet>() {
                networks.push(network);
            } else if let Ok(address) = entry.parse::<IpAddr>() {
                networks.push(IpNet::from(address));
            } else {
                return Err(format!(
                    "{entry:?} is neither a network (10.0.0.0/8) nor an address with a port (10.0.0.5:8443)"
                ));
            }
        }
        Ok(Self {
            inner: Arc::new(Inner {
                allow_private,
                networks,
                addresses: RwLock::new(addresses),
            }),
        })
    }

    /// The rule `SWITCHBOARD_OUTBOUND_ALLOW_PRIVATE` and `SWITCHBOARD_OUTBOUND_ALLOW` set.
    pub fn from_settings(settings: &Settings) -> Result<Self, InfraError> {
        Self::new(settings.outbound_allow_private, &settings.outbound_allow)
            .map_err(|e| InfraError::Config(format!("SWITCHBOARD_OUTBOUND_ALLOW: {e}")))
    }

    /// Every address allowed, private ones too (tests, a simulator here).
    pub fn allowing_private() -> Self {
        Self {
            inner: Arc::new(Inner {
                allow_private: true,
                ..Inner::default()
            }),
        }
    }

    /// Allows one more address, as the sandbox does for its own simulator.
    pub fn permit(&self, address: SocketAddr) {
        if let Ok(mut addresses) = self.inner.addresses.write() {
            addresses.push(address);
        }
    }

    /// Whether a name may resolve to `address`: public, private ones
    /// allowed, or in an allowed network. (An `address:port` entry is for
    /// URLs that name that address; a resolver does not know the port.)
    fn permits_ip(&self, address: IpAddr) -> bool {
        self.inner.allow_private
            || outbound_url::is_public(address)
            || self.inner.networks.iter().any(|n| n.contains(&address))
    }

    /// Whether a URL naming `address` literally may be requested.
    pub fn permits(&self, address: SocketAddr) -> bool {
        self.permits_ip(address.ip())
            || self
                .inner
                .addresses
                .read()
                .is_ok_and(|listed| listed.contains(&address))
    }

    /// The rule for a URL before it is requested or a redirect followed:
    /// its shape, and its address when it names one.
    pub fn check(&self, url: &Url) -> Result<(), Refused> {
        outbound_url::check_shape(url)?;
        let Some(ip) = outbound_url::literal_address(url) else {
            return Ok(());
        };
        let address = SocketAddr::new(ip, url.port_or_known_default().unwrap_or(0));
        match self.permits(address) {
            true => Ok(()),
            false => Err(Refused::Address(address)),
        }
    }

    /// A client builder that keeps the rule: names resolved and filtered by
    /// it, redirects checked by it, no proxy. Callers still `check` a URL
    /// before sending it, since a literal address is never resolved.
    pub fn client_builder(&self) -> reqwest::ClientBuilder {
        let redirects = self.clone();
        reqwest::Client::builder()
            .no_proxy()
            .dns_resolver(Arc::new(FilteringResolver { rule: self.clone() }))
            .redirect(reqwest::redirect::Policy::custom(move |attempt| {
                if attempt.previous().len() >= MAX_REDIRECTS {
                    return attempt.error("too many redirects");
                }
                match redirects.check(attempt.url()) {
                    Ok(()) => attempt.follow(),
                    Err(refused) => attempt.error(refused),
                }
            }))
    }
}

/// The system resolver, keeping only the addresses the rule permits.
struct FilteringResolver {
    rule: OutboundRule,
}

impl Resolve for FilteringResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let rule = self.rule.clone();
        let name = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let permitted: Vec<SocketAddr> = found.iter().copied().filter(|a| rule.permits_ip(a.ip())).collect();
            match (permitted.is_empty(), found.first()) {
                (false, _) => Ok(Box::new(permitted.into_iter()) as Addrs),
                (true, Some(first)) => Err(Refused::Resolved {
                    name,
                    address: first.ip(),
                }
                .into()),
                (true, None) => Err(Refused::Unresolved(name).into()),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap()
    }

    #[test]
    fn a_private_literal_address_is_refused_unless_allowed() {
        let strict = OutboundRule::default();
        assert_eq!(
            strict.check(&url("http://10.0.0.1/")),
            Err(Refused::Address("10.0.0.1:80".parse().unwrap()))
        );
        assert!(strict.check(&url("https://[::ffff:127.0.0.1]/")).is_err());
        assert_eq!(strict.check(&url("https://93.184.215.14/")), Ok(()));
        assert_eq!(
            strict.check(&url("https://api.exotel.com/")),
            Ok(()),
            "names are checked once resolved"
        );
        assert_eq!(
            OutboundRule::allowing_private().check(&url("http://127.0.0.1:9/")),
            Ok(())
        );
    }

    #[test]
    fn userinfo_is_refused_whatever_the_configuration() {
        let open = OutboundRule::allowing_private();
        assert_eq!(
            open.check(&url("http://127.0.0.1:1@evil.example/")),
            Err(Refused::Shape(OutboundUrlError::Userinfo))
        );
    }

    #[test]
    fn the_allow_list_names_networks_and_exact_addresses() {
        let rule = OutboundRule::new(false, "10.1.0.0/16, 192.168.7.7, 127.0.0.1:4000").unwrap();
        assert_eq!(rule.check(&url("http://10.1.200.3/")), Ok(()));
        assert!(rule.check(&url("http://10.2.0.1/")).is_err());
        assert_eq!(rule.check(&url("http://192.168.7.7:81/")), Ok(()));
        assert_eq!(rule.check(&url("http://127.0.0.1:4000/")), Ok(()));
        assert!(rule.check(&url("http://127.0.0.1:4001/")).is_err());
        assert!(
            !rule.permits_ip("127.0.0.1".parse().unwrap()),
            "an address:port is not a network"
        );
        assert!(OutboundRule::new(false, "intranet").is_err());
    }

    #[test]
    fn an_address_permitted_later_is_seen_by_every_clone() {
        let rule = OutboundRule::default();
        let clone = rule.clone();
        let simulator: SocketAddr = "127.0.0.1:4010".parse().unwrap();
        assert!(!clone.permits(simulator));
        rule.permit(simulator);
        assert!(clone.permits(simulator));
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused_by_the_resolver_unless_allowed() {
        let name: Name = "localhost".parse().unwrap();
        let strict = FilteringResolver {
            rule: OutboundRule::default(),
        };
        let refused = strict.resolve(name).await.err().unwrap();
        assert!(refused.to_string().contains("localhost resolves only to"), "{refused}");
        let open = FilteringResolver {
            rule: OutboundRule::allowing_private(),
        };
        let found: Vec<_> = open.resolve("localhost".parse().unwrap()).await.unwrap().collect();
        assert!(found.iter().all(|a| a.ip().is_loopback()) && !found.is_empty());
    }
}
