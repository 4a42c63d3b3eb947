//! Given settings as a caller sent them, when they are validated, then they
//! are normalised or the field at fault is named, rule by rule.

use super::*;

fn phone(virtual_number: &str) -> ExotelPhone {
    ExotelPhone {
        account_sid: "acme1".into(),
        virtual_number: virtual_number.into(),
        caller_id: None,
        display_name: None,
        api_host: None,
    }
}

fn sms(sender_id: &str) -> ExotelSms {
    ExotelSms {
        account_sid: "acme1".into(),
        sender_id: sender_id.into(),
        dlt_entity_id: None,
        display_name: None,
        api_host: None,
    }
}

fn whatsapp(number: &str) -> ExotelWhatsapp {
    ExotelWhatsapp {
        account_sid: "acme1".into(),
        whatsapp_number: number.into(),
        waba_id: None,
        business_name: None,
        auto_reply_enabled: false,
        auto_reply_message: None,
        business_hours: None,
        welcome_message: None,
        keyword_rules: Vec::new(),
        auto_reply_cooldown_minutes: None,
        api_host: None,
    }
}

fn mail() -> ZohoMail {
    serde_json::from_value(serde_json::json!({"email": "Sales@Acme.IN"})).unwrap()
}

fn valid(settings: IntegrationSettings) -> IntegrationSettings {
    settings.validated().unwrap()
}

fn refused(settings: IntegrationSettings) -> SettingsError {
    settings.validated().unwrap_err()
}

fn valid_phone(s: ExotelPhone) -> ExotelPhone {
    match valid(IntegrationSettings::ExotelPhone(s)) {
        IntegrationSettings::ExotelPhone(s) => s,
        other => panic!("{other:?}"),
    }
}

fn valid_sms(s: ExotelSms) -> ExotelSms {
    match valid(IntegrationSettings::ExotelSms(s)) {
        IntegrationSettings::ExotelSms(s) => s,
        other => panic!("{other:?}"),
    }
}

fn valid_whatsapp(s: ExotelWhatsapp) -> ExotelWhatsapp {
    match valid(IntegrationSettings::ExotelWhatsapp(s)) {
        IntegrationSettings::ExotelWhatsapp(s) => s,
        other => panic!("{other:?}"),
    }
}

fn valid_mail(s: ZohoMail) -> ZohoMail {
    match valid(IntegrationSettings::ZohoMail(s)) {
        IntegrationSettings::ZohoMail(s) => s,
        other => panic!("{other:?}"),
    }
}

fn field_and_reason(error: SettingsError) -> (String, String) {
    (error.field, error.reason)
}

const FORM: &str = "use E.164 (+91XXXXXXXXXX) or the 0-prefixed national form (0XXXXXXXXXX)";

#[test]
fn given_an_e164_or_national_number_then_it_is_normalised_to_e164() {
    assert_eq!(phone_number("n", " +919876543210 "), Ok("+919876543210".into()));
    assert_eq!(phone_number("n", "01141169368"), Ok("+911141169368".into()));
}

#[test]
fn given_a_number_in_neither_form_then_the_form_is_refused_before_its_validity() {
    for text in ["9876543210", "98765432100", "0114-116936", "011411693680"] {
        assert_eq!(
            phone_number("caller_id", text),
            Err(SettingsError {
                field: "caller_id".into(),
                reason: FORM.into()
            }),
            "{text}"
        );
    }
}

#[test]
fn given_text_that_is_no_number_or_a_number_that_cannot_exist_then_each_says_so() {
    assert_eq!(
        phone_number("n", "call me").map_err(|e| e.reason),
        Err("not a phone number; use +91XXXXXXXXXX or 0XXXXXXXXXX".into())
    );
    assert_eq!(
        phone_number("n", "+91123").map_err(|e| e.reason),
        Err("not a valid number".into())
    );
}

