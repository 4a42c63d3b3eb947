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
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let fields: Vec<String> = keys
                .iter()
                .map(|k| format!("{}:{}", Value::String((*k).clone()), canonical_json(&map[*k])))
                .collect();
            format!("{{{}}}", fields.join(","))
        }
        Value::Array(items) => format!("[{}]", items.iter().map(canonical_json).collect::<Vec<_>>().join(",")),
        other => other.to_string(),
    }
}

/// The event's hash, chained to the hash of its aggregate's previous event.
pub fn event_hash(previous: &str, event: &StoredEvent) -> String {
    let metadata = serde_json::to_value(&event.metadata).unwrap_or(Value::Null);
    let canonical = canonical_json(&serde_json::json!([
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
