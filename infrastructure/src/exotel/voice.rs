//! v1 voice: `Calls/connect` (number to number, or number to flow) and
//! call details with legs.

use async_trait::async_trait;
use reqwest::Method;
use serde_json::Value;

use application::exotel::{
    CallInfo, CallLeg, CallQuery, CallTarget, ConnectCall, ExotelAccount, ExotelError, ExotelVoice, RecordingChannels,
};
use chrono::{DateTime, Utc};

use super::parse::{e164, text, time, whole};
use super::{Body, ExotelClient, Family, object};

/// The form fields of a connect request, with arrays in Exotel's
/// `StatusCallbackEvents[0]` notation.
fn connect_form(call: &ConnectCall) -> Vec<(String, String)> {
    let mut form = vec![
        ("From".to_string(), call.from.clone()),
        ("CallerId".to_string(), call.caller_id.clone()),
    ];
    match &call.target {
        CallTarget::Number(to) => form.push(("To".into(), to.clone())),
        CallTarget::Flow(url) => form.push(("Url".into(), url.clone())),
    }
    let mut optional = |key: &str, value: Option<String>| {
        if let Some(value) = value {
            form.push((key.to_string(), value));
        }
    };
    optional("CallType", call.call_type.clone());
    optional("TimeLimit", call.time_limit_secs.map(|s| s.to_string()));
    optional("TimeOut", call.time_out_secs.map(|s| s.to_string()));
    optional("Record", call.record.map(|_| "true".to_string()));
    optional("RecordingChannels", call.record.map(channels));
    optional("CustomField", call.custom_field.clone());
    optional("StatusCallback", call.status_callback.clone());
    optional("WaitUrl", call.wait_url.clone());
    if call.callback_json {
        form.push(("StatusCallbackContentType".into(), "application/json".into()));
    }
    for (i, event) in call.callback_events.iter().enumerate() {
        form.push((format!("StatusCallbackEvents[{i}]"), event.clone()));
    }
    form
}

fn channels(channels: RecordingChannels) -> String {
    match channels {
        RecordingChannels::Single => "single".into(),
        RecordingChannels::Dual => "dual".into(),
    }
}

/// A `Call` object, JSON or XML-turned-JSON.
pub(super) fn call_info(call: &Value) -> Result<CallInfo, ExotelError> {
    let sid = text(call.get("Sid")).ok_or_else(|| ExotelError::Malformed("a call without a Sid".into()))?;
    let details = call.get("Details");
    Ok(CallInfo {
        sid,
        status: text(call.get("Status")).unwrap_or_else(|| "queued".into()),
        from: text(call.get("From")).map(|n| e164(&n)).unwrap_or_default(),
        to: text(call.get("To")).map(|n| e164(&n)),
        caller_id: text(call.get("PhoneNumberSid")).map(|n| e164(&n)),
        direction: text(call.get("Direction")),
        started_at: time(call.get("StartTime")),
        ended_at: time(call.get("EndTime")),
        duration_secs: whole(call.get("Duration")),
        price: text(call.get("Price")),
        recording_url: text(call.get("RecordingUrl")),
        conversation_secs: details.and_then(|d| whole(d.get("ConversationDuration"))),
        legs: details.map(legs).unwrap_or_default(),
        custom_field: text(call.get("CustomField")),
        event_type: None,
        disconnected_by: None,
    })
}

