//! What a template listing's query asks for: its filters and its page.
//!
//! The addendum (A.1) documents the filters `name`, `status[]`,
//! `quality_score[]`, `language[]` and `category[]`, but marks how a list
//! of values is encoded a GUESS ("probably the same JSON-array text" as the
//! docs' `fields` example). So every reading is accepted, and they can be
//! mixed: JSON-array text (`status=["APPROVED","PENDING"]`), a plain value
//! (`status=APPROVED`), a comma list (`status=APPROVED,PENDING`), and
//! repeated keys (`status[]=APPROVED&status[]=PENDING`, or `status[0]=…`).
//! Values compare case-insensitively; `name` matches any part of a name,
//! in any case. `fields` (which of Meta's fields to return) is accepted and
//! ignored: every field is returned.
//!
//! Paging (a GUESS of the addendum's, Meta-style): `limit` (25 unless
//! given, at most 1000), then either `after` or `before`, the opaque
//! cursors a previous page gave (`after` wins when both are sent), or the
//! undocumented `offset` (items to skip; after `after` too).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};

use super::template::Template;
use crate::request::{Form, field};

/// Items on a page unless `limit` says otherwise.
pub const DEFAULT_LIMIT: usize = 25;

/// Most items on a page.
pub const MAX_LIMIT: usize = 1000;

/// The filters of a listing.
#[derive(Debug, Default, PartialEq)]
pub struct Filters {
    name: Option<String>,
    status: Vec<String>,
    language: Vec<String>,
    category: Vec<String>,
    quality_score: Vec<String>,
}

impl Filters {
    pub fn read(query: &Form) -> Self {
        Self {
            name: field(query, "name").map(str::to_lowercase),
            status: values(query, "status"),
            language: values(query, "language"),
            category: values(query, "category"),
            quality_score: values(query, "quality_score"),
        }
    }

    /// Whether a template passes every filter given.
    pub fn admit(&self, template: &Template) -> bool {
        let within =
            |wanted: &[String], value: &str| wanted.is_empty() || wanted.iter().any(|w| w.eq_ignore_ascii_case(value));
        self.name
            .as_ref()
            .is_none_or(|part| template.name.to_lowercase().contains(part))
            && within(&self.status, template.status.as_str())
            && within(&self.language, &template.language)
            && within(&self.category, template.category.as_str())
            && within(&self.quality_score, &template.quality_score)
    }
}

/// Every value given for `key`, in any of the encodings accepted.
fn values(query: &Form, key: &str) -> Vec<String> {
    let named = |k: &str| {
        let index = k
            .strip_prefix(key)
            .and_then(|rest| rest.strip_prefix('[')?.strip_suffix(']'));
        k == key || index.is_some_and(|i| i.chars().all(|c| c.is_ascii_digit()))
    };
    query
        .iter()
        .filter(|(k, _)| named(k))
        .flat_map(|(_, v)| split(v))
        .collect()
}

/// A JSON array's strings, else the comma-separated values.
fn split(value: &str) -> Vec<String> {
    let value = value.trim();
    if let Ok(Value::Array(items)) = serde_json::from_str::<Value>(value) {
        let strings = items.iter().filter_map(Value::as_str);
        return strings
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect();
    }
    let loose = value.trim_start_matches('[').trim_end_matches(']').split(',');
    let loose = loose.map(|v| v.trim().trim_matches('"').trim().to_string());
    loose.filter(|v| !v.is_empty()).collect()
}

/// The page a listing asks for.
#[derive(Debug, PartialEq)]
pub struct Page {
    limit: usize,
    after: Option<u64>,
    before: Option<u64>,
    offset: usize,
}

impl Page {
    /// The page, or why the query is refused (the text names the parameter).
    pub fn read(query: &Form) -> Result<Self, String> {
        let limit = match field(query, "limit") {
            None => DEFAULT_LIMIT,
            Some(limit) => limit
                .trim()
                .parse()
                .ok()
                .filter(|l| *l > 0)
                .ok_or(format!("limit must be a number from 1 to {MAX_LIMIT}"))?,
        };
        if limit > MAX_LIMIT {
            return Err(format!("limit {limit} is over the most allowed, {MAX_LIMIT}"));
        }
        let offset = field(query, "offset").map(|o| o.trim().parse().map_err(|_| "offset must be a number"));
        Ok(Self {
            limit,
            after: cursor_in(query, "after")?,
            before: cursor_in(query, "before")?,
            offset: offset.transpose()?.unwrap_or(0),
        })
    }

