//! ExoPhones (v2_beta `IncomingPhoneNumbers`, all pages) and number
//! metadata (v1 `Numbers/{number}`).

use async_trait::async_trait;
use reqwest::Method;
use serde_json::Value;

use application::exotel::{ExoPhone, ExotelAccount, ExotelError, ExotelNumbers, NumberInfo, WhitelistStanding};

use super::parse::{code, e164, flag, text};
use super::{Body, ExotelClient, Family, object};

const PAGE_SIZE: usize = 100;
/// A guard against a server whose `next_page_uri` never ends.
const MAX_PAGES: usize = 100;

/// One `incoming_phone_numbers` item.
fn exophone(item: &Value) -> Result<ExoPhone, ExotelError> {
    let number = text(item.get("phone_number"))
        .or_else(|| text(item.get("sid")))
        .ok_or_else(|| ExotelError::Malformed("an ExoPhone without a phone_number".into()))?;
    let capabilities = item.get("capabilities");
    Ok(ExoPhone {
        sid: text(item.get("sid")).unwrap_or_else(|| number.clone()),
        phone_number: e164(&number),
        friendly_name: text(item.get("friendly_name")),
        voice: capabilities.is_none_or(|c| flag(c.get("voice"))),
        sms: capabilities.is_some_and(|c| flag(c.get("sms"))),
        number_type: text(item.get("number_type")),
        region: text(item.get("region")),
        voice_url: text(item.get("voice_url")),
    })
}

/// One page: its numbers, and whether another follows.
fn page(answer: &Value) -> Result<(Vec<ExoPhone>, bool), ExotelError> {
    let items = match answer.get("incoming_phone_numbers") {
        Some(Value::Array(items)) => items.as_slice(),
        None | Some(Value::Null) => &[],
        Some(_) => return Err(ExotelError::Malformed("`incoming_phone_numbers` is not a list".into())),
    };
    let numbers = items.iter().map(exophone).collect::<Result<Vec<_>, _>>()?;
    let more = text(answer.get("next_page_uri")).is_some() && !numbers.is_empty();
    Ok((numbers, more))
}

/// A `Numbers` object.
fn number_info(answer: &Value) -> Result<NumberInfo, ExotelError> {
    let numbers = object(answer, "Numbers")?;
    let number = text(numbers.get("PhoneNumber")).ok_or_else(|| ExotelError::Malformed("no PhoneNumber".into()))?;
    Ok(NumberInfo {
        phone_number: e164(&number),
        circle: text(numbers.get("CircleName")).or_else(|| text(numbers.get("Circle"))),
        number_type: text(numbers.get("Type")),
        operator: text(numbers.get("OperatorName")).or_else(|| text(numbers.get("Operator"))),
        dnd: flag(numbers.get("DND")),
    })
}

#[async_trait]
impl ExotelNumbers for ExotelClient {
    #[tracing::instrument(skip_all, fields(account = %account.account_sid), err(level = "warn"))]
    async fn exophones(&self, account: &ExotelAccount) -> Result<Vec<ExoPhone>, ExotelError> {
        let mut all = Vec::new();
        for index in 0..MAX_PAGES {
            let path = format!(
                "/v2_beta/Accounts/{}/IncomingPhoneNumbers?Page={index}&PageSize={PAGE_SIZE}",
                account.account_sid
            );
            let answer = self
                .request(account, Family::Numbers, Method::GET, &path, Body::Empty)
                .await?;
            let (numbers, more) = page(&answer)?;
            all.extend(numbers);
            if !more {
                break;
            }
        }
        Ok(all)
    }

    #[tracing::instrument(skip_all, fields(account = %account.account_sid), err(level = "warn"))]
    async fn number_info(&self, account: &ExotelAccount, number: &str) -> Result<NumberInfo, ExotelError> {
        let path = self.v1_path(account, &format!("Numbers/{number}"));
        let answer = self
            .request(account, Family::Numbers, Method::GET, &path, Body::Empty)
            .await?;
        number_info(&answer)
    }

    #[tracing::instrument(skip_all, fields(account = %account.account_sid, numbers = numbers.len()), err(level = "warn"))]
    async fn whitelist(
        &self,
        account: &ExotelAccount,
        virtual_number: &str,
        numbers: &[String],
    ) -> Result<(), ExotelError> {
        let path = self.v1_path(account, "CustomerWhitelist");
        let form = vec![
            ("VirtualNumber".to_string(), virtual_number.to_string()),
            ("Number".to_string(), numbers.join(",")),
        ];
        self.request(account, Family::Numbers, Method::POST, &path, Body::Form(form))
            .await?;
        Ok(())
    }

    #[tracing::instrument(skip_all, fields(account = %account.account_sid), err(level = "warn"))]
    async fn whitelist_standing(
        &self,
        account: &ExotelAccount,
        number: &str,
    ) -> Result<WhitelistStanding, ExotelError> {
        let path = self.v1_path(account, &format!("CustomerWhitelist/{number}"));
        let answer = self
            .request(account, Family::Numbers, Method::GET, &path, Body::Empty)
            .await?;
        standing(&answer)
    }
}

/// `{"Result":{"Status","Type","Expiry"}}`; an `Expiry` of -1 never ends.
fn standing(answer: &Value) -> Result<WhitelistStanding, ExotelError> {
    let result = object(answer, "Result")?;
    Ok(WhitelistStanding {
        status: text(result.get("Status")).ok_or_else(|| ExotelError::Malformed("no whitelist Status".into()))?,
        expires_in_secs: code(result.get("Expiry")).and_then(|e| u64::try_from(e).ok()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_documented_list_page_reads_field_for_field() {
        let answer = json!({"page":0,"page_size":50,
            "uri":"http://twilix.exotel.com/v2_beta/Accounts/Exotel/IncomingPhoneNumbers?Page=0&PageSize=50",
            "first_page_uri":"x","next_page_uri":"y","previous_page_uri":null,
            "incoming_phone_numbers":[
                {"sid":"01141169368","friendly_name":"Sales","phone_number":"+911141169368",
                 "capabilities":{"voice":true,"sms":false},"country":"IN","region":"DL",
                 "voice_url":"http://my.exotel.com/Exotel/exoml/start_voice/1","sms_url":null,
                 "number_type":"Landline"}]});
        let (numbers, more) = page(&answer).unwrap();
        assert!(more);
        assert_eq!(numbers[0].phone_number, "+911141169368");
        assert_eq!(numbers[0].friendly_name.as_deref(), Some("Sales"));
        assert!(numbers[0].voice && !numbers[0].sms);
        assert_eq!(numbers[0].region.as_deref(), Some("DL"));
    }

    #[test]
    fn an_empty_next_page_uri_ends_the_listing() {
        let answer = json!({"next_page_uri": "", "incoming_phone_numbers": [{"phone_number": "09876543210"}]});
        assert!(!page(&answer).unwrap().1);
    }

    #[test]
    fn dnd_reads_yes_and_no() {
        let answer = json!({"Numbers": {"PhoneNumber": "09876543210", "Circle": "KA", "CircleName": "Karnataka",
            "Type": "Mobile", "Operator": "A", "OperatorName": "Airtel", "DND": "Yes"}});
        let info = number_info(&answer).unwrap();
        assert!(info.dnd);
        assert_eq!(info.circle.as_deref(), Some("Karnataka"));
    }
}
