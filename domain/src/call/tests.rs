use super::*;
use chrono::TimeZone;
use cqrs_es::test::TestFramework;

type Given = TestFramework<Call>;

const ORG: Uuid = Uuid::from_u128(1);
const AGENT: Uuid = Uuid::from_u128(2);

fn at(second: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 10, 0, second).unwrap()
}

fn request() -> Box<CallRequest> {
    Box::new(CallRequest {
        organisation_id: ORG,
        direction: Direction::Outbound,
        requested_by: Some(AGENT),
        agent_user_id: Some(AGENT),
        agent_phone: "+919800000001".into(),
        customer_phone: "+919800000002".into(),
        customer_id: None,
        caller_id: "+911141169368".into(),
        time_limit_secs: Some(600),
        record: true,
        recording_channels: 2,
        custom_data: None,
        purpose: Purpose::Transactional,
        verified: false,
        masked_session_id: None,
        verification: None,
        thread_id: None,
    })
}

fn requested() -> CallEvent {
    CallEvent::CallRequested {
        request: request(),
        at: at(0),
    }
}

fn started(attempt: u32) -> CallEvent {
    CallEvent::CallDispatchStarted { attempt, at: at(1) }
}

fn placed() -> CallEvent {
    CallEvent::CallPlaced {
        provider_sid: "sid-1".into(),
        at: at(2),
    }
}

fn report(id: &str, status: Option<CallStatus>, details: CallDetails) -> Box<StatusReport> {
    Box::new(StatusReport {
        report_id: id.into(),
        source: ReportSource::Callback,
        provider_sid: Some("sid-1".into()),
        provider_status: status.map(|s| format!("{s:?}")),
        status,
        details,
        received_at: at(30),
    })
}

fn progressed(status: CallStatus) -> CallEvent {
    CallEvent::CallProgressed { status, at: at(30) }
}

fn received(report: Box<StatusReport>) -> CallEvent {
    CallEvent::CallReportReceived { report }
}

fn when_reported(given: Vec<CallEvent>, report: Box<StatusReport>) -> cqrs_es::test::AggregateResultValidator<Call> {
    Given::with(()).given(given).when(CallCommand::RecordReport { report })
}

fn priced() -> CallDetails {
    CallDetails {
        duration_secs: Some(42),
        price_paise: Some(150),
        ..CallDetails::default()
    }
}

#[test]
fn a_call_is_requested_once_and_the_same_request_again_changes_nothing() {
    Given::with(())
        .given_no_previous_events()
        .when(CallCommand::Request {
            request: request(),
            at: at(0),
        })
        .then_expect_events(vec![requested()]);
    Given::with(())
        .given(vec![requested()])
        .when(CallCommand::Request {
            request: request(),
            at: at(5),
        })
        .then_expect_events(vec![]);
}

#[test]
fn a_call_id_used_for_another_request_is_refused() {
    let mut other = request();
    other.customer_phone = "+919800000003".into();
    Given::with(())
        .given(vec![requested()])
        .when(CallCommand::Request {
            request: other,
            at: at(5),
        })
        .then_expect_error(CallError::CallIdReused);
}

#[test]
fn a_time_limit_over_four_hours_is_refused_and_four_hours_is_allowed() {
    let mut long = request();
    long.time_limit_secs = Some(MAX_TIME_LIMIT_SECS + 1);
    Given::with(())
        .given_no_previous_events()
        .when(CallCommand::Request {
            request: long,
            at: at(0),
        })
        .then_expect_error(CallError::TimeLimitTooLong);
    let mut limit = request();
    limit.time_limit_secs = Some(MAX_TIME_LIMIT_SECS);
    Given::with(())
        .given_no_previous_events()
        .when(CallCommand::Request {
            request: limit.clone(),
            at: at(0),
        })
        .then_expect_events(vec![CallEvent::CallRequested {
            request: limit,
            at: at(0),
        }]);
}

#[test]
fn a_call_from_a_number_to_itself_is_refused() {
    let mut same = request();
    same.customer_phone = same.agent_phone.clone();
    Given::with(())
        .given_no_previous_events()
        .when(CallCommand::Request {
            request: same,
            at: at(0),
        })
        .then_expect_error(CallError::SameNumbers);
}

