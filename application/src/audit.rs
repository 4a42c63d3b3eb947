//! Tamper evidence: the canonical form of a stored event and the hashes
//! that chain events together.

use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::feed::StoredEvent;

/// The hash an aggregate's first event is chained to.
pub const GENESIS: &str = "genesis";

/// JSON with object keys sorted at every level, so the same event always
/// reads the same whichever database stored it.
pub fn canonical_json(value: &Value) -> String {
    let mut out = Vec::with_capacity(256);
    write_canonical(&mut out, value);
    into_string(out)
}

/// Writes `value` in canonical form into `out`: keys sorted, no spaces,
/// strings and numbers as serde_json writes them.
fn write_canonical(out: &mut Vec<u8>, value: &Value) {
    match value {
        Value::Object(map) => {
            // Already in order with serde_json's BTreeMap maps (the stable
            // sort then only checks), in case a dependency turns on
            // `preserve_order`.
            let mut fields: Vec<(&String, &Value)> = map.iter().collect();
            fields.sort_by(|a, b| a.0.cmp(b.0));
            out.push(b'{');
            for (i, (key, value)) in fields.into_iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_plain(out, key.as_str());
                out.push(b':');
                write_canonical(out, value);
            }
            out.push(b'}');
        }
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write_canonical(out, item);
            }
            out.push(b']');
        }
        other => write_plain(out, other),
    }
}

/// A string, number, boolean or null, written as serde_json writes it.
fn write_plain<T: serde::Serialize + ?Sized>(out: &mut Vec<u8>, value: &T) {
    // Writing to a Vec cannot fail, and these values always serialise.
    let _ = serde_json::to_writer(&mut *out, value);
}

