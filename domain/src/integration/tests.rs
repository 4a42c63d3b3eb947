use super::settings::{ExotelPhone, ExotelSms, ExotelWhatsapp, SettingsError};
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
            waba_id: None,
            business_name: None,
            auto_reply_enabled: auto,
            auto_reply_message: None,
            business_hours: None,
            welcome_message: None,
            keyword_rules: Vec::new(),
            auto_reply_cooldown_minutes: None,
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

fn sms() -> IntegrationSettings {
    IntegrationSettings::ExotelSms(ExotelSms {
        account_sid: "acme1".into(),
        sender_id: "ACMEIN".into(),
        dlt_entity_id: None,
        display_name: None,
        api_host: None,
    })
}

fn configure(org: Uuid, settings: IntegrationSettings) -> IntegrationCommand {
    IntegrationCommand::Configure {
        integration_id: integration_id(org, settings.kind()),
        organisation_id: org,
        settings: Box::new(settings),
        secrets: vec![],
        data_key_id: Uuid::nil(),
        master_key_id: "k1".into(),
        outcome: TestOutcome::NotRun,
        configured_by: None,
        at: DateTime::UNIX_EPOCH,
    }
}

fn state(events: Vec<IntegrationEvent>) -> Integration {
    let mut integration = Integration::default();
    events.into_iter().for_each(|e| integration.apply(e));
    integration
}

#[test]
fn an_integrations_id_comes_from_its_organisation_and_kind_and_never_changes() {
    let org = Uuid::from_u128(1);
    assert_eq!(
        integration_id(org, IntegrationKind::ExotelPhone).to_string(),
        "5a57872a-ccde-5269-afb8-f6379f48fceb"
    );
    assert_ne!(
        integration_id(org, IntegrationKind::ExotelPhone),
        integration_id(org, IntegrationKind::ExotelSms)
    );
}

#[tokio::test]
async fn an_integration_cannot_be_reconfigured_as_another_kind() {
    let org = Uuid::new_v4();
    Given::with(())
        .given(vec![configured(org)])
        .when_async(configure(org, sms()))
        .await
        .then_expect_error(IntegrationError::KindMismatch);
}

#[tokio::test]
async fn an_integration_can_be_reconfigured_with_settings_of_its_own_kind() {
    let org = Uuid::new_v4();
    Given::with(())
        .given(vec![configured(org)])
        .when_async(configure(org, phone()))
        .await
        .then_expect_events(vec![configured(org)]);
}

#[tokio::test]
async fn a_disabled_integration_is_enabled_again() {
    let org = Uuid::new_v4();
    let at = DateTime::UNIX_EPOCH;
    Given::with(())
        .given(vec![configured(org), IntegrationEvent::IntegrationDisabled { at }])
        .when_async(IntegrationCommand::Enable {
            organisation_id: org,
            at,
        })
        .await
        .then_expect_events(vec![IntegrationEvent::IntegrationEnabled { at }]);
}

#[tokio::test]
async fn an_enabled_integration_cannot_be_enabled_again() {
    let org = Uuid::new_v4();
    let at = DateTime::UNIX_EPOCH;
    Given::with(())
        .given(vec![configured(org)])
        .when_async(IntegrationCommand::Enable {
            organisation_id: org,
            at,
        })
        .await
        .then_expect_error(IntegrationError::AlreadyEnabled);
}

#[tokio::test]
async fn its_own_data_key_rewrapped_under_another_master_key_is_recorded() {
    let org = Uuid::new_v4();
    let at = DateTime::UNIX_EPOCH;
    let command = IntegrationCommand::RecordKeyRewrapped {
        data_key_id: Uuid::nil(),
        master_key_id: "k2".into(),
        at,
    };
    Given::with(())
        .given(vec![configured(org)])
        .when_async(command)
        .await
        .then_expect_events(vec![IntegrationEvent::IntegrationDataKeyRewrapped {
            data_key_id: Uuid::nil(),
            master_key_id: "k2".into(),
            at,
        }]);
}

#[tokio::test]
async fn a_data_key_that_is_not_its_own_is_not_recorded_as_rewrapped() {
    let org = Uuid::new_v4();
    let command = IntegrationCommand::RecordKeyRewrapped {
        data_key_id: Uuid::from_u128(7),
        master_key_id: "k2".into(),
        at: DateTime::UNIX_EPOCH,
    };
    Given::with(())
        .given(vec![configured(org)])
        .when_async(command)
        .await
        .then_expect_error(IntegrationError::UnknownDataKey);
}