    /// This page of `matching` (in creation order), and its
    /// `{"cursors":{"before","after"}}`: `before` null on the first page,
    /// `after` null on the last.
    pub fn cut(&self, matching: Vec<Template>) -> (Vec<Template>, Value) {
        let count_below = |id: u64, inclusive: bool| {
            matching
                .iter()
                .filter(|t| t.id < id || (inclusive && t.id == id))
                .count()
        };
        let (start, end) = match (self.after, self.before) {
            (Some(after), _) => {
                let start = (count_below(after, true) + self.offset).min(matching.len());
                (start, (start + self.limit).min(matching.len()))
            }
            (None, Some(before)) => {
                let end = count_below(before, false);
                (end.saturating_sub(self.limit), end)
            }
            (None, None) => {
                let start = self.offset.min(matching.len());
                (start, (start + self.limit).min(matching.len()))
            }
        };
        let page = matching[start..end].to_vec();
        let before = page.first().filter(|_| start > 0).map(|t| cursor(t.id));
        let after = page.last().filter(|_| end < matching.len()).map(|t| cursor(t.id));
        (page, json!({"cursors": {"before": before, "after": after}}))
    }
}

/// The opaque cursor naming a template's place.
fn cursor(id: u64) -> String {
    URL_SAFE_NO_PAD.encode(format!("template:{id}"))
}

/// The template id a cursor parameter names, if it is given.
fn cursor_in(query: &Form, key: &str) -> Result<Option<u64>, String> {
    let Some(text) = field(query, key) else {
        return Ok(None);
    };
    let decoded = URL_SAFE_NO_PAD
        .decode(text.trim())
        .ok()
        .and_then(|b| String::from_utf8(b).ok());
    let id = decoded
        .as_deref()
        .and_then(|d| d.strip_prefix("template:")?.parse().ok());
    id.map(Some)
        .ok_or(format!("{key} is not a cursor a previous page gave"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Form {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn list_filters_are_read_in_every_encoding() {
        let read = |pairs: &[(&str, &str)]| values(&query(pairs), "status");
        assert_eq!(
            read(&[("status", r#"["APPROVED","pending"]"#)]),
            ["APPROVED", "pending"]
        );
        assert_eq!(read(&[("status", "APPROVED")]), ["APPROVED"]);
        assert_eq!(read(&[("status", "APPROVED, PENDING")]), ["APPROVED", "PENDING"]);
        assert_eq!(
            read(&[("status[]", "APPROVED"), ("status[]", "REJECTED")]),
            ["APPROVED", "REJECTED"]
        );
        assert_eq!(read(&[("status[0]", "PAUSED"), ("statuses", "X")]), ["PAUSED"]);
        assert_eq!(read(&[("status", "[APPROVED,'x']")]), ["APPROVED", "'x'"]);
        assert!(read(&[("status", "")]).is_empty());
    }

    #[test]
    fn limits_beyond_a_thousand_and_foreign_cursors_are_refused() {
        assert_eq!(Page::read(&query(&[])).map(|p| p.limit), Ok(DEFAULT_LIMIT));
        assert_eq!(Page::read(&query(&[("limit", "1000")])).map(|p| p.limit), Ok(1000));
        assert!(Page::read(&query(&[("limit", "1001")])).unwrap_err().contains("limit"));
        assert!(Page::read(&query(&[("limit", "0")])).unwrap_err().contains("limit"));
        assert!(
            Page::read(&query(&[("after", "abc")]))
                .unwrap_err()
                .starts_with("after")
        );
        assert!(
            Page::read(&query(&[("offset", "x")]))
                .unwrap_err()
                .starts_with("offset")
        );
        let next = cursor(7);
        assert_eq!(Page::read(&query(&[("before", &next)])).map(|p| p.before), Ok(Some(7)));
    }
}
