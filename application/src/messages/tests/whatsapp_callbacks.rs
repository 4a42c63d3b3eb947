//! Exotel's WhatsApp callback: a receipt settles the message it names, a
//! customer's message is recorded once and makes the customer known.

use super::*;
use crate::exotel::WhatsappOutcome;
use crate::messages::Attempt;
use domain::customer::phone_customer_id;
use domain::inbound_message::inbound_message_id;
use domain::outbound_message::{Channel, Dispatch, MessageStatus};

fn receipt(sid: &str, detailed: Option<&str>, custom_data: Option<Uuid>, digest: &str) -> WhatsappItem {
    WhatsappItem::Receipt {
        sid: sid.into(),
        exo_status_code: None,
        exo_detailed_status: detailed.map(str::to_string),
        description: None,
        custom_data: custom_data.map(|id| id.to_string()),
        digest: digest.into(),
    }
}

impl Harness {
    /// A text to the customer, handed to Exotel, which took it as `sid`.
    async fn submitted_text(&self, message_id: u128, sid: &str) -> Uuid {
        self.incoming(&format!("wamid-in-{message_id}"), CUSTOMER, "hello")
            .await;
        let id = Uuid::from_u128(message_id);
        let input = text(message_id, CUSTOMER, "Your parcel arrives today");
        self.use_case()
            .request_whatsapp(&admin(), input, &meta())
            .await
            .unwrap();
        self.exotel
            .answer_whatsapp(Ok(vec![WhatsappOutcome::Accepted { sid: sid.into() }]));
        let attempt = self.use_case().dispatch(id).await.unwrap();
        assert_eq!(attempt, Attempt::Submitted { sid: sid.into() });
        id
    }

