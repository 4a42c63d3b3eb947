//! A send request as the use case receives it, and what is derived from it
//! before anything is recorded: checked attachments and the request digest.

use serde_json::json;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use domain::integration_permission::Grant;
use domain::outbound_email::draft::{self, MAX_ATTACHMENTS};
use domain::outbound_email::{AttachmentRecord, BodyDigest, Content, Draft, DraftError};
use domain::{OrganisationId, Role};

use super::{AttachmentFile, SendEmailError};

/// Who asks, for the `zoho_mail` use permission.
#[derive(Debug, Clone, Copy)]
pub struct Permission {
    pub role: Role,
    pub grant: Option<Grant>,
}

/// An attachment as received: name, type and decoded bytes.
#[derive(Debug, Clone)]
pub struct AttachmentInput {
    pub filename: String,
    pub content_type: Option<String>,
    pub bytes: Vec<u8>,
}

/// One request to send one e-mail.
#[derive(Debug, Clone)]
pub struct SendRequest {
    /// The caller's id for this send; the same id is the same send.
    pub intent_id: Uuid,
    pub organisation_id: OrganisationId,
    /// `None`: the organisation's default account.
    pub account_id: Option<Uuid>,
    pub draft: Draft,
    pub attachments: Vec<AttachmentInput>,
    pub permission: Permission,
}

pub(super) fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

pub(super) fn body_digest(body: Option<&String>) -> Option<BodyDigest> {
    body.map(|b| BodyDigest {
        bytes: b.len() as u64,
        sha256: sha256_hex(b.as_bytes()),
    })
}

/// Checks names, types, count and the per-email total.
pub(super) fn attachments(inputs: Vec<AttachmentInput>, limit: u64) -> Result<Vec<AttachmentFile>, SendEmailError> {
    if inputs.len() > MAX_ATTACHMENTS {
        return Err(DraftError {
            field: "attachments".into(),
            reason: format!("at most {MAX_ATTACHMENTS} attachments"),
        }
        .into());
    }
    let total: u64 = inputs.iter().map(|a| a.bytes.len() as u64).sum();
    if total > limit {
        return Err(SendEmailError::AttachmentsTooLarge { total, limit });
    }
    inputs
        .into_iter()
        .enumerate()
        .map(|(index, input)| {
            let content_type = input.content_type.as_deref().unwrap_or("application/octet-stream");
            let (filename, content_type) = draft::attachment(index, &input.filename, content_type)?;
            let record = AttachmentRecord {
                filename,
                content_type,
                size: input.bytes.len() as u64,
                sha256: sha256_hex(&input.bytes),
            };
            Ok(AttachmentFile {
                record,
                bytes: input.bytes,
            })
        })
        .collect()
}

/// The digest a retry must match: the account asked for, the checked
/// content and each attachment's checksum.
pub(super) fn request_digest(account_id: Option<Uuid>, content: &Content, files: &[AttachmentFile]) -> String {
    let records: Vec<&AttachmentRecord> = files.iter().map(|f| &f.record).collect();
    let canonical = json!({"account_id": account_id, "content": content, "attachments": records});
    sha256_hex(canonical.to_string().as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(name: &str, size: usize) -> AttachmentInput {
        AttachmentInput {
            filename: name.into(),
            content_type: None,
            bytes: vec![7; size],
        }
    }

    #[test]
    fn attachments_over_the_per_email_total_are_refused() {
        let refused = attachments(vec![file("a.bin", 600), file("b.bin", 500)], 1000);
        assert!(matches!(
            refused,
            Err(SendEmailError::AttachmentsTooLarge {
                total: 1100,
                limit: 1000
            })
        ));
        assert_eq!(attachments(vec![file("a.bin", 1000)], 1000).unwrap().len(), 1);
    }

    #[test]
    fn an_attachment_without_a_type_is_an_octet_stream_with_its_checksum() {
        let files = attachments(vec![file("a.bin", 3)], 10).unwrap();
        assert_eq!(files[0].record.content_type, "application/octet-stream");
        assert_eq!(files[0].record.sha256, sha256_hex(&[7, 7, 7]));
    }
}
