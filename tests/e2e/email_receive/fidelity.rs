//! Received mail kept as it was sent, through the real Dovecot: a
//! uuencoded file decoded, a text attachment in its own charset, a sender
//! without an address kept and linked to no one, a multipart missing its
//! first boundary read as one.

use serde_json::Value;
use std::time::Duration;

use super::*;

fn uuencoded() -> Vec<u8> {
    b"From: Doug <doug@example.com>\r\nSubject: Uuencoded ball\r\nMime-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"=_71==_\"\r\n\r\n\
--=_71==_\r\nContent-Type: text/plain; charset=\"us-ascii\"\r\n\r\nSlow but steady.\r\n\
--=_71==_\r\nContent-Type: image/png; name=\"greenball.png\"\r\nContent-Transfer-Encoding: x-uuencode\r\n\
Content-Disposition: attachment; filename=\"greenball.png\"\r\n\r\n\r\n\
begin 600 greenball.png\r\n(B5!.1PT*&@H`\r\n`\r\nend\r\n\r\n--=_71==_--\r\n"
        .to_vec()
}

fn latin1_attachment() -> Vec<u8> {
    b"From: asha@example.in\r\nSubject: Preisliste\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b\"\r\n\r\n\
--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee attached.\r\n\
--b\r\nContent-Type: text/plain; charset=ISO-8859-1; name=\"preise.txt\"\r\n\
Content-Disposition: attachment; filename=\"preise.txt\"\r\n\r\nK\xe4se \xfcber Gr\xf6\xdfe\r\n--b--\r\n"
        .to_vec()
}

fn broken_alternative() -> Vec<u8> {
    b"From: test <test@example.com>\r\nSubject: Related first\r\nMIME-Version: 1.0\r\n\
Content-Type: multipart/related;\r\n boundary=\"----related\"\r\n\r\n\
------related\r\nContent-Type: multipart/alternative;\r\n boundary=\"----alternative\"\r\n\
Content-Type: text/plain; charset=UTF-8; format=flowed\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\
Plain Text\r\n\r\n------alternative\r\nContent-Type: text/html; charset=UTF-8\r\n\r\n\
<html><body>HTML Body</body></html>\r\n\r\n------alternative\r\n\r\n------related--\r\n"
        .to_vec()
}

fn stored(app: &TestApp, attachment: &Value) -> Vec<u8> {
    let sha = attachment["sha256"].as_str().unwrap();
    std::fs::read(app.settings.data_dir.join("attachments").join(&sha[..2]).join(sha)).unwrap()
}

#[tokio::test]
async fn received_mail_is_kept_as_it_was_sent_and_a_sender_without_an_address_links_no_customer() {
    let app = mail_app().await;
    let (folder, account) = account_on_new_folder(&app, "load6@switchboard.test").await;
    let bare = message(Some(&new_id()), "Whomever", "From a bare name", "", "hello");
    for raw in [uuencoded(), latin1_attachment(), broken_alternative(), bare] {
        folder.save(&raw);
    }
    let within = Duration::from_secs(20);

    let ball = thread_titled(&app, "Uuencoded ball", within).await;
    let png = &ball["messages"][0]["attachments"][0];
    assert_eq!(
        (png["content_type"].as_str(), png["size"].as_u64()),
        (Some("image/png"), Some(8))
    );
    assert_eq!(
        stored(&app, png),
        b"\x89PNG\r\n\x1a\n",
        "the file, not its uuencoded text"
    );

    let prices = thread_titled(&app, "Preisliste", within).await;
    let latin = &prices["messages"][0]["attachments"][0];
    assert_eq!(latin["charset"], "ISO-8859-1");
    assert_eq!(
        stored(&app, latin),
        b"K\xe4se \xfcber Gr\xf6\xdfe",
        "byte for byte, not UTF-8"
    );

    let related = thread_titled(&app, "Related first", within).await;
    let first = &related["messages"][0];
    assert_eq!(first["body_text"].as_str().map(str::trim), Some("Plain Text"));
    assert!(first["body_html"].as_str().unwrap().contains("HTML Body"), "{first}");

    let anonymous = thread_titled(&app, "From a bare name", within).await;
    assert_eq!(anonymous["messages"][0]["from"]["address"], "Whomever");
    assert_eq!(
        (&anonymous["customer_id"], &anonymous["customer_email"]),
        (&Value::Null, &Value::Null)
    );
    let events = app
        .rows(&format!(
            "SELECT CAST(payload AS TEXT) FROM events WHERE event_type = 'EmailReceived' \
             AND CAST(payload AS TEXT) LIKE '%{account}%' AND CAST(payload AS TEXT) LIKE '%Whomever%'"
        ))
        .await;
    assert_eq!(events.len(), 1);
    let event: Value = serde_json::from_str(&events[0]).unwrap();
    assert_eq!(event["EmailReceived"]["unlinked"], "sender_not_an_address");
    assert_eq!(event["EmailReceived"]["customer_id"], Value::Null);
}
