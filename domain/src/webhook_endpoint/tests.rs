use super::*;
use chrono::TimeZone;
use cqrs_es::test::TestFramework;

type Given = TestFramework<WebhookEndpoint>;

const ORG: Uuid = Uuid::from_u128(1);
const OTHER_ORG: Uuid = Uuid::from_u128(9);
const ADMIN: Uuid = Uuid::from_u128(2);
const ENDPOINT: Uuid = Uuid::from_u128(3);
const KEY: Uuid = Uuid::from_u128(4);

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 10, minute, 0).unwrap()
}

fn sealed(nonce: &str) -> SealedSecret {
    SealedSecret {
        field: "signing_secret".into(),
        nonce: nonce.into(),
        ciphertext: "Y2lwaGVy".into(),
        fingerprint: "ZmluZ2Vy".into(),
    }
}

fn spec() -> EndpointSpec {
    EndpointSpec {
        url: "https://crm.example.com/hooks".into(),
        event_types: vec![WebhookEventType::CallCompleted, WebhookEventType::CallRequested],
        description: "CRM".into(),
    }
}

fn register(spec: EndpointSpec) -> WebhookEndpointCommand {
    WebhookEndpointCommand::Register {
        endpoint_id: ENDPOINT,
        organisation_id: ORG,
        spec,
        secret: sealed("bjE="),
        data_key_id: KEY,
        created_by: Some(ADMIN),
        at: at(0),
    }
}

fn registered() -> WebhookEndpointEvent {
    WebhookEndpointEvent::WebhookEndpointRegistered {
        endpoint_id: ENDPOINT,
        organisation_id: ORG,
        spec: EndpointSpec {
            event_types: vec![WebhookEventType::CallRequested, WebhookEventType::CallCompleted],
            ..spec()
        },
        secret: sealed("bjE="),
        data_key_id: KEY,
        created_by: Some(ADMIN),
        at: at(0),
    }
}

fn disabled() -> WebhookEndpointEvent {
    WebhookEndpointEvent::WebhookEndpointDisabled {
        reason: "HTTP 500 for 24 hours".into(),
        by: None,
        at: at(5),
    }
}

fn disable(org: Uuid) -> WebhookEndpointCommand {
    WebhookEndpointCommand::Disable {
        organisation_id: org,
        reason: "HTTP 500 for 24 hours".into(),
        by: None,
        at: at(5),
    }
}

fn change(change: EndpointChange) -> WebhookEndpointCommand {
    WebhookEndpointCommand::Change {
        organisation_id: ORG,
        change,
        at: at(3),
    }
}

fn rotated() -> WebhookEndpointEvent {
    WebhookEndpointEvent::WebhookSecretRotated {
        secret: sealed("bjI="),
        previous_valid_until: at(30),
        at: at(6),
    }
}

#[test]
fn registering_sorts_the_event_types_and_trims_the_url() {
    let mut untidy = spec();
    untidy.url = "  https://crm.example.com/hooks ".into();
    untidy.event_types.push(WebhookEventType::CallCompleted);
    Given::with(())
        .given_no_previous_events()
        .when(register(untidy))
        .then_expect_events(vec![registered()]);
}

#[test]
fn an_endpoint_is_registered_once() {
    Given::with(())
        .given(vec![registered()])
        .when(register(spec()))
        .then_expect_error(WebhookEndpointError::AlreadyRegistered);
}

#[test]
fn an_endpoint_needs_an_event_type() {
    let mut none = spec();
    none.event_types.clear();
    Given::with(())
        .given_no_previous_events()
        .when(register(none))
        .then_expect_error(WebhookEndpointError::NoEventTypes);
}

#[test]
fn an_endpoint_url_is_http_or_https_without_credentials_and_not_too_long() {
    for bad in [
        "ftp://crm.example.com/",
        "https://user:pw@crm.example.com/",
        "not a url",
        &format!("https://crm.example.com/{}", "a".repeat(MAX_URL_LEN)),
    ] {
        let mut spec = spec();
        spec.url = bad.to_string();
        Given::with(())
            .given_no_previous_events()
            .when(register(spec))
            .then_expect_error(WebhookEndpointError::InvalidUrl);
    }
    let mut longest = spec();
    longest.url = format!("https://a.example/{}", "a".repeat(MAX_URL_LEN - 18));
    assert_eq!(longest.url.len(), MAX_URL_LEN);
    let events = WebhookEndpoint::default().decide(register(longest)).unwrap();
    assert_eq!(events.len(), 1);
}