/// A status callback's body (reference §4), JSON or form fields already
/// nested (`Legs[0][Status]` → `Legs: [{Status}]`): `CallSid`, `Status`,
/// `EventType`, durations, legs with their statuses and who hung up,
/// `CustomField`, price and recording where given.
pub fn callback_info(body: &Value) -> Result<CallInfo, ExotelError> {
    let sid = text(body.get("CallSid")).ok_or_else(|| ExotelError::Malformed("a callback without a CallSid".into()))?;
    let items: Vec<&Value> = match body.get("Legs") {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(Value::Object(map)) => {
            let mut keyed: Vec<(u64, &Value)> = map.iter().filter_map(|(k, v)| Some((k.parse().ok()?, v))).collect();
            keyed.sort_by_key(|(i, _)| *i);
            keyed.into_iter().map(|(_, v)| v).collect()
        }
        _ => Vec::new(),
    };
    let legs = items
        .iter()
        .map(|leg| CallLeg {
            status: text(leg.get("Status")),
            on_call_secs: whole(leg.get("OnCallDuration")),
        })
        .collect();
    let disconnected_by = items.iter().find_map(|leg| text(leg.get("DisconnectedBy")));
    Ok(CallInfo {
        sid,
        status: text(body.get("Status")).unwrap_or_default(),
        from: text(body.get("From")).map(|n| e164(&n)).unwrap_or_default(),
        to: text(body.get("To")).map(|n| e164(&n)),
        caller_id: text(body.get("PhoneNumberSid")).map(|n| e164(&n)),
        direction: text(body.get("Direction")),
        started_at: time(body.get("StartTime")),
        ended_at: time(body.get("EndTime")),
        duration_secs: whole(body.get("Duration")),
        price: text(body.get("Price")),
        recording_url: text(body.get("RecordingUrl")),
        conversation_secs: whole(body.get("ConversationDuration")),
        legs,
        custom_field: text(body.get("CustomField")),
        event_type: text(body.get("EventType")),
        disconnected_by,
    })
}

