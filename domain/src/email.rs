use serde::{Deserialize, Serialize};
use std::fmt;

/// A normalised e-mail address: trimmed, lower-cased, one `@` with text on
/// both sides and a dot in the domain.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EmailAddress(String);

/// Why a text is not an e-mail address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a valid e-mail address")]
pub struct InvalidEmail;

impl EmailAddress {
    /// Validates and normalises an address.
    pub fn parse(text: &str) -> Result<Self, InvalidEmail> {
        let text = text.trim().to_lowercase();
        let (local, domain) = text.split_once('@').ok_or(InvalidEmail)?;
        let well_formed = !local.is_empty()
            && text.len() <= 254
            && domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains('@')
            && !text.chars().any(|c| c.is_whitespace() || c.is_control());
        if well_formed { Ok(Self(text)) } else { Err(InvalidEmail) }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether mail can be sent to the address: the send route's rule
    /// (SMTP here takes plain ASCII addresses only), also applied to the
    /// addresses users sign in with.
    pub fn is_sendable(&self) -> bool {
        self.0.is_ascii()
    }
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for EmailAddress {
    type Error = InvalidEmail;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<EmailAddress> for String {
    fn from(value: EmailAddress) -> Self {
        value.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_is_trimmed_and_lower_cased() {
        let email = EmailAddress::parse("  Asha@Example.COM ").unwrap();
        assert_eq!(email.as_str(), "asha@example.com");
    }

    #[test]
    fn an_address_without_a_domain_dot_is_refused() {
        assert_eq!(EmailAddress::parse("asha@localhost"), Err(InvalidEmail));
        assert_eq!(EmailAddress::parse("asha"), Err(InvalidEmail));
        assert_eq!(EmailAddress::parse("@example.com"), Err(InvalidEmail));
        assert_eq!(EmailAddress::parse("a b@example.com"), Err(InvalidEmail));
    }

    #[test]
    fn an_address_is_at_most_254_characters() {
        let local = "a".repeat(254 - "@example.in".len());
        assert!(EmailAddress::parse(&format!("{local}@example.in")).is_ok());
        assert_eq!(EmailAddress::parse(&format!("{local}a@example.in")), Err(InvalidEmail));
    }

    #[test]
    fn a_domain_neither_starts_nor_ends_with_a_dot_nor_holds_a_second_at() {
        for bad in [
            "a@.example.in",
            "a@example.in.",
            "a@b@example.in",
            "a@exa\u{7}mple.in",
            "a@exa mple.in",
        ] {
            assert_eq!(EmailAddress::parse(bad), Err(InvalidEmail), "{bad}");
        }
        assert_eq!(
            EmailAddress::parse("a@mail.example.in").unwrap().to_string(),
            "a@mail.example.in"
        );
        let text: String = EmailAddress::parse("A@B.in").unwrap().into();
        assert_eq!(text, "a@b.in");
    }

    #[test]
    fn only_an_ascii_address_is_sendable() {
        assert!(EmailAddress::parse("asha@example.in").unwrap().is_sendable());
        assert!(!EmailAddress::parse("āsha@example.in").unwrap().is_sendable());
    }
}
