//! WhatsApp auto-replies: a welcome once, an away message on a holiday, at
//! most one reply per contact per cooldown period (its id derived from the
//! period), and none when auto-replies are off or the integration is.

use super::*;
use crate::messages::auto_reply_id;
use chrono::NaiveDate;
use domain::auto_reply::{AutoReplyRule, KeywordMatch, KeywordRule};
use domain::customer::phone_customer_id;
use domain::organisation::{Holiday, OrganisationCommand};
use domain::outbound_message::{MessageContent, WhatsappOut};

fn welcoming() -> WhatsappSettings {
    WhatsappSettings {
        auto_reply_enabled: true,
        welcome_message: Some("Welcome to Acme".into()),
        ..whatsapp_settings()
    }
}

/// A keyword rule that answers every message about prices, every 30 minutes.
fn pricing() -> WhatsappSettings {
    WhatsappSettings {
        auto_reply_enabled: true,
        keyword_rules: vec![KeywordRule {
            keyword: "price".into(),
            match_type: KeywordMatch::Contains,
            reply: "Our prices are at acme.example/prices".into(),
            priority: 0,
        }],
        auto_reply_cooldown_minutes: Some(30),
        ..whatsapp_settings()
    }
}

fn reply_text(message: &OutboundMessage) -> String {
    match &message.request.as_ref().unwrap().content {
        MessageContent::Whatsapp(WhatsappOut {
            content: WhatsappContent::Text { body, .. },
            ..
        }) => body.clone(),
        other => panic!("not a WhatsApp text: {other:?}"),
    }
}

impl Harness {
    /// The auto-reply `contact` has for the period `at` falls in, if any.
    async fn auto_reply_at(&self, contact: &str, at: DateTime<Utc>, cooldown: u32) -> Option<OutboundMessage> {
        let id = auto_reply_id(ORG, contact, at.timestamp(), cooldown);
        self.stored(id).await.map(|(message, _)| message)
    }
}

#[test]
fn an_auto_replys_id_is_one_per_contact_and_cooldown_period() {
    let start = afternoon().timestamp();
    let id = auto_reply_id(ORG, CUSTOMER, start, 30);
    assert_eq!(id, auto_reply_id(ORG, CUSTOMER, start + 29 * 60 + 59, 30));
    assert_ne!(id, auto_reply_id(ORG, CUSTOMER, start + 30 * 60, 30));
    assert_ne!(id, auto_reply_id(ORG, CUSTOMER, start - 1, 30));
    assert_ne!(id, auto_reply_id(ORG, CUSTOMER_2, start, 30));
    assert_ne!(id, auto_reply_id(OTHER_ORG, CUSTOMER, start, 30));
    assert_eq!(
        auto_reply_id(ORG, CUSTOMER, start, 0),
        auto_reply_id(ORG, CUSTOMER, start + 59, 1)
    );
}

#[tokio::test]
async fn a_contact_who_never_wrote_is_welcomed_once() {
    let h = Harness::new().await;
    h.configure_whatsapp(welcoming()).await;
    h.incoming("wamid-in-1", CUSTOMER, "hello").await;
    let welcome = h.auto_reply_at(CUSTOMER, afternoon(), 60).await.expect("welcomed");
    assert_eq!(reply_text(&welcome), "Welcome to Acme");
    let request = welcome.request.as_deref().unwrap();
    assert_eq!(request.auto_reply, Some(AutoReplyRule::Welcome));
    assert_eq!((request.to.as_str(), request.requested_by), (CUSTOMER, None));
    assert_eq!(request.customer_id, Some(phone_customer_id(ORG, CUSTOMER)));
    match &request.content {
        MessageContent::Whatsapp(out) => assert_eq!(out.from, OWN_NUMBER),
        other => panic!("{other:?}"),
    }
    assert_eq!(welcome.requested_at, Some(afternoon()));
    h.clock.set(afternoon() + chrono::Duration::hours(2));
    h.incoming("wamid-in-2", CUSTOMER, "hello again").await;
    assert_eq!(h.messages.held().await, 1, "a contact is welcomed once");
}