#[test]
fn a_recording_has_one_or_two_channels() {
    for (channels, allowed) in [(0, false), (1, true), (2, true), (3, false)] {
        let mut asked = request();
        asked.recording_channels = channels;
        let then = Given::with(()).given_no_previous_events().when(CallCommand::Request {
            request: asked.clone(),
            at: at(0),
        });
        match allowed {
            true => then.then_expect_events(vec![CallEvent::CallRequested {
                request: asked,
                at: at(0),
            }]),
            false => then.then_expect_error(CallError::RecordingChannels),
        }
    }
}

#[test]
fn each_attempt_is_numbered_and_an_attempt_without_an_outcome_blocks_the_next() {
    Given::with(())
        .given(vec![requested()])
        .when(CallCommand::StartDispatch { at: at(1) })
        .then_expect_events(vec![started(1)]);
    Given::with(())
        .given(vec![requested(), started(1)])
        .when(CallCommand::StartDispatch { at: at(3) })
        .then_expect_error(CallError::DispatchInDoubt);
}

#[test]
fn a_call_the_provider_provably_lacks_may_be_attempted_again() {
    Given::with(())
        .given(vec![requested(), started(1)])
        .when(CallCommand::RecordNotAtProvider { at: at(2) })
        .then_expect_events(vec![CallEvent::CallNotFoundAtProvider { at: at(2) }]);
    Given::with(())
        .given(vec![
            requested(),
            started(1),
            CallEvent::CallNotFoundAtProvider { at: at(2) },
        ])
        .when(CallCommand::StartDispatch { at: at(3) })
        .then_expect_events(vec![CallEvent::CallDispatchStarted { attempt: 2, at: at(3) }]);
}

#[test]
fn a_placed_or_refused_call_is_never_attempted_again() {
    let refusal = ProviderRefusal {
        http_status: 403,
        code: None,
        message: "DND".into(),
    };
    let refused = CallEvent::CallRefused { refusal, at: at(2) };
    for done in [placed(), refused] {
        Given::with(())
            .given(vec![requested(), started(1), done.clone()])
            .when(CallCommand::StartDispatch { at: at(3) })
            .then_expect_error(CallError::AlreadyDispatched);
        Given::with(())
            .given(vec![requested(), started(1), done])
            .when(CallCommand::RecordNotAtProvider { at: at(3) })
            .then_expect_error(CallError::AlreadyDispatched);
    }
}

#[test]
fn outcomes_of_an_attempt_need_the_attempt_started() {
    let refusal = ProviderRefusal {
        http_status: 400,
        code: Some(34001),
        message: "invalid".into(),
    };
    Given::with(())
        .given(vec![requested()])
        .when(CallCommand::RecordRefusal { refusal, at: at(2) })
        .then_expect_error(CallError::NotStarted);
    Given::with(())
        .given(vec![requested()])
        .when(CallCommand::RecordPlaced {
            provider_sid: "sid-1".into(),
            at: at(2),
        })
        .then_expect_error(CallError::NotStarted);
    Given::with(())
        .given(vec![requested()])
        .when(CallCommand::RecordNotAtProvider { at: at(2) })
        .then_expect_error(CallError::NotStarted);
    Given::with(())
        .given_no_previous_events()
        .when(CallCommand::StartDispatch { at: at(1) })
        .then_expect_error(CallError::NotFound);
}

#[test]
fn the_same_sid_recorded_again_changes_nothing_and_another_sid_is_refused() {
    Given::with(())
        .given(vec![requested(), started(1), placed()])
        .when(CallCommand::RecordPlaced {
            provider_sid: "sid-1".into(),
            at: at(4),
        })
        .then_expect_events(vec![]);
    Given::with(())
        .given(vec![requested(), started(1), placed()])
        .when(CallCommand::RecordPlaced {
            provider_sid: "sid-2".into(),
            at: at(4),
        })
        .then_expect_error(CallError::SidMismatch);
}

#[test]
fn a_placed_call_is_queued_and_a_refused_one_has_ended() {
    let mut call = Call::default();
    for event in [requested(), started(1), placed()] {
        call.apply(event);
    }
    assert_eq!(
        (call.dispatch, call.status),
        (Dispatch::Placed, Some(CallStatus::Queued))
    );
    assert_eq!(call.provider_sid.as_deref(), Some("sid-1"));
    let mut refused = Call::default();
    let refusal = ProviderRefusal {
        http_status: 403,
        code: None,
        message: "DND".into(),
    };
    for event in [requested(), started(1), CallEvent::CallRefused { refusal, at: at(2) }] {
        refused.apply(event);
    }
    assert_eq!(refused.status, Some(CallStatus::Refused));
    assert_eq!(refused.ended_at, Some(at(2)));
}