#[test]
fn given_an_account_sid_then_it_is_trimmed_and_held_to_64_safe_characters() {
    let mut s = phone("+919876543210");
    s.account_sid = "  acme_1-x  ".into();
    assert_eq!(valid_phone(s).account_sid, "acme_1-x");
    for (sid, reason) in [
        ("", "is required"),
        ("   ", "is required"),
        ("a.b", "letters, digits, '_' and '-' only"),
        ("a b", "letters, digits, '_' and '-' only"),
        (&"a".repeat(65), "must be at most 64 characters"),
    ] {
        let mut s = phone("+919876543210");
        s.account_sid = sid.into();
        assert_eq!(
            field_and_reason(refused(IntegrationSettings::ExotelPhone(s))),
            ("account_sid".into(), reason.into()),
            "{sid:?}"
        );
    }
    let mut longest = phone("+919876543210");
    longest.account_sid = "a".repeat(64);
    assert_eq!(valid_phone(longest).account_sid.len(), 64);
}

fn api_host(text: Option<&str>) -> Result<Option<String>, SettingsError> {
    let mut s = phone("+919876543210");
    s.api_host = text.map(str::to_string);
    IntegrationSettings::ExotelPhone(s).validated().map(|v| match v {
        IntegrationSettings::ExotelPhone(s) => s.api_host,
        _ => None,
    })
}

#[test]
fn given_no_api_host_then_exotel_is_used_and_its_hosts_are_kept_by_name() {
    for text in [None, Some(""), Some("   ")] {
        assert_eq!(api_host(text), Ok(Some("api.exotel.com".into())), "{text:?}");
    }
    assert_eq!(
        api_host(Some(" api.in.exotel.com ")),
        Ok(Some("api.in.exotel.com".into()))
    );
}

#[test]
fn given_a_url_of_a_host_and_port_alone_then_it_is_kept_as_its_origin() {
    assert_eq!(
        api_host(Some("http://127.0.0.1:9000/")),
        Ok(Some("http://127.0.0.1:9000".into()))
    );
    assert_eq!(
        api_host(Some("HTTPS://Sim.Example:8443")),
        Ok(Some("https://sim.example:8443".into()))
    );
}

#[test]
fn given_a_url_with_userinfo_a_path_a_query_or_a_fragment_then_api_host_is_refused() {
    for text in [
        "http://127.0.0.1:1@evil.example/",
        "http://evil.example@127.0.0.1:1/",
        "http://127.0.0.1:1/v1",
        "http://127.0.0.1:1/?to=evil.example",
        "http://127.0.0.1:1/#evil.example",
        "ftp://127.0.0.1:1",
        "evil.example",
        "api.exotel.com.evil.example",
    ] {
        assert_eq!(
            api_host(Some(text)).map_err(|e| e.field),
            Err("api_host".into()),
            "{text}"
        );
    }
}

#[test]
fn given_a_caller_id_then_an_empty_one_is_none_and_another_is_normalised_or_named() {
    let mut s = phone("01141169368");
    s.caller_id = Some("  ".into());
    assert_eq!(valid_phone(s).caller_id, None);
    let mut s = phone("01141169368");
    s.caller_id = Some("09876543210".into());
    assert_eq!(valid_phone(s).caller_id.as_deref(), Some("+919876543210"));
    let mut s = phone("01141169368");
    s.caller_id = Some("12".into());
    assert_eq!(refused(IntegrationSettings::ExotelPhone(s)).field, "caller_id");
}

#[test]
fn given_a_display_name_then_an_empty_one_is_none_and_a_long_one_is_refused() {
    let named = |name: &str| {
        let mut s = phone("01141169368");
        s.display_name = Some(name.into());
        IntegrationSettings::ExotelPhone(s).validated()
    };
    assert_eq!(named(" ").map(|s| s.display_name().map(str::to_string)), Ok(None));
    assert_eq!(
        named(" Main line ").map(|s| s.display_name().map(str::to_string)),
        Ok(Some("Main line".into()))
    );
    assert!(named(&"é".repeat(255)).is_ok(), "characters are counted, not bytes");
    assert_eq!(
        named(&"a".repeat(256)).map_err(field_and_reason),
        Err(("display_name".into(), "must be at most 255 characters".into()))
    );
}