#[test]
fn a_description_is_short_and_printable() {
    let mut long = spec();
    long.description = "d".repeat(MAX_DESCRIPTION_LEN + 1);
    let mut control = spec();
    control.description = "CRM\u{202E}".into();
    for spec in [long, control] {
        Given::with(())
            .given_no_previous_events()
            .when(register(spec))
            .then_expect_error(WebhookEndpointError::InvalidDescription);
    }
    let mut longest = spec();
    longest.description = "d".repeat(MAX_DESCRIPTION_LEN);
    assert!(WebhookEndpoint::default().decide(register(longest)).is_ok());
}

#[test]
fn a_change_replaces_only_the_fields_given() {
    let expected = EndpointSpec {
        url: "https://crm.example.com/v2".into(),
        event_types: vec![WebhookEventType::CallRequested, WebhookEventType::CallCompleted],
        description: "CRM".into(),
    };
    Given::with(())
        .given(vec![registered()])
        .when(change(EndpointChange {
            url: Some("https://crm.example.com/v2".into()),
            ..EndpointChange::default()
        }))
        .then_expect_events(vec![WebhookEndpointEvent::WebhookEndpointChanged {
            spec: expected,
            at: at(3),
        }]);
    Given::with(())
        .given(vec![registered()])
        .when(change(EndpointChange {
            event_types: Some(vec![WebhookEventType::RecordingAvailable]),
            description: Some("Recordings".into()),
            ..EndpointChange::default()
        }))
        .then_expect_events(vec![WebhookEndpointEvent::WebhookEndpointChanged {
            spec: EndpointSpec {
                url: "https://crm.example.com/hooks".into(),
                event_types: vec![WebhookEventType::RecordingAvailable],
                description: "Recordings".into(),
            },
            at: at(3),
        }]);
}

#[test]
fn a_change_to_what_is_kept_records_nothing() {
    Given::with(())
        .given(vec![registered()])
        .when(change(EndpointChange {
            url: Some("https://crm.example.com/hooks".into()),
            description: Some("CRM".into()),
            ..EndpointChange::default()
        }))
        .then_expect_events(vec![]);
}

#[test]
fn a_change_is_checked_like_a_registration() {
    let cases = [
        (
            EndpointChange {
                url: Some("ftp://x.example/".into()),
                ..EndpointChange::default()
            },
            WebhookEndpointError::InvalidUrl,
        ),
        (
            EndpointChange {
                event_types: Some(vec![]),
                ..EndpointChange::default()
            },
            WebhookEndpointError::NoEventTypes,
        ),
        (
            EndpointChange {
                description: Some("\u{0007}".into()),
                ..EndpointChange::default()
            },
            WebhookEndpointError::InvalidDescription,
        ),
    ];
    for (change_asked, error) in cases {
        Given::with(())
            .given(vec![registered()])
            .when(change(change_asked))
            .then_expect_error(error);
    }
}

#[test]
fn another_organisation_cannot_touch_an_endpoint() {
    Given::with(())
        .given(vec![registered()])
        .when(disable(OTHER_ORG))
        .then_expect_error(WebhookEndpointError::NotFound);
    Given::with(())
        .given(vec![registered()])
        .when(WebhookEndpointCommand::Delete {
            organisation_id: OTHER_ORG,
            at: at(1),
        })
        .then_expect_error(WebhookEndpointError::NotFound);
    Given::with(())
        .given_no_previous_events()
        .when(disable(ORG))
        .then_expect_error(WebhookEndpointError::NotFound);
}

#[test]
fn a_deleted_endpoint_is_gone() {
    Given::with(())
        .given(vec![
            registered(),
            WebhookEndpointEvent::WebhookEndpointDeleted { at: at(1) },
        ])
        .when(change(EndpointChange::default()))
        .then_expect_error(WebhookEndpointError::NotFound);
    let mut endpoint = WebhookEndpoint::default();
    endpoint.apply(registered());
    assert!(endpoint.is_in(ORG) && endpoint.is_active());
    endpoint.apply(WebhookEndpointEvent::WebhookEndpointDeleted { at: at(1) });
    assert!(!endpoint.is_in(ORG));
    assert!(!endpoint.is_active());
}

