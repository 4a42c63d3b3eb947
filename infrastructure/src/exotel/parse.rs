//! Reading what Exotel sends: JSON or XML bodies, numbers that arrive as
//! strings or integers, IST timestamps with their "empty" spellings, phone
//! numbers in 0-prefixed national form, and the error shapes of each API
//! family.

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone, Utc};
use serde_json::{Map, Value};

/// A response body as JSON, whether Exotel wrote JSON or (v1 default) XML
/// inside `<TwilioResponse>`.
pub fn body_value(bytes: &[u8]) -> Option<Value> {
    if let Ok(value) = serde_json::from_slice::<Value>(bytes) {
        return Some(value);
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let document = roxmltree::Document::parse(text).ok()?;
    let root = document.root_element();
    match root.tag_name().name() {
        "TwilioResponse" => Some(element(root)),
        name => Some(Value::Object(Map::from_iter([(name.to_string(), element(root))]))),
    }
}

/// An XML element as JSON: text for a leaf, an object for children, and
/// an array where a name repeats or a list element (`Legs`, `Calls`) holds items.
fn element(node: roxmltree::Node) -> Value {
    let kids: Vec<_> = node.children().filter(|n| n.is_element()).collect();
    if kids.is_empty() {
        return node.text().map(|t| Value::String(t.to_string())).unwrap_or(Value::Null);
    }
    let first = kids[0].tag_name().name();
    let repeated = kids.len() > 1 && kids.iter().all(|k| k.tag_name().name() == first);
    match repeated {
        true => Value::Array(kids.iter().map(|k| wrap(*k)).collect()),
        false => Value::Object(children(node)),
    }
}

fn wrap(node: roxmltree::Node) -> Value {
    Value::Object(Map::from_iter([(node.tag_name().name().to_string(), element(node))]))
}

fn children(node: roxmltree::Node) -> Map<String, Value> {
    node.children()
        .filter(|n| n.is_element())
        .map(|n| (n.tag_name().name().to_string(), element(n)))
        .collect()
}

/// A text field; numbers are written as text, empty and null are `None`.
pub fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if s.trim().is_empty() => None,
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

/// A whole number that may arrive as `17`, `"17"` or `"17.0"`.
pub fn whole(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64().or_else(|| n.as_f64().map(|f| f as u64)),
        Value::String(s) => s.trim().parse::<u64>().ok().or_else(|| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f as u64)
        }),
        _ => None,
    }
}

/// A signed code (`21010`, `"21010"`).
pub fn code(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `true`, `"true"`, `1`, `"Yes"`.
pub fn flag(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        Some(Value::String(s)) => matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "yes" | "1"),
        _ => false,
    }
}

/// A timestamp: v1's `YYYY-MM-DD HH:mm:ss` in IST, v2/v3 RFC 3339 or
/// `YYYY-MM-DD HH:mm:ss+05:30`. The "no time" spellings
/// (`1970-01-01 05:30:00`, `0000-00-00 00:00:00`) are `None`.
pub fn time(value: Option<&Value>) -> Option<DateTime<Utc>> {
    let text = text(value)?;
    let text = text.trim();
    if text.starts_with("0000-00-00") || text == "1970-01-01 05:30:00" {
        return None;
    }
    if let Ok(at) = DateTime::parse_from_rfc3339(text) {
        return Some(at.with_timezone(&Utc));
    }
    if let Ok(at) = DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%:z") {
        return Some(at.with_timezone(&Utc));
    }
    let naive = NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S").ok()?;
    let ist = FixedOffset::east_opt(5 * 3600 + 30 * 60)?;
    ist.from_local_datetime(&naive)
        .single()
        .map(|at| at.with_timezone(&Utc))
}

/// A phone number in E.164: Exotel writes Indian numbers 0-prefixed
/// (`09876543210`), without `+` (`919876543210`) or as E.164. Anything
/// that is not a number is kept as written (sender ids, SIP URIs).
pub fn e164(raw: &str) -> String {
    let trimmed = raw.trim();
    let digits: String = trimmed.chars().filter(char::is_ascii_digit).collect();
    let candidate = match (trimmed.starts_with('+'), digits.len()) {
        (true, _) => trimmed.to_string(),
        (false, 12) if digits.starts_with("91") => format!("+{digits}"),
        (false, 11) if digits.starts_with('0') => format!("+91{}", &digits[1..]),
        (false, 10) => format!("+91{digits}"),
        _ => return trimmed.to_string(),
    };
    match phonenumber::parse(Some(phonenumber::country::Id::IN), &candidate) {
        Ok(number) => number.format().mode(phonenumber::Mode::E164).to_string(),
        Err(_) => trimmed.to_string(),
    }
}

/// Exotel's own error in a body, whichever family wrote it:
/// v1/v2_beta `RestException{Status,Code,Message}`, the v2 envelope's
/// `error_data{code,message,description}`, Lead Assist's
/// `{success:false,status,code,message}`. Gives (status, code, message).
pub fn error_of(body: &Value) -> Option<(Option<u16>, Option<i64>, String)> {
    if let Some(rest) = body.get("RestException") {
        let status = whole(rest.get("Status")).and_then(|s| u16::try_from(s).ok());
        let message = text(rest.get("Message")).unwrap_or_else(|| "no message".into());
        return Some((status, code(rest.get("Code")), message));
    }
    if let Some(data) = v2_error_data(body) {
        let message = text(data.get("message"))
            .or_else(|| text(data.get("description")))
            .unwrap_or_else(|| "no message".into());
        let status = whole(body.get("http_code")).and_then(|s| u16::try_from(s).ok());
        return Some((status, code(data.get("code")), message));
    }
    if body.get("success") == Some(&Value::Bool(false)) {
        let status = whole(body.get("status")).and_then(|s| u16::try_from(s).ok());
        let message = text(body.get("message")).unwrap_or_else(|| "no message".into());
        return Some((status, code(body.get("code")), message));
    }
    None
}