#[test]
fn a_status_report_is_kept_and_moves_the_call_forward() {
    let ringing = report("r1", Some(CallStatus::Ringing), CallDetails::default());
    when_reported(vec![requested(), started(1), placed()], ringing.clone())
        .then_expect_events(vec![received(ringing), progressed(CallStatus::Ringing)]);
}

#[test]
fn the_same_report_twice_is_recorded_once() {
    let ringing = report("r1", Some(CallStatus::Ringing), CallDetails::default());
    when_reported(
        vec![
            requested(),
            started(1),
            placed(),
            received(ringing.clone()),
            progressed(CallStatus::Ringing),
        ],
        ringing,
    )
    .then_expect_events(vec![]);
}

#[test]
fn a_late_ringing_after_completed_is_kept_as_a_fact_and_changes_nothing() {
    let late = report("r2", Some(CallStatus::Ringing), CallDetails::default());
    when_reported(
        vec![requested(), started(1), placed(), progressed(CallStatus::Completed)],
        late.clone(),
    )
    .then_expect_events(vec![received(late)]);
}

#[test]
fn an_ended_call_does_not_change_its_ending() {
    let busy = report("r2", Some(CallStatus::Busy), CallDetails::default());
    when_reported(
        vec![requested(), started(1), placed(), progressed(CallStatus::NoAnswer)],
        busy.clone(),
    )
    .then_expect_events(vec![received(busy)]);
}

#[test]
fn a_status_of_the_same_rank_does_not_move_the_call() {
    let again = report("r2", Some(CallStatus::Ringing), CallDetails::default());
    when_reported(
        vec![requested(), started(1), placed(), progressed(CallStatus::Ringing)],
        again.clone(),
    )
    .then_expect_events(vec![received(again)]);
}

#[test]
fn duration_and_price_arriving_after_the_end_are_added() {
    let late = report("r3", None, priced());
    when_reported(
        vec![requested(), started(1), placed(), progressed(CallStatus::Completed)],
        late.clone(),
    )
    .then_expect_events(vec![
        received(late),
        CallEvent::CallDetailsAdded {
            details: priced(),
            at: at(30),
        },
    ]);
}

#[test]
fn a_part_once_known_is_kept_and_only_new_parts_are_added() {
    let known = CallEvent::CallDetailsAdded {
        details: priced(),
        at: at(20),
    };
    let changed = CallDetails {
        duration_secs: Some(99),
        price_paise: Some(150),
        recording_url: Some("https://recordings.exotel.test/r.mp3".into()),
        ..CallDetails::default()
    };
    let later = report("r4", None, changed);
    when_reported(vec![requested(), started(1), placed(), known], later.clone()).then_expect_events(vec![
        received(later),
        CallEvent::CallDetailsAdded {
            details: CallDetails {
                recording_url: Some("https://recordings.exotel.test/r.mp3".into()),
                ..CallDetails::default()
            },
            at: at(30),
        },
    ]);
}

#[test]
fn added_details_fill_only_what_was_missing() {
    let mut call = Call::default();
    call.apply(CallEvent::CallDetailsAdded {
        details: priced(),
        at: at(20),
    });
    call.apply(CallEvent::CallDetailsAdded {
        details: CallDetails {
            duration_secs: Some(7),
            legs: Some(vec![Leg {
                status: Some("completed".into()),
                on_call_duration_secs: Some(40),
            }]),
            ..CallDetails::default()
        },
        at: at(21),
    });
    assert_eq!(call.details.duration_secs, Some(42));
    assert_eq!(call.details.price_paise, Some(150));
    assert_eq!(call.details.legs.as_ref().map(Vec::len), Some(1));
}

#[test]
fn an_empty_list_of_legs_adds_nothing() {
    let empty = CallDetails {
        legs: Some(Vec::new()),
        ..CallDetails::default()
    };
    assert_eq!(CallDetails::default().missing_from(&empty), None);
}

