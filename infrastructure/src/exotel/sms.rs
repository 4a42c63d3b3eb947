//! v1 SMS: one number or the same body to many (`To[0]`, `To[1]`…), with
//! India's DLT fields, and SMS details.

use async_trait::async_trait;
use reqwest::Method;
use serde_json::Value;

use application::exotel::{ExotelAccount, ExotelError, ExotelSms, SendSms, SmsInfo};

use super::parse::{code, e164, text, time, whole};
use super::{Body, ExotelClient, Family, object};

/// Most recipients Exotel takes in one request.
pub const MAX_RECIPIENTS: usize = 100;

fn sms_form(sms: &SendSms) -> Vec<(String, String)> {
    let mut form = vec![
        ("From".to_string(), sms.from.clone()),
        ("Body".into(), sms.body.clone()),
    ];
    match sms.to.as_slice() {
        [one] => form.push(("To".into(), one.clone())),
        many => form.extend(many.iter().enumerate().map(|(i, to)| (format!("To[{i}]"), to.clone()))),
    }
    let optional = [
        ("SmsType", &sms.sms_type),
        ("DltEntityId", &sms.dlt_entity_id),
        ("DltTemplateId", &sms.dlt_template_id),
        ("EncodingType", &sms.encoding),
        ("Priority", &sms.priority),
        ("StatusCallback", &sms.status_callback),
        ("CustomField", &sms.custom_field),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            form.push((key.to_string(), value.clone()));
        }
    }
    form
}

/// An `SMSMessage` object.
pub(super) fn sms_info(message: &Value) -> Result<SmsInfo, ExotelError> {
    let sid = text(message.get("Sid")).ok_or_else(|| ExotelError::Malformed("an SMS without a Sid".into()))?;
    Ok(SmsInfo {
        sid,
        to: text(message.get("To")).map(|n| e164(&n)).unwrap_or_default(),
        from: text(message.get("From")).unwrap_or_default(),
        status: text(message.get("Status")).unwrap_or_else(|| "queued".into()),
        detailed_status_code: code(message.get("DetailedStatusCode")),
        detailed_status: text(message.get("DetailedStatus")),
        units: whole(message.get("SmsUnits")),
        sent_at: time(message.get("DateSent")),
        price: text(message.get("Price")),
    })
}

/// A single send answers `{"SMSMessage":{…}}`; a bulk send an array of
/// them (XML: repeated `<SMSMessage>` elements).
fn sms_list(answer: &Value) -> Result<Vec<SmsInfo>, ExotelError> {
    match answer {
        Value::Array(items) => items.iter().map(|item| sms_info(object(item, "SMSMessage")?)).collect(),
        Value::Object(map) => match map.get("SMSMessage") {
            Some(Value::Array(items)) => items.iter().map(sms_info).collect(),
            Some(one) => Ok(vec![sms_info(one)?]),
            None => Err(ExotelError::Malformed("no `SMSMessage` in the answer".into())),
        },
        _ => Err(ExotelError::Malformed(
            "an SMS answer that is neither object nor list".into(),
        )),
    }
}

#[async_trait]
impl ExotelSms for ExotelClient {
    async fn sms_capacity(&self, account: &ExotelAccount) {
        ExotelClient::capacity(self, account, Family::Sms).await;
    }

    #[tracing::instrument(skip_all, fields(account = %account.account_sid, recipients = sms.to.len()), err(level = "warn"))]
    async fn send_sms(&self, account: &ExotelAccount, sms: &SendSms) -> Result<Vec<SmsInfo>, ExotelError> {
        if sms.to.is_empty() || sms.to.len() > MAX_RECIPIENTS {
            return Err(ExotelError::Refused {
                status: 400,
                code: Some(40406),
                message: format!("an SMS goes to 1 to {MAX_RECIPIENTS} numbers"),
            });
        }
        let path = self.v1_path(account, "Sms/send");
        let answer = self
            .request(account, Family::Sms, Method::POST, &path, Body::Form(sms_form(sms)))
            .await?;
        sms_list(&answer)
    }

    #[tracing::instrument(skip_all, fields(account = %account.account_sid, sms = %sms_sid), err(level = "warn"))]
    async fn sms_details(&self, account: &ExotelAccount, sms_sid: &str) -> Result<SmsInfo, ExotelError> {
        let path = self.v1_path(account, &format!("SMS/Messages/{sms_sid}"));
        let answer = self
            .request(account, Family::Sms, Method::GET, &path, Body::Empty)
            .await?;
        sms_info(object(&answer, "SMSMessage")?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_documented_send_answer_reads_field_for_field() {
        let answer = json!({"SMSMessage":{"Sid":"6dbfdc50133d0e51ec8d793356559868","AccountSid":"probe",
            "From":"01139595093/SCRPBX","To":"08884733565","DateCreated":"2017-11-12 00:24:31",
            "DateUpdated":"2017-11-12 00:24:31","DateSent":null,"Body":"test message",
            "Direction":"outbound-api","Uri":"/v1/Accounts/probe/SMS/Messages/6dbfdc50133d0e51ec8d793356559868.json",
            "ApiVersion":null,"Price":null,"Status":"queued","DetailedStatusCode":21010,
            "DetailedStatus":"PENDING_TO_OPERATOR","SmsUnits":null}});
        let sms = sms_list(&answer).unwrap().remove(0);
        assert_eq!(sms.to, "+918884733565");
        assert_eq!(sms.from, "01139595093/SCRPBX");
        assert_eq!(sms.detailed_status_code, Some(21010));
        assert_eq!(sms.sent_at, None);
        assert_eq!(sms.units, None);
    }

    #[test]
    fn a_bulk_answer_is_a_list_of_messages() {
        let one = json!({"SMSMessage": {"Sid": "a", "To": "09876543210", "Status": "queued"}});
        let answer = json!([one.clone(), one]);
        assert_eq!(sms_list(&answer).unwrap().len(), 2);
    }

    #[test]
    fn many_recipients_use_indexed_to_fields() {
        let sms = SendSms {
            from: "EXOTEL".into(),
            to: vec!["+919876543210".into(), "+919812345678".into()],
            body: "Hi".into(),
            ..SendSms::default()
        };
        let form = sms_form(&sms);
        assert!(form.contains(&("To[1]".into(), "+919812345678".into())));
        assert!(!form.iter().any(|(k, _)| k == "To"));
    }
}
