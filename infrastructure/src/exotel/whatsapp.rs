//! v2 WhatsApp messages: the `whatsapp.messages` envelope out, per-message
//! results back (HTTP 202).

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Map, Value, json};

use application::exotel::{ExotelAccount, ExotelError, ExotelWhatsapp, SendWhatsapp, TemplatePage, WhatsappOutcome};

use super::parse::{code, text};
use super::{Body, ExotelClient, Family};

/// Most messages Exotel takes in one request.
pub const MAX_MESSAGES: usize = 100;
/// Templates asked for per page (production clients ask for 100 to 400).
const TEMPLATE_PAGE: usize = 100;

fn envelope(send: &SendWhatsapp) -> Value {
    let messages: Vec<Value> = send
        .messages
        .iter()
        .map(|m| {
            let mut message = json!({"from": m.from, "to": m.to, "content": m.content});
            if let (Some(data), Some(object)) = (&m.custom_data, message.as_object_mut()) {
                object.insert("custom_data".into(), json!(data));
            }
            message
        })
        .collect();
    let mut body = Map::new();
    if let Some(data) = &send.custom_data {
        body.insert("custom_data".into(), json!(data));
    }
    if let Some(url) = &send.status_callback {
        body.insert("status_callback".into(), json!(url));
    }
    body.insert("whatsapp".into(), json!({ "messages": messages }));
    Value::Object(body)
}

/// `response.whatsapp.messages[i]`: parsed by `status`, not by `code`
/// (some accounts answer 200, the documentation 202).
fn outcomes(answer: &Value) -> Result<Vec<WhatsappOutcome>, ExotelError> {
    let messages = answer
        .pointer("/response/whatsapp/messages")
        .and_then(Value::as_array)
        .ok_or_else(|| ExotelError::Malformed("no `response.whatsapp.messages` in the answer".into()))?;
    messages.iter().map(outcome).collect()
}

fn outcome(message: &Value) -> Result<WhatsappOutcome, ExotelError> {
    if text(message.get("status")).as_deref() == Some("success") {
        let sid = text(message.pointer("/data/sid"))
            .ok_or_else(|| ExotelError::Malformed("an accepted message without a sid".into()))?;
        return Ok(WhatsappOutcome::Accepted { sid });
    }
    let error = message.get("error_data");
    Ok(WhatsappOutcome::Refused {
        code: error
            .and_then(|e| code(e.get("code")))
            .or_else(|| code(message.get("code"))),
        message: error
            .and_then(|e| text(e.get("message")).or_else(|| text(e.get("description"))))
            .unwrap_or_else(|| "refused without a reason".into()),
    })
}

/// `/v2/accounts/{sid}/templates` with the account, page size and cursor.
fn templates_path(sid: &str, waba_id: &str, after: Option<&str>) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    query.append_pair("waba_id", waba_id);
    query.append_pair("limit", &TEMPLATE_PAGE.to_string());
    if let Some(after) = after {
        query.append_pair("after", after);
    }
    format!("/v2/accounts/{sid}/templates?{}", query.finish())
}

#[async_trait]
impl ExotelWhatsapp for ExotelClient {
    async fn whatsapp_capacity(&self, account: &ExotelAccount) {
        ExotelClient::capacity(self, account, Family::Whatsapp).await;
    }

    #[tracing::instrument(skip_all, fields(account = %account.account_sid, messages = send.messages.len()), err(level = "warn"))]
    async fn send_whatsapp(
        &self,
        account: &ExotelAccount,
        send: &SendWhatsapp,
    ) -> Result<Vec<WhatsappOutcome>, ExotelError> {
        if send.messages.is_empty() || send.messages.len() > MAX_MESSAGES {
            return Err(ExotelError::Refused {
                status: 400,
                code: None,
                message: format!("a WhatsApp send holds 1 to {MAX_MESSAGES} messages"),
            });
        }
        let path = format!("/v2/accounts/{}/messages", account.account_sid);
        let answer = self
            .request(
                account,
                Family::Whatsapp,
                Method::POST,
                &path,
                Body::Json(envelope(send)),
            )
            .await?;
        outcomes(&answer)
    }

    #[tracing::instrument(skip_all, fields(account = %account.account_sid), err(level = "warn"))]
    async fn whatsapp_templates(
        &self,
        account: &ExotelAccount,
        waba_id: &str,
        after: Option<&str>,
    ) -> Result<TemplatePage, ExotelError> {
        let path = templates_path(&account.account_sid, waba_id, after);
        let answer = self
            .request(account, Family::Whatsapp, Method::GET, &path, Body::Empty)
            .await?;
        super::templates::page(&answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use application::exotel::WhatsappMessage;

    #[test]
    fn messages_are_wrapped_in_the_whatsapp_channel() {
        let send = SendWhatsapp {
            messages: vec![WhatsappMessage {
                from: "+918047112233".into(),
                to: "+919876543210".into(),
                content: json!({"type": "text", "text": {"body": "Hi"}}),
                custom_data: Some("order-1".into()),
            }],
            status_callback: Some("https://example.test/wa".into()),
            custom_data: None,
        };
        let body = envelope(&send);
        assert_eq!(body["whatsapp"]["messages"][0]["content"]["text"]["body"], "Hi");
        assert_eq!(body["whatsapp"]["messages"][0]["custom_data"], "order-1");
        assert_eq!(body["status_callback"], "https://example.test/wa");
    }

    #[test]
    fn the_documented_202_answer_reads_and_failures_keep_their_code() {
        let answer = json!({"request_id":"a1b2c3","method":"POST","http_code":202,
            "metadata":{"total":2,"success":1,"failed":1},
            "response":{"whatsapp":{"messages":[
                {"code":202,"status":"success","error_data":null,"data":{"sid":"c5d40b17527aaf93b5ba0905287b1a24"}},
                {"code":400,"status":"failure","error_data":{"code":1002,"message":"bad to"},"data":null}]}}});
        assert_eq!(
            outcomes(&answer).unwrap(),
            vec![
                WhatsappOutcome::Accepted {
                    sid: "c5d40b17527aaf93b5ba0905287b1a24".into()
                },
                WhatsappOutcome::Refused {
                    code: Some(1002),
                    message: "bad to".into()
                },
            ]
        );
    }
}