fn into_string(bytes: Vec<u8>) -> String {
    // Only serde_json's output and ASCII punctuation were written: UTF-8.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// The event's hash, chained to the hash of its aggregate's previous event:
/// of the canonical form of `[type, id, sequence, event type, version,
/// payload, metadata]`.
pub fn event_hash(previous: &str, event: &StoredEvent) -> String {
    let mut canonical = Vec::with_capacity(512);
    canonical.push(b'[');
    write_plain(&mut canonical, event.aggregate_type.as_str());
    canonical.push(b',');
    write_plain(&mut canonical, event.aggregate_id.as_str());
    canonical.push(b',');
    write_plain(&mut canonical, &event.sequence);
    canonical.push(b',');
    write_plain(&mut canonical, event.event_type.as_str());
    canonical.push(b',');
    write_plain(&mut canonical, event.event_version.as_str());
    canonical.push(b',');
    write_canonical(&mut canonical, &event.payload);
    canonical.push(b',');
    let mut metadata: Vec<(&String, &String)> = event.metadata.iter().collect();
    metadata.sort_by(|a, b| a.0.cmp(b.0));
    canonical.push(b'{');
    for (i, (key, value)) in metadata.into_iter().enumerate() {
        if i > 0 {
            canonical.push(b',');
        }
        write_plain(&mut canonical, key.as_str());
        canonical.push(b':');
        write_plain(&mut canonical, value.as_str());
    }
    canonical.extend_from_slice(b"}]");
    sha256_hex(&[previous.as_bytes(), b"\n", &canonical])
}

/// The next link of an organisation's chain.
pub fn chain_hash(previous: &str, event_hash: &str) -> String {
    sha256_hex(&[previous.as_bytes(), b"\n", event_hash.as_bytes()])
}

fn sha256_hex(parts: &[&[u8]]) -> String {
    let mut digest = Sha256::new();
    for part in parts {
        digest.update(part);
    }
    hex::encode(digest.finalize())
}

/// What `audit verify` found wrong with one stored event.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "finding", rename_all = "snake_case")]
pub enum Finding {
    /// The event's content no longer matches the hash sealed for it.
    Altered {
        aggregate_type: String,
        aggregate_id: String,
        sequence: i64,
    },
    /// A sealed event is no longer in the store.
    Removed {
        aggregate_type: String,
        aggregate_id: String,
        sequence: i64,
    },
    /// The aggregate's sequence has a hole or is out of order here.
    OutOfSequence {
        aggregate_type: String,
        aggregate_id: String,
        sequence: i64,
        expected: i64,
    },
    /// The organisation's chain is broken at this index.
    ChainBroken { chain_index: i64 },
}

/// The outcome of a verification.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct Report {
    pub events_checked: u64,
    /// Events newer than the chain (not yet sealed): not findings.
    pub events_pending: u64,
    pub chain_head: Option<String>,
    pub findings: Vec<Finding>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::HashMap;

    fn event(payload: Value) -> StoredEvent {
        StoredEvent {
            position: 1,
            aggregate_type: "user".into(),
            aggregate_id: "u1".into(),
            sequence: 1,
            event_type: "UserRenamed".into(),
            event_version: "1.0".into(),
            payload,
            metadata: HashMap::from([("actor".to_string(), "system:test".to_string())]),
        }
    }

    /// The canonical form as first defined: every hash sealed so far was
    /// made from it, so the fast writer must give the same bytes.
    fn reference_canonical(value: &Value) -> String {
        match value {
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                let fields: Vec<String> = keys
                    .iter()
                    .map(|k| format!("{}:{}", Value::String((*k).clone()), reference_canonical(&map[*k])))
                    .collect();
                format!("{{{}}}", fields.join(","))
            }
            Value::Array(items) => format!(
                "[{}]",
                items.iter().map(reference_canonical).collect::<Vec<_>>().join(",")
            ),
            other => other.to_string(),
        }
    }

    fn reference_hash(previous: &str, event: &StoredEvent) -> String {
        let metadata = serde_json::to_value(&event.metadata).unwrap();
        let canonical = reference_canonical(&json!([
            event.aggregate_type,
            event.aggregate_id,
            event.sequence,
            event.event_type,
            event.event_version,
            event.payload,
            metadata,
        ]));
        sha256_hex(&[previous.as_bytes(), b"\n", canonical.as_bytes()])
    }

    #[test]
    fn the_canonical_form_and_the_hash_are_those_every_sealed_event_was_hashed_with() {
        let payload: Value = serde_json::from_str(
            r#"{"z":[1,-2.5,1e300,null,true,"\u00e9\"\n\\"],"A":{"b":{},"a":[]},"é":"ü","":0,"k\u0001":"\t"}"#,
        )
        .unwrap();
        assert_eq!(canonical_json(&payload), reference_canonical(&payload));
        let mut stored = event(payload);
        stored
            .metadata
            .insert("occurred_at".into(), "2026-12-02T00:00:00Z".into());
        stored.metadata.insert("Zed \"quoted\"".into(), "ä\u{7f}".into());
        stored.sequence = 9_007_199_254_740_993;
        assert_eq!(event_hash("prev", &stored), reference_hash("prev", &stored));
    }

    #[test]
    fn key_order_does_not_change_the_hash() {
        let a: Value = serde_json::from_str(r#"{"b":1,"a":{"y":2,"x":[1,{"q":1,"p":2}]}}"#).unwrap();
        let b: Value = serde_json::from_str(r#"{"a":{"x":[1,{"p":2,"q":1}],"y":2},"b":1}"#).unwrap();
        assert_eq!(event_hash(GENESIS, &event(a)), event_hash(GENESIS, &event(b)));
    }

    #[test]
    fn any_change_to_the_payload_or_the_previous_hash_changes_the_hash() {
        let original = event_hash(GENESIS, &event(json!({"name": "Asha"})));
        assert_ne!(original, event_hash(GENESIS, &event(json!({"name": "Asha "}))));
        assert_ne!(original, event_hash("other", &event(json!({"name": "Asha"}))));
    }
}
