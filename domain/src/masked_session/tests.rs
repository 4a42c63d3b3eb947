use super::*;
use chrono::TimeZone;
use cqrs_es::test::TestFramework;

type Given = TestFramework<MaskedSession>;

const ORG: Uuid = Uuid::from_u128(1);
const SESSION: Uuid = Uuid::from_u128(5);
const RIDER: &str = "+919800000001";
const CUSTOMER: &str = "+919800000002";
const VIRTUAL: &str = "+918047112233";

fn at(minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 10, minute, 0).unwrap()
}

fn terms(max_calls: Option<u32>) -> SessionTerms {
    SessionTerms {
        organisation_id: ORG,
        party_a: RIDER.into(),
        party_b: CUSTOMER.into(),
        virtual_number: VIRTUAL.into(),
        expires_at: at(30),
        max_calls,
        created_by: None,
    }
}

fn opened(max_calls: Option<u32>) -> MaskedSessionEvent {
    MaskedSessionEvent::MaskedSessionOpened {
        session_id: SESSION,
        terms: terms(max_calls),
        at: at(0),
    }
}

fn open(terms: SessionTerms) -> MaskedSessionCommand {
    MaskedSessionCommand::Open {
        session_id: SESSION,
        terms,
        at: at(0),
    }
}

fn route(sid: &str, caller: &str, minute: u32) -> MaskedSessionCommand {
    MaskedSessionCommand::Route {
        organisation_id: ORG,
        provider_sid: sid.into(),
        caller: caller.into(),
        at: at(minute),
    }
}

fn routed(sid: &str, caller: &str, minute: u32, decision: Decision) -> MaskedSessionEvent {
    MaskedSessionEvent::MaskedCallRouted {
        provider_sid: sid.into(),
        caller: caller.into(),
        decision,
        at: at(minute),
    }
}

fn refused(reason: Refusal) -> Decision {
    Decision::Refused { reason }
}

#[test]
fn a_session_opens_with_its_terms() {
    Given::with(())
        .given_no_previous_events()
        .when(open(terms(Some(3))))
        .then_expect_events(vec![opened(Some(3))]);
    Given::with(())
        .given(vec![opened(None)])
        .when(open(terms(None)))
        .then_expect_error(MaskedSessionError::AlreadyOpen);
}

#[test]
fn a_session_needs_two_parties_and_a_number_that_is_neither() {
    let mut same = terms(None);
    same.party_b = RIDER.into();
    Given::with(())
        .given_no_previous_events()
        .when(open(same))
        .then_expect_error(MaskedSessionError::SameParties);
    let mut own = terms(None);
    own.virtual_number = CUSTOMER.into();
    Given::with(())
        .given_no_previous_events()
        .when(open(own))
        .then_expect_error(MaskedSessionError::VirtualNumberIsAParty);
    let mut own_a = terms(None);
    own_a.virtual_number = RIDER.into();
    Given::with(())
        .given_no_previous_events()
        .when(open(own_a))
        .then_expect_error(MaskedSessionError::VirtualNumberIsAParty);
}

#[test]
fn a_session_lasts_from_a_second_to_thirty_days_and_a_cap_allows_a_call() {
    let mut past = terms(None);
    past.expires_at = at(0);
    let mut long = terms(None);
    long.expires_at = at(0) + chrono::Duration::seconds(MAX_LIFETIME_SECS + 1);
    for terms in [past, long] {
        Given::with(())
            .given_no_previous_events()
            .when(open(terms))
            .then_expect_error(MaskedSessionError::Lifetime);
    }
    let mut longest = terms(None);
    longest.expires_at = at(0) + chrono::Duration::days(30);
    assert!(MaskedSession::default().decide(open(longest)).is_ok(), "thirty days");
    let mut over = terms(None);
    over.expires_at = at(0) + chrono::Duration::days(30) + chrono::Duration::seconds(1);
    assert_eq!(
        MaskedSession::default().decide(open(over)),
        Err(MaskedSessionError::Lifetime)
    );
    let mut shortest = terms(None);
    shortest.expires_at = at(0) + chrono::Duration::seconds(1);
    assert!(MaskedSession::default().decide(open(shortest)).is_ok());
    for cap in [0, MAX_CALLS_CAP + 1] {
        Given::with(())
            .given_no_previous_events()
            .when(open(terms(Some(cap))))
            .then_expect_error(MaskedSessionError::CapOutOfRange);
    }
    assert!(
        MaskedSession::default()
            .decide(open(terms(Some(MAX_CALLS_CAP))))
            .is_ok()
    );
    assert!(MaskedSession::default().decide(open(terms(Some(1)))).is_ok());
}

#[test]
fn either_party_is_put_through_to_the_other() {
    Given::with(())
        .given(vec![opened(None)])
        .when(route("s1", RIDER, 1))
        .then_expect_events(vec![routed("s1", RIDER, 1, Decision::Connected { from: Party::A })]);
    Given::with(())
        .given(vec![opened(None)])
        .when(route("s1", CUSTOMER, 1))
        .then_expect_events(vec![routed("s1", CUSTOMER, 1, Decision::Connected { from: Party::B })]);
    let mut session = MaskedSession::default();
    session.apply(opened(None));
    assert_eq!(
        session.other_party(&Decision::Connected { from: Party::A }),
        Some(CUSTOMER)
    );
    assert_eq!(
        session.other_party(&Decision::Connected { from: Party::B }),
        Some(RIDER)
    );
    assert_eq!(session.other_party(&refused(Refusal::Expired)), None);
}