#[test]
fn a_report_carrying_the_sid_places_a_call_whose_attempt_had_no_recorded_outcome() {
    let ringing = report("r1", Some(CallStatus::Ringing), CallDetails::default());
    when_reported(vec![requested(), started(1)], ringing.clone()).then_expect_events(vec![
        CallEvent::CallPlaced {
            provider_sid: "sid-1".into(),
            at: at(30),
        },
        received(ringing),
        progressed(CallStatus::Ringing),
    ]);
}

#[test]
fn a_report_of_queued_for_a_call_it_places_adds_no_progress() {
    let queued = report("r1", Some(CallStatus::Queued), CallDetails::default());
    when_reported(vec![requested(), started(1)], queued.clone()).then_expect_events(vec![
        CallEvent::CallPlaced {
            provider_sid: "sid-1".into(),
            at: at(30),
        },
        received(queued),
    ]);
}

#[test]
fn a_report_of_another_provider_call_is_refused() {
    let mut foreign = report("r1", Some(CallStatus::Ringing), CallDetails::default());
    foreign.provider_sid = Some("sid-9".into());
    when_reported(vec![requested(), started(1), placed()], foreign).then_expect_error(CallError::SidMismatch);
}

#[test]
fn a_report_for_no_call_is_refused() {
    let ringing = report("r1", Some(CallStatus::Ringing), CallDetails::default());
    when_reported(vec![], ringing).then_expect_error(CallError::NotFound);
}

#[test]
fn answering_and_ending_are_timed_when_they_happen() {
    let mut call = Call::default();
    for event in [requested(), started(1), placed()] {
        call.apply(event);
    }
    call.apply(CallEvent::CallProgressed {
        status: CallStatus::Answered,
        at: at(10),
    });
    assert_eq!((call.answered_at, call.ended_at), (Some(at(10)), None));
    call.apply(CallEvent::CallProgressed {
        status: CallStatus::Completed,
        at: at(45),
    });
    assert_eq!((call.answered_at, call.ended_at), (Some(at(10)), Some(at(45))));
    assert_eq!(call.status, Some(CallStatus::Completed));
}

#[test]
fn statuses_rank_in_the_order_a_call_moves_and_every_ending_is_terminal() {
    use CallStatus as S;
    let order = [S::Requested, S::Queued, S::Ringing, S::Answered, S::Completed];
    assert!(order.windows(2).all(|w| w[0].rank() < w[1].rank()));
    let endings = [S::Completed, S::Busy, S::NoAnswer, S::Failed, S::Canceled, S::Refused];
    assert!(endings.iter().all(|s| s.is_terminal()));
    assert!(!S::Answered.is_terminal());
    assert_eq!(S::Requested.once_placed(), S::Queued);
    assert_eq!(S::Ringing.once_placed(), S::Ringing);
}

#[test]
fn a_call_belongs_to_the_organisation_that_requested_it() {
    let mut call = Call::default();
    assert!(!call.is_in(ORG));
    call.apply(requested());
    assert!(call.is_in(ORG));
    assert!(!call.is_in(Uuid::from_u128(9)));
}

#[test]
fn a_report_after_the_provider_refused_the_call_is_kept_and_places_nothing() {
    let refusal = ProviderRefusal {
        http_status: 403,
        code: None,
        message: "DND".into(),
    };
    let refused = CallEvent::CallRefused { refusal, at: at(2) };
    let late = report("r1", Some(CallStatus::Failed), CallDetails::default());
    when_reported(vec![requested(), started(1), refused], late.clone()).then_expect_events(vec![received(late)]);
}

#[test]
fn a_report_carrying_the_sid_places_a_call_a_lookup_had_not_found() {
    let not_found = CallEvent::CallNotFoundAtProvider { at: at(2) };
    let ringing = report("r1", Some(CallStatus::Ringing), CallDetails::default());
    when_reported(vec![requested(), started(1), not_found], ringing.clone()).then_expect_events(vec![
        CallEvent::CallPlaced {
            provider_sid: "sid-1".into(),
            at: at(30),
        },
        received(ringing),
        progressed(CallStatus::Ringing),
    ]);
}