#[test]
fn a_configuration_is_held_whole_and_makes_the_integration_active() {
    let org = Uuid::from_u128(1);
    let secret = SealedSecret {
        field: "api_token".into(),
        nonce: "bm9uY2U=".into(),
        ciphertext: "Y2lwaGVy".into(),
        fingerprint: "ZmluZ2Vy".into(),
    };
    let mut event = configured(org);
    if let IntegrationEvent::IntegrationConfigured { secrets, .. } = &mut event {
        secrets.push(secret.clone());
    }
    assert_eq!(
        state(vec![event]),
        Integration {
            id: Some(integration_id(org, IntegrationKind::ExotelPhone)),
            organisation_id: Some(org),
            kind: Some(IntegrationKind::ExotelPhone),
            settings: Some(Box::new(phone())),
            secrets: vec![secret],
            data_key_id: Some(Uuid::nil()),
            master_key_id: Some("k1".into()),
            status: IntegrationStatus::Active,
            verified: false,
            last_verified_at: None,
            last_error: None,
            configured_at: Some(DateTime::UNIX_EPOCH),
            callback_generation: 0,
        }
    );
}

#[test]
fn a_passing_test_makes_a_failing_integration_active_again_but_never_enables_a_disabled_one() {
    let org = Uuid::new_v4();
    let at = DateTime::UNIX_EPOCH;
    let failed = IntegrationEvent::IntegrationVerificationFailed {
        status_code: Some(401),
        error: "Authentication failed".into(),
        at,
    };
    let verified = IntegrationEvent::IntegrationVerified { at };
    let failing = state(vec![configured(org), failed.clone()]);
    assert_eq!(failing.status, IntegrationStatus::VerificationFailed);
    let recovered = state(vec![configured(org), failed.clone(), verified.clone()]);
    assert_eq!(recovered.status, IntegrationStatus::Active);
    assert_eq!(recovered.last_error, None);
    assert!(recovered.verified);
    let disabled = IntegrationEvent::IntegrationDisabled { at };
    let still_disabled = state(vec![configured(org), failed, disabled, verified]);
    assert_eq!(still_disabled.status, IntegrationStatus::Disabled);
}

#[test]
fn a_deleted_integration_forgets_its_settings_and_keys_but_keeps_whose_and_which_it_was() {
    let org = Uuid::from_u128(1);
    let deleted = IntegrationEvent::IntegrationDeleted {
        data_key_id: Some(Uuid::nil()),
        at: DateTime::UNIX_EPOCH,
    };
    assert_eq!(
        state(vec![configured(org), deleted]),
        Integration {
            id: Some(integration_id(org, IntegrationKind::ExotelPhone)),
            organisation_id: Some(org),
            kind: Some(IntegrationKind::ExotelPhone),
            ..Integration::default()
        }
    );
}

#[test]
fn every_kind_name_parses_back_to_its_kind_and_an_unknown_name_to_none() {
    for kind in IntegrationKind::ALL {
        assert_eq!(IntegrationKind::parse(kind.as_str()), Some(kind));
    }
    assert_eq!(IntegrationKind::parse("exotel_voice"), None);
}

#[test]
fn each_kind_names_itself_and_its_provider() {
    let described: Vec<_> = IntegrationKind::ALL
        .into_iter()
        .map(|k| (k.as_str(), k.display_name(), k.provider()))
        .collect();
    assert_eq!(
        described,
        [
            ("exotel_phone", "Exotel Phone", "exotel"),
            ("exotel_sms", "Exotel SMS", "exotel"),
            ("exotel_whatsapp", "Exotel WhatsApp", "exotel"),
            ("zoho_mail", "Zoho Mail", "zoho"),
        ]
    );
}

#[test]
fn each_rotation_makes_the_next_callback_token_generation_and_needs_the_integration() {
    let org = Uuid::from_u128(7);
    let rotate = |org| IntegrationCommand::RotateCallbackToken {
        organisation_id: org,
        at: DateTime::UNIX_EPOCH,
    };
    let rotated = |generation| IntegrationEvent::IntegrationCallbackTokenRotated {
        generation,
        at: DateTime::UNIX_EPOCH,
    };
    Given::with(())
        .given(vec![configured(org)])
        .when(rotate(org))
        .then_expect_events(vec![rotated(1)]);
    Given::with(())
        .given(vec![configured(org), rotated(1)])
        .when(rotate(org))
        .then_expect_events(vec![rotated(2)]);
    Given::with(())
        .given(vec![configured(org)])
        .when(rotate(Uuid::from_u128(8)))
        .then_expect_error(IntegrationError::NotConfigured);
    Given::with(())
        .given(vec![])
        .when(rotate(org))
        .then_expect_error(IntegrationError::NotConfigured);
}

#[test]
fn a_rotated_out_callback_token_stays_out_through_reconfiguration_and_deletion() {
    let org = Uuid::from_u128(7);
    let mut integration = Integration::default();
    integration.apply(configured(org));
    assert_eq!(integration.callback_generation, 0);
    integration.apply(IntegrationEvent::IntegrationCallbackTokenRotated {
        generation: 3,
        at: DateTime::UNIX_EPOCH,
    });
    integration.apply(configured(org));
    assert_eq!(integration.callback_generation, 3);
    integration.apply(IntegrationEvent::IntegrationDeleted {
        data_key_id: None,
        at: DateTime::UNIX_EPOCH,
    });
    assert_eq!(integration.callback_generation, 3);
}
