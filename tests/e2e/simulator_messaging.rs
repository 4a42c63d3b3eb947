//! The Exotel simulator's SMS (v1) and WhatsApp (v2) over HTTP: Exotel's
//! URLs, auth, formats, codes, limits, callbacks and scripted faults,
//! checked against the example payloads of the wire-format reference.

mod sms;
mod whatsapp;

use serde_json::Value;

use crate::support::sim::{
    self, Callbacks, EXOPHONE, FAULTS, KEY, TIMES_OUT, TOKEN, admin, admin_status, callback_sink, kind, next_callback,
    nothing_arrives, script,
};
use simulator::RunningSimulator;

async fn next_json(receiver: &mut Callbacks) -> Value {
    let (kind, body) = next_callback(receiver).await;
    assert!(kind.starts_with("application/json"), "{kind}");
    serde_json::from_str(&body).unwrap()
}

/// `actual` has the same keys, nesting and JSON types as a reference example.
fn assert_same_shape(actual: &Value, example: &Value, at: &str) {
    match (actual, example) {
        (Value::Object(a), Value::Object(e)) => {
            let (mut keys, mut expected): (Vec<_>, Vec<_>) = (a.keys().collect(), e.keys().collect());
            keys.sort();
            expected.sort();
            assert_eq!(keys, expected, "keys at {at}");
            for (key, value) in e {
                assert_same_shape(&a[key], value, &format!("{at}.{key}"));
            }
        }
        (Value::Array(a), Value::Array(e)) => {
            if let (Some(first), Some(example)) = (a.first(), e.first()) {
                assert_same_shape(first, example, &format!("{at}[0]"));
            }
        }
        _ => assert_eq!(kind(actual), kind(example), "type at {at}: {actual}"),
    }
}