#[test]
fn disabling_keeps_the_reason_and_enabling_clears_it() {
    Given::with(())
        .given(vec![registered()])
        .when(disable(ORG))
        .then_expect_events(vec![disabled()]);
    Given::with(())
        .given(vec![registered(), disabled()])
        .when(disable(ORG))
        .then_expect_error(WebhookEndpointError::AlreadyDisabled);
    Given::with(())
        .given(vec![registered(), disabled()])
        .when(WebhookEndpointCommand::Enable {
            organisation_id: ORG,
            at: at(7),
        })
        .then_expect_events(vec![WebhookEndpointEvent::WebhookEndpointEnabled { at: at(7) }]);
    Given::with(())
        .given(vec![registered()])
        .when(WebhookEndpointCommand::Enable {
            organisation_id: ORG,
            at: at(7),
        })
        .then_expect_error(WebhookEndpointError::AlreadyEnabled);
    let mut endpoint = WebhookEndpoint::default();
    endpoint.apply(registered());
    endpoint.apply(disabled());
    assert!(!endpoint.is_active());
    assert_eq!(
        endpoint.disabled.as_ref().map(|d| d.reason.as_str()),
        Some("HTTP 500 for 24 hours")
    );
    endpoint.apply(WebhookEndpointEvent::WebhookEndpointEnabled { at: at(7) });
    assert!(endpoint.is_active());
}

#[test]
fn a_long_reason_is_cut_on_a_character_boundary() {
    let mut endpoint = WebhookEndpoint::default();
    endpoint.apply(registered());
    let events = endpoint
        .decide(WebhookEndpointCommand::Disable {
            organisation_id: ORG,
            reason: "é".repeat(MAX_REASON_LEN + 10),
            by: Some(ADMIN),
            at: at(5),
        })
        .unwrap();
    let [WebhookEndpointEvent::WebhookEndpointDisabled { reason, by, .. }] = events.as_slice() else {
        panic!("{events:?}")
    };
    assert_eq!(reason.chars().count(), MAX_REASON_LEN);
    assert_eq!(*by, Some(ADMIN));
    let short = endpoint
        .decide(WebhookEndpointCommand::Disable {
            organisation_id: ORG,
            reason: "é".repeat(MAX_REASON_LEN),
            by: None,
            at: at(5),
        })
        .unwrap();
    let [WebhookEndpointEvent::WebhookEndpointDisabled { reason, .. }] = short.as_slice() else {
        panic!("{short:?}")
    };
    assert_eq!(reason.chars().count(), MAX_REASON_LEN);
}

#[test]
fn a_rotated_secret_signs_beside_the_previous_one_until_the_overlap_ends() {
    Given::with(())
        .given(vec![registered()])
        .when(WebhookEndpointCommand::RotateSecret {
            organisation_id: ORG,
            secret: sealed("bjI="),
            previous_valid_until: at(30),
            at: at(6),
        })
        .then_expect_events(vec![rotated()]);
    let mut endpoint = WebhookEndpoint::default();
    endpoint.apply(registered());
    assert_eq!(endpoint.signing_secrets(at(6)), vec![&sealed("bjE=")]);
    endpoint.apply(rotated());
    assert_eq!(endpoint.signing_secrets(at(29)), vec![&sealed("bjI="), &sealed("bjE=")]);
    assert_eq!(endpoint.signing_secrets(at(30)), vec![&sealed("bjI=")]);
}

#[test]
fn a_second_rotation_drops_the_oldest_secret() {
    let mut endpoint = WebhookEndpoint::default();
    endpoint.apply(registered());
    endpoint.apply(rotated());
    endpoint.apply(WebhookEndpointEvent::WebhookSecretRotated {
        secret: sealed("bjM="),
        previous_valid_until: at(40),
        at: at(8),
    });
    assert_eq!(endpoint.signing_secrets(at(9)), vec![&sealed("bjM="), &sealed("bjI=")]);
}

#[test]
fn event_types_name_themselves_as_receivers_see_them() {
    for event_type in WebhookEventType::ALL {
        let json = serde_json::to_value(event_type).unwrap();
        assert_eq!(json, serde_json::Value::String(event_type.as_str().into()));
    }
    assert_eq!(WebhookEventType::ALL.len(), 12);
    let names: Vec<&str> = WebhookEventType::ALL[5..].iter().map(|t| t.as_str()).collect();
    assert_eq!(
        names,
        [
            "sms.submitted",
            "sms.delivered",
            "sms.failed",
            "whatsapp.delivered",
            "whatsapp.read",
            "whatsapp.failed",
            "whatsapp.received"
        ]
    );
}