/// `YYYY-MM-DD HH:mm:ss` in IST, as the listing's `DateCreated` wants it.
fn ist(at: DateTime<Utc>) -> String {
    (at + chrono::Duration::minutes(5 * 60 + 30))
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

/// The listing's query string for a page.
fn listing_query(query: &CallQuery, after: Option<&str>) -> String {
    let mut pairs = vec![
        (
            "DateCreated".to_string(),
            format!("gte:{};lte:{}", ist(query.created_from), ist(query.created_to)),
        ),
        ("PageSize".to_string(), "100".to_string()),
        ("SortBy".to_string(), "DateCreated:asc".to_string()),
    ];
    let numbers = |list: &[String]| list.iter().take(5).cloned().collect::<Vec<_>>().join(",");
    if !query.from.is_empty() {
        pairs.push(("From".into(), numbers(&query.from)));
    }
    if !query.to.is_empty() {
        pairs.push(("To".into(), numbers(&query.to)));
    }
    if let Some(after) = after {
        pairs.push(("After".into(), after.to_string()));
    }
    serde_urlencoded::to_string(&pairs).unwrap_or_default()
}

/// The most pages a listing is followed for (10,000 calls).
const MAX_PAGES: usize = 100;

/// Legs from `Details`: statuses from `Leg1Status`/`Leg2Status`, times from
/// `Legs[{Leg:{Id,OnCallDuration}}]`.
fn legs(details: &Value) -> Vec<CallLeg> {
    let durations: Vec<Option<u64>> = match details.get("Legs") {
        Some(Value::Array(items)) => items
            .iter()
            .map(|item| whole(item.get("Leg").unwrap_or(item).get("OnCallDuration")))
            .collect(),
        Some(Value::Object(one)) => vec![whole(one.get("Leg").and_then(|l| l.get("OnCallDuration")))],
        _ => Vec::new(),
    };
    let statuses = [text(details.get("Leg1Status")), text(details.get("Leg2Status"))];
    let count = durations.len().max(statuses.iter().filter(|s| s.is_some()).count());
    (0..count)
        .map(|i| CallLeg {
            status: statuses.get(i).cloned().flatten(),
            on_call_secs: durations.get(i).copied().flatten(),
        })
        .collect()
}

#[async_trait]
impl ExotelVoice for ExotelClient {
    #[tracing::instrument(skip_all, fields(account = %account.account_sid), err(level = "warn"))]
    async fn connect(&self, account: &ExotelAccount, call: &ConnectCall) -> Result<CallInfo, ExotelError> {
        let path = self.v1_path(account, "Calls/connect");
        let body = Body::Form(connect_form(call));
        let answer = self.request(account, Family::Voice, Method::POST, &path, body).await?;
        call_info(object(&answer, "Call")?)
    }

    #[tracing::instrument(skip_all, fields(account = %account.account_sid, call = %call_sid), err(level = "warn"))]
    async fn call_details(&self, account: &ExotelAccount, call_sid: &str) -> Result<CallInfo, ExotelError> {
        let path = format!("{}?details=true", self.v1_path(account, &format!("Calls/{call_sid}")));
        let answer = self
            .request(account, Family::Voice, Method::GET, &path, Body::Empty)
            .await?;
        call_info(object(&answer, "Call")?)
    }

    async fn capacity(&self, account: &ExotelAccount) {
        ExotelClient::capacity(self, account, Family::Voice).await;
    }

    #[tracing::instrument(skip_all, fields(account = %account.account_sid), err(level = "warn"))]
    async fn find_calls(&self, account: &ExotelAccount, query: &CallQuery) -> Result<Vec<CallInfo>, ExotelError> {
        let mut found = Vec::new();
        let mut after: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let path = format!(
                "{}?{}",
                self.v1_path(account, "Calls"),
                listing_query(query, after.as_deref())
            );
            let answer = self
                .request(account, Family::Voice, Method::GET, &path, Body::Empty)
                .await?;
            let calls: Vec<&Value> = match answer.get("Calls") {
                Some(Value::Array(items)) => items.iter().map(|c| c.get("Call").unwrap_or(c)).collect(),
                Some(Value::Object(one)) => vec![one.get("Call").unwrap_or(&answer["Calls"])],
                _ => Vec::new(),
            };
            for call in &calls {
                found.push(call_info(call)?);
            }
            let next = answer.get("Metadata").and_then(|m| text(m.get("NextPageUri")));
            match (next, found.last()) {
                (Some(_), Some(last)) if !calls.is_empty() => after = Some(last.sid.clone()),
                _ => return Ok(found),
            }
        }
        Ok(found)
    }

    #[tracing::instrument(skip_all, fields(account = %account.account_sid), err(level = "warn"))]
    async fn recording(&self, account: &ExotelAccount, url: &str) -> Result<Vec<u8>, ExotelError> {
        self.download(account, Family::Voice, url).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_documented_call_details_fixture_reads_field_for_field() {
        let fixture = json!({"Sid":"463e258802a42da0175ad4f0cb8507b9","ParentCallSid":"","DateCreated":"2019-03-21 18:15:05",
            "DateUpdated":"2019-03-21 18:15:57","AccountSid":"sid","To":"01930483621","From":"09663127355",
            "PhoneNumberSid":"01930483621","Status":"completed","StartTime":"2019-03-21 18:15:05",
            "EndTime":"2019-03-21 18:15:22","Duration":17,"Price":0,"Direction":"inbound","AnsweredBy":"human",
            "ForwardedFrom":"","CallerName":"","Uri":"/v1/Accounts/sid/Calls/463e258802a42da0175ad4f0cb8507b9",
            "RecordingUrl":"",
            "Details": {"ConversationDuration": 8, "Leg1Status": "completed", "Leg2Status": "completed",
                "Legs": [{"Leg": {"Id": 1, "OnCallDuration": 21}}, {"Leg": {"Id": 2, "OnCallDuration": 8}}]}});
        let call = call_info(&fixture).unwrap();
        assert_eq!(call.status, "completed");
        assert_eq!(call.from, "+919663127355");
        assert_eq!(call.to.as_deref(), Some("+911930483621"));
        assert_eq!(call.duration_secs, Some(17));
        assert_eq!(call.price.as_deref(), Some("0"));
        assert_eq!(call.recording_url, None);
        assert_eq!(call.conversation_secs, Some(8));
        assert_eq!(call.legs[0].on_call_secs, Some(21));
        assert_eq!(call.legs[1].status.as_deref(), Some("completed"));
        assert_eq!(
            call.ended_at.map(|t| t.to_rfc3339()).as_deref(),
            Some("2019-03-21T12:45:22+00:00")
        );
    }

    #[test]
    fn callback_events_use_exotels_array_notation() {
        let mut call = ConnectCall::between("+919876543210", "+919812345678", "08047112233");
        call.callback_events = vec!["terminal".into(), "answered".into()];
        call.record = Some(RecordingChannels::Dual);
        let form = connect_form(&call);
        assert!(form.contains(&("StatusCallbackEvents[1]".into(), "answered".into())));
        assert!(form.contains(&("RecordingChannels".into(), "dual".into())));
        assert!(form.contains(&("To".into(), "+919812345678".into())));
    }
}
