//! Bulk call details, `GET /v1/Accounts/{sid}/Calls[.json]` (reference
//! §2.3): filters, `Before`/`After` cursors and `Metadata`.
//!
//! Guesses, where the reference is silent: the default order is newest
//! first (`SortBy=DateCreated:desc`); a cursor is the Sid of the call at the
//! page's edge; the page URIs are relative like `Uri`; an unknown cursor, a
//! `PageSize` outside 1–100 or more than 100 Sids / 5 numbers is a 400.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Duration as Span, NaiveDate, NaiveDateTime, Utc};
use serde_json::{Value, json};
use std::sync::Arc;

use super::view::call_json;
use crate::request::{Answer, Form, Received, Refusal, bad_request, field};
use crate::state::{CallRecord, SimState, national};
use crate::wire::{Format, respond_document};

/// `GET /v1/Accounts/{sid}/Calls` (XML).
pub async fn list(state: State<Arc<SimState>>, sid: Path<String>, request: Received) -> Answer {
    answer(state, sid, request, Format::Xml)
}

/// `GET /v1/Accounts/{sid}/Calls.json`.
pub async fn list_json(state: State<Arc<SimState>>, sid: Path<String>, request: Received) -> Answer {
    answer(state, sid, request, Format::Json)
}

fn answer(State(state): State<Arc<SimState>>, Path(sid): Path<String>, request: Received, format: Format) -> Answer {
    super::open(&state, &request, &sid, format)?;
    let query = request.query();
    let calls: Vec<CallRecord> = match state.calls.lock() {
        Ok(calls) => calls.values().filter(|c| c.account_sid == sid).cloned().collect(),
        Err(_) => Vec::new(),
    };
    let page = Filters::read(&query)
        .and_then(|filters| page(&filters, calls))
        .map_err(|r| r.answer(format))?;
    Ok(respond_document(
        StatusCode::OK,
        format,
        document(&sid, &query, format, page),
    ))
}

/// An operator bound such as `gte:10s`.
#[derive(Debug, Clone, Copy)]
enum Op {
    Gte,
    Lte,
    Gt,
    Lt,
    Eq,
}

/// `gte:a;lte:b` read with `value` parsing each side.
fn bounds<T>(text: &str, value: impl Fn(&str) -> Option<T>) -> Option<Vec<(Op, T)>> {
    text.split(';')
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            let (op, raw) = part.split_once(':')?;
            let op = match op.trim() {
                "gte" => Op::Gte,
                "lte" => Op::Lte,
                "gt" => Op::Gt,
                "lt" => Op::Lt,
                "eq" => Op::Eq,
                _ => return None,
            };
            Some((op, value(raw.trim())?))
        })
        .collect()
}

fn within<T: PartialOrd>(value: &T, bounds: &[(Op, T)]) -> bool {
    bounds.iter().all(|(op, bound)| match op {
        Op::Gte => value >= bound,
        Op::Lte => value <= bound,
        Op::Gt => value > bound,
        Op::Lt => value < bound,
        Op::Eq => value == bound,
    })
}

/// A `DateCreated` bound: `YYYY-MM-DD HH:mm:ss` (or a bare date) in IST.
fn ist_time(text: &str) -> Option<DateTime<Utc>> {
    let local = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S")
        .ok()
        .or_else(|| NaiveDate::parse_from_str(text, "%Y-%m-%d").ok()?.and_hms_opt(0, 0, 0))?;
    Some(local.and_utc() - Span::minutes(5 * 60 + 30))
}

/// Every filter of the request, checked.
struct Filters {
    sids: Option<Vec<String>>,
    created: Vec<(Op, DateTime<Utc>)>,
    to: Option<Vec<String>>,
    from: Option<Vec<String>>,
    status: Option<Vec<String>>,
    direction: Option<Vec<String>>,
    phone_number: Option<String>,
    duration: Vec<(Op, u64)>,
    price: Vec<(Op, f64)>,
    page_size: usize,
    ascending: bool,
    after: Option<String>,
    before: Option<String>,
}

fn list_of(query: &Form, name: &str, max: usize) -> Result<Option<Vec<String>>, Refusal> {
    let Some(text) = field(query, name) else {
        return Ok(None);
    };
    let items: Vec<String> = text
        .split(',')
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect();
    match items.len() <= max {
        true => Ok(Some(items)),
        false => Err(bad_request(&format!(
            "{name} accepts at most {max} comma-separated values"
        ))),
    }
}

fn bounded<T>(query: &Form, name: &str, value: impl Fn(&str) -> Option<T>) -> Result<Vec<(Op, T)>, Refusal> {
    match field(query, name) {
        None => Ok(Vec::new()),
        Some(text) => bounds(text, value).ok_or_else(|| bad_request(&format!("{name} is not a valid filter"))),
    }
}