#[test]
fn given_each_kind_then_its_kind_and_display_name_are_its_own() {
    let mut p = phone("01141169368");
    p.display_name = Some("line".into());
    let mut s = sms("ACME01");
    s.display_name = Some("texts".into());
    let mut w = whatsapp("+919876543210");
    w.business_name = Some("Acme".into());
    let mut m = mail();
    m.display_name = Some("Sales".into());
    let all = [
        (
            IntegrationSettings::ExotelPhone(p),
            IntegrationKind::ExotelPhone,
            "line",
        ),
        (IntegrationSettings::ExotelSms(s), IntegrationKind::ExotelSms, "texts"),
        (
            IntegrationSettings::ExotelWhatsapp(w),
            IntegrationKind::ExotelWhatsapp,
            "Acme",
        ),
        (IntegrationSettings::ZohoMail(m), IntegrationKind::ZohoMail, "Sales"),
    ];
    for (settings, kind, name) in all {
        assert_eq!((settings.kind(), settings.display_name()), (kind, Some(name)));
        let validated = valid(settings);
        assert_eq!((validated.kind(), validated.display_name()), (kind, Some(name)));
    }
}

#[test]
fn given_a_dlt_header_then_it_is_six_letters_or_digits_in_upper_case() {
    let s = valid_sms(ExotelSms {
        account_sid: " acme1 ".into(),
        api_host: Some("api.in.exotel.com".into()),
        display_name: Some(" SMS ".into()),
        ..sms(" acme01 ")
    });
    assert_eq!(
        (
            s.sender_id.as_str(),
            s.account_sid.as_str(),
            s.api_host.as_deref(),
            s.display_name.as_deref()
        ),
        ("ACME01", "acme1", Some("api.in.exotel.com"), Some("SMS"))
    );
    for (sender, reason) in [
        ("ACME1", "a DLT header is six letters or digits"),
        ("ACME-1", "a DLT header is six letters or digits"),
        ("ACME011", "must be at most 6 characters"),
        ("", "is required"),
    ] {
        assert_eq!(
            field_and_reason(refused(IntegrationSettings::ExotelSms(sms(sender)))),
            ("sender_id".into(), reason.into()),
            "{sender}"
        );
    }
}

#[test]
fn given_a_dlt_entity_id_then_an_empty_one_is_none_and_another_is_nineteen_digits() {
    let entity = |id: &str| {
        let mut s = sms("ACME01");
        s.dlt_entity_id = Some(id.into());
        IntegrationSettings::ExotelSms(s).validated().map(|v| match v {
            IntegrationSettings::ExotelSms(s) => s.dlt_entity_id,
            _ => None,
        })
    };
    assert_eq!(entity("  "), Ok(None));
    assert_eq!(entity(" 1234567890123456789 "), Ok(Some("1234567890123456789".into())));
    for id in ["123456789012345678", "12345678901234567890", "123456789012345678x"] {
        assert_eq!(
            entity(id).map_err(field_and_reason),
            Err(("dlt_entity_id".into(), "a DLT principal entity id is 19 digits".into())),
            "{id}"
        );
    }
}

#[test]
fn given_sms_settings_then_their_account_and_api_host_are_checked_too() {
    let mut s = sms("ACME01");
    s.account_sid = "a.b".into();
    assert_eq!(refused(IntegrationSettings::ExotelSms(s)).field, "account_sid");
    let mut s = sms("ACME01");
    s.api_host = Some("http://127.0.0.1:1@evil.example/".into());
    assert_eq!(refused(IntegrationSettings::ExotelSms(s)).field, "api_host");
    let mut s = sms("ACME01");
    s.display_name = Some("a".repeat(256));
    assert_eq!(refused(IntegrationSettings::ExotelSms(s)).field, "display_name");
}

#[test]
fn given_whatsapp_settings_then_they_are_normalised_and_kept() {
    let w = valid_whatsapp(ExotelWhatsapp {
        account_sid: " acme1 ".into(),
        business_name: Some(" Acme ".into()),
        auto_reply_enabled: true,
        auto_reply_message: Some(" We are closed ".into()),
        api_host: Some("http://127.0.0.1:9/".into()),
        waba_id: Some(" 1029384756 ".into()),
        ..whatsapp(" +91 98765 43210")
    });
    assert_eq!(w.waba_id.as_deref(), Some("1029384756"));
    assert_eq!(w.account_sid, "acme1");
    assert_eq!(w.whatsapp_number, "+919876543210");
    assert_eq!(w.business_name.as_deref(), Some("Acme"));
    assert!(w.auto_reply_enabled);
    assert_eq!(w.auto_reply_message.as_deref(), Some("We are closed"));
    assert_eq!(w.api_host.as_deref(), Some("http://127.0.0.1:9"));
    assert_eq!(w.business_hours, None);
}

