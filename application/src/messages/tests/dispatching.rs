//! Handing recorded SMS to Exotel once, never before their time; what each
//! answer comes to; attempts in doubt given up; reports recorded once.

use super::*;
use crate::exotel::{ExotelError, SmsInfo};
use crate::messages::{Attempt, SmsCallback, SmsInput, message_id};
use domain::integration::integration_id;
use domain::outbound_message::{Dispatch, MessageStatus};

fn order(batch: u128, sms_type: SmsType) -> SmsInput {
    let (template, variable) = match sms_type {
        SmsType::Promotional => (SALE_TEMPLATE, "20%"),
        _ => (ORDER_TEMPLATE, "A-1"),
    };
    SmsInput {
        batch_id: Uuid::from_u128(batch),
        to: vec![CUSTOMER.into()],
        body: None,
        template_id: Some(template.into()),
        variables: Some(vec![variable.into()]),
        sms_type,
        sender_id: None,
        dlt_entity_id: None,
        custom_data: None,
        thread_id: None,
    }
}

fn info(sid: &str, status: &str, code: Option<i64>) -> SmsInfo {
    SmsInfo {
        sid: sid.into(),
        to: CUSTOMER.into(),
        from: format!("/{HEADER}"),
        status: status.into(),
        detailed_status_code: code,
        detailed_status: None,
        units: Some(1),
        sent_at: None,
        price: Some("0.200000".into()),
    }
}

impl Harness {
    async fn recorded_sms(&self, batch: u128, sms_type: SmsType) -> Uuid {
        let recorded = self
            .use_case()
            .request(&admin(), order(batch, sms_type), &meta())
            .await
            .unwrap();
        recorded[0].0
    }

    async fn dispatch_answered(&self, id: Uuid, answer: Result<Vec<SmsInfo>, ExotelError>) -> Attempt {
        self.exotel.answer_sms(answer);
        self.use_case().dispatch(id).await.unwrap()
    }

    async fn dispatch_of(&self, id: Uuid) -> Dispatch {
        self.stored(id).await.unwrap().0.dispatch
    }
}

#[tokio::test]
async fn a_recorded_sms_is_handed_to_exotel_once_with_its_dlt_fields_and_its_callback() {
    let h = Harness::new().await;
    let id = h.recorded_sms(1, SmsType::Transactional).await;
    let attempt = h.dispatch_answered(id, Ok(vec![info("sms-1", "queued", None)])).await;
    assert_eq!(attempt, Attempt::Submitted { sid: "sms-1".into() });
    let sent = h.exotel.sms_sent();
    assert_eq!(sent.len(), 1);
    let (account, key, send) = &sent[0];
    assert_eq!((account.as_str(), key.as_str()), ("acme", "sms-key"));
    let integration = integration_id(ORG, IntegrationKind::ExotelSms);
    let callback = format!("{}/hooks/{integration}/0/sms", ports::PUBLIC);
    let expected = crate::exotel::SendSms {
        from: HEADER.into(),
        to: vec![CUSTOMER.into()],
        body: "Your order A-1 is on its way".into(),
        sms_type: Some("transactional".into()),
        dlt_entity_id: Some(ENTITY.into()),
        dlt_template_id: Some(ORDER_TEMPLATE.into()),
        encoding: Some("plain".into()),
        priority: None,
        status_callback: Some(callback),
        custom_field: Some(id.to_string()),
    };
    assert_eq!(*send, expected);
    let (stored, _) = h.stored(id).await.unwrap();
    assert_eq!((stored.dispatch, stored.attempts), (Dispatch::Submitted, 1));
    assert_eq!(stored.provider_sid.as_deref(), Some("sms-1"));
    assert_eq!(h.use_case().dispatch(id).await.unwrap(), Attempt::Skipped);
    assert_eq!(h.exotel.sms_sent().len(), 1, "sent once");
    assert_eq!(
        h.use_case().dispatch(Uuid::from_u128(77)).await.unwrap(),
        Attempt::Skipped
    );
    let waits = h.exotel.capacity_waits.load(std::sync::atomic::Ordering::SeqCst);
    assert_eq!(waits, 1, "only the attempt that was sent waited for the account's rate");
}