#[tokio::test]
async fn a_message_within_the_cooldown_gets_no_second_reply_though_a_new_period_began() {
    let h = Harness::new().await;
    h.configure_whatsapp(pricing()).await;
    let minutes = |m| afternoon() + chrono::Duration::minutes(m);
    h.clock.set(minutes(20));
    h.incoming("wamid-in-1", CUSTOMER, "what is the price?").await;
    let reply = h.auto_reply_at(CUSTOMER, minutes(20), 30).await.expect("answered");
    assert_eq!(reply_text(&reply), "Our prices are at acme.example/prices");
    assert!(matches!(
        reply.request.unwrap().auto_reply,
        Some(AutoReplyRule::Keyword { .. })
    ));
    h.clock.set(minutes(40));
    h.incoming("wamid-in-2", CUSTOMER, "price please").await;
    assert_eq!(h.messages.held().await, 1, "the read model's last reply holds it back");
    h.clock.set(minutes(50));
    h.incoming("wamid-in-3", CUSTOMER, "price!").await;
    assert_eq!(h.messages.held().await, 2, "the cooldown has passed");
    assert!(h.auto_reply_at(CUSTOMER, minutes(50), 30).await.is_some());
}

#[tokio::test]
async fn a_second_message_in_the_same_period_records_nothing_even_when_the_read_model_lags() {
    let h = Harness::new().await;
    h.configure_whatsapp(pricing()).await;
    h.messages.pause_projection();
    h.incoming("wamid-in-1", CUSTOMER, "what is the price?").await;
    assert!(h.auto_reply_at(CUSTOMER, afternoon(), 30).await.is_some());
    h.clock.set(afternoon() + chrono::Duration::minutes(10));
    h.incoming("wamid-in-2", CUSTOMER, "price please").await;
    assert_eq!(h.messages.held().await, 1, "the period's derived id holds it back");
    assert_eq!(
        h.stored(auto_reply_id(ORG, CUSTOMER, afternoon().timestamp(), 30))
            .await
            .unwrap()
            .1,
        1
    );
    h.clock.set(afternoon() + chrono::Duration::minutes(30));
    h.incoming("wamid-in-3", CUSTOMER, "price!").await;
    assert_eq!(h.messages.held().await, 2, "the next period has its own reply");
    assert!(
        h.auto_reply_at(CUSTOMER, afternoon() + chrono::Duration::minutes(30), 30)
            .await
            .is_some()
    );
}

#[tokio::test]
async fn no_reply_goes_out_when_auto_replies_are_off_or_the_integration_is_disabled() {
    let h = Harness::new().await;
    h.configure_whatsapp(WhatsappSettings {
        auto_reply_enabled: false,
        ..welcoming()
    })
    .await;
    h.incoming("wamid-in-1", CUSTOMER, "hello").await;
    assert_eq!(h.messages.held().await, 0, "auto-replies are off");
    h.configure_whatsapp(welcoming()).await;
    h.disable(IntegrationKind::ExotelWhatsapp).await;
    let recorded = h.incoming("wamid-in-2", CUSTOMER_2, "hello").await;
    assert_eq!(recorded.len(), 1, "the customer's message is still recorded");
    assert_eq!(h.messages.held().await, 0, "the integration is disabled");
    assert!(h.auto_reply_at(CUSTOMER_2, afternoon(), 60).await.is_none());
}

#[tokio::test]
async fn on_the_organisations_holiday_the_away_message_answers() {
    let h = Harness::new().await;
    h.configure_whatsapp(WhatsappSettings {
        auto_reply_enabled: true,
        auto_reply_message: Some("We are closed today".into()),
        ..whatsapp_settings()
    })
    .await;
    h.incoming("wamid-in-1", CUSTOMER, "hello").await;
    assert_eq!(h.messages.held().await, 0, "open: no holiday and no business hours");
    let create = OrganisationCommand::Create {
        organisation_id: ORG,
        name: "Acme".into(),
        at: afternoon(),
    };
    h.organisations
        .execute(&ORG.to_string(), create, &meta())
        .await
        .unwrap();
    let holidays = OrganisationCommand::SetHolidays {
        organisation_id: ORG,
        holidays: vec![Holiday {
            date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            name: "Founders' Day".into(),
        }],
    };
    h.organisations
        .execute(&ORG.to_string(), holidays, &meta())
        .await
        .unwrap();
    h.incoming("wamid-in-2", CUSTOMER_2, "hello").await;
    let away = h.auto_reply_at(CUSTOMER_2, afternoon(), 60).await.expect("answered");
    assert_eq!(reply_text(&away), "We are closed today");
    let rule = away.request.unwrap().auto_reply;
    assert_eq!(
        rule,
        Some(AutoReplyRule::Away {
            holiday: Some("Founders' Day".into())
        })
    );
}