#[test]
fn given_whatsapp_settings_that_break_a_rule_then_the_field_is_named() {
    let mut long = whatsapp("+919876543210");
    long.auto_reply_message = Some("a".repeat(MAX_MESSAGE_LEN + 1));
    let mut longest = whatsapp("+919876543210");
    longest.auto_reply_message = Some("a".repeat(MAX_MESSAGE_LEN));
    assert!(IntegrationSettings::ExotelWhatsapp(longest).validated().is_ok());
    let mut disabled = whatsapp("+919876543210");
    disabled.auto_reply_message = Some("later".into());
    assert_eq!(valid_whatsapp(disabled).auto_reply_message.as_deref(), Some("later"));
    let mut blank = whatsapp("+919876543210");
    blank.auto_reply_enabled = true;
    blank.auto_reply_message = Some("  ".into());
    let mut sid = whatsapp("+919876543210");
    sid.account_sid = String::new();
    let mut name = whatsapp("+919876543210");
    name.business_name = Some("a".repeat(256));
    let mut host = whatsapp("+919876543210");
    host.api_host = Some("evil.example".into());
    let mut hours = whatsapp("+919876543210");
    hours.business_hours = Some(BusinessHours {
        enabled: true,
        timezone: "Mars/Olympus".into(),
        days: BTreeMap::new(),
    });
    let mut waba = whatsapp("+919876543210");
    waba.waba_id = Some("waba id".into());
    let mut empty_waba = whatsapp("+919876543210");
    empty_waba.waba_id = Some(" ".into());
    let mut long_waba = whatsapp("+919876543210");
    long_waba.waba_id = Some("1".repeat(65));
    for (settings, field) in [
        (waba, "waba_id"),
        (empty_waba, "waba_id"),
        (long_waba, "waba_id"),
        (whatsapp("919876543210"), "whatsapp_number"),
        (whatsapp("+91123"), "whatsapp_number"),
        (long, "auto_reply_message"),
        (blank, "auto_reply_message"),
        (sid, "account_sid"),
        (name, "business_name"),
        (host, "api_host"),
        (hours, "business_hours.timezone"),
    ] {
        assert_eq!(refused(IntegrationSettings::ExotelWhatsapp(settings)).field, field);
    }
}

fn day(start: &str, end: &str) -> DayHours {
    DayHours {
        start: Some(start.into()),
        end: Some(end.into()),
        closed: false,
    }
}

fn hours(days: &[(&str, DayHours)]) -> Result<BusinessHours, SettingsError> {
    let mut w = whatsapp("+919876543210");
    w.business_hours = Some(BusinessHours {
        enabled: true,
        timezone: "Asia/Kolkata".into(),
        days: days.iter().map(|(d, h)| (d.to_string(), h.clone())).collect(),
    });
    IntegrationSettings::ExotelWhatsapp(w).validated().map(|v| match v {
        IntegrationSettings::ExotelWhatsapp(w) => w.business_hours.unwrap(),
        other => panic!("{other:?}"),
    })
}

#[test]
fn given_opening_hours_on_every_weekday_then_they_are_kept_as_given() {
    let week: Vec<(&str, DayHours)> = WEEKDAYS.iter().map(|d| (*d, day("09:00", "18:30"))).collect();
    let kept = hours(&week).unwrap();
    assert_eq!(kept.days.len(), 7);
    assert!(kept.enabled);
    assert_eq!(kept.days["sunday"], day("09:00", "18:30"));
    let closed = DayHours {
        start: Some("late".into()),
        end: None,
        closed: true,
    };
    assert_eq!(hours(&[("monday", closed.clone())]).unwrap().days["monday"], closed);
}

#[test]
fn given_hours_that_are_not_a_day_or_not_in_order_then_the_day_is_named() {
    let reason = "give start and end as HH:MM with start before end, or closed: true";
    for (name, times) in [
        ("monday", day("18:00", "09:00")),
        ("tuesday", day("09:00", "09:00")),
        ("wednesday", day("25:00", "26:00")),
        (
            "thursday",
            DayHours {
                start: Some("09:00".into()),
                end: None,
                closed: false,
            },
        ),
    ] {
        assert_eq!(
            hours(&[(name, times)]).map_err(field_and_reason),
            Err((format!("business_hours.{name}"), reason.into())),
            "{name}"
        );
    }
    assert_eq!(
        hours(&[("funday", day("09:00", "10:00"))]).map_err(field_and_reason),
        Err(("business_hours.funday".into(), "not a weekday".into()))
    );
}