#[tokio::test]
async fn a_promotional_sms_held_until_nine_is_not_sent_before_its_time() {
    let h = Harness::new().await;
    h.clock.set(ist(22, 0));
    let id = h.recorded_sms(1, SmsType::Promotional).await;
    h.clock
        .set(ist(9, 0) + chrono::Duration::days(1) - chrono::Duration::seconds(1));
    assert_eq!(h.use_case().dispatch(id).await.unwrap(), Attempt::Skipped);
    assert!(h.exotel.sms_sent().is_empty());
    assert_eq!(h.dispatch_of(id).await, Dispatch::Pending);
    assert_eq!(h.exotel.capacity_waits.load(std::sync::atomic::Ordering::SeqCst), 0);
    h.clock.set(ist(9, 0) + chrono::Duration::days(1));
    let attempt = h.dispatch_answered(id, Ok(vec![info("sms-1", "queued", None)])).await;
    assert_eq!(attempt, Attempt::Submitted { sid: "sms-1".into() });
    assert_eq!(h.exotel.sms_sent()[0].2.sms_type.as_deref(), Some("promotional"));
}

#[tokio::test]
async fn a_refusal_ends_the_message_and_an_answer_exotel_could_not_have_acted_on_leaves_it_queued() {
    let h = Harness::new().await;
    let refused = h.recorded_sms(1, SmsType::Transactional).await;
    let refusal = ExotelError::Refused {
        status: 400,
        code: Some(34001),
        message: "the template does not match".into(),
    };
    let attempt = h.dispatch_answered(refused, Err(refusal)).await;
    assert_eq!(
        attempt,
        Attempt::Refused {
            message: "the template does not match".into()
        }
    );
    let (stored, _) = h.stored(refused).await.unwrap();
    let kept = stored.refusal.unwrap();
    assert_eq!((kept.http_status, kept.code), (400, Some(34001)));
    assert_eq!(stored.status, Some(MessageStatus::Refused));
    let unauthorised = h.recorded_sms(2, SmsType::Transactional).await;
    let bad_key = ExotelError::Unauthorized {
        message: "bad key".into(),
    };
    assert_eq!(
        h.dispatch_answered(unauthorised, Err(bad_key)).await,
        Attempt::Refused {
            message: "bad key".into()
        }
    );
    let refusal = h.stored(unauthorised).await.unwrap().0.refusal.unwrap();
    assert_eq!((refusal.http_status, refusal.code), (401, None));
    let queued = h.recorded_sms(3, SmsType::Transactional).await;
    let limited = ExotelError::RateLimited {
        retry_after_secs: Some(1),
        message: "slow down".into(),
    };
    assert!(matches!(
        h.dispatch_answered(queued, Err(limited)).await,
        Attempt::NotSent { .. }
    ));
    assert_eq!(h.dispatch_of(queued).await, Dispatch::Pending);
    let down = Err(ExotelError::Unreachable("connection refused".into()));
    assert!(matches!(
        h.dispatch_answered(queued, down).await,
        Attempt::NotSent { .. }
    ));
    let attempt = h
        .dispatch_answered(queued, Ok(vec![info("sms-3", "queued", None)]))
        .await;
    assert_eq!(attempt, Attempt::Submitted { sid: "sms-3".into() });
    assert_eq!(h.stored(queued).await.unwrap().0.attempts, 3);
}

#[tokio::test]
async fn an_answer_that_was_lost_leaves_the_message_in_doubt_and_it_is_never_sent_again() {
    let h = Harness::new().await;
    for (batch, answer) in [
        (1, Err(ExotelError::Timeout { seconds: 30 })),
        (2, Err(ExotelError::Malformed("{".into()))),
        (3, Ok(Vec::new())),
    ] {
        let id = h.recorded_sms(batch, SmsType::Transactional).await;
        assert!(matches!(h.dispatch_answered(id, answer).await, Attempt::InDoubt { .. }));
        assert_eq!(h.dispatch_of(id).await, Dispatch::Started);
        assert_eq!(h.use_case().dispatch(id).await.unwrap(), Attempt::Skipped);
    }
    assert_eq!(h.exotel.sms_sent().len(), 3, "each was asked for once");
}

#[tokio::test]
async fn an_attempt_in_doubt_is_recorded_unknown_once_the_report_wait_is_over() {
    let h = Harness::new().await;
    let id = h.recorded_sms(1, SmsType::Transactional).await;
    h.dispatch_answered(id, Err(ExotelError::Timeout { seconds: 30 })).await;
    let wait = chrono::Duration::from_std(MessageTiming::default().report_wait).unwrap();
    h.clock.set(afternoon() + wait - chrono::Duration::seconds(1));
    assert!(!h.use_case().give_up(id).await.unwrap());
    assert_eq!(h.dispatch_of(id).await, Dispatch::Started);
    h.clock.set(afternoon() + wait);
    assert!(h.use_case().give_up(id).await.unwrap());
    assert_eq!(h.dispatch_of(id).await, Dispatch::Unknown);
    assert!(!h.use_case().give_up(id).await.unwrap(), "once");
    let pending = h.recorded_sms(2, SmsType::Transactional).await;
    assert!(!h.use_case().give_up(pending).await.unwrap(), "no attempt was started");
    assert!(!h.use_case().give_up(Uuid::from_u128(77)).await.unwrap());
}

