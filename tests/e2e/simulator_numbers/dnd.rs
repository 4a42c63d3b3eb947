//! `Calls/connect` and the DND registry: a number the account whitelisted
//! through `CustomerWhitelist` (status `Whitelist`) can be called; any other
//! DND number is refused under the TRAI NDNC rules.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::exotel_json;
use crate::support::sim::{self, EXOPHONE, connect, script};
use simulator::RunningSimulator;

const WHITELIST: &str = "/v1/Accounts/sandbox/CustomerWhitelist.json";
const WHITELISTED: &str = "09123456789";
const NOT_WHITELISTED: &str = "09123456780";
const UNSUBSCRIBED: &str = "09123456781";

async fn call(sim: &RunningSimulator, to: &str) -> (StatusCode, Value) {
    let response = connect(sim, &[("From", "09876543210"), ("To", to), ("CallerId", EXOPHONE)]).await;
    (response.status(), response.json().await.unwrap())
}

fn ndnc_refusal(number: &str) -> Value {
    let message = format!("Call to [{number}] cannot be made because of TRAI NDNC regulations");
    json!({"RestException": {"Status": 403, "Message": message}})
}

#[tokio::test]
async fn a_whitelisted_dnd_number_can_be_called_and_any_other_dnd_number_is_refused() {
    let sim = sim::start().await;
    script(&sim, WHITELISTED, json!({"dnd": true})).await;
    script(&sim, NOT_WHITELISTED, json!({"dnd": true})).await;
    script(&sim, UNSUBSCRIBED, json!({"dnd": true, "unsubscribes": true})).await;
    let (status, body) = call(&sim, WHITELISTED).await;
    assert_eq!(
        (status, body),
        (StatusCode::FORBIDDEN, ndnc_refusal(WHITELISTED)),
        "refused before it is whitelisted"
    );

    let numbers = format!("+91{},{UNSUBSCRIBED}", &WHITELISTED[1..]);
    let form = [("VirtualNumber", EXOPHONE), ("Number", numbers.as_str())];
    let (status, _) = exotel_json(&sim, Method::POST, WHITELIST, &form).await;
    assert_eq!(status, StatusCode::OK);

    let (status, body) = call(&sim, WHITELISTED).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (&body["Call"]["To"], &body["Call"]["Status"]),
        (&json!(WHITELISTED), &json!("in-progress"))
    );
    for refused in [NOT_WHITELISTED, UNSUBSCRIBED] {
        let (status, body) = call(&sim, refused).await;
        assert_eq!(
            (status, body),
            (StatusCode::FORBIDDEN, ndnc_refusal(refused)),
            "{refused}"
        );
    }
}