#[test]
fn given_business_hours_without_a_time_zone_then_india_is_assumed() {
    let parsed: BusinessHours = serde_json::from_value(serde_json::json!({"monday": {"closed": true}})).unwrap();
    assert_eq!(parsed.timezone, "Asia/Kolkata");
    assert!(!parsed.enabled);
}

#[test]
fn given_a_mailbox_with_defaults_then_zohos_servers_are_used_and_the_address_normalised() {
    let m = valid_mail(mail());
    assert_eq!(m.email, "sales@acme.in");
    assert_eq!(
        (m.smtp_host.as_str(), m.smtp_port, m.smtp_security),
        ("smtp.zoho.com", 587, MailSecurity::Starttls)
    );
    assert_eq!((m.imap_host.as_str(), m.imap_port), ("imap.zoho.com", 993));
    assert_eq!(m.display_name, None);
}

#[test]
fn given_mail_servers_then_their_names_are_lower_cased_and_their_ports_kept() {
    let m = valid_mail(ZohoMail {
        smtp_host: " Mail.Acme.IN ".into(),
        smtp_port: 465,
        smtp_security: MailSecurity::Tls,
        imap_host: "imap-1.acme.in".into(),
        imap_port: 143,
        display_name: Some(" Sales ".into()),
        ..mail()
    });
    assert_eq!(
        (
            m.smtp_host.as_str(),
            m.smtp_port,
            m.smtp_security,
            m.imap_host.as_str(),
            m.imap_port
        ),
        ("mail.acme.in", 465, MailSecurity::Tls, "imap-1.acme.in", 143)
    );
    assert_eq!(m.display_name.as_deref(), Some("Sales"));
    let longest = format!("{}.in", "a".repeat(250));
    assert!(
        IntegrationSettings::ZohoMail(ZohoMail {
            smtp_host: longest,
            ..mail()
        })
        .validated()
        .is_ok()
    );
}

#[test]
fn given_a_mailbox_that_breaks_a_rule_then_the_field_is_named() {
    let too_long = format!("{}.in", "a".repeat(251));
    for (settings, field, reason) in [
        (
            ZohoMail {
                email: "no-at-sign".into(),
                ..mail()
            },
            "email",
            "not a valid e-mail address",
        ),
        (
            ZohoMail { smtp_port: 0, ..mail() },
            "smtp_port",
            "must be a port number",
        ),
        (
            ZohoMail { imap_port: 0, ..mail() },
            "imap_port",
            "must be a port number",
        ),
        (
            ZohoMail {
                smtp_host: "a..b".into(),
                ..mail()
            },
            "smtp_host",
            "not a host name",
        ),
        (
            ZohoMail {
                smtp_host: "a_b.in".into(),
                ..mail()
            },
            "smtp_host",
            "not a host name",
        ),
        (
            ZohoMail {
                smtp_host: too_long,
                ..mail()
            },
            "smtp_host",
            "must be at most 253 characters",
        ),
        (
            ZohoMail {
                imap_host: "imap.acme.in.".into(),
                ..mail()
            },
            "imap_host",
            "not a host name",
        ),
        (
            ZohoMail {
                imap_host: " ".into(),
                ..mail()
            },
            "imap_host",
            "is required",
        ),
        (
            ZohoMail {
                display_name: Some("a".repeat(256)),
                ..mail()
            },
            "display_name",
            "must be at most 255 characters",
        ),
    ] {
        assert_eq!(
            field_and_reason(refused(IntegrationSettings::ZohoMail(settings))),
            (field.into(), reason.into())
        );
    }
}

#[test]
fn given_a_settings_error_then_it_reads_as_its_field_and_reason() {
    assert_eq!(
        invalid("smtp_port", "must be a port number").to_string(),
        "smtp_port: must be a port number"
    );
}

