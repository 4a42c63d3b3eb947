//! The pure half of the rule for every URL the server requests on a user's
//! behalf (an Exotel `api_host`, a status callback, a webhook): what shape
//! such a URL may have, and which addresses are not public. Whether private
//! addresses may be reached anyway is configuration, applied by the HTTP
//! client in `infrastructure::outbound`, which also checks what a name
//! resolves to and where a redirect points.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use url::{Host, Url};

/// Why a URL may not be requested.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OutboundUrlError {
    #[error("not a URL")]
    NotAUrl,
    #[error("only http and https URLs may be requested")]
    Scheme,
    #[error("a URL may not carry a user name or password")]
    Userinfo,
    #[error("{0} is not a public address")]
    PrivateAddress(IpAddr),
}

/// `text` parsed as a URL the server may request: `http` or `https`, a
/// host, and no user name or password (`http://127.0.0.1:1@evil.example/`
/// names the host `evil.example`, whatever its prefix looks like).
pub fn parse(text: &str) -> Result<Url, OutboundUrlError> {
    let url = Url::parse(text.trim()).map_err(|_| OutboundUrlError::NotAUrl)?;
    check_shape(&url)?;
    Ok(url)
}

/// The shape rule alone, for a URL already parsed (a redirect's target).
/// An `http` or `https` URL always has a non-empty host: the URL standard
/// refuses one without.
pub fn check_shape(url: &Url) -> Result<(), OutboundUrlError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(OutboundUrlError::Scheme);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(OutboundUrlError::Userinfo);
    }
    Ok(())
}

/// The address a URL names literally (`http://10.0.0.1/`, `http://[::1]/`,
/// and the decimal and shortened IPv4 forms the URL standard reads as
/// addresses); `None` for a name, which must be checked once resolved.
pub fn literal_address(url: &Url) -> Option<IpAddr> {
    match url.host()? {
        Host::Ipv4(v4) => Some(IpAddr::V4(v4)),
        Host::Ipv6(v6) => Some(IpAddr::V6(v6)),
        Host::Domain(_) => None,
    }
}