#[test]
fn a_stranger_is_refused() {
    Given::with(())
        .given(vec![opened(None)])
        .when(route("s1", "+919800000009", 1))
        .then_expect_events(vec![routed("s1", "+919800000009", 1, refused(Refusal::UnknownCaller))]);
}

#[test]
fn nothing_connects_from_the_moment_the_session_expires() {
    Given::with(())
        .given(vec![opened(None)])
        .when(route("s1", RIDER, 30))
        .then_expect_events(vec![routed("s1", RIDER, 30, refused(Refusal::Expired))]);
    Given::with(())
        .given(vec![opened(None)])
        .when(route("s1", RIDER, 29))
        .then_expect_events(vec![routed("s1", RIDER, 29, Decision::Connected { from: Party::A })]);
}

#[test]
fn nothing_connects_past_the_cap_and_refusals_do_not_count_against_it() {
    let first = routed("s1", RIDER, 1, Decision::Connected { from: Party::A });
    let stranger = routed("s2", "+919800000009", 2, refused(Refusal::UnknownCaller));
    Given::with(())
        .given(vec![opened(Some(2)), first.clone(), stranger.clone()])
        .when(route("s3", CUSTOMER, 3))
        .then_expect_events(vec![routed("s3", CUSTOMER, 3, Decision::Connected { from: Party::B })]);
    let second = routed("s3", CUSTOMER, 3, Decision::Connected { from: Party::B });
    Given::with(())
        .given(vec![opened(Some(2)), first, stranger, second])
        .when(route("s4", RIDER, 4))
        .then_expect_events(vec![routed("s4", RIDER, 4, refused(Refusal::CapReached))]);
}

#[test]
fn an_ended_session_connects_nothing_and_stays_ended() {
    let ended = MaskedSessionEvent::MaskedSessionEnded { at: at(2) };
    Given::with(())
        .given(vec![opened(None), ended.clone()])
        .when(route("s1", RIDER, 3))
        .then_expect_events(vec![routed("s1", RIDER, 3, refused(Refusal::Ended))]);
    Given::with(())
        .given(vec![opened(None), ended])
        .when(MaskedSessionCommand::End {
            organisation_id: ORG,
            at: at(4),
        })
        .then_expect_error(MaskedSessionError::AlreadyEnded);
    Given::with(())
        .given(vec![opened(None)])
        .when(MaskedSessionCommand::End {
            organisation_id: ORG,
            at: at(4),
        })
        .then_expect_events(vec![MaskedSessionEvent::MaskedSessionEnded { at: at(4) }]);
}

#[test]
fn a_provider_call_asked_about_twice_is_decided_once() {
    let first = routed("s1", RIDER, 1, Decision::Connected { from: Party::A });
    Given::with(())
        .given(vec![opened(Some(1)), first.clone()])
        .when(route("s1", RIDER, 2))
        .then_expect_events(vec![]);
    let mut session = MaskedSession::default();
    session.apply(opened(Some(1)));
    session.apply(first);
    assert_eq!(
        session.decision_for("s1").map(|c| &c.decision),
        Some(&Decision::Connected { from: Party::A })
    );
    assert!(session.decision_for("s2").is_none());
}

#[test]
fn another_organisation_cannot_use_or_end_a_session() {
    let other = Uuid::from_u128(9);
    Given::with(())
        .given(vec![opened(None)])
        .when(MaskedSessionCommand::Route {
            organisation_id: other,
            provider_sid: "s1".into(),
            caller: RIDER.into(),
            at: at(1),
        })
        .then_expect_error(MaskedSessionError::NotFound);
    Given::with(())
        .given(vec![opened(None)])
        .when(MaskedSessionCommand::End {
            organisation_id: other,
            at: at(1),
        })
        .then_expect_error(MaskedSessionError::NotFound);
    let mut session = MaskedSession::default();
    assert!(!session.is_in(ORG));
    session.apply(opened(None));
    assert!(session.is_in(ORG) && !session.is_in(other));
}

#[test]
fn a_session_is_open_until_it_expires_ends_or_reaches_its_cap() {
    let mut session = MaskedSession::default();
    assert!(!session.is_open_at(at(1)));
    session.apply(opened(Some(1)));
    assert!(session.is_open_at(at(29)));
    assert!(!session.is_open_at(at(30)));
    session.apply(routed("s1", RIDER, 1, Decision::Connected { from: Party::A }));
    assert_eq!(session.connected(), 1);
    assert!(!session.is_open_at(at(2)));
    let mut ended = MaskedSession::default();
    ended.apply(opened(None));
    ended.apply(MaskedSessionEvent::MaskedSessionEnded { at: at(2) });
    assert!(!ended.is_open_at(at(3)));
}