#[test]
fn keyword_rules_are_trimmed_and_a_bad_or_oversized_pattern_names_its_rule() {
    use crate::auto_reply::{KeywordMatch, KeywordRule};
    let keyword = |keyword: &str, match_type| KeywordRule {
        keyword: keyword.into(),
        match_type,
        reply: " Track it at acme.in ".into(),
        priority: 1,
    };
    let kept = valid_whatsapp(ExotelWhatsapp {
        auto_reply_enabled: true,
        keyword_rules: vec![keyword(" order ", KeywordMatch::Contains)],
        auto_reply_cooldown_minutes: Some(10_080),
        ..whatsapp("+919876543210")
    });
    assert_eq!(kept.keyword_rules[0].keyword, "order");
    assert_eq!(kept.keyword_rules[0].reply, "Track it at acme.in");
    assert_eq!(kept.auto_reply_cooldown_minutes, Some(10_080));
    let welcome_only = valid_whatsapp(ExotelWhatsapp {
        auto_reply_enabled: true,
        welcome_message: Some(" Hi! ".into()),
        ..whatsapp("+919876543210")
    });
    assert_eq!(welcome_only.welcome_message.as_deref(), Some("Hi!"));
    let with = |rules: Vec<KeywordRule>, cooldown: Option<u32>| ExotelWhatsapp {
        keyword_rules: rules,
        auto_reply_cooldown_minutes: cooldown,
        ..whatsapp("+919876543210")
    };
    let blank_reply = KeywordRule {
        reply: " ".into(),
        ..keyword("order", KeywordMatch::Exact)
    };
    for (settings, field) in [
        (
            with(
                vec![keyword("ok", KeywordMatch::Exact), keyword("(", KeywordMatch::Regex)],
                None,
            ),
            "keyword_rules[1].keyword",
        ),
        (
            with(vec![keyword("(\\w{1,1000}){1,1000}", KeywordMatch::Regex)], None),
            "keyword_rules[0].keyword",
        ),
        (
            with(vec![keyword(" ", KeywordMatch::Contains)], None),
            "keyword_rules[0].keyword",
        ),
        (
            with(vec![keyword(&"k".repeat(201), KeywordMatch::Contains)], None),
            "keyword_rules[0].keyword",
        ),
        (with(vec![blank_reply], None), "keyword_rules[0].reply"),
        (with(vec![keyword("a", KeywordMatch::Exact); 51], None), "keyword_rules"),
        (with(Vec::new(), Some(0)), "auto_reply_cooldown_minutes"),
        (with(Vec::new(), Some(10_081)), "auto_reply_cooldown_minutes"),
    ] {
        assert_eq!(refused(IntegrationSettings::ExotelWhatsapp(settings)).field, field);
    }
    let regex = refused(IntegrationSettings::ExotelWhatsapp(with(
        vec![keyword("(\\w{1,1000}){1,1000}", KeywordMatch::Regex)],
        None,
    )));
    assert!(regex.reason.contains("64 KiB"), "{}", regex.reason);
}

#[test]
fn numbers_are_the_same_in_any_form_and_weekdays_have_their_settings_names() {
    assert!(same_number("+918047112233", "08047112233"));
    assert!(same_number(" +91 80471 12233", "+918047112233"));
    assert!(!same_number("+918047112233", "+918047112234"));
    assert!(same_number("not a number", " not a number "));
    assert!(!same_number("not a number", "+918047112233"));
    assert_eq!(weekday_name(chrono::Weekday::Mon), "monday");
    assert_eq!(weekday_name(chrono::Weekday::Sun), "sunday");
}

#[test]
fn fifty_keyword_rules_and_business_account_ids_with_dashes_and_underscores_are_kept() {
    use crate::auto_reply::{KeywordMatch, KeywordRule};
    let rule = KeywordRule {
        keyword: "order".into(),
        match_type: KeywordMatch::Contains,
        reply: "Track it".into(),
        priority: 0,
    };
    let kept = valid_whatsapp(ExotelWhatsapp {
        keyword_rules: vec![rule; 50],
        waba_id: Some("sandbox-waba_2".into()),
        ..whatsapp("+919876543210")
    });
    assert_eq!(kept.keyword_rules.len(), 50);
    assert_eq!(kept.waba_id.as_deref(), Some("sandbox-waba_2"));
    let longest = valid_whatsapp(ExotelWhatsapp {
        waba_id: Some("1".repeat(64)),
        ..whatsapp("+919876543210")
    });
    assert_eq!(longest.waba_id.map(|w| w.len()), Some(64));
}
