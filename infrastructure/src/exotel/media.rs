//! A customer's WhatsApp media file, fetched from the URL Exotel gave with
//! the account's credentials (sent only to Exotel's own host), under the
//! outbound address rule and the WhatsApp bucket, read up to a size limit.

use async_trait::async_trait;

use application::exotel::{ExotelAccount, ExotelError};
use application::messages::MediaDownloader;

use super::{ExotelClient, Family, classify, credentials_go_to, transport_error};

#[async_trait]
impl MediaDownloader for ExotelClient {
    #[tracing::instrument(skip_all, fields(account = %account.account_sid), err(level = "warn"))]
    async fn download_media(
        &self,
        account: &ExotelAccount,
        url: &str,
        max_bytes: u64,
    ) -> Result<(Vec<u8>, Option<String>), ExotelError> {
        let url = self.target(url)?;
        self.admit(account, Family::Whatsapp).await?;
        let mut request = self.http.get(url.clone());
        if credentials_go_to(&account.base_url, &url) {
            request = request.basic_auth(account.api_key.as_str(), Some(account.api_token.as_str()));
        }
        let mut response = request
            .send()
            .await
            .map_err(|e| transport_error(&e, self.config.timeout))?;
        let status = response.status();
        if !status.is_success() {
            return Err(classify(
                status.as_u16(),
                None,
                format!("the media URL answered {status}"),
                None,
            ));
        }
        let too_large = || ExotelError::Refused {
            status: 413,
            code: None,
            message: format!("the media file is larger than {max_bytes} bytes"),
        };
        if response.content_length().is_some_and(|l| l > max_bytes) {
            return Err(too_large());
        }
        let content_type = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(|t| t.split(';').next().unwrap_or(t).trim().to_string())
            .filter(|t| !t.is_empty());
        let mut bytes = Vec::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| ExotelError::Interrupted(e.to_string()))?
        {
            if (bytes.len() + chunk.len()) as u64 > max_bytes {
                return Err(too_large());
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok((bytes, content_type))
    }
}