#[test]
fn exotels_status_words_read_as_statuses_and_in_progress_means_answered_only_in_an_answered_event() {
    use CallStatus as S;
    let read = |word, event| CallStatus::from_provider(word, event);
    assert_eq!(read("queued", None), Some(S::Queued));
    assert_eq!(read("ringing", None), Some(S::Ringing));
    assert_eq!(read("in-progress", None), Some(S::Queued));
    assert_eq!(read("in-progress", Some("terminal")), Some(S::Queued));
    assert_eq!(read("in-progress", Some("Answered")), Some(S::Answered));
    assert_eq!(read("answered", None), Some(S::Answered));
    assert_eq!(read(" Completed ", Some("terminal")), Some(S::Completed));
    assert_eq!(read("busy", None), Some(S::Busy));
    assert_eq!(read("no-answer", None), Some(S::NoAnswer));
    assert_eq!(read("failed", None), Some(S::Failed));
    assert_eq!(read("canceled", None), Some(S::Canceled));
    assert_eq!(read("cancelled", None), Some(S::Canceled));
    assert_eq!(read("free", None), None);
    assert_eq!(read("", None), None);
}

#[test]
fn a_price_in_rupees_reads_as_whole_paise_with_half_a_paisa_rounded_up() {
    assert_eq!(paise("1.500"), Some(150));
    assert_eq!(paise("0.180000"), Some(18));
    assert_eq!(paise("2"), Some(200));
    assert_eq!(paise("0"), Some(0));
    assert_eq!(paise("12.3"), Some(1230));
    assert_eq!(paise(".5"), Some(50));
    assert_eq!(paise("3."), Some(300));
    assert_eq!(paise("0.125"), Some(13));
    assert_eq!(paise("0.124"), Some(12));
    assert_eq!(paise(" 1.01 "), Some(101));
    assert_eq!(paise("-1.00"), None);
    assert_eq!(paise("1,5"), None);
    assert_eq!(paise("."), None);
    assert_eq!(paise(""), None);
    assert_eq!(paise("1e3"), None);
    assert_eq!(paise("99999999999999999999"), None);
}

#[test]
fn each_attempt_is_timed_when_it_starts() {
    let mut call = Call::default();
    call.apply(requested());
    assert_eq!(call.dispatch_started_at, None);
    call.apply(CallEvent::CallDispatchStarted { attempt: 1, at: at(7) });
    assert_eq!(call.dispatch_started_at, Some(at(7)));
    call.apply(CallEvent::CallNotFoundAtProvider { at: at(8) });
    call.apply(CallEvent::CallDispatchStarted { attempt: 2, at: at(9) });
    assert_eq!((call.dispatch_started_at, call.attempts), (Some(at(9)), 2));
}

fn kept(sha: &str) -> RecordingFile {
    RecordingFile {
        sha256: sha.into(),
        format: "wav".into(),
        content_type: "audio/wav".into(),
        size_bytes: 16_044,
        channels: Some(2),
        duration_secs: Some(1),
    }
}

fn with_recording() -> Vec<CallEvent> {
    let details = CallDetails {
        recording_url: Some("https://recordings.example/r.wav".into()),
        ..CallDetails::default()
    };
    vec![
        requested(),
        started(1),
        placed(),
        CallEvent::CallDetailsAdded { details, at: at(40) },
    ]
}

#[test]
fn a_recording_is_kept_once_per_content_and_only_for_a_call_the_provider_recorded() {
    let stored = CallEvent::CallRecordingStored {
        recording: kept("ab"),
        at: at(45),
    };
    Given::with(())
        .given(with_recording())
        .when(CallCommand::StoreRecording {
            recording: kept("ab"),
            at: at(45),
        })
        .then_expect_events(vec![stored.clone()]);
    let mut given = with_recording();
    given.push(stored);
    Given::with(())
        .given(given.clone())
        .when(CallCommand::StoreRecording {
            recording: kept("ab"),
            at: at(55),
        })
        .then_expect_events(vec![]);
    Given::with(())
        .given(given)
        .when(CallCommand::StoreRecording {
            recording: kept("cd"),
            at: at(55),
        })
        .then_expect_events(vec![CallEvent::CallRecordingStored {
            recording: kept("cd"),
            at: at(55),
        }]);
    Given::with(())
        .given(vec![requested(), started(1), placed()])
        .when(CallCommand::StoreRecording {
            recording: kept("ab"),
            at: at(45),
        })
        .then_expect_error(CallError::NoRecording);
    Given::with(())
        .given(vec![])
        .when(CallCommand::StoreRecording {
            recording: kept("ab"),
            at: at(45),
        })
        .then_expect_error(CallError::NotFound);
}

