//! A customer's SMS to an ExoPhone: recorded once, as an SMS, on a thread,
//! with the customer known by number.

use super::*;
use crate::messages::IncomingSms;
use domain::customer::phone_customer_id;
use domain::inbound_message::inbound_message_id;
use domain::outbound_message::Channel;

fn sms(sid: &str, body: &str, sent_at: Option<DateTime<Utc>>) -> IncomingSms {
    IncomingSms {
        sid: sid.into(),
        from: CUSTOMER.into(),
        to: OWN_NUMBER.into(),
        body: body.into(),
        sent_at,
    }
}

impl Harness {
    async fn texted(&self, sms: IncomingSms) -> Uuid {
        let meta = EventMetadata::provider_webhook("exotel", ORG);
        self.use_case().record_incoming_sms(ORG, sms, &meta).await.unwrap()
    }
}

#[tokio::test]
async fn an_incoming_sms_is_recorded_once_as_an_sms_on_a_thread_of_its_customer_known_by_number() {
    let h = Harness::new().await;
    let earlier = afternoon() - chrono::Duration::hours(1);
    let id = h.texted(sms("sms-1", "Where is my order?", Some(earlier))).await;
    assert_eq!(id, inbound_message_id(ORG, Channel::Sms, "sms-1"));
    assert_ne!(
        id,
        inbound_message_id(ORG, Channel::Whatsapp, "sms-1"),
        "an SMS, not a WhatsApp message"
    );
    assert_eq!(
        h.texted(sms("sms-1", "Where is my order?", Some(earlier))).await,
        id,
        "delivered twice"
    );
    let loaded = h.inbound.load(&id.to_string()).await.unwrap().unwrap();
    assert_eq!(loaded.version, 1, "recorded once");
    let message = loaded.aggregate.of(ORG).unwrap().clone();
    assert_eq!(message.channel, Channel::Sms);
    assert_eq!(message.provider_sid, "sms-1");
    assert_eq!((message.from.as_str(), message.to.as_str()), (CUSTOMER, OWN_NUMBER));
    assert_eq!(
        message.content,
        InboundContent::Text {
            body: "Where is my order?".into()
        }
    );
    assert_eq!((message.profile_name, message.context_sid), (None, None));
    assert_eq!(message.received_at, earlier, "when the customer sent it");
    assert!(message.thread_id.is_some(), "placed on a thread");
    let customer_id = phone_customer_id(ORG, CUSTOMER);
    assert_eq!(message.customer_id, Some(customer_id));
    let customer = h.customers.load(&customer_id.to_string()).await.unwrap().unwrap();
    assert_eq!(customer.version, 1);
    assert_eq!(customer.aggregate.phone.as_deref(), Some(CUSTOMER));

    let ahead = afternoon() + chrono::Duration::hours(3);
    let later = h.texted(sms("sms-2", "Hello?", Some(ahead))).await;
    let message = h.inbound.load(&later.to_string()).await.unwrap().unwrap().aggregate;
    assert_eq!(
        message.of(ORG).unwrap().received_at,
        afternoon(),
        "a time ahead of ours is taken as now"
    );
    let undated = h.texted(sms("sms-3", "Anyone?", None)).await;
    let message = h.inbound.load(&undated.to_string()).await.unwrap().unwrap().aggregate;
    assert_eq!(message.of(ORG).unwrap().received_at, afternoon(), "no time: now");
    let customer = h.customers.load(&customer_id.to_string()).await.unwrap().unwrap();
    assert_eq!(customer.version, 1, "a known number is not created again");
}