fn v2_error_data(body: &Value) -> Option<&Map<String, Value>> {
    let response = body.get("response")?;
    let response = match response {
        Value::Array(items) => items.first()?,
        other => other,
    };
    response.get("error_data")?.as_object()
}

/// A short, printable rendering of a body that was not understood.
pub fn excerpt(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn xml_responses_read_like_their_json_twins() {
        let xml = br#"<?xml version="1.0" encoding="UTF-8"?>
<TwilioResponse><Call><Sid>abc</Sid><Status>in-progress</Status><EndTime/><Details><Legs><Leg><Id>1</Id></Leg><Leg><Id>2</Id></Leg></Legs></Details></Call></TwilioResponse>"#;
        let value = body_value(xml).unwrap();
        assert_eq!(value["Call"]["Sid"], "abc");
        assert_eq!(value["Call"]["EndTime"], Value::Null);
        assert_eq!(value["Call"]["Details"]["Legs"][1]["Leg"]["Id"], "2");
    }

    #[test]
    fn repeated_xml_elements_become_a_list() {
        let xml = b"<TwilioResponse><SMSMessage><Sid>a</Sid></SMSMessage><SMSMessage><Sid>b</Sid></SMSMessage></TwilioResponse>";
        let value = body_value(xml).unwrap();
        assert_eq!(value[1]["SMSMessage"]["Sid"], "b");
    }

    #[test]
    fn numbers_arrive_as_strings_or_integers() {
        for raw in [json!(17), json!("17"), json!("17.0"), json!(17.0)] {
            assert_eq!(whole(Some(&raw)), Some(17));
        }
        assert_eq!(whole(Some(&json!(""))), None);
        assert_eq!(code(Some(&json!("21010"))), Some(21010));
    }

    #[test]
    fn v1_times_are_ist_and_the_empty_spellings_are_none() {
        let at = time(Some(&json!("2017-03-03 10:48:33"))).unwrap();
        assert_eq!(at.to_rfc3339(), "2017-03-03T05:18:33+00:00");
        assert_eq!(time(Some(&json!("1970-01-01 05:30:00"))), None);
        assert_eq!(time(Some(&json!("0000-00-00 00:00:00"))), None);
        let v3 = time(Some(&json!("2022-11-03 22:54:40+05:30"))).unwrap();
        assert_eq!(v3.to_rfc3339(), "2022-11-03T17:24:40+00:00");
        assert!(time(Some(&json!("2024-01-15T10:30:05.000+05:30"))).is_some());
    }

    #[test]
    fn indian_numbers_in_any_exotel_form_become_e164() {
        for raw in ["09876543210", "919876543210", "9876543210", "+919876543210"] {
            assert_eq!(e164(raw), "+919876543210");
        }
        assert_eq!(e164("EXOTEL"), "EXOTEL");
    }

    #[test]
    fn errors_are_read_from_each_family() {
        let v1 = json!({"RestException": {"Status": 403, "Code": 34009, "Message": "TRAI NDNC"}});
        assert_eq!(error_of(&v1), Some((Some(403), Some(34009), "TRAI NDNC".into())));
        let v2 = json!({"http_code": 400, "response": {"code": 400, "status": "failure",
            "error_data": {"code": 1001, "description": "at least one channel is mandatory"}}});
        assert_eq!(
            error_of(&v2),
            Some((Some(400), Some(1001), "at least one channel is mandatory".into()))
        );
        let lead = json!({"success": false, "status": 409, "code": 18, "message": "Allocation exists"});
        assert_eq!(error_of(&lead), Some((Some(409), Some(18), "Allocation exists".into())));
        assert_eq!(error_of(&json!({"Call": {}})), None);
    }
}

/// Form fields (urlencoded or multipart) as JSON, with bracketed names
/// nested: `Legs[0][Status]=busy` becomes `{"Legs": {"0": {"Status": "busy"}}}`.
/// Values stay strings; a name given twice keeps its last value.
pub fn nested_fields(pairs: &[(String, String)]) -> Value {
    let mut root = Map::new();
    for (name, value) in pairs {
        let mut path: Vec<&str> = Vec::new();
        let (head, mut rest) = name.split_once('[').map_or((name.as_str(), ""), |(h, r)| (h, r));
        path.push(head);
        while let Some((key, after)) = rest.split_once(']') {
            path.push(key);
            rest = after.strip_prefix('[').unwrap_or("");
        }
        insert(&mut root, &path, value);
    }
    Value::Object(root)
}

fn insert(map: &mut Map<String, Value>, path: &[&str], value: &str) {
    match path {
        [] => {}
        [last] => {
            map.insert((*last).to_string(), Value::String(value.to_string()));
        }
        [first, rest @ ..] => {
            let entry = map
                .entry((*first).to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if !entry.is_object() {
                *entry = Value::Object(Map::new());
            }
            if let Value::Object(inner) = entry {
                insert(inner, rest, value);
            }
        }
    }
}

#[cfg(test)]
mod nested_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn bracketed_form_names_nest_and_plain_names_stay_flat() {
        let pairs = [
            ("CallSid", "abc"),
            ("Legs[0][Status]", "completed"),
            ("Legs[0][OnCallDuration]", "21"),
            ("Legs[1][Status]", "busy"),
            ("Legs[1][Insights][Status]", "FAILED"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!(
            nested_fields(&pairs),
            json!({"CallSid": "abc", "Legs": {"0": {"Status": "completed", "OnCallDuration": "21"},
                "1": {"Status": "busy", "Insights": {"Status": "FAILED"}}}})
        );
    }
}
