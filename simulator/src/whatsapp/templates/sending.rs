//! The verdict on a template message (`content.type` `template`, addendum
//! A.5: the template named by `name` and `language.code`): whether the
//! account holds that template on any of its WABAs, approved, and whether
//! the message fills its BODY's placeholders.
//!
//! Whether Exotel refuses an unusable template when the message is
//! requested or only in its delivery report is not documented. The
//! simulator accepts the message as before (202) and answers in the
//! report: a single failed receipt, whose code takes precedence over
//! whatever the recipient's script says.

use serde_json::Value;

use super::rules::highest_placeholder;
use super::store::Templates;
use super::template::{Status, Template};

/// `EX_TEMPLATE_ERROR`: the template exists but is not approved.
pub const TEMPLATE_ERROR: u32 = 30022;
/// `EX_TEMPLATE_PARAM_ERROR`: as many body parameters as placeholders were not sent.
pub const TEMPLATE_PARAM_ERROR: u32 = 30023;
/// `EX_TEMPLATE_NOT_FOUND`: no template of that name and language.
pub const TEMPLATE_NOT_FOUND: u32 = 30024;

/// The `exo_status_code` a sent message fails with because of its
/// template; `None` when it is no template message or its template can be
/// used. Among several WABAs holding the template, any approved one whose
/// placeholders the message fills will do.
pub fn verdict(templates: &Templates, sid: &str, content: &Value) -> Option<u32> {
    if content.get("type").and_then(Value::as_str) != Some("template") {
        return None;
    }
    let template = content.get("template")?;
    let name = template.get("name").and_then(Value::as_str)?;
    let language = template
        .get("language")
        .and_then(|l| l.get("code"))
        .and_then(Value::as_str)?;
    let found = templates.find(sid, name, language);
    if found.is_empty() {
        return Some(TEMPLATE_NOT_FOUND);
    }
    let mut approved = found.iter().filter(|t| t.status == Status::Approved).peekable();
    if approved.peek().is_none() {
        return Some(TEMPLATE_ERROR);
    }
    let sent = body_parameters(template);
    match approved.any(|t| placeholders(t) == sent) {
        true => None,
        false => Some(TEMPLATE_PARAM_ERROR),
    }
}

/// How many `parameters` the message's `body` component holds (0 without one).
fn body_parameters(template: &Value) -> usize {
    let mut components = template
        .get("components")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    let is_body = |c: &&Value| {
        c.get("type")
            .and_then(Value::as_str)
            .is_some_and(|t| t.eq_ignore_ascii_case("body"))
    };
    let body = components.find(is_body);
    let parameters = body.and_then(|b| b.get("parameters")).and_then(Value::as_array);
    parameters.map_or(0, Vec::len)
}

/// The highest `{{n}}` in the template's BODY text.
fn placeholders(template: &Template) -> usize {
    let body = template.components.iter().find(|c| c["type"] == "BODY");
    body.and_then(|c| c["text"].as_str()).map_or(0, highest_placeholder)
}