#[tokio::test]
async fn a_submitted_sms_without_a_final_report_is_looked_up_and_what_exotel_says_recorded() {
    let h = Harness::new().await;
    let id = h.recorded_sms(1, SmsType::Transactional).await;
    let pending = h.recorded_sms(2, SmsType::Transactional).await;
    h.use_case().reconcile(pending).await.unwrap();
    assert!(
        h.exotel.details_asked.lock().unwrap().is_empty(),
        "nothing to look up before a sid"
    );
    h.dispatch_answered(id, Ok(vec![info("sms-1", "queued", None)])).await;
    h.exotel
        .details_answers
        .lock()
        .unwrap()
        .push_back(Err(ExotelError::Timeout { seconds: 30 }));
    h.use_case().reconcile(id).await.unwrap();
    assert_eq!(
        h.stored(id).await.unwrap().0.status,
        Some(MessageStatus::Submitted),
        "tried again later"
    );
    h.exotel
        .details_answers
        .lock()
        .unwrap()
        .push_back(Ok(info("sms-1", "sent", Some(20005))));
    h.use_case().reconcile(id).await.unwrap();
    let (stored, _) = h.stored(id).await.unwrap();
    assert_eq!(stored.status, Some(MessageStatus::Delivered));
    assert_eq!(stored.price_paise, Some(20));
    h.use_case().reconcile(id).await.unwrap();
    assert_eq!(
        *h.exotel.details_asked.lock().unwrap(),
        ["sms-1", "sms-1"],
        "a delivered SMS is not looked up"
    );
}

#[tokio::test]
async fn without_a_public_callback_url_or_an_active_integration_a_message_is_refused_unsent() {
    let h = Harness::new().await;
    let id = h.recorded_sms(1, SmsType::Transactional).await;
    let unreachable = Messages {
        callbacks: &ports::Unreachable,
        ..h.use_case()
    };
    let Attempt::Refused { message } = unreachable.dispatch(id).await.unwrap() else {
        panic!("not refused");
    };
    assert!(message.contains("SWITCHBOARD_PUBLIC_URL"), "{message}");
    let other = h.recorded_sms(2, SmsType::Transactional).await;
    h.disable(IntegrationKind::ExotelSms).await;
    let attempt = h.use_case().dispatch(other).await.unwrap();
    assert_eq!(
        attempt,
        Attempt::Refused {
            message: MessagesError::NotConfigured.to_string()
        }
    );
    assert!(h.exotel.sms_sent().is_empty());
    assert_eq!(h.dispatch_of(other).await, Dispatch::Refused);
}

#[tokio::test]
async fn a_status_callback_settles_the_sms_it_names_once() {
    let h = Harness::new().await;
    let id = h.recorded_sms(1, SmsType::Transactional).await;
    h.dispatch_answered(id, Ok(vec![info("sms-1", "queued", None)])).await;
    let callback = SmsCallback {
        sms_sid: "sms-1".into(),
        status: Some("sent".into()),
        detailed_status_code: Some(20005),
        units: Some(1),
        custom_field: Some(id.to_string()),
        ..SmsCallback::default()
    };
    let webhook = EventMetadata::provider_webhook("exotel", ORG);
    let outcome = h
        .use_case()
        .record_callback(ORG, &callback, "digest-1".into(), &webhook)
        .await;
    assert_eq!(outcome.unwrap(), Callback::Recorded(id));
    let (stored, version) = h.stored(id).await.unwrap();
    assert_eq!((stored.status, stored.units), (Some(MessageStatus::Delivered), Some(1)));
    let again = h
        .use_case()
        .record_callback(ORG, &callback, "digest-1".into(), &webhook)
        .await;
    assert_eq!(again.unwrap(), Callback::Recorded(id));
    assert_eq!(
        h.stored(id).await.unwrap().1,
        version,
        "the same callback twice is kept once"
    );
    let stranger = SmsCallback {
        sms_sid: "sms-9".into(),
        custom_field: Some(message_id(ORG, Uuid::from_u128(9), CUSTOMER).to_string()),
        ..callback
    };
    let unmatched = h
        .use_case()
        .record_callback(ORG, &stranger, "digest-2".into(), &webhook)
        .await;
    assert_eq!(unmatched.unwrap(), Callback::Unmatched);
}