/// Whether an address is a public unicast one. Refused: unspecified,
/// "this network", loopback, private (RFC 1918, ULA), shared (CGNAT
/// 100.64/10), link-local, benchmarking, IETF protocol, multicast,
/// reserved and broadcast; and every IPv6 form that carries one of those
/// IPv4 addresses (mapped, compatible, NAT64, 6to4).
pub fn is_public(address: IpAddr) -> bool {
    match address {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(address: Ipv4Addr) -> bool {
    let [a, b, c, _] = address.octets();
    let refused = a == 0
        || a == 10
        || a == 127
        || (a == 100 && (64..128).contains(&b))
        || (a == 169 && b == 254)
        || (a == 172 && (16..32).contains(&b))
        || (a == 192 && b == 0 && c == 0)
        || (a == 192 && b == 168)
        || (a == 198 && (18..20).contains(&b))
        || a >= 224;
    !refused
}

fn is_public_v6(address: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(address) {
        return is_public_v4(v4);
    }
    let first = address.segments()[0];
    let refused = address.is_unspecified()
        || address.is_loopback()
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        || (first & 0xff00) == 0xff00;
    !refused
}

/// The IPv4 address an IPv6 one stands for: `::ffff:a.b.c.d` (mapped),
/// `::a.b.c.d` (compatible, but not `::` and `::1`), `64:ff9b::a.b.c.d`
/// (NAT64) and `2002:aabb:ccdd::/48` (6to4).
fn embedded_v4(address: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = address.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail),
        [0, 0, 0, 0, 0, 0, 0, 0] | [0, 0, 0, 0, 0, 0, 0, 1] => None,
        [0, 0, 0, 0, 0, 0, _, _] => Some(tail),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),
        [0x2002, high, low, ..] => Some(Ipv4Addr::new(
            (high >> 8) as u8,
            high as u8,
            (low >> 8) as u8,
            low as u8,
        )),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_ipv4_address_inside_an_ipv6_one_is_read_octet_by_octet() {
        let inside = |text: &str| embedded_v4(text.parse().unwrap());
        let four = Some(Ipv4Addr::new(1, 2, 3, 4));
        assert_eq!(inside("::ffff:1.2.3.4"), four);
        assert_eq!(inside("::1.2.3.4"), four);
        assert_eq!(inside("64:ff9b::1.2.3.4"), four);
        assert_eq!(inside("2002:102:304::1"), four);
        assert_eq!(inside("::"), None);
        assert_eq!(inside("::1"), None);
        assert_eq!(inside("2001:db8::1"), None);
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn given_a_prefix_that_looks_like_loopback_when_the_url_carries_userinfo_then_it_is_refused() {
        for text in [
            "http://127.0.0.1:1@evil.example/",
            "http://evil.example@127.0.0.1:1/",
            "http://user:pass@api.exotel.com",
            "http://:pass@api.exotel.com",
        ] {
            assert_eq!(parse(text), Err(OutboundUrlError::Userinfo), "{text}");
        }
    }

    #[test]
    fn given_a_url_when_its_scheme_is_not_http_then_it_is_refused() {
        for text in ["ftp://api.exotel.com", "file:///etc/passwd", "gopher://127.0.0.1:25/"] {
            assert_eq!(parse(text), Err(OutboundUrlError::Scheme), "{text}");
        }
    }

    #[test]
    fn given_text_that_is_not_a_url_then_it_is_refused() {
        for text in ["api.exotel.com", "", "http://", "http://[::1"] {
            assert_eq!(parse(text), Err(OutboundUrlError::NotAUrl), "{text}");
        }
    }

    #[test]
    fn given_a_plain_http_or_https_url_then_it_is_accepted_as_written() {
        let url = parse(" https://api.exotel.com:8443/v1 ").unwrap();
        assert_eq!((url.host_str(), url.port()), (Some("api.exotel.com"), Some(8443)));
        assert!(parse("http://127.0.0.1:9000").is_ok());
    }

    #[test]
    fn given_an_address_written_as_a_host_then_it_is_read_as_the_url_standard_reads_it() {
        for text in [
            "http://127.0.0.1/",
            "http://127.1/",
            "http://2130706433/",
            "http://0x7f.0.0.1/",
        ] {
            assert_eq!(literal_address(&parse(text).unwrap()), Some(ip("127.0.0.1")), "{text}");
        }
        assert_eq!(literal_address(&parse("http://[::1]:8/").unwrap()), Some(ip("::1")));
        assert_eq!(literal_address(&parse("http://localhost:8/").unwrap()), None);
    }

    #[test]
    fn given_a_non_public_ipv4_address_then_it_is_not_public() {
        for text in [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "10.255.255.255",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.0.9",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "224.0.0.1",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            assert!(!is_public(ip(text)), "{text}");
        }
    }

    #[test]
    fn given_a_public_ipv4_address_beside_a_refused_range_then_it_is_public() {
        for text in [
            "1.1.1.1",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.0.1",
            "169.255.0.1",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.1.0.0",
            "192.167.0.1",
            "192.169.0.1",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "168.254.0.1",
            "99.64.0.1",
            "171.16.0.1",
            "191.168.0.1",
            "197.18.0.1",
            "193.0.0.1",
        ] {
            assert!(is_public(ip(text)), "{text}");
        }
    }

    #[test]
    fn given_a_non_public_ipv6_address_then_it_is_not_public() {
        for text in [
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "2002:7f00:1::",
            "2002:c0a8:101::1",
        ] {
            assert!(!is_public(ip(text)), "{text}");
        }
    }

    #[test]
    fn given_a_public_ipv6_address_or_one_carrying_a_public_ipv4_then_it_is_public() {
        for text in [
            "2606:4700::1111",
            "2001:4860:4860::8888",
            "fbff::1",
            "fe00::1",
            "::ffff:1.1.1.1",
            "::1.1.1.1",
            "64:ff9b::1.1.1.1",
            "2002:101:101::1",
            "1::ffff:7f00:1",
            "0:0:0:0:1:ffff:7f00:1",
            "64:ff9a::7f00:1",
            "65:ff9b::7f00:1",
            "64:ff9b:1::7f00:1",
            "2003:7f00:1::",
        ] {
            assert!(is_public(ip(text)), "{text}");
        }
    }
}
