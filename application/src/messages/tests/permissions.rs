//! Who may send: an admin always, anyone else with a grant on the
//! integration, within its daily limit of what they asked for today.

use super::*;
use crate::messages::SmsInput;
use crate::policy::Denied;

fn order(batch: u128, to: &[&str]) -> SmsInput {
    SmsInput {
        batch_id: Uuid::from_u128(batch),
        to: to.iter().map(|t| t.to_string()).collect(),
        body: None,
        template_id: Some(ORDER_TEMPLATE.into()),
        variables: Some(vec!["A-1".into()]),
        sms_type: SmsType::Transactional,
        sender_id: None,
        dlt_entity_id: None,
        custom_data: None,
        thread_id: None,
    }
}

const NUMBERS: [&str; 4] = [CUSTOMER, CUSTOMER_2, "+919800000004", "+919800000005"];

fn granted(daily_limit: Option<u32>) -> Grant {
    Grant {
        can_use: true,
        can_configure: false,
        daily_limit,
    }
}

impl Harness {
    async fn agent_sends(&self, batch: u128, to: &[&str]) -> Result<usize, MessagesError> {
        let recorded = self.use_case().request(&agent(), order(batch, to), &meta()).await?;
        Ok(recorded.len())
    }
}

fn denied(outcome: Result<impl std::fmt::Debug, MessagesError>) -> Denied {
    match outcome {
        Err(MessagesError::Denied(denied)) => denied,
        other => panic!("not denied: {other:?}"),
    }
}

#[tokio::test]
async fn an_agent_without_a_grant_may_not_send_an_sms_or_a_whatsapp_message() {
    let h = Harness::new().await;
    assert_eq!(denied(h.agent_sends(1, &[CUSTOMER]).await), Denied::NotGranted);
    h.grant(
        IntegrationKind::ExotelSms,
        Grant {
            can_use: false,
            can_configure: true,
            daily_limit: None,
        },
    )
    .await;
    assert_eq!(denied(h.agent_sends(1, &[CUSTOMER]).await), Denied::NotGranted);
    assert!(
        h.stored(crate::messages::message_id(ORG, Uuid::from_u128(1), CUSTOMER))
            .await
            .is_none()
    );
    h.incoming("wamid-in-1", CUSTOMER, "hello").await;
    let whatsapp = h
        .use_case()
        .request_whatsapp(&agent(), text(7, CUSTOMER, "Hi"), &meta())
        .await;
    assert_eq!(denied(whatsapp), Denied::NotGranted);
    assert!(h.stored(Uuid::from_u128(7)).await.is_none());
    h.grant(IntegrationKind::ExotelSms, granted(None)).await;
    assert_eq!(h.agent_sends(2, &NUMBERS).await.unwrap(), 4, "an unlimited grant");
    let whatsapp = h
        .use_case()
        .request_whatsapp(&agent(), text(7, CUSTOMER, "Hi"), &meta())
        .await;
    assert_eq!(
        denied(whatsapp),
        Denied::NotGranted,
        "a grant on SMS is none on WhatsApp"
    );
}

#[tokio::test]
async fn a_daily_limit_counts_the_messages_the_user_asked_for_today() {
    let h = Harness::new().await;
    h.grant(IntegrationKind::ExotelSms, granted(Some(3))).await;
    h.clock.set(afternoon() - chrono::Duration::hours(14));
    assert_eq!(h.agent_sends(1, &NUMBERS[..3]).await.unwrap(), 3, "yesterday, at 20:00");
    h.clock.set(afternoon());
    h.use_case()
        .request(&admin(), order(2, &NUMBERS), &meta())
        .await
        .unwrap();
    assert_eq!(
        h.agent_sends(3, &[CUSTOMER]).await.unwrap(),
        1,
        "yesterday's and the admin's do not count"
    );
    let over = h.agent_sends(4, &NUMBERS[1..]).await;
    assert_eq!(denied(over), Denied::DailyLimitReached { limit: 3 }, "1 + 3 is over 3");
    assert_eq!(h.agent_sends(5, &NUMBERS[1..3]).await.unwrap(), 2, "1 + 2 is the limit");
    let spent = h.agent_sends(6, &[CUSTOMER]).await;
    assert_eq!(denied(spent), Denied::DailyLimitReached { limit: 3 });
    assert_eq!(
        h.agent_sends(5, &NUMBERS[1..3]).await.unwrap(),
        2,
        "a retry asks for nothing new"
    );
}

#[tokio::test]
async fn a_whatsapp_daily_limit_counts_only_the_users_whatsapp_messages_of_today() {
    let h = Harness::new().await;
    h.grant(IntegrationKind::ExotelSms, granted(None)).await;
    h.grant(IntegrationKind::ExotelWhatsapp, granted(Some(1))).await;
    h.incoming("wamid-in-1", CUSTOMER, "hello").await;
    h.agent_sends(1, &NUMBERS).await.unwrap();
    let first = h
        .use_case()
        .request_whatsapp(&agent(), text(7, CUSTOMER, "Hi"), &meta())
        .await;
    assert_eq!(first.unwrap().request.unwrap().requested_by, Some(AGENT));
    let second = h
        .use_case()
        .request_whatsapp(&agent(), text(8, CUSTOMER, "Hi again"), &meta())
        .await;
    assert_eq!(denied(second), Denied::DailyLimitReached { limit: 1 });
    assert!(h.stored(Uuid::from_u128(8)).await.is_none());
    let by_admin = h
        .use_case()
        .request_whatsapp(&admin(), text(8, CUSTOMER, "Hi again"), &meta())
        .await;
    assert!(by_admin.is_ok(), "an admin has no limit: {by_admin:?}");
}
