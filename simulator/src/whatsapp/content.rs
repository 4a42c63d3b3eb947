//! WhatsApp `content` objects, Meta Cloud-API style: what a sent message
//! must hold, and what an incoming one may be.

use serde_json::Value;

/// Media types, sent with `link` (or Meta's media `id`), received with `url`.
const MEDIA: [&str; 5] = ["image", "document", "video", "audio", "sticker"];

/// Interactive kinds Meta offers besides reply buttons and lists.
const OTHER_INTERACTIVE: [&str; 5] = ["cta_url", "flow", "product", "product_list", "location_request_message"];

/// Why a sent message's content is refused, if it is.
pub fn outgoing(content: &Value) -> Result<(), String> {
    let kind = kind(content)?;
    match kind {
        "text" => text(content, &["text", "body"]),
        media if MEDIA.contains(&media) => media_link(content, media),
        "location" => location(content),
        "template" => template(content),
        "interactive" => interactive(content),
        other => Err(format!("content.type {other} is not supported")),
    }
}

/// Why an injected incoming message's content is refused, if it is.
pub fn incoming(content: &Value) -> Result<(), String> {
    let kind = kind(content)?;
    match kind {
        "text" => text(content, &["text", "body"]),
        media if MEDIA.contains(&media) => text(content, &[media, "url"]),
        "location" => location(content),
        "button" => text(content, &["button", "text"]),
        "interactive" => reply(content),
        other => Err(format!("content.type {other} is not an incoming message type")),
    }
}

fn kind(content: &Value) -> Result<&str, String> {
    if !content.is_object() {
        return Err("content is mandatory and must be an object".into());
    }
    content
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| "content.type is mandatory".to_string())
}

/// The non-empty string at `path` under `value`.
fn string_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(value, |v, key| v.get(key))?
        .as_str()
        .filter(|s| !s.trim().is_empty())
}

fn text(content: &Value, path: &[&str]) -> Result<(), String> {
    string_at(content, path)
        .map(|_| ())
        .ok_or_else(|| format!("content.{} is mandatory", path.join(".")))
}

fn media_link(content: &Value, media: &str) -> Result<(), String> {
    let found = string_at(content, &[media, "link"]).or_else(|| string_at(content, &[media, "id"]));
    found
        .map(|_| ())
        .ok_or_else(|| format!("content.{media}.link is mandatory"))
}

/// `latitude` and `longitude`, as numbers or numeric strings, in range.
fn location(content: &Value) -> Result<(), String> {
    for (key, bound) in [("latitude", 90.0), ("longitude", 180.0)] {
        let value = content.get("location").and_then(|l| l.get(key));
        let number = value.and_then(|v| v.as_f64().or_else(|| v.as_str()?.trim().parse().ok()));
        if !number.is_some_and(|n: f64| n.abs() <= bound) {
            return Err(format!(
                "content.location.{key} is mandatory and must be a number within ±{bound}"
            ));
        }
    }
    Ok(())
}

fn template(content: &Value) -> Result<(), String> {
    text(content, &["template", "name"])?;
    text(content, &["template", "language", "code"])?;
    match content.get("template").and_then(|t| t.get("components")) {
        Some(components) if !components.is_array() => Err("content.template.components must be a list".into()),
        _ => Ok(()),
    }
}

fn interactive(content: &Value) -> Result<(), String> {
    let interactive = content.get("interactive").unwrap_or(&Value::Null);
    let kind = string_at(interactive, &["type"]).ok_or("content.interactive.type is mandatory")?;
    let action = interactive.get("action").filter(|a| a.is_object());
    let action = action.ok_or("content.interactive.action is mandatory")?;
    match kind {
        "button" => {
            text(content, &["interactive", "body", "text"])?;
            reply_buttons(action)
        }
        "list" => {
            text(content, &["interactive", "body", "text"])?;
            list_sections(action)
        }
        other if OTHER_INTERACTIVE.contains(&other) => Ok(()),
        other => Err(format!("content.interactive.type {other} is not supported")),
    }
}

/// One to three reply buttons, each with an id and a title.
fn reply_buttons(action: &Value) -> Result<(), String> {
    let buttons = action.get("buttons").and_then(Value::as_array);
    let buttons = buttons.filter(|b| (1..=3).contains(&b.len()));
    let buttons = buttons.ok_or("content.interactive.action.buttons must hold one to three buttons")?;
    let complete = |b: &Value| {
        string_at(b, &["reply", "id"])
            .and(string_at(b, &["reply", "title"]))
            .is_some()
    };
    match buttons.iter().all(complete) {
        true => Ok(()),
        false => Err("every button needs reply.id and reply.title".into()),
    }
}

/// A list's button text and sections, each with rows that have an id and a title.
fn list_sections(action: &Value) -> Result<(), String> {
    string_at(action, &["button"]).ok_or("content.interactive.action.button is mandatory")?;
    let sections = action
        .get("sections")
        .and_then(Value::as_array)
        .filter(|s| !s.is_empty());
    let sections = sections.ok_or("content.interactive.action.sections must hold at least one section")?;
    let row = |r: &Value| string_at(r, &["id"]).and(string_at(r, &["title"])).is_some();
    let section = |s: &Value| {
        s.get("rows")
            .and_then(Value::as_array)
            .is_some_and(|rows| !rows.is_empty() && rows.iter().all(row))
    };
    match sections.iter().all(section) {
        true => Ok(()),
        false => Err("every section needs rows with an id and a title".into()),
    }
}

/// A reply to an interactive message: `button_reply` or `list_reply`, with id and title.
fn reply(content: &Value) -> Result<(), String> {
    let kind = string_at(content, &["interactive", "type"]).ok_or("content.interactive.type is mandatory")?;
    if !["button_reply", "list_reply"].contains(&kind) {
        return Err("content.interactive.type must be button_reply or list_reply".into());
    }
    text(content, &["interactive", kind, "id"])?;
    text(content, &["interactive", kind, "title"])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sent_content_needs_what_its_type_needs() {
        assert!(outgoing(&json!({"type": "text", "text": {"body": "Hi"}})).is_ok());
        assert!(outgoing(&json!({"type": "text", "text": {"preview_url": false}})).is_err());
        assert!(outgoing(&json!({"type": "location", "location": {"latitude": "12.9", "longitude": 77.6}})).is_ok());
        assert!(outgoing(&json!({"type": "location", "location": {"latitude": 12.9}})).is_err());
        assert!(outgoing(&json!({"type": "template", "template": {"name": "otp"}})).is_err());
        assert!(outgoing(&json!({"type": "carousel"})).is_err());
    }

    #[test]
    fn incoming_replies_name_the_button_or_row_chosen() {
        let button = json!({"type": "interactive", "interactive": {"type": "button_reply", "button_reply": {"id": "y", "title": "Yes"}}});
        assert!(incoming(&button).is_ok());
        let half = json!({"type": "interactive", "interactive": {"type": "list_reply", "list_reply": {"id": "r1"}}});
        assert!(incoming(&half).is_err());
        assert!(incoming(&json!({"type": "image", "image": {"link": "https://x/y.jpg"}})).is_err());
    }
}
