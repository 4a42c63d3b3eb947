use super::*;
use chrono::Utc;
use cqrs_es::test::TestFramework;

type Given = TestFramework<PhoneNumbers>;

const ORG: Uuid = Uuid::from_u128(1);
const EXOTEL: Uuid = Uuid::from_u128(2);
const USER: Uuid = Uuid::from_u128(3);

fn number(e164: &str, can_call: bool) -> SyncedNumber {
    SyncedNumber {
        phone_number: e164.into(),
        details: NumberDetails {
            exotel_sid: e164.trim_start_matches('+').into(),
            display_name: None,
            number_type: "Landline".into(),
            can_call,
            can_sms: true,
            region: None,
        },
    }
}

fn sync(numbers: Vec<SyncedNumber>) -> PhoneNumbersCommand {
    PhoneNumbersCommand::Sync {
        organisation_id: ORG,
        integration_id: EXOTEL,
        numbers,
        at: Utc::now(),
    }
}

fn synced(numbers: Vec<SyncedNumber>) -> Vec<PhoneNumbersEvent> {
    PhoneNumbers::default().decide(sync(numbers)).unwrap()
}

fn id(e164: &str) -> Uuid {
    phone_number_id(ORG, e164)
}

fn types(events: &[PhoneNumbersEvent]) -> Vec<String> {
    events.iter().map(DomainEvent::event_type).collect()
}

#[test]
fn the_first_sync_adds_every_number_and_makes_the_first_callable_one_primary() {
    let events = synced(vec![number("+918047112234", true), number("+918047112233", true)]);
    assert_eq!(
        types(&events),
        ["PhoneNumberAdded", "PhoneNumberAdded", "PrimaryPhoneNumberChosen"]
    );
    assert!(
        matches!(events[2], PhoneNumbersEvent::PrimaryPhoneNumberChosen { number_id, .. } if number_id == id("+918047112233"))
    );
}

#[test]
fn a_sync_that_finds_nothing_new_changes_nothing() {
    let given = synced(vec![number("+918047112233", true)]);
    Given::with(())
        .given(given)
        .when(sync(vec![number("+918047112233", true)]))
        .then_expect_events(vec![]);
}

#[test]
fn a_sync_updates_changed_numbers_and_releases_missing_ones() {
    let given = synced(vec![number("+918047112233", true), number("+918047112234", true)]);
    let mut renamed = number("+918047112234", true);
    renamed.details.display_name = Some("Sales".into());
    let state = given.iter().cloned().fold(PhoneNumbers::default(), |mut s, e| {
        s.apply(e);
        s
    });
    let counts = state.sync_counts(ORG, EXOTEL, std::slice::from_ref(&renamed));
    assert_eq!(
        counts,
        SyncCounts {
            synced: 1,
            new: 0,
            updated: 1,
            released: 1
        }
    );
    let events = state.decide(sync(vec![renamed])).unwrap();
    assert_eq!(
        types(&events),
        ["PhoneNumberUpdated", "PhoneNumberReleased", "PrimaryPhoneNumberChosen"],
        "the released primary hands over to the remaining callable number"
    );
}

#[test]
fn a_number_that_cannot_call_is_never_made_primary() {
    let given = synced(vec![number("+918047112233", false)]);
    assert_eq!(types(&given), ["PhoneNumberAdded"]);
    Given::with(())
        .given(given)
        .when(PhoneNumbersCommand::MakePrimary {
            organisation_id: ORG,
            number_id: id("+918047112233"),
            at: Utc::now(),
        })
        .then_expect_error(PhoneNumbersError::CannotCall);
}

#[test]
fn a_number_is_assigned_and_unassigned() {
    let given = synced(vec![number("+918047112233", true)]);
    let assign = |user_id| PhoneNumbersCommand::Assign {
        organisation_id: ORG,
        number_id: id("+918047112233"),
        user_id,
        assigned_by: None,
        at: Utc::now(),
    };
    let events = Given::with(())
        .given(given.clone())
        .when(assign(Some(USER)))
        .inspect_result();
    assert!(matches!(
        events.as_deref(),
        Ok([PhoneNumbersEvent::PhoneNumberAssigned {
            user_id: Some(USER),
            ..
        }])
    ));
    let mut assigned = given;
    assigned.extend(events.unwrap());
    let back = Given::with(()).given(assigned).when(assign(None)).inspect_result();
    assert!(matches!(
        back.as_deref(),
        Ok([PhoneNumbersEvent::PhoneNumberAssigned { user_id: None, .. }])
    ));
}

