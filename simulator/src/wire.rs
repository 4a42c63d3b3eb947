//! Exotel's wire formats. v1: XML by default, JSON with `.json`,
//! `RestException` errors, IST timestamps. v2: the JSON envelope
//! `{request_id, method, http_code, metadata?, response}`.

use axum::http::{Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, FixedOffset, Utc};
use serde_json::{Map, Value, json};

/// How a v1 response is written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xml,
    Json,
}

impl Format {
    /// `.json` on the last path segment selects JSON; anything else is XML.
    pub fn split(segment: &str) -> (&str, Format) {
        match segment.strip_suffix(".json") {
            Some(name) => (name, Format::Json),
            None => (segment, Format::Xml),
        }
    }

    /// What a URI of this format ends in: `.json` or nothing.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Json => ".json",
            Format::Xml => "",
        }
    }
}

/// `at` in India Standard Time, written with a chrono `pattern`.
pub fn ist(at: DateTime<Utc>, pattern: &str) -> String {
    let ist = FixedOffset::east_opt(5 * 3600 + 30 * 60).map(|offset| at.with_timezone(&offset));
    ist.map(|t| t.format(pattern).to_string()).unwrap_or_default()
}

/// `YYYY-MM-DD HH:mm:ss` in India Standard Time, as v1 writes times.
pub fn exotel_time(at: DateTime<Utc>) -> String {
    ist(at, "%Y-%m-%d %H:%M:%S")
}

/// An RFC 3339 time in India Standard Time with milliseconds, as v2
/// WhatsApp callbacks write it (`2024-01-15T10:30:05.000+05:30`).
pub fn iso_time(at: DateTime<Utc>) -> String {
    ist(at, "%Y-%m-%dT%H:%M:%S%.3f%:z")
}

/// A v1 body: `{"Root": {...}}` in JSON, `<TwilioResponse><Root>…` in XML.
pub fn respond(status: StatusCode, format: Format, root: &str, body: Value) -> Response {
    respond_document(status, format, json!({ root: body }))
}

/// A v1 body with several top-level keys (the bulk listing's `Metadata` and
/// `Calls`): the object itself in JSON, its members inside
/// `<TwilioResponse>` in XML. In XML an array of `{"Call": {…}}` items
/// becomes `<Calls><Call>…</Call>…</Calls>`.
pub fn respond_document(status: StatusCode, format: Format, body: Value) -> Response {
    match format {
        Format::Json => (status, axum::Json(body)).into_response(),
        Format::Xml => xml(status, &body.as_object().map(children).unwrap_or_default()),
    }
}

/// A v1 list: `[{"Root": {...}}, …]` in JSON, `<TwilioResponse><Root>…</Root><Root>…` in XML.
pub fn respond_list(status: StatusCode, format: Format, root: &str, items: Vec<Value>) -> Response {
    match format {
        Format::Json => {
            let list: Vec<Value> = items.into_iter().map(|item| json!({ root: item })).collect();
            (status, axum::Json(list)).into_response()
        }
        Format::Xml => {
            let inner: String = items.iter().map(|item| element(root, item)).collect();
            xml(status, &inner)
        }
    }
}

fn xml(status: StatusCode, inner: &str) -> Response {
    let xml = format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<TwilioResponse>{inner}</TwilioResponse>");
    (status, [(header::CONTENT_TYPE, "application/xml")], xml).into_response()
}

/// Exotel's error: `{"RestException":{"Status":…,"Message":…}}` with the same HTTP status.
pub fn rest_exception(status: StatusCode, format: Format, message: &str) -> Response {
    respond(
        status,
        format,
        "RestException",
        json!({"Status": status.as_u16(), "Message": message}),
    )
}

/// A `RestException` with Exotel's numeric `Code` (documented for SMS).
pub fn coded_exception(status: StatusCode, format: Format, code: u32, message: &str) -> Response {
    respond(
        status,
        format,
        "RestException",
        json!({"Status": status.as_u16(), "Code": code, "Message": message}),
    )
}

/// A v2 body: `{request_id, method, http_code, metadata?, response}`.
pub fn v2(status: StatusCode, method: &Method, metadata: Option<Value>, response: Value) -> Response {
    let mut body = json!({
        "request_id": uuid::Uuid::new_v4().simple().to_string(),
        "method": method.as_str(),
        "http_code": status.as_u16(),
        "response": response,
    });
    if let (Some(metadata), Some(object)) = (metadata, body.as_object_mut()) {
        object.insert("metadata".into(), metadata);
    }
    (status, axum::Json(body)).into_response()
}

/// A v2 failure: `response: {code, status:"failure", error_data:{code,message,description}, data:null}`.
pub fn v2_error(status: StatusCode, method: &Method, error_data: Value) -> Response {
    let response = json!({"code": status.as_u16(), "status": "failure", "error_data": error_data, "data": null});
    v2(status, method, None, response)
}

/// v2 `error_data`. Exotel's key names; its numeric codes are only known
/// for a few cases (1001 bad request in the docs' example, 1010 bad
/// credentials and 1100 server error from voice v2), so these are guesses.
pub fn error_data(code: u32, message: &str, description: &str) -> Value {
    json!({"code": code, "message": message, "description": description})
}

fn element(name: &str, value: &Value) -> String {
    match value {
        Value::Null => format!("<{name}/>"),
        Value::Object(map) => format!("<{name}>{}</{name}>", children(map)),
        Value::Array(items) => format!("<{name}>{}</{name}>", items.iter().map(array_item).collect::<String>()),
        Value::String(text) => format!("<{name}>{}</{name}>", escape(text)),
        other => format!("<{name}>{other}</{name}>"),
    }
}

fn children(map: &Map<String, Value>) -> String {
    map.iter().map(|(k, v)| element(k, v)).collect()
}

fn array_item(item: &Value) -> String {
    match item {
        Value::Object(map) => children(map),
        other => element("Item", other),
    }
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
        .replace('\'', "&apos;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_written_in_ist() {
        let at = DateTime::parse_from_rfc3339("2017-03-03T05:18:33Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(exotel_time(at), "2017-03-03 10:48:33");
    }

    #[test]
    fn v2_times_carry_milliseconds_and_the_ist_offset() {
        let at = DateTime::parse_from_rfc3339("2024-01-15T05:00:05Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(iso_time(at), "2024-01-15T10:30:05.000+05:30");
    }

    #[test]
    fn xml_nests_objects_and_arrays_and_escapes_text() {
        let body = json!({"Sid": "a<b", "Details": {"Legs": [{"Leg": {"Id": 1}}]}, "EndTime": null});
        assert_eq!(
            element("Call", &body),
            "<Call><Details><Legs><Leg><Id>1</Id></Leg></Legs></Details><EndTime/><Sid>a&lt;b</Sid></Call>"
        );
    }
}
