//! Status callbacks of calls, SMS and WhatsApp messages, as a number's
//! script bends them: sent once, dropped, duplicated, reordered (a later
//! event before an earlier one) or held back on the simulated clock;
//! posted as JSON, multipart form data or form fields.

use serde_json::Value;
use std::time::Duration;

use crate::state::{Scenario, SimState};

/// How a callback body travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Encoding {
    /// `application/json`.
    Json,
    /// `multipart/form-data`, nested values flattened as `Legs[0][Status]`.
    Multipart,
    /// `application/x-www-form-urlencoded`, nested values flattened as
    /// `Legs[0][Status]`.
    Form,
}

impl Encoding {
    /// JSON when `StatusCallbackContentType` asks for it, else form fields
    /// (SMS callbacks know no multipart).
    pub fn from_content_type(content_type: Option<&str>) -> Self {
        match content_type {
            Some("application/json") => Encoding::Json,
            _ => Encoding::Form,
        }
    }

    /// JSON or multipart when `StatusCallbackContentType` asks for it, else
    /// form fields, as voice callbacks are sent.
    pub fn with_multipart(content_type: Option<&str>) -> Self {
        match content_type {
            Some("multipart/form-data") => Encoding::Multipart,
            other => Self::from_content_type(other),
        }
    }
}

/// The callbacks of one call or message, in the order events happen.
///
/// `emit` each event as it happens and `finish` with the last one. When the
/// script says `reorder`, emitted events are held back and arrive after the
/// last, latest first.
pub struct Callbacks {
    url: Option<String>,
    encoding: Encoding,
    script: Scenario,
    held: Vec<Value>,
}

impl Callbacks {
    /// Callbacks to `url` (none when `None`), bent by the `callbacks` and
    /// `callback_delay_seconds` of `script`.
    pub fn new(url: Option<String>, encoding: Encoding, script: &Scenario) -> Self {
        Self {
            url,
            encoding,
            script: script.clone(),
            held: Vec::new(),
        }
    }

    /// Posts an event's body now, or holds it back when reordering.
    pub async fn emit(&mut self, state: &SimState, body: Value) {
        if self.script.callbacks == "reorder" {
            self.held.push(body);
        } else if let Some(url) = &self.url {
            post(state, url, self.encoding, &self.script, vec![body]).await;
        }
    }

    /// Posts the last event's body, then any held back, latest first.
    pub async fn finish(self, state: &SimState, body: Value) {
        let Some(url) = &self.url else { return };
        let bodies = std::iter::once(body).chain(self.held.into_iter().rev()).collect();
        post(state, url, self.encoding, &self.script, bodies).await;
    }
}

/// Posts `bodies` in order, each after `callback_delay_seconds` of simulated
/// time, none (`drop`), twice (`duplicate`) or once (otherwise).
pub async fn post(state: &SimState, url: &str, encoding: Encoding, script: &Scenario, bodies: Vec<Value>) {
    let copies = match script.callbacks.as_str() {
        "drop" => 0,
        "duplicate" => 2,
        _ => 1,
    };
    for body in bodies {
        state.sleep(script.callback_delay_seconds as f64).await;
        for _ in 0..copies {
            let request = state.http.post(url).timeout(Duration::from_secs(10));
            let request = match encoding {
                Encoding::Json => request.json(&body),
                Encoding::Multipart => request.multipart(multipart(&body)),
                Encoding::Form => request.form(&flatten(&body)),
            };
            if let Err(error) = request.send().await {
                tracing::warn!(%error, %url, "status callback failed");
            }
        }
    }
}

fn multipart(body: &Value) -> reqwest::multipart::Form {
    flatten(body)
        .into_iter()
        .fold(reqwest::multipart::Form::new(), |form, (k, v)| form.text(k, v))
}

/// Form fields of a JSON object: nested objects and arrays become
/// `Key[0][Inner]`, null an empty value.
pub fn flatten(body: &Value) -> Vec<(String, String)> {
    let mut fields = Vec::new();
    for (key, value) in body.as_object().into_iter().flatten() {
        push_fields(key.clone(), value, &mut fields);
    }
    fields
}

fn push_fields(name: String, value: &Value, fields: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => map
            .iter()
            .for_each(|(k, v)| push_fields(format!("{name}[{k}]"), v, fields)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| push_fields(format!("{name}[{i}]"), v, fields)),
        Value::String(text) => fields.push((name, text.clone())),
        Value::Null => fields.push((name, String::new())),
        other => fields.push((name, other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_values_become_bracketed_form_fields() {
        let body = json!({"CallSid": "c1", "Duration": 17, "Legs": [{"Status": "completed"}], "CustomField": null});
        let fields = flatten(&body);
        let expected = [
            ("CallSid", "c1"),
            ("CustomField", ""),
            ("Duration", "17"),
            ("Legs[0][Status]", "completed"),
        ];
        let expected: Vec<(String, String)> = expected.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        assert_eq!(fields, expected);
    }

    #[test]
    fn only_application_json_selects_json() {
        assert_eq!(Encoding::from_content_type(Some("application/json")), Encoding::Json);
        assert_eq!(Encoding::from_content_type(Some("multipart/form-data")), Encoding::Form);
        assert_eq!(Encoding::from_content_type(None), Encoding::Form);
    }

    #[test]
    fn voice_callbacks_also_go_as_multipart() {
        let encoding = Encoding::with_multipart;
        assert_eq!(encoding(Some("application/json")), Encoding::Json);
        assert_eq!(encoding(Some("multipart/form-data")), Encoding::Multipart);
        assert_eq!(encoding(Some("text/plain")), Encoding::Form);
        assert_eq!(encoding(None), Encoding::Form);
    }

    #[test]
    fn voice_legs_flatten_as_exotel_posts_them() {
        let body =
            json!({"Legs": [{"OnCallDuration": 0, "Status": "completed"}, {"OnCallDuration": 0, "Status": "busy"}]});
        let fields: Vec<String> = flatten(&body).into_iter().map(|(k, v)| format!("{k}={v}")).collect();
        assert_eq!(
            fields,
            [
                "Legs[0][OnCallDuration]=0",
                "Legs[0][Status]=completed",
                "Legs[1][OnCallDuration]=0",
                "Legs[1][Status]=busy"
            ]
        );
    }
}
