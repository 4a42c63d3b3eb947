//! Bulk call details: `GET /v1/Accounts/{sid}/Calls[.json]`.

use chrono::{Duration as Span, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::collections::BTreeSet;

use super::{CALLER, ended, place, simulator};
use crate::support::sim::{CALL_FIELDS, EXOPHONE, KEY, TOKEN, get_json, script};
use simulator::RunningSimulator;

const ANSWERS: &str = "09111111111";
const BUSY: &str = "09222222222";
const RINGS_ON: &str = "09333333333";

/// Five ended calls (three answered by ANSWERS, two busy at BUSY, one of
/// them from another caller) and one still ringing; the ended calls' Sids.
async fn calls(sim: &RunningSimulator) -> Vec<String> {
    script(sim, BUSY, json!({"outcome": "busy"})).await;
    script(sim, RINGS_ON, json!({"ring_seconds": 100_000})).await;
    let mut sids = Vec::new();
    for (from, to) in [
        (CALLER, ANSWERS),
        (CALLER, BUSY),
        (CALLER, ANSWERS),
        ("09444444444", BUSY),
        (CALLER, ANSWERS),
    ] {
        sids.push(place(sim, &[("From", from), ("To", to), ("CallerId", EXOPHONE)]).await);
    }
    place(sim, &[("From", CALLER), ("To", RINGS_ON), ("CallerId", EXOPHONE)]).await;
    for sid in &sids {
        ended(sim, sid).await;
    }
    sids
}

fn sids_of(page: &Value) -> Vec<String> {
    page["Calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["Sid"].as_str().unwrap().to_string())
        .collect()
}

fn pick(sids: &[String], at: &[usize]) -> Vec<String> {
    at.iter().map(|i| sids[*i].clone()).collect()
}

async fn list(sim: &RunningSimulator, query: &str) -> Value {
    get_json(sim, &format!("/v1/Accounts/sandbox/Calls.json?{query}")).await
}

#[tokio::test]
async fn the_listing_matches_the_documented_shape_and_leaves_out_ongoing_calls() {
    let sim = simulator().await;
    let sids = calls(&sim).await;
    let page = list(&sim, "").await;
    let metadata: BTreeSet<&str> = page["Metadata"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        metadata,
        ["Total", "PageSize", "FirstPageUri", "PrevPageUri", "NextPageUri"].into()
    );
    assert_eq!(
        (
            page["Metadata"]["Total"].as_u64(),
            page["Metadata"]["PageSize"].as_u64()
        ),
        (Some(5), Some(50))
    );
    for call in page["Calls"].as_array().unwrap() {
        let fields: BTreeSet<&str> = call.as_object().unwrap().keys().map(String::as_str).collect();
        assert_eq!(fields, CALL_FIELDS.into());
    }
    let listed: BTreeSet<String> = sids_of(&page).into_iter().collect();
    assert_eq!(listed, sids.iter().cloned().collect(), "the ringing call is not listed");
    let newest_first: Vec<String> = sids.iter().rev().cloned().collect();
    assert_eq!(sids_of(&page), newest_first);
    let oldest_first = list(&sim, "SortBy=DateCreated:asc").await;
    assert_eq!(sids_of(&oldest_first), sids);
}

#[tokio::test]
async fn the_listing_filters_by_number_status_direction_duration_and_date() {
    let sim = simulator().await;
    let sids = calls(&sim).await;
    let to = list(&sim, &format!("To={ANSWERS}")).await;
    assert_eq!(sids_of(&to), pick(&sids, &[4, 2, 0]));
    let busy = list(&sim, "Status=busy").await;
    assert_eq!(sids_of(&busy), pick(&sids, &[3, 1]));
    let from = list(&sim, "From=%2B919444444444&Status=busy,completed").await;
    assert_eq!(sids_of(&from), pick(&sids, &[3]));
    let both = list(
        &sim,
        &format!("To={ANSWERS},{BUSY}&Direction=outbound-api&PhoneNumber={EXOPHONE}"),
    )
    .await;
    assert_eq!(both["Metadata"]["Total"], 5);
    let long = list(&sim, "Duration=gte:30s").await;
    assert_eq!(sids_of(&long), pick(&sids, &[4, 2, 0]), "36 s answered, 6 s busy");
    let short = list(&sim, "Duration=lte:10s").await;
    assert_eq!(short["Metadata"]["Total"], 2);

    let ist = |at: chrono::DateTime<Utc>| (at + Span::minutes(330)).format("%Y-%m-%d %H:%M:%S").to_string();
    let now = Utc::now();
    let around = format!("gte:{};lte:{}", ist(now - Span::hours(1)), ist(now + Span::hours(1)));
    let today = list(&sim, &serde_urlencoded::to_string([("DateCreated", around)]).unwrap()).await;
    assert_eq!(today["Metadata"]["Total"], 5);
    let past = list(&sim, "DateCreated=gte:2020-01-01%2000:00:00;lte:2020-01-20%2000:00:00").await;
    assert_eq!(past["Metadata"]["Total"], 0);
}

#[tokio::test]
async fn the_listing_pages_forward_with_after_and_back_with_before() {
    let sim = simulator().await;
    let sids = calls(&sim).await;
    let first = list(&sim, "PageSize=2&SortBy=DateCreated:asc").await;
    assert_eq!(sids_of(&first), sids[0..2]);
    assert!(first["Metadata"]["PrevPageUri"].is_null());
    let mut seen = sids_of(&first);
    let mut page = first.clone();
    while let Some(next) = page["Metadata"]["NextPageUri"].as_str() {
        assert!(
            next.starts_with("/v1/Accounts/sandbox/Calls.json?") && next.contains("After="),
            "{next}"
        );
        page = get_json(&sim, next).await;
        seen.extend(sids_of(&page));
    }
    assert_eq!(seen, sids, "every call once, in order");
    assert_eq!(sids_of(&page), sids[4..5]);

    let second = get_json(&sim, first["Metadata"]["NextPageUri"].as_str().unwrap()).await;
    let back = get_json(&sim, second["Metadata"]["PrevPageUri"].as_str().unwrap()).await;
    assert_eq!(sids_of(&back), sids_of(&first));
    assert_eq!(back["Metadata"]["FirstPageUri"], first["Metadata"]["FirstPageUri"]);
    assert_eq!(second["Metadata"]["Total"], 5);
}

#[tokio::test]
async fn the_listing_answers_xml_by_default() {
    let sim = simulator().await;
    let sids = calls(&sim).await;
    let response = reqwest::Client::new()
        .get(format!("{}/v1/Accounts/sandbox/Calls?PageSize=2", sim.base_url()))
        .basic_auth(KEY, Some(TOKEN))
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], "application/xml");
    let xml = response.text().await.unwrap();
    assert!(xml.contains("<TwilioResponse><Calls><Call>"), "{xml}");
    assert_eq!(xml.matches("<Call>").count(), 2);
    assert!(xml.contains(&format!("<Sid>{}</Sid>", sids[4])));
    assert!(xml.contains("<Metadata>") && xml.contains("<Total>5</Total>") && xml.contains("<PrevPageUri/>"));
    assert!(xml.contains("<NextPageUri>/v1/Accounts/sandbox/Calls?"), "{xml}");
}

#[tokio::test]
async fn bad_listing_requests_get_rest_exceptions() {
    let sim = simulator().await;
    let six = "To=09000000001,09000000002,09000000003,09000000004,09000000005,09000000006";
    for query in [
        "PageSize=101",
        six,
        "After=0123456789abcdef0123456789abcdef",
        "DateCreated=gte:2024-01-01%2000:00:00;lte:2024-03-01%2000:00:00",
        "Duration=about:10s",
    ] {
        let response = reqwest::Client::new()
            .get(format!("{}/v1/Accounts/sandbox/Calls.json?{query}", sim.base_url()))
            .basic_auth(KEY, Some(TOKEN))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{query}");
        assert_eq!(response.json::<Value>().await.unwrap()["RestException"]["Status"], 400);
    }
    let anonymous = reqwest::get(format!("{}/v1/Accounts/sandbox/Calls.json", sim.base_url()))
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
}