#[test]
fn a_released_number_cannot_be_assigned() {
    let mut given = synced(vec![number("+918047112233", true)]);
    given.push(PhoneNumbersEvent::PhoneNumberReleased {
        number_id: id("+918047112233"),
        at: Utc::now(),
    });
    Given::with(())
        .given(given)
        .when(PhoneNumbersCommand::Assign {
            organisation_id: ORG,
            number_id: id("+918047112233"),
            user_id: Some(USER),
            assigned_by: None,
            at: Utc::now(),
        })
        .then_expect_error(PhoneNumbersError::Released);
}

#[test]
fn another_organisation_cannot_touch_the_numbers() {
    let given = synced(vec![number("+918047112233", true)]);
    Given::with(())
        .given(given)
        .when(PhoneNumbersCommand::MakePrimary {
            organisation_id: Uuid::from_u128(99),
            number_id: id("+918047112233"),
            at: Utc::now(),
        })
        .then_expect_error(PhoneNumbersError::NotFound);
}

const OTHER_EXOTEL: Uuid = Uuid::from_u128(4);

fn sync_from(integration_id: Uuid, numbers: Vec<SyncedNumber>) -> PhoneNumbersCommand {
    PhoneNumbersCommand::Sync {
        organisation_id: ORG,
        integration_id,
        numbers,
        at: Utc::now(),
    }
}

fn released(e164: &str) -> PhoneNumbersEvent {
    PhoneNumbersEvent::PhoneNumberReleased {
        number_id: id(e164),
        at: Utc::now(),
    }
}

fn make_primary(e164: &str) -> PhoneNumbersCommand {
    PhoneNumbersCommand::MakePrimary {
        organisation_id: ORG,
        number_id: id(e164),
        at: Utc::now(),
    }
}

#[test]
fn a_numbers_id_comes_from_its_organisation_and_number_and_never_changes() {
    assert_eq!(
        phone_number_id(ORG, "+918047112233").to_string(),
        "724818b9-e4af-5de6-96d9-89d64d65911c"
    );
    assert_ne!(id("+918047112233"), id("+918047112234"));
}

#[test]
fn a_released_number_that_the_provider_lists_again_is_added_again_not_updated() {
    let mut given = synced(vec![number("+918047112233", true), number("+918047112234", true)]);
    given.push(released("+918047112234"));
    let mut renamed = number("+918047112234", true);
    renamed.details.display_name = Some("Sales".into());
    let events = Given::with(())
        .given(given)
        .when(sync(vec![number("+918047112233", true), renamed]))
        .inspect_result()
        .unwrap();
    assert_eq!(types(&events), ["PhoneNumberAdded"]);
}

#[test]
fn a_number_another_integration_lists_with_other_details_is_added_under_that_integration() {
    let given = synced(vec![number("+918047112233", true)]);
    let mut moved = number("+918047112233", true);
    moved.details.exotel_sid = "other-account-sid".into();
    let events = Given::with(())
        .given(given)
        .when(sync_from(OTHER_EXOTEL, vec![moved]))
        .inspect_result()
        .unwrap();
    assert!(
        matches!(
            events.as_slice(),
            [PhoneNumbersEvent::PhoneNumberAdded {
                integration_id: OTHER_EXOTEL,
                ..
            }]
        ),
        "{events:?}"
    );
}

#[test]
fn another_callable_number_is_made_primary() {
    let given = synced(vec![number("+918047112233", true), number("+918047112234", true)]);
    let events = Given::with(())
        .given(given)
        .when(make_primary("+918047112234"))
        .inspect_result()
        .unwrap();
    assert!(
        matches!(events.as_slice(), [PhoneNumbersEvent::PrimaryPhoneNumberChosen { number_id, .. }] if *number_id == id("+918047112234")),
        "{events:?}"
    );
}

#[test]
fn making_the_primary_number_primary_again_records_nothing() {
    let given = synced(vec![number("+918047112233", true), number("+918047112234", true)]);
    Given::with(())
        .given(given)
        .when(make_primary("+918047112233"))
        .then_expect_events(vec![]);
}

#[test]
fn releasing_another_number_keeps_the_primary() {
    let mut given = synced(vec![number("+918047112233", true), number("+918047112234", true)]);
    given.push(released("+918047112234"));
    Given::with(())
        .given(given)
        .when(make_primary("+918047112233"))
        .then_expect_events(vec![]);
}