    async fn callback(&self, organisation_id: Uuid, items: Vec<WhatsappItem>) -> Vec<Callback> {
        let meta = EventMetadata::provider_webhook("exotel", organisation_id);
        self.use_case()
            .record_whatsapp_callback(organisation_id, items, &meta)
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn a_whatsapp_message_is_handed_to_exotel_from_the_organisations_number_with_its_callback() {
    let h = Harness::new().await;
    let id = h.submitted_text(1, "wamid-out-1").await;
    let sent = h.exotel.whatsapp_sent();
    assert_eq!(sent.len(), 1);
    let (account, key, send) = &sent[0];
    assert_eq!((account.as_str(), key.as_str()), ("acme-wa", "wa-key"));
    let integration = domain::integration::integration_id(ORG, IntegrationKind::ExotelWhatsapp);
    let callback = format!("{}/hooks/{integration}/0/whatsapp", ports::PUBLIC);
    assert_eq!(send.status_callback.as_deref(), Some(callback.as_str()));
    let message = &send.messages[0];
    assert_eq!((message.from.as_str(), message.to.as_str()), (OWN_NUMBER, CUSTOMER));
    assert_eq!(message.custom_data, Some(id.to_string()));
    assert_eq!(message.content["text"]["body"], "Your parcel arrives today");
    let (stored, _) = h.stored(id).await.unwrap();
    assert_eq!(
        (stored.dispatch, stored.provider_sid.as_deref()),
        (Dispatch::Submitted, Some("wamid-out-1"))
    );
    assert_eq!(h.use_case().dispatch(id).await.unwrap(), Attempt::Skipped, "sent once");
    assert_eq!(h.exotel.whatsapp_sent().len(), 1);
}

#[tokio::test]
async fn a_receipt_settles_the_message_it_names_and_a_later_one_finds_it_by_its_sid() {
    let h = Harness::new().await;
    let id = h.submitted_text(1, "wamid-out-1").await;
    h.clock.set(afternoon() + chrono::Duration::minutes(1));
    let delivered = receipt("wamid-out-1", Some("EX_MESSAGE_DELIVERED"), Some(id), "d1");
    assert_eq!(h.callback(ORG, vec![delivered]).await, [Callback::Recorded(id)]);
    let (stored, _) = h.stored(id).await.unwrap();
    assert_eq!(stored.status, Some(MessageStatus::Delivered));
    assert_eq!(stored.delivered_at, Some(afternoon() + chrono::Duration::minutes(1)));
    let read = receipt("wamid-out-1", Some("EX_MESSAGE_SEEN"), None, "d2");
    assert_eq!(h.callback(ORG, vec![read]).await, [Callback::Recorded(id)]);
    let (stored, version) = h.stored(id).await.unwrap();
    assert_eq!(stored.status, Some(MessageStatus::Read));
    assert_eq!(stored.reports, ["d1", "d2"]);
    let again = receipt("wamid-out-1", Some("EX_MESSAGE_SEEN"), None, "d2");
    assert_eq!(h.callback(ORG, vec![again]).await, [Callback::Recorded(id)]);
    assert_eq!(
        h.stored(id).await.unwrap().1,
        version,
        "the same receipt twice is kept once"
    );
}

#[tokio::test]
async fn a_failure_receipt_keeps_its_code_and_the_description_when_no_status_word_is_given() {
    let h = Harness::new().await;
    let id = h.submitted_text(1, "wamid-out-1").await;
    let failed = WhatsappItem::Receipt {
        sid: "wamid-out-1".into(),
        exo_status_code: Some(30008),
        exo_detailed_status: None,
        description: Some("the number is not on WhatsApp".into()),
        custom_data: Some(format!(" {id} ")),
        digest: "d1".into(),
    };
    assert_eq!(h.callback(ORG, vec![failed]).await, [Callback::Recorded(id)]);
    let (stored, _) = h.stored(id).await.unwrap();
    assert_eq!(stored.status, Some(MessageStatus::Failed));
    let failure = stored.failure.unwrap();
    assert_eq!(failure.code, Some(30008));
    assert_eq!(failure.description.as_deref(), Some("the number is not on WhatsApp"));
}

#[tokio::test]
async fn a_receipt_for_no_message_of_the_organisation_matches_nothing() {
    let h = Harness::new().await;
    let id = h.submitted_text(1, "wamid-out-1").await;
    let (before, version) = h.stored(id).await.unwrap();
    let elsewhere = receipt("wamid-out-1", Some("EX_MESSAGE_DELIVERED"), Some(id), "d1");
    assert_eq!(h.callback(OTHER_ORG, vec![elsewhere]).await, [Callback::Unmatched]);
    let unknown = WhatsappItem::Receipt {
        sid: "wamid-out-9".into(),
        exo_status_code: Some(30002),
        exo_detailed_status: None,
        description: None,
        custom_data: Some("not-an-id".into()),
        digest: "d2".into(),
    };
    assert_eq!(h.callback(ORG, vec![unknown]).await, [Callback::Unmatched]);
    let other_sid = receipt("wamid-out-9", Some("EX_MESSAGE_DELIVERED"), Some(id), "d3");
    assert_eq!(h.callback(ORG, vec![other_sid]).await, [Callback::Unmatched]);
    assert_eq!(
        h.stored(id).await.unwrap(),
        (before, version),
        "the message is unchanged"
    );
}

#[tokio::test]
async fn an_incoming_message_is_recorded_once_and_creates_the_customer_by_phone() {
    let h = Harness::new().await;
    let sid = "wamid-in-1";
    let id = inbound_message_id(ORG, Channel::Whatsapp, sid);
    assert_eq!(h.incoming(sid, CUSTOMER, "hello").await, [Callback::Recorded(id)]);
    h.clock.set(afternoon() + chrono::Duration::minutes(5));
    assert_eq!(
        h.incoming(sid, CUSTOMER, "hello").await,
        [Callback::Recorded(id)],
        "delivered twice"
    );
    let loaded = h.inbound.load(&id.to_string()).await.unwrap().unwrap();
    assert_eq!(loaded.version, 1, "recorded once");
    let message = loaded.aggregate.of(ORG).unwrap().clone();
    assert_eq!((message.from.as_str(), message.to.as_str()), (CUSTOMER, OWN_NUMBER));
    assert_eq!(message.received_at, afternoon());
    let customer_id = phone_customer_id(ORG, CUSTOMER);
    assert_eq!(message.customer_id, Some(customer_id));
    let customer = h.customers.load(&customer_id.to_string()).await.unwrap().unwrap();
    assert_eq!(customer.version, 1);
    assert_eq!(customer.aggregate.phone.as_deref(), Some(CUSTOMER));
    assert_eq!(customer.aggregate.name.as_deref(), Some("Asha"));
    assert_eq!(customer.aggregate.organisation_id, Some(ORG));
    assert_eq!(customer.aggregate.created_at, Some(afternoon()));
    h.incoming("wamid-in-2", CUSTOMER, "are you there?").await;
    let customer = h.customers.load(&customer_id.to_string()).await.unwrap().unwrap();
    assert_eq!(customer.version, 1, "a known number is not created again");
    let listed = h.use_case().inbound(ORG, Some(CUSTOMER), 10, 0).await.unwrap();
    let texts: Vec<Option<String>> = listed.into_iter().map(|m| m.text).collect();
    assert_eq!(texts, [Some("are you there?".to_string()), Some("hello".to_string())]);
}

#[tokio::test]
async fn an_incoming_message_is_received_when_the_customer_sent_it_but_never_later_than_now() {
    let h = Harness::new().await;
    let item = |sid: &str, sent_at| WhatsappItem::Incoming {
        sid: sid.into(),
        from: CUSTOMER.into(),
        to: OWN_NUMBER.into(),
        profile_name: None,
        content: InboundContent::Text { body: "hi".into() },
        context_sid: None,
        sent_at: Some(sent_at),
    };
    let earlier = afternoon() - chrono::Duration::hours(3);
    let later = afternoon() + chrono::Duration::hours(3);
    let items = vec![item("wamid-in-1", earlier), item("wamid-in-2", later)];
    let outcomes = h.callback(ORG, items).await;
    assert_eq!(outcomes.len(), 2);
    for (sid, at) in [("wamid-in-1", earlier), ("wamid-in-2", afternoon())] {
        let id = inbound_message_id(ORG, Channel::Whatsapp, sid);
        assert!(outcomes.contains(&Callback::Recorded(id)));
        let loaded = h.inbound.load(&id.to_string()).await.unwrap().unwrap();
        assert_eq!(
            loaded.aggregate.message.unwrap().received_at,
            at,
            "a time ahead of ours is taken as now"
        );
    }
}
