//! Number metadata and the customer whitelist (v1, XML and JSON).

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{assert_conforms, exotel, exotel_json};
use crate::support::sim::{self, TOKEN, admin_request, script};

const NUMBERS: &str = "/v1/Accounts/sandbox/Numbers";
const WHITELIST: &str = "/v1/Accounts/sandbox/CustomerWhitelist";

#[tokio::test]
async fn number_metadata_reports_a_scripted_dnd_number_as_the_documented_example() {
    let sim = sim::start().await;
    let script = json!({"dnd": true, "circle": "GJ", "operator": "R", "number_type": "Mobile"});
    let (status, _) = admin_request(&sim, Method::PUT, "scenarios/+919712330240", script).await;
    assert_eq!(status, StatusCode::NO_CONTENT);

    let (status, body) = exotel_json(&sim, Method::GET, &format!("{NUMBERS}/9712330240.json"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    let documented = json!({ "Numbers": { "PhoneNumber": "0XXXXX30240", "Circle": "GJ",
        "CircleName": "Gujarat Telecom Circle (includes Daman & Diu, Dadra & Nagar Haveli)", "Type": "Mobile",
        "Operator": "R", "OperatorName": "Reliance", "DND": "Yes" } });
    assert_conforms(&body, &documented, "metadata");
    let mut expected = documented;
    expected["Numbers"]["PhoneNumber"] = json!("09712330240");
    assert_eq!(body, expected);
}

#[tokio::test]
async fn number_metadata_of_an_unscripted_number_says_no_dnd_in_xml_by_default() {
    let sim = sim::start().await;
    let (status, xml) = exotel(&sim, Method::GET, &format!("{NUMBERS}/09876543210"), &[], TOKEN).await;
    assert_eq!(status, StatusCode::OK);
    for part in [
        "<TwilioResponse><Numbers>",
        "<PhoneNumber>09876543210</PhoneNumber>",
        "<Type>Mobile</Type>",
        "<Circle>KA</Circle>",
        "<OperatorName>Airtel</OperatorName>",
        "<DND>No</DND>",
    ] {
        assert!(xml.contains(part), "{part} in {xml}");
    }
    script(&sim, "09876543210", json!({"circle": "GJ", "dnd": true})).await;
    let (_, xml) = exotel(&sim, Method::GET, &format!("{NUMBERS}/+919876543210"), &[], TOKEN).await;
    assert!(
        xml.contains("<DND>Yes</DND>") && xml.contains("Daman &amp; Diu"),
        "{xml}"
    );
    let (_, landline) = exotel_json(&sim, Method::GET, &format!("{NUMBERS}/01123456789.json"), &[]).await;
    assert_eq!(
        (&landline["Numbers"]["Type"], &landline["Numbers"]["Circle"]),
        (&json!("Landline"), &json!("DL"))
    );
}

#[tokio::test]
async fn number_metadata_refuses_bad_numbers_and_bad_credentials() {
    let sim = sim::start().await;
    let (status, body) = exotel_json(&sim, Method::GET, &format!("{NUMBERS}/12ab.json"), &[]).await;
    assert_eq!(
        (status, &body["RestException"]["Status"]),
        (StatusCode::BAD_REQUEST, &json!(400))
    );
    let (status, xml) = exotel(&sim, Method::GET, &format!("{NUMBERS}/09876543210"), &[], "wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    for part in [
        "<TwilioResponse><RestException>",
        "<Status>401</Status>",
        "<Message>Authentication failed</Message>",
    ] {
        assert!(xml.contains(part), "{part} in {xml}");
    }
    let (status, json) = exotel(&sim, Method::GET, &format!("{NUMBERS}/09876543210.json"), &[], "wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(json.contains("\"RestException\""), "{json}");
}

#[tokio::test]
async fn a_scenario_with_an_unknown_circle_operator_or_type_is_refused() {
    let sim = sim::start().await;
    for script in [
        json!({"circle": "ZZ"}),
        json!({"operator": "Q"}),
        json!({"number_type": "Pager"}),
    ] {
        let (status, _) = admin_request(&sim, Method::PUT, "scenarios/09876543210", script.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{script}");
    }
}

fn result(body: &Value) -> (i64, i64, i64, i64, i64, i64) {
    let n = |k: &str| body["Result"][k].as_i64().unwrap();
    (
        n("Total"),
        n("Duplicate"),
        n("Processed"),
        n("Succeeded"),
        n("Redundant"),
        n("Failed"),
    )
}

#[tokio::test]
async fn whitelisting_numbers_then_checking_them_round_trips_in_json_and_xml() {
    let sim = sim::start().await;
    let form = [
        ("VirtualNumber", "08047112233"),
        ("Number", "09876543210,+919123456789,9876543210,12"),
        ("Language", "en"),
    ];
    let (status, body) = exotel_json(&sim, Method::POST, &format!("{WHITELIST}.json"), &form).await;
    assert_eq!(status, StatusCode::OK);
    let documented =
        json!({"Result": {"Total": 4, "Duplicate": 1, "Processed": 3, "Succeeded": 2, "Redundant": 0, "Failed": 1}});
    assert_conforms(&body, &documented, "whitelist");
    assert_eq!(result(&body), (4, 1, 3, 2, 0, 1));
    let (_, again) = exotel_json(&sim, Method::POST, &format!("{WHITELIST}.json"), &form[..2]).await;
    assert_eq!(
        result(&again),
        (4, 1, 3, 0, 2, 1),
        "already whitelisted numbers are redundant"
    );

    let (status, check) = exotel_json(&sim, Method::GET, &format!("{WHITELIST}/+919876543210.json"), &[]).await;
    assert_eq!(status, StatusCode::OK);
    let documented = json!({"Result": {"Status": "Whitelist", "Type": "API", "Expiry": -1}});
    assert_conforms(&check, &documented, "check");
    assert_eq!(
        (&check["Result"]["Status"], &check["Result"]["Type"]),
        (&json!("Whitelist"), &json!("API"))
    );
    let expiry = check["Result"]["Expiry"].as_i64().unwrap();
    assert!(
        (180 * 86_400 - 60..=180 * 86_400).contains(&expiry),
        "six months: {expiry}"
    );

    let (_, xml) = exotel(&sim, Method::GET, &format!("{WHITELIST}/09123456789"), &[], TOKEN).await;
    assert!(
        xml.contains("<TwilioResponse><Result>") && xml.contains("<Status>Whitelist</Status>"),
        "{xml}"
    );
    let (_, neutral) = exotel_json(&sim, Method::GET, &format!("{WHITELIST}/09000000001.json"), &[]).await;
    assert_eq!(
        neutral,
        json!({"Result": {"Status": "Neutral", "Type": "", "Expiry": -1}})
    );
}

#[tokio::test]
async fn whitelisting_takes_its_fields_from_the_query_string_and_answers_xml_by_default() {
    let sim = sim::start().await;
    let path = format!("{WHITELIST}/?VirtualNumber=08047112234&Number=09000000002&Language=en");
    let (status, xml) = exotel(&sim, Method::POST, &path, &[], TOKEN).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        xml.contains("<Result>") && xml.contains("<Succeeded>1</Succeeded>"),
        "{xml}"
    );
    let (_, check) = exotel_json(&sim, Method::GET, &format!("{WHITELIST}/09000000002.json"), &[]).await;
    assert_eq!(check["Result"]["Status"], json!("Whitelist"));
}

#[tokio::test]
async fn a_customer_who_unsubscribes_from_the_opt_in_sms_is_blacklisted() {
    let sim = sim::start().await;
    script(&sim, "09000000003", json!({"unsubscribes": true, "dnd": true})).await;
    let form = [("VirtualNumber", "08047112233"), ("Number", "09000000003")];
    let (_, body) = exotel_json(&sim, Method::POST, &format!("{WHITELIST}.json"), &form).await;
    assert_eq!(result(&body), (1, 0, 1, 1, 0, 0), "the opt-in SMS went out");
    let (_, check) = exotel_json(&sim, Method::GET, &format!("{WHITELIST}/09000000003.json"), &[]).await;
    assert_eq!(
        check,
        json!({"Result": {"Status": "Blacklist", "Type": "", "Expiry": -1}})
    );
    let (_, again) = exotel_json(&sim, Method::POST, &format!("{WHITELIST}.json"), &form).await;
    assert_eq!(
        result(&again),
        (1, 0, 1, 0, 0, 1),
        "an unsubscribed number cannot be whitelisted again"
    );
}

#[tokio::test]
async fn whitelisting_needs_an_exophone_of_the_account_numbers_and_credentials() {
    let sim = sim::start().await;
    let cases: [&[(&str, &str)]; 3] = [
        &[("Number", "09000000004")],
        &[("VirtualNumber", "08011112222"), ("Number", "09000000004")],
        &[("VirtualNumber", "08047112233")],
    ];
    for form in cases {
        let (status, body) = exotel_json(&sim, Method::POST, &format!("{WHITELIST}.json"), form).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{form:?}");
        assert_eq!(body["RestException"]["Status"], json!(400));
    }
    let form = [("VirtualNumber", "08047112233"), ("Number", "09000000004")];
    let (status, xml) = exotel(&sim, Method::POST, WHITELIST, &form, "wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(xml.contains("<RestException>"), "{xml}");
    let (status, _) = exotel(
        &sim,
        Method::GET,
        &format!("{WHITELIST}/09000000004.json"),
        &[],
        "wrong",
    )
    .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, _) = exotel_json(&sim, Method::GET, &format!("{WHITELIST}/abc.json"), &[]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}
