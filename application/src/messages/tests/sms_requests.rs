//! Asking for SMS: India's DLT rules, promotional hours and the DND
//! registry, every recipient checked before one message each is recorded.

use super::*;
use crate::messages::{MessageFilter, SmsInput, message_id};
use domain::customer::phone_customer_id;
use domain::outbound_message::{MessageContent, MessageError, SmsContent};
use domain::sms::SmsEncoding;

use crate::error::CommandError;

const BATCH: Uuid = Uuid::from_u128(0xb1);

/// An order update to `to`, filling the order template with `order`.
fn order(to: &[&str], order: &str) -> SmsInput {
    SmsInput {
        batch_id: BATCH,
        to: to.iter().map(|t| t.to_string()).collect(),
        body: None,
        template_id: Some(ORDER_TEMPLATE.into()),
        variables: Some(vec![order.into()]),
        sms_type: SmsType::Transactional,
        sender_id: None,
        dlt_entity_id: None,
        custom_data: None,
        thread_id: None,
    }
}

fn sale(to: &[&str]) -> SmsInput {
    SmsInput {
        template_id: Some(SALE_TEMPLATE.into()),
        variables: Some(vec!["20%".into()]),
        sms_type: SmsType::Promotional,
        ..order(to, "")
    }
}

fn sms_of(message: &OutboundMessage) -> SmsContent {
    match &message.request.as_ref().unwrap().content {
        MessageContent::Sms(sms) => sms.clone(),
        other => panic!("not an SMS: {other:?}"),
    }
}

impl Harness {
    async fn request(&self, input: SmsInput) -> Result<Vec<(Uuid, OutboundMessage)>, MessagesError> {
        self.use_case().request(&admin(), input, &meta()).await
    }

    /// Whether the batch's message to `to` was recorded.
    async fn recorded(&self, batch_id: Uuid, to: &str) -> bool {
        self.stored(message_id(ORG, batch_id, to)).await.is_some()
    }
}