#[test]
fn a_stored_recording_is_the_calls() {
    let mut call = Call::default();
    for event in with_recording() {
        call.apply(event);
    }
    assert_eq!(call.recording, None);
    call.apply(CallEvent::CallRecordingStored {
        recording: kept("ab"),
        at: at(45),
    });
    assert_eq!(call.recording, Some(kept("ab")));
}

fn inbound_request() -> Box<CallRequest> {
    Box::new(CallRequest {
        direction: Direction::Inbound,
        requested_by: None,
        agent_user_id: None,
        record: false,
        masked_session_id: Some(Uuid::from_u128(7)),
        ..*request()
    })
}

#[test]
fn an_inbound_call_is_recorded_as_requested_and_placed_at_once() {
    Given::with(())
        .given_no_previous_events()
        .when(CallCommand::RecordInbound {
            request: inbound_request(),
            provider_sid: "sid-in".into(),
            at: at(3),
        })
        .then_expect_events(vec![
            CallEvent::CallRequested {
                request: inbound_request(),
                at: at(3),
            },
            CallEvent::CallPlaced {
                provider_sid: "sid-in".into(),
                at: at(3),
            },
        ]);
    let mut call = Call::default();
    for event in Call::default()
        .inbound(inbound_request(), "sid-in".into(), at(3))
        .unwrap()
    {
        call.apply(event);
    }
    assert_eq!(call.dispatch, Dispatch::Placed);
    assert_eq!(call.status, Some(CallStatus::Queued));
}

#[test]
fn the_same_inbound_call_again_changes_nothing_and_another_sid_is_refused() {
    let recorded = vec![
        CallEvent::CallRequested {
            request: inbound_request(),
            at: at(3),
        },
        CallEvent::CallPlaced {
            provider_sid: "sid-in".into(),
            at: at(3),
        },
    ];
    Given::with(())
        .given(recorded.clone())
        .when(CallCommand::RecordInbound {
            request: inbound_request(),
            provider_sid: "sid-in".into(),
            at: at(4),
        })
        .then_expect_events(vec![]);
    Given::with(())
        .given(recorded)
        .when(CallCommand::RecordInbound {
            request: inbound_request(),
            provider_sid: "sid-other".into(),
            at: at(4),
        })
        .then_expect_error(CallError::SidMismatch);
}

#[test]
fn only_an_inbound_call_with_two_numbers_is_recorded_as_already_placed() {
    Given::with(())
        .given_no_previous_events()
        .when(CallCommand::RecordInbound {
            request: request(),
            provider_sid: "sid-in".into(),
            at: at(3),
        })
        .then_expect_error(CallError::NotInbound);
    let mut same = inbound_request();
    same.customer_phone = same.agent_phone.clone();
    Given::with(())
        .given_no_previous_events()
        .when(CallCommand::RecordInbound {
            request: same,
            provider_sid: "sid-in".into(),
            at: at(3),
        })
        .then_expect_error(CallError::SameNumbers);
}

fn verified_request() -> Box<CallRequest> {
    Box::new(CallRequest {
        verified: true,
        verification: Some(Verification {
            reason: "Your order is on its way".into(),
        }),
        ..*request()
    })
}

fn arranged() -> VerificationArranged {
    VerificationArranged {
        provider: "sandbox".into(),
        reference: "ref-1".into(),
        caller_name: "Acme Foods".into(),
    }
}

#[test]
fn a_verified_call_says_why_it_calls_and_only_a_verified_one_does() {
    let mut no_reason = verified_request();
    no_reason.verification = None;
    let mut unasked = request();
    unasked.verification = Some(Verification { reason: "Hello".into() });
    let mut long = verified_request();
    long.verification = Some(Verification {
        reason: "r".repeat(MAX_VERIFICATION_REASON_LEN + 1),
    });
    let mut blank = verified_request();
    blank.verification = Some(Verification { reason: String::new() });
    let mut padded = verified_request();
    padded.verification = Some(Verification {
        reason: " Hello".into(),
    });
    let mut control = verified_request();
    control.verification = Some(Verification {
        reason: "Hi\u{202E}".into(),
    });
    for request in [no_reason, unasked, long, blank, padded, control] {
        Given::with(())
            .given_no_previous_events()
            .when(CallCommand::Request { request, at: at(0) })
            .then_expect_error(CallError::VerificationReason);
    }
    let mut longest = verified_request();
    longest.verification = Some(Verification {
        reason: "r".repeat(MAX_VERIFICATION_REASON_LEN),
    });
    Given::with(())
        .given_no_previous_events()
        .when(CallCommand::Request {
            request: longest.clone(),
            at: at(0),
        })
        .then_expect_events(vec![CallEvent::CallRequested {
            request: longest,
            at: at(0),
        }]);
}

