use super::settings::{ExotelPhone, ExotelWhatsapp, SettingsError};
use super::*;
use cqrs_es::test::TestFramework;

type Given = TestFramework<Integration>;

fn phone() -> IntegrationSettings {
    IntegrationSettings::ExotelPhone(ExotelPhone {
        account_sid: "acme1".into(),
        virtual_number: "01141169368".into(),
        caller_id: None,
        display_name: Some("Main line".into()),
        api_host: None,
    })
}

fn configured(org: Uuid) -> IntegrationEvent {
    IntegrationEvent::IntegrationConfigured {
        integration_id: integration_id(org, IntegrationKind::ExotelPhone),
        organisation_id: org,
        kind: IntegrationKind::ExotelPhone,
        settings: Box::new(phone()),
        secrets: vec![],
        data_key_id: Uuid::nil(),
        master_key_id: "k1".into(),
        configured_by: None,
        configured_at: DateTime::UNIX_EPOCH,
    }
}

#[test]
fn a_national_virtual_number_is_normalised_to_e164() {
    let IntegrationSettings::ExotelPhone(s) = phone().validated().unwrap() else {
        unreachable!()
    };
    assert_eq!(s.virtual_number, "+911141169368");
    assert_eq!(s.api_host.as_deref(), Some("api.exotel.com"));
}

#[test]
fn a_malformed_number_names_its_field() {
    let settings = IntegrationSettings::ExotelPhone(ExotelPhone {
        account_sid: "acme1".into(),
        virtual_number: "12345".into(),
        caller_id: None,
        display_name: None,
        api_host: None,
    });
    assert_eq!(settings.validated().unwrap_err().field, "virtual_number");
}

#[test]
fn a_whatsapp_number_must_be_e164_and_auto_replies_need_a_message() {
    let whatsapp = |number: &str, auto: bool| {
        IntegrationSettings::ExotelWhatsapp(ExotelWhatsapp {
            account_sid: "acme1".into(),
            whatsapp_number: number.into(),
            business_name: None,
            auto_reply_enabled: auto,
            auto_reply_message: None,
            business_hours: None,
            api_host: None,
        })
    };
    let field = |e: SettingsError| e.field;
    assert_eq!(
        whatsapp("09876543210", false).validated().map_err(field),
        Err("whatsapp_number".to_string())
    );
    assert_eq!(
        whatsapp("+919876543210", true).validated().map_err(field),
        Err("auto_reply_message".to_string())
    );
    assert!(whatsapp("+919876543210", false).validated().is_ok());
}

#[tokio::test]
async fn a_configuration_that_passed_its_test_is_configured_and_verified() {
    let org = Uuid::new_v4();
    let command = IntegrationCommand::Configure {
        integration_id: integration_id(org, IntegrationKind::ExotelPhone),
        organisation_id: org,
        settings: Box::new(phone()),
        secrets: vec![],
        data_key_id: Uuid::nil(),
        master_key_id: "k1".into(),
        outcome: TestOutcome::Passed,
        configured_by: None,
        at: DateTime::UNIX_EPOCH,
    };
    Given::with(())
        .given_no_previous_events()
        .when_async(command)
        .await
        .then_expect_events(vec![
            configured(org),
            IntegrationEvent::IntegrationVerified {
                at: DateTime::UNIX_EPOCH,
            },
        ]);
}

#[tokio::test]
async fn another_organisation_cannot_delete_it() {
    let command = IntegrationCommand::Delete {
        organisation_id: Uuid::new_v4(),
        at: DateTime::UNIX_EPOCH,
    };
    Given::with(())
        .given(vec![configured(Uuid::new_v4())])
        .when_async(command)
        .await
        .then_expect_error(IntegrationError::NotConfigured);
}

#[tokio::test]
async fn deleting_records_which_data_key_was_destroyed() {
    let org = Uuid::new_v4();
    let command = IntegrationCommand::Delete {
        organisation_id: org,
        at: DateTime::UNIX_EPOCH,
    };
    Given::with(())
        .given(vec![configured(org)])
        .when_async(command)
        .await
        .then_expect_events(vec![IntegrationEvent::IntegrationDeleted {
            data_key_id: Some(Uuid::nil()),
            at: DateTime::UNIX_EPOCH,
        }]);
}

#[tokio::test]
async fn a_deleted_integration_cannot_be_tested() {
    let org = Uuid::new_v4();
    let deleted = IntegrationEvent::IntegrationDeleted {
        data_key_id: Some(Uuid::nil()),
        at: DateTime::UNIX_EPOCH,
    };
    let command = IntegrationCommand::RecordTest {
        organisation_id: org,
        outcome: TestOutcome::Passed,
        at: DateTime::UNIX_EPOCH,
    };
    Given::with(())
        .given(vec![configured(org), deleted])
        .when_async(command)
        .await
        .then_expect_error(IntegrationError::NotConfigured);
}

#[tokio::test]
async fn a_disabled_integration_cannot_be_disabled_again() {
    let org = Uuid::new_v4();
    let disabled = IntegrationEvent::IntegrationDisabled {
        at: DateTime::UNIX_EPOCH,
    };
    let command = IntegrationCommand::Disable {
        organisation_id: org,
        at: DateTime::UNIX_EPOCH,
    };
    Given::with(())
        .given(vec![configured(org), disabled])
        .when_async(command)
        .await
        .then_expect_error(IntegrationError::AlreadyDisabled);
}

#[test]
fn a_failed_test_marks_an_active_integration_as_failing_verification() {
    let mut integration = Integration::default();
    integration.apply(configured(Uuid::new_v4()));
    integration.apply(IntegrationEvent::IntegrationVerificationFailed {
        status_code: Some(401),
        error: "Authentication failed".into(),
        at: DateTime::UNIX_EPOCH,
    });
    assert_eq!(integration.status, IntegrationStatus::VerificationFailed);
}
