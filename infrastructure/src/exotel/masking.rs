//! Lead Assist number masking (`greenvn` allocations). Real accounts reach
//! it on `leadassist.exotel.in`; a simulator serves it on its own address.

use async_trait::async_trait;
use reqwest::Method;
use serde_json::{Value, json};

use application::exotel::{ExotelAccount, ExotelError, ExotelMasking, MaskingAllocation, MaskingRequest};

use super::parse::{e164, text};
use super::{Body, ExotelClient, Family, object};

const LEAD_ASSIST: &str = "https://leadassist.exotel.in";

/// Lead Assist's host for an account: its own for Exotel's clouds, the
/// same base for anything else (a simulator).
fn lead_assist(account: &ExotelAccount) -> ExotelAccount {
    let mut account = account.clone();
    if account.base_url.ends_with(".exotel.com") {
        account.base_url = LEAD_ASSIST.into();
    }
    account
}

fn request_body(request: &MaskingRequest) -> Value {
    let mut body = json!({
        "connection_id": request.connection_id,
        "aparty_numbers": request.aparty_numbers,
        "bparty_numbers": request.bparty_numbers,
        "usage": request.usage,
    });
    if let (Some(seconds), Some(object)) = (request.deallocate_after_secs, body.as_object_mut()) {
        object.insert("deallocation_policy".into(), json!({"duration": format!("{seconds}s")}));
    }
    body
}

/// `data` of an allocation answer; the virtual number is `greenvn` or `green_vn`.
fn allocation(answer: &Value) -> Result<MaskingAllocation, ExotelError> {
    let data = object(answer, "data")?;
    let missing = |what: &str| ExotelError::Malformed(format!("an allocation without {what}"));
    let number = text(data.get("greenvn"))
        .or_else(|| text(data.get("green_vn")))
        .ok_or_else(|| missing("greenvn"))?;
    Ok(MaskingAllocation {
        connection_id: text(data.get("connection_id")).unwrap_or_default(),
        greenvn_id: text(data.get("greenvn_id")).ok_or_else(|| missing("greenvn_id"))?,
        virtual_number: e164(&number),
        state: text(data.get("state")).unwrap_or_else(|| "active".into()),
    })
}

#[async_trait]
impl ExotelMasking for ExotelClient {
    #[tracing::instrument(skip_all, fields(account = %account.account_sid), err(level = "warn"))]
    async fn allocate(
        &self,
        account: &ExotelAccount,
        request: &MaskingRequest,
    ) -> Result<MaskingAllocation, ExotelError> {
        let account = lead_assist(account);
        let path = format!("/v1/tenants/{}/greenvn", account.account_sid);
        let body = Body::Json(request_body(request));
        let answer = self
            .request(&account, Family::Masking, Method::POST, &path, body)
            .await?;
        allocation(&answer)
    }

    #[tracing::instrument(skip_all, fields(account = %account.account_sid), err(level = "warn"))]
    async fn deallocate(&self, account: &ExotelAccount, greenvn_id: &str) -> Result<MaskingAllocation, ExotelError> {
        let account = lead_assist(account);
        let path = format!("/v1/tenants/{}/greenvn/{greenvn_id}", account.account_sid);
        let answer = self
            .request(&account, Family::Masking, Method::DELETE, &path, Body::Empty)
            .await?;
        allocation(&answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_allocation_reads_with_either_spelling() {
        let answer = json!({"success":true,"status":200,"code":null,"message":null,"data":{
            "connection_id":"Sample_Connection","aparty_numbers":["+919170006528"],"bparty_numbers":["+918100006620"],
            "usage":"twoway","greenvn":"+914048212136","greenvn_id":"xysysue7-4c2c-b671-d1156d0faf5f","state":"active"}});
        let allocated = allocation(&answer).unwrap();
        assert_eq!(allocated.virtual_number, "+914048212136");
        assert_eq!(allocated.state, "active");
        let other = json!({"data": {"green_vn": "04048212136", "greenvn_id": "x", "state": "vault"}});
        assert_eq!(allocation(&other).unwrap().virtual_number, "+914048212136");
    }

    #[test]
    fn real_exotel_accounts_reach_lead_assist_on_its_own_host() {
        let account = ExotelAccount {
            base_url: "https://api.in.exotel.com".into(),
            account_sid: "s".into(),
            api_key: Default::default(),
            api_token: Default::default(),
        };
        assert_eq!(lead_assist(&account).base_url, LEAD_ASSIST);
    }
}