#[test]
fn a_verified_call_is_not_placed_before_its_branding_is_arranged() {
    let requested = CallEvent::CallRequested {
        request: verified_request(),
        at: at(0),
    };
    Given::with(())
        .given(vec![requested.clone()])
        .when(CallCommand::StartDispatch { at: at(1) })
        .then_expect_error(CallError::NotVerified);
    Given::with(())
        .given(vec![requested.clone()])
        .when(CallCommand::RecordVerification {
            arranged: arranged(),
            at: at(1),
        })
        .then_expect_events(vec![CallEvent::CallVerificationArranged {
            arranged: arranged(),
            at: at(1),
        }]);
    let verified = CallEvent::CallVerificationArranged {
        arranged: arranged(),
        at: at(1),
    };
    Given::with(())
        .given(vec![requested.clone(), verified.clone()])
        .when(CallCommand::StartDispatch { at: at(2) })
        .then_expect_events(vec![CallEvent::CallDispatchStarted { attempt: 1, at: at(2) }]);
    Given::with(())
        .given(vec![requested.clone(), verified.clone()])
        .when(CallCommand::RecordVerification {
            arranged: arranged(),
            at: at(3),
        })
        .then_expect_events(vec![]);
    let mut other = arranged();
    other.reference = "ref-2".into();
    Given::with(())
        .given(vec![requested, verified])
        .when(CallCommand::RecordVerification {
            arranged: other,
            at: at(3),
        })
        .then_expect_error(CallError::NotAwaitingVerification);
}

#[test]
fn a_refused_branding_ends_the_call_unplaced() {
    let verified = CallEvent::CallRequested {
        request: verified_request(),
        at: at(0),
    };
    let refusal = ProviderRefusal {
        http_status: 422,
        code: None,
        message: "the verified-call provider refused: brand not approved".into(),
    };
    Given::with(())
        .given(vec![verified])
        .when(CallCommand::RefuseVerification {
            message: "brand not approved".into(),
            at: at(1),
        })
        .then_expect_events(vec![CallEvent::CallRefused { refusal, at: at(1) }]);
    Given::with(())
        .given(vec![requested()])
        .when(CallCommand::RefuseVerification {
            message: "no".into(),
            at: at(1),
        })
        .then_expect_error(CallError::NotAwaitingVerification);
    Given::with(())
        .given(vec![requested()])
        .when(CallCommand::RecordVerification {
            arranged: arranged(),
            at: at(1),
        })
        .then_expect_error(CallError::NotAwaitingVerification);
    Given::with(())
        .given_no_previous_events()
        .when(CallCommand::RefuseVerification {
            message: "no".into(),
            at: at(1),
        })
        .then_expect_error(CallError::NotFound);
    Given::with(())
        .given_no_previous_events()
        .when(CallCommand::RecordVerification {
            arranged: arranged(),
            at: at(1),
        })
        .then_expect_error(CallError::NotFound);
}

#[test]
fn only_a_pending_verified_call_awaits_its_branding() {
    let mut call = Call::default();
    assert!(!call.awaits_verification());
    call.apply(CallEvent::CallRequested {
        request: verified_request(),
        at: at(0),
    });
    assert!(call.awaits_verification());
    call.apply(CallEvent::CallVerificationArranged {
        arranged: arranged(),
        at: at(1),
    });
    assert!(!call.awaits_verification());
    let mut plain = Call::default();
    plain.apply(requested());
    assert!(!plain.awaits_verification());
    let mut refused = Call::default();
    refused.apply(CallEvent::CallRequested {
        request: verified_request(),
        at: at(0),
    });
    refused.apply(CallEvent::CallRefused {
        refusal: ProviderRefusal {
            http_status: 422,
            code: None,
            message: "no".into(),
        },
        at: at(1),
    });
    assert!(!refused.awaits_verification());
}