#[tokio::test]
async fn an_order_sms_is_recorded_once_per_recipient_with_its_template_filled_and_the_integrations_dlt_ids() {
    let h = Harness::new().await;
    let input = SmsInput {
        custom_data: Some("crm:42".into()),
        ..order(&[CUSTOMER, "09800000003"], "A-1")
    };
    let recorded = h.request(input).await.unwrap();
    let ids: Vec<Uuid> = recorded.iter().map(|(id, _)| *id).collect();
    assert_eq!(
        ids,
        [message_id(ORG, BATCH, CUSTOMER), message_id(ORG, BATCH, CUSTOMER_2)]
    );
    for ((id, message), to) in recorded.iter().zip([CUSTOMER, CUSTOMER_2]) {
        let (stored, version) = h.stored(*id).await.unwrap();
        assert_eq!((&stored, version), (message, 1));
        let request = message.request.as_deref().unwrap();
        assert_eq!(request.to, to);
        assert_eq!(request.organisation_id, ORG);
        assert_eq!(request.requested_by, Some(ADMIN));
        assert_eq!(request.customer_id, Some(phone_customer_id(ORG, to)));
        assert_eq!(request.batch_id, Some(BATCH));
        assert_eq!(request.custom_data.as_deref(), Some("crm:42"));
        assert_eq!((request.not_before, &request.auto_reply), (None, &None));
        assert_eq!(message.requested_at, Some(afternoon()));
        let sms = sms_of(message);
        assert_eq!(sms.body, "Your order A-1 is on its way");
        assert_eq!((sms.sender_id.as_str(), sms.sms_type), (HEADER, SmsType::Transactional));
        assert_eq!(sms.dlt_entity_id.as_deref(), Some(ENTITY));
        assert_eq!(sms.dlt_template_id.as_deref(), Some(ORDER_TEMPLATE));
        assert_eq!((sms.encoding, sms.segments), (SmsEncoding::Gsm7, 1));
    }
    assert!(h.exotel.sms_sent().is_empty(), "nothing reaches Exotel when asked for");
    assert!(
        h.exotel.numbers_asked().is_empty(),
        "a transactional SMS asks nothing of DND"
    );
    let filter = MessageFilter {
        batch_id: Some(BATCH),
        ..MessageFilter::default()
    };
    let listed = h.use_case().list(ORG, &filter, None, 10).await.unwrap();
    assert_eq!(listed.len(), 2);
    assert!(
        h.use_case()
            .list(OTHER_ORG, &filter, None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(
        h.use_case().get(OTHER_ORG, ids[0]).await.is_err(),
        "another organisation's message is not found"
    );
}

#[tokio::test]
async fn a_given_dlt_entity_id_and_header_stand_instead_of_the_integrations() {
    let h = Harness::new().await;
    let input = SmsInput {
        dlt_entity_id: Some("1201159000000000777".into()),
        sender_id: Some(" swtchb ".into()),
        template_id: Some(format!(" {ORDER_TEMPLATE} ")),
        ..order(&[CUSTOMER], "A-1")
    };
    let recorded = h.request(input).await.unwrap();
    let sms = sms_of(&recorded[0].1);
    assert_eq!(sms.dlt_entity_id.as_deref(), Some("1201159000000000777"));
    assert_eq!(sms.sender_id, HEADER);
    assert_eq!(sms.dlt_template_id.as_deref(), Some(ORDER_TEMPLATE));
}

#[tokio::test]
async fn an_indian_number_needs_a_dlt_entity_id_when_the_integration_has_none() {
    let h = Harness::new().await;
    h.configure_sms(SmsSettings {
        dlt_entity_id: None,
        ..sms_settings()
    })
    .await;
    let refused = h.request(order(&[CUSTOMER], "A-1")).await.unwrap_err();
    assert_eq!(field_of(refused), "dlt_entity_id");
    assert!(!h.recorded(BATCH, CUSTOMER).await);
    let abroad = SmsInput {
        body: Some("Your parcel is on its way".into()),
        template_id: None,
        variables: None,
        ..order(&[ABROAD], "")
    };
    let recorded = h.request(abroad).await.unwrap();
    let sms = sms_of(&recorded[0].1);
    assert_eq!(sms.body, "Your parcel is on its way");
    assert_eq!((sms.dlt_entity_id, sms.dlt_template_id), (None, None));
}

#[tokio::test]
async fn an_sms_to_an_indian_number_needs_a_registered_dlt_template() {
    let h = Harness::new().await;
    let untemplated = SmsInput {
        body: Some("Hello".into()),
        template_id: None,
        variables: None,
        ..order(&[CUSTOMER], "")
    };
    assert_eq!(field_of(h.request(untemplated).await.unwrap_err()), "template_id");
    let unknown = SmsInput {
        template_id: Some("1107999".into()),
        ..order(&[CUSTOMER], "A-1")
    };
    let refused = h.request(unknown).await.unwrap_err();
    assert!(
        refused.to_string().contains("no DLT template 1107999 is registered"),
        "{refused}"
    );
    assert_eq!(field_of(refused), "template_id");
    assert!(!h.recorded(BATCH, CUSTOMER).await);
}

#[tokio::test]
async fn a_body_that_strays_from_its_dlt_template_is_refused_with_the_position_where_it_strays() {
    let h = Harness::new().await;
    let straying = SmsInput {
        body: Some("Your order A-1 is on the way".into()),
        variables: None,
        ..order(&[CUSTOMER], "")
    };
    let refused = h.request(straying).await.unwrap_err();
    assert!(
        refused.to_string().contains("the template has \"its way\" there"),
        "{refused}"
    );
    match refused {
        MessagesError::TemplateMismatch {
            template_id,
            position,
            expected,
        } => {
            assert_eq!(template_id, ORDER_TEMPLATE);
            assert_eq!(position, 21, "\"Your order A-1 is on \" follows the template");
            assert_eq!(expected.as_deref(), Some("its way"));
        }
        other => panic!("{other:?}"),
    }
    assert!(!h.recorded(BATCH, CUSTOMER).await);
    let following = SmsInput {
        body: Some("Your order A-1 is on its way".into()),
        variables: None,
        ..order(&[CUSTOMER], "")
    };
    let recorded = h.request(following).await.unwrap();
    assert_eq!(sms_of(&recorded[0].1).body, "Your order A-1 is on its way");
}

#[tokio::test]
async fn the_header_and_category_of_a_request_must_be_its_templates() {
    let h = Harness::new().await;
    let other_header = SmsInput {
        sender_id: Some("OTHERS".into()),
        ..order(&[CUSTOMER], "A-1")
    };
    assert_eq!(field_of(h.request(other_header).await.unwrap_err()), "sender_id");
    let other_category = SmsInput {
        sms_type: SmsType::TransactionalOptIn,
        ..order(&[CUSTOMER], "A-1")
    };
    assert_eq!(field_of(h.request(other_category).await.unwrap_err()), "sms_type");
    assert!(!h.recorded(BATCH, CUSTOMER).await);
    let same_word = SmsInput {
        sms_type: SmsType::ServiceImplicit,
        ..order(&[CUSTOMER], "A-1")
    };
    let recorded = h.request(same_word).await.unwrap();
    assert_eq!(
        sms_of(&recorded[0].1).sms_type,
        SmsType::ServiceImplicit,
        "sent as transactional too"
    );
}

#[tokio::test]
async fn a_promotional_sms_asked_for_at_ten_at_night_waits_until_nine_the_next_morning() {
    let h = Harness::new().await;
    h.clock.set(ist(22, 0));
    let recorded = h.request(sale(&[CUSTOMER])).await.unwrap();
    let nine_tomorrow = ist(9, 0) + chrono::Duration::days(1);
    assert_eq!(nine_tomorrow, Utc.with_ymd_and_hms(2026, 12, 2, 3, 30, 0).unwrap());
    assert_eq!(recorded[0].1.request.as_ref().unwrap().not_before, Some(nine_tomorrow));
    assert_eq!(
        h.exotel.numbers_asked(),
        [CUSTOMER],
        "its recipient was looked up on DND"
    );
    let transactional = SmsInput {
        batch_id: Uuid::from_u128(0xb2),
        ..order(&[CUSTOMER], "A-1")
    };
    let recorded = h.request(transactional).await.unwrap();
    assert_eq!(
        recorded[0].1.request.as_ref().unwrap().not_before,
        None,
        "only promotional SMS wait"
    );
}

#[tokio::test]
async fn a_promotional_sms_inside_promotional_hours_is_not_held() {
    let h = Harness::new().await;
    let recorded = h.request(sale(&[CUSTOMER])).await.unwrap();
    let request = recorded[0].1.request.as_deref().unwrap();
    assert_eq!(request.not_before, None);
    assert_eq!(sms_of(&recorded[0].1).sms_type, SmsType::Promotional);
}

#[tokio::test]
async fn a_promotional_sms_to_a_number_on_the_dnd_registry_records_nothing_and_a_transactional_one_goes() {
    let h = Harness::new().await;
    h.exotel.on_dnd.lock().unwrap().push(ON_DND.into());
    let refused = h.request(sale(&[CUSTOMER, ON_DND])).await.unwrap_err();
    assert!(
        matches!(&refused, MessagesError::RecipientOnDnd(n) if n == ON_DND),
        "{refused:?}"
    );
    assert!(
        !h.recorded(BATCH, CUSTOMER).await,
        "the batch is recorded whole or not at all"
    );
    assert!(!h.recorded(BATCH, ON_DND).await);
    assert_eq!(h.exotel.numbers_asked(), [CUSTOMER, ON_DND]);
    let recorded = h.request(order(&[ON_DND], "A-1")).await.unwrap();
    assert_eq!(recorded.len(), 1);
    assert_eq!(
        h.exotel.numbers_asked().len(),
        2,
        "a transactional SMS asks nothing of DND"
    );
    let abroad = h.request(sale(&[ABROAD])).await.unwrap_err();
    assert_eq!(field_of(abroad), "to", "promotional SMS goes to Indian numbers only");
}

#[tokio::test]
async fn a_batch_of_101_recipients_is_refused_and_one_of_100_is_recorded() {
    let h = Harness::new().await;
    let numbers: Vec<String> = (0..101).map(|i| format!("+9198100{i:05}")).collect();
    let to: Vec<&str> = numbers.iter().map(String::as_str).collect();
    let refused = h.request(order(&to, "A-1")).await.unwrap_err();
    assert_eq!(field_of(refused), "to");
    assert!(!h.recorded(BATCH, &numbers[0]).await);
    let recorded = h.request(order(&to[..100], "A-1")).await.unwrap();
    assert_eq!(recorded.len(), 100);
    assert!(h.recorded(BATCH, &numbers[99]).await);
    assert!(!h.recorded(BATCH, &numbers[100]).await);
}

#[tokio::test]
async fn a_number_listed_twice_in_one_request_is_refused_naming_the_second() {
    let h = Harness::new().await;
    let refused = h
        .request(order(&[CUSTOMER, CUSTOMER_2, "09800000002"], "A-1"))
        .await
        .unwrap_err();
    assert_eq!(field_of(refused), "to[2]");
    assert!(!h.recorded(BATCH, CUSTOMER).await);
    assert!(!h.recorded(BATCH, CUSTOMER_2).await);
}

#[tokio::test]
async fn custom_data_of_up_to_2000_bytes_is_kept_and_longer_is_refused() {
    let h = Harness::new().await;
    let longer = SmsInput {
        custom_data: Some("x".repeat(2_001)),
        ..order(&[CUSTOMER], "A-1")
    };
    assert_eq!(field_of(h.request(longer).await.unwrap_err()), "custom_data");
    assert!(!h.recorded(BATCH, CUSTOMER).await);
    let longest = SmsInput {
        custom_data: Some("x".repeat(2_000)),
        ..order(&[CUSTOMER], "A-1")
    };
    let recorded = h.request(longest).await.unwrap();
    let kept = recorded[0]
        .1
        .request
        .as_ref()
        .unwrap()
        .custom_data
        .as_ref()
        .unwrap()
        .len();
    assert_eq!(kept, 2_000);
}

#[tokio::test]
async fn a_batch_id_reused_with_other_content_is_refused_before_anything_is_written() {
    let h = Harness::new().await;
    h.request(order(&[CUSTOMER], "A-1")).await.unwrap();
    let other = h.request(order(&[CUSTOMER_2, CUSTOMER], "A-2")).await.unwrap_err();
    assert!(
        matches!(
            other,
            MessagesError::Command(CommandError::Rejected(MessageError::MessageIdReused))
        ),
        "{other:?}"
    );
    assert!(
        !h.recorded(BATCH, CUSTOMER_2).await,
        "the new recipient listed first is not recorded"
    );
    let (kept, version) = h.stored(message_id(ORG, BATCH, CUSTOMER)).await.unwrap();
    assert_eq!(version, 1);
    assert_eq!(sms_of(&kept).body, "Your order A-1 is on its way");
}

#[tokio::test]
async fn a_retry_of_the_same_batch_is_answered_as_recorded_and_records_nothing_new() {
    let h = Harness::new().await;
    h.clock.set(ist(22, 0));
    let first = h.request(sale(&[CUSTOMER])).await.unwrap();
    h.clock.set(ist(10, 0) + chrono::Duration::days(2));
    let again = h.request(sale(&[CUSTOMER])).await.unwrap();
    assert_eq!(again, first, "answered as first recorded, its time to go kept");
    let (_, version) = h.stored(first[0].0).await.unwrap();
    assert_eq!(version, 1, "nothing new is recorded");
    assert_eq!(
        h.exotel.numbers_asked().len(),
        1,
        "a recorded recipient is not looked up again"
    );
    let widened = h.request(sale(&[CUSTOMER, CUSTOMER_2])).await.unwrap();
    assert_eq!(widened[0], first[0]);
    let added = widened[1].1.request.as_deref().unwrap();
    assert_eq!((added.to.as_str(), added.not_before), (CUSTOMER_2, None));
    assert_eq!(h.exotel.numbers_asked(), [CUSTOMER, CUSTOMER_2]);
}

#[tokio::test]
async fn without_an_active_sms_integration_nothing_is_recorded() {
    let h = Harness::new().await;
    h.disable(IntegrationKind::ExotelSms).await;
    let refused = h.request(order(&[CUSTOMER], "A-1")).await.unwrap_err();
    assert!(matches!(refused, MessagesError::NotConfigured), "{refused:?}");
    assert!(!h.recorded(BATCH, CUSTOMER).await);
}

#[tokio::test]
async fn a_dlt_template_is_kept_listed_and_once_removed_no_sms_uses_it() {
    let h = Harness::new().await;
    let listed = h.use_case().templates(ORG).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|t| t.dlt_template_id.as_str()).collect();
    assert_eq!(ids, [ORDER_TEMPLATE, SALE_TEMPLATE]);
    assert_eq!((listed[0].variables, listed[0].registered_at), (1, afternoon()));
    h.clock.set(afternoon() + chrono::Duration::hours(1));
    let (spec, registered_at) = h
        .use_case()
        .register_template(ORG, order_template(), &meta())
        .await
        .unwrap();
    assert_eq!(
        (spec, registered_at),
        (order_template(), afternoon()),
        "the same again changes nothing"
    );
    h.use_case()
        .remove_template(ORG, ORDER_TEMPLATE, &meta())
        .await
        .unwrap();
    let listed = h.use_case().templates(ORG).await.unwrap();
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].dlt_template_id, SALE_TEMPLATE);
    assert_eq!(
        field_of(h.request(order(&[CUSTOMER], "A-1")).await.unwrap_err()),
        "template_id"
    );
    assert!(
        h.use_case()
            .remove_template(ORG, ORDER_TEMPLATE, &meta())
            .await
            .is_err()
    );
}
