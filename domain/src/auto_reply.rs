//! WhatsApp auto-replies, as an organisation configures them on its
//! WhatsApp integration: keyword rules (exact, contains or a size-limited
//! regular expression; lowest priority number first, the first match
//! wins), a welcome for a contact who never wrote before, and an away
//! message outside business hours or on a holiday.
//!
//! Whatever the rules say, no reply goes to the organisation's own number,
//! to a message that repeats one of the organisation's own replies (another
//! party's automation echoing it), or to a contact who had an auto-reply
//! within the cooldown: two auto-replying parties exchange one reply each
//! per period, never a loop.

use chrono::{DateTime, Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::integration::settings::BusinessHours;

/// Most keyword rules per integration.
pub const MAX_KEYWORD_RULES: usize = 50;
/// Longest keyword or pattern, in characters.
pub const MAX_KEYWORD_CHARS: usize = 200;
/// The most memory one compiled pattern may take, in bytes.
pub const MAX_PATTERN_BYTES: usize = 64 * 1024;
/// The cooldown when none is configured, in minutes.
pub const DEFAULT_COOLDOWN_MINUTES: u32 = 60;
/// The longest cooldown, a week in minutes.
pub const MAX_COOLDOWN_MINUTES: u32 = 7 * 24 * 60;

/// How a keyword rule matches a message's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeywordMatch {
    /// The whole text, ignoring case and surrounding space.
    Exact,
    /// Anywhere in the text, ignoring case.
    Contains,
    /// A regular expression (case-insensitive), compiled within a size limit.
    Regex,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeywordRule {
    pub keyword: String,
    #[serde(default = "contains")]
    pub match_type: KeywordMatch,
    pub reply: String,
    /// Lower numbers are tried first; equal ones in the order given.
    #[serde(default)]
    pub priority: i32,
}

fn contains() -> KeywordMatch {
    KeywordMatch::Contains
}

/// The compiled pattern of a regex rule, or why it is refused.
pub fn compile(pattern: &str) -> Result<regex::Regex, regex::Error> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(MAX_PATTERN_BYTES)
        .dfa_size_limit(MAX_PATTERN_BYTES)
        .build()
}

impl KeywordRule {
    /// Whether the rule matches `text`.
    pub fn matches(&self, text: &str) -> bool {
        let text = text.trim();
        match self.match_type {
            KeywordMatch::Exact => text.to_lowercase() == self.keyword.trim().to_lowercase(),
            KeywordMatch::Contains => text.to_lowercase().contains(&self.keyword.trim().to_lowercase()),
            KeywordMatch::Regex => compile(&self.keyword).is_ok_and(|r| r.is_match(text)),
        }
    }
}

/// Why an auto-reply was sent: the rule that fired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum AutoReplyRule {
    Keyword {
        keyword: String,
        match_type: KeywordMatch,
        priority: i32,
    },
    Welcome,
    Away {
        /// The holiday it is, when that is why.
        holiday: Option<String>,
    },
}

/// A day the business is closed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holiday {
    pub date: NaiveDate,
    pub name: String,
}

/// What the organisation configured.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AutoReplies {
    pub enabled: bool,
    pub welcome: Option<String>,
    /// Sent outside business hours and on holidays.
    pub away: Option<String>,
    pub hours: Option<BusinessHours>,
    pub holidays: Vec<Holiday>,
    pub keywords: Vec<KeywordRule>,
    pub cooldown_minutes: u32,
}

/// What is known of the message being answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming<'a> {
    /// Its text, caption or reply title.
    pub text: Option<&'a str>,
    pub from: &'a str,
    /// The organisation's WhatsApp number.
    pub own_number: &'a str,
    /// No earlier message from this contact is known.
    pub first_contact: bool,
    /// The last auto-reply this contact had.
    pub last_auto_reply: Option<DateTime<Utc>>,
    pub at: DateTime<Utc>,
}

impl AutoReplies {
    fn replies(&self) -> impl Iterator<Item = &str> {
        let keywords = self.keywords.iter().map(|k| k.reply.as_str());
        self.welcome
            .as_deref()
            .into_iter()
            .chain(self.away.as_deref())
            .chain(keywords)
    }

    /// The reply to send and the rule that fired, or `None`.
    pub fn decide(&self, incoming: &Incoming) -> Option<(AutoReplyRule, String)> {
        if !self.enabled || crate::integration::settings::same_number(incoming.from, incoming.own_number) {
            return None;
        }
        let text = incoming.text.map(str::trim).unwrap_or_default();
        if !text.is_empty() && self.replies().any(|r| r.trim() == text) {
            return None;
        }
        let cooldown = chrono::Duration::minutes(i64::from(self.cooldown_minutes.max(1)));
        if incoming
            .last_auto_reply
            .is_some_and(|last| incoming.at < last + cooldown)
        {
            return None;
        }
        let mut keywords: Vec<&KeywordRule> = self.keywords.iter().collect();
        keywords.sort_by_key(|k| k.priority);
        if let Some(rule) = keywords.into_iter().find(|k| !text.is_empty() && k.matches(text)) {
            let fired = AutoReplyRule::Keyword {
                keyword: rule.keyword.clone(),
                match_type: rule.match_type,
                priority: rule.priority,
            };
            return Some((fired, rule.reply.clone()));
        }
        if let Some(away) = &self.away
            && let Some(holiday) = self.closed_at(incoming.at)
        {
            return Some((AutoReplyRule::Away { holiday }, away.clone()));
        }
        match (&self.welcome, incoming.first_contact) {
            (Some(welcome), true) => Some((AutoReplyRule::Welcome, welcome.clone())),
            _ => None,
        }
    }

    /// `Some` when the business is closed at `at`: `Some(Some(name))` on a
    /// holiday, `Some(None)` outside the day's hours or on a closed day.
    pub fn closed_at(&self, at: DateTime<Utc>) -> Option<Option<String>> {
        let zone: chrono_tz::Tz = self
            .hours
            .as_ref()
            .and_then(|h| h.timezone.parse().ok())
            .unwrap_or(chrono_tz::Asia::Kolkata);
        let local = at.with_timezone(&zone);
        if let Some(holiday) = self.holidays.iter().find(|h| h.date == local.date_naive()) {
            return Some(Some(holiday.name.clone()));
        }
        let hours = self.hours.as_ref().filter(|h| h.enabled)?;
        let day = crate::integration::settings::weekday_name(local.weekday());
        let Some(today) = hours.days.get(day) else {
            return Some(None);
        };
        let parse = |t: &Option<String>| {
            t.as_deref()
                .and_then(|t| chrono::NaiveTime::parse_from_str(t, "%H:%M").ok())
        };
        let open = match (today.closed, parse(&today.start), parse(&today.end)) {
            (false, Some(start), Some(end)) => (start..end).contains(&local.time()),
            _ => false,
        };
        match open {
            true => None,
            false => Some(None),
        }
    }
}

#[cfg(test)]
mod tests;