impl Filters {
    fn read(query: &Form) -> Result<Filters, Refusal> {
        let page_size = match field(query, "PageSize").map(str::parse::<usize>) {
            None => 50,
            Some(Ok(size)) if (1..=100).contains(&size) => size,
            Some(_) => return Err(bad_request("PageSize must be between 1 and 100")),
        };
        let ascending = match field(query, "SortBy") {
            None | Some("DateCreated:desc") => false,
            Some("DateCreated:asc") => true,
            Some(_) => return Err(bad_request("SortBy must be DateCreated:asc or DateCreated:desc")),
        };
        Ok(Filters {
            sids: list_of(query, "Sid", 100)?,
            created: created(query)?,
            to: list_of(query, "To", 5)?.map(|n| n.iter().map(|n| national(n)).collect()),
            from: list_of(query, "From", 5)?.map(|n| n.iter().map(|n| national(n)).collect()),
            status: list_of(query, "Status", 10)?,
            direction: list_of(query, "Direction", 3)?,
            phone_number: field(query, "PhoneNumber").map(national),
            duration: bounded(query, "Duration", |v| v.trim_end_matches('s').parse().ok())?,
            price: bounded(query, "Price", |v| v.parse().ok())?,
            page_size,
            ascending,
            after: field(query, "After").map(str::to_string),
            before: field(query, "Before").map(str::to_string),
        })
    }

    fn admit(&self, call: &CallRecord) -> bool {
        let listed =
            |list: &Option<Vec<String>>, value: &str| list.as_ref().is_none_or(|l| l.iter().any(|v| v == value));
        call.ended.is_some()
            && listed(&self.sids, &call.sid)
            && within(&call.created, &self.created)
            && listed(&self.to, &call.to)
            && listed(&self.from, &call.from)
            && listed(&self.status, &call.status)
            && listed(&self.direction, call.direction())
            && self.phone_number.as_ref().is_none_or(|n| *n == call.caller_id)
            && within(&call.duration.unwrap_or_default(), &self.duration)
            && within(&1.5, &self.price)
    }
}

/// `DateCreated`: by default the last 31 days; a range of at most a month.
fn created(query: &Form) -> Result<Vec<(Op, DateTime<Utc>)>, Refusal> {
    let mut created = bounded(query, "DateCreated", ist_time)?;
    let lower = |b: &&(Op, DateTime<Utc>)| matches!(b.0, Op::Gte | Op::Gt | Op::Eq);
    let upper = |b: &&(Op, DateTime<Utc>)| matches!(b.0, Op::Lte | Op::Lt | Op::Eq);
    let end = created.iter().find(upper).map(|b| b.1).unwrap_or_else(Utc::now);
    let start = created.iter().find(lower).map(|b| b.1);
    match start {
        Some(start) if end - start > Span::days(31) => Err(bad_request("DateCreated may span at most a month")),
        Some(_) => Ok(created),
        None => {
            created.push((Op::Gte, end - Span::days(31)));
            Ok(created)
        }
    }
}

/// One page of matching calls, and whether calls lie before and after it.
struct Page {
    calls: Vec<CallRecord>,
    total: usize,
    page_size: usize,
    earlier: bool,
    later: bool,
}

fn page(filters: &Filters, mut calls: Vec<CallRecord>) -> Result<Page, Refusal> {
    calls.retain(|call| filters.admit(call));
    calls.sort_by(|a, b| (a.created, &a.sid).cmp(&(b.created, &b.sid)));
    if !filters.ascending {
        calls.reverse();
    }
    let position = |sid: &str| {
        calls
            .iter()
            .position(|c| c.sid == sid)
            .ok_or_else(|| bad_request(&format!("{sid} is not a valid cursor")))
    };
    let (start, end) = match (&filters.after, &filters.before) {
        (Some(after), _) => {
            let start = position(after)? + 1;
            (start, (start + filters.page_size).min(calls.len()))
        }
        (None, Some(before)) => {
            let end = position(before)?;
            (end.saturating_sub(filters.page_size), end)
        }
        (None, None) => (0, filters.page_size.min(calls.len())),
    };
    Ok(Page {
        total: calls.len(),
        page_size: filters.page_size,
        earlier: start > 0,
        later: end < calls.len(),
        calls: calls[start..end].to_vec(),
    })
}

/// `{"Metadata":{…},"Calls":[…]}`; in XML each call is its own `<Call>`.
fn document(sid: &str, query: &Form, format: Format, page: Page) -> Value {
    let base = base_uri(sid, query, format, page.page_size);
    let first = page.calls.first().map(|c| c.sid.as_str());
    let last = page.calls.last().map(|c| c.sid.as_str());
    let metadata = json!({
        "Total": page.total,
        "PageSize": page.page_size,
        "FirstPageUri": base,
        "PrevPageUri": first.filter(|_| page.earlier).map(|sid| format!("{base}&Before={sid}")),
        "NextPageUri": last.filter(|_| page.later).map(|sid| format!("{base}&After={sid}")),
    });
    let calls: Vec<Value> = page
        .calls
        .iter()
        .map(|call| match format {
            Format::Json => call_json(call, false),
            Format::Xml => json!({"Call": call_json(call, false)}),
        })
        .collect();
    json!({"Metadata": metadata, "Calls": calls})
}

/// The listing's own URI with its filters and page size, without a cursor.
fn base_uri(sid: &str, query: &Form, format: Format, page_size: usize) -> String {
    let mut kept: Form = query
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "After" | "Before" | "PageSize"))
        .cloned()
        .collect();
    kept.push(("PageSize".into(), page_size.to_string()));
    let encoded = serde_urlencoded::to_string(&kept).unwrap_or_default();
    format!("/v1/Accounts/{sid}/Calls{}?{encoded}", format.extension())
}
