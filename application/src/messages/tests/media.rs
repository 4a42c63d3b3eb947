//! Customers' media files: fetched with the WhatsApp account, kept with
//! the type the provider answered (else the one the message named), once;
//! a file the provider lost is recorded gone; a failing one is left for
//! later; the fetcher skips what it is told to hold back.

use super::*;
use async_trait::async_trait;
use std::path::PathBuf;
use std::sync::Mutex;

use crate::exotel::{ExotelAccount, ExotelError};
use crate::messages::{Fetched, InboundMedia, MAX_MEDIA_BYTES, MediaDownloader, MediaFiles, PendingMedia};
use domain::inbound_message::{MediaFile, inbound_message_id};
use domain::outbound_message::Channel;

type Answer = Result<(Vec<u8>, Option<String>), ExotelError>;

/// Answers every download the same way; remembers what was asked.
struct Downloads {
    answer: Mutex<Answer>,
    asked: Mutex<Vec<(String, String, u64)>>,
}

impl Downloads {
    fn answering(answer: Answer) -> Self {
        Self {
            answer: Mutex::new(answer),
            asked: Mutex::new(Vec::new()),
        }
    }
}

#[async_trait]
impl MediaDownloader for Downloads {
    async fn download_media(&self, account: &ExotelAccount, url: &str, max_bytes: u64) -> Answer {
        let asked = (account.account_sid.clone(), url.to_string(), max_bytes);
        self.asked.lock().unwrap().push(asked);
        self.answer.lock().unwrap().clone()
    }
}

/// Files by a digest of their length and first byte.
#[derive(Default)]
struct Files(Mutex<BTreeMap<String, Vec<u8>>>);

impl MediaFiles for Files {
    fn keep(&self, bytes: &[u8], content_type: &str) -> std::io::Result<MediaFile> {
        let sha256 = format!(
            "{:0>64}",
            format!("{}{}", bytes.len(), bytes.first().copied().unwrap_or(0))
        );
        self.0.lock().unwrap().insert(sha256.clone(), bytes.to_vec());
        Ok(MediaFile {
            sha256,
            content_type: content_type.into(),
            size_bytes: bytes.len() as u64,
        })
    }
    fn find(&self, sha256: &str) -> Option<PathBuf> {
        self.0
            .lock()
            .unwrap()
            .contains_key(sha256)
            .then(|| PathBuf::from(sha256))
    }
}

struct Pending(Vec<Uuid>);

#[async_trait]
impl PendingMedia for Pending {
    async fn pending_media(&self, limit: u32) -> Result<Vec<Uuid>, crate::error::StoreError> {
        Ok(self.0.iter().copied().take(limit as usize).collect())
    }
}

const PHOTO_URL: &str = "https://media.exotel.example/photo-1";

impl Harness {
    /// A customer's photo, recorded; its message id.
    async fn photo(&self, sid: &str) -> Uuid {
        let item = WhatsappItem::Incoming {
            sid: sid.into(),
            from: CUSTOMER.into(),
            to: OWN_NUMBER.into(),
            profile_name: None,
            content: InboundContent::Media {
                kind: "image".into(),
                url: Some(PHOTO_URL.into()),
                caption: None,
                mime_type: Some("image/jpeg".into()),
            },
            context_sid: None,
            sent_at: Some(self.clock.now()),
        };
        let recorded = self
            .use_case()
            .record_whatsapp_callback(ORG, vec![item], &meta())
            .await
            .unwrap();
        let id = inbound_message_id(ORG, Channel::Whatsapp, sid);
        assert_eq!(recorded, vec![Callback::Recorded(id)]);
        id
    }

    fn media<'a>(&'a self, downloads: &'a Downloads, files: &'a Files, pending: &'a Pending) -> InboundMedia<'a> {
        InboundMedia {
            inbound: &self.inbound,
            integrations: self.integrations(),
            downloader: downloads,
            files,
            pending,
            clock: &self.clock,
        }
    }
}

#[tokio::test]
async fn a_photo_is_fetched_once_with_the_whatsapp_account_and_kept_with_the_type_the_message_named() {
    let h = Harness::new().await;
    let id = h.photo("wamid-photo-1").await;
    let downloads = Downloads::answering(Ok((b"jpeg".to_vec(), None)));
    let (files, pending) = (Files::default(), Pending(vec![id]));
    let media = h.media(&downloads, &files, &pending);
    let fetched = media.fetch(id, &|_| meta()).await.unwrap();
    let Fetched::Kept(file) = fetched else {
        panic!("not kept: {fetched:?}");
    };
    assert_eq!((file.content_type.as_str(), file.size_bytes), ("image/jpeg", 4));
    assert_eq!(MAX_MEDIA_BYTES, 104_857_600, "WhatsApp's largest file, 100 MB");
    let asked = downloads.asked.lock().unwrap().clone();
    assert_eq!(
        asked,
        vec![("acme-wa".to_string(), PHOTO_URL.to_string(), MAX_MEDIA_BYTES)]
    );
    assert_eq!(media.fetch(id, &|_| meta()).await.unwrap(), Fetched::Nothing);
    let served = media.media(ORG, id, &meta()).await.unwrap();
    assert_eq!(served.file, file);
    assert_eq!(downloads.asked.lock().unwrap().len(), 1, "kept, not fetched again");
    assert!(
        media.media(OTHER_ORG, id, &meta()).await.is_err(),
        "another organisation's message"
    );
}

#[tokio::test]
async fn the_type_the_provider_answers_wins_over_the_one_the_message_named() {
    let h = Harness::new().await;
    let id = h.photo("wamid-photo-2").await;
    let downloads = Downloads::answering(Ok((b"png!".to_vec(), Some("image/png".into()))));
    let (files, pending) = (Files::default(), Pending(vec![id]));
    let fetched = h
        .media(&downloads, &files, &pending)
        .fetch(id, &|_| meta())
        .await
        .unwrap();
    assert!(
        matches!(fetched, Fetched::Kept(ref f) if f.content_type == "image/png"),
        "{fetched:?}"
    );
}

#[tokio::test]
async fn a_file_the_provider_lost_is_recorded_gone_and_a_failing_one_is_left_to_fetch() {
    let h = Harness::new().await;
    let lost = h.photo("wamid-photo-3").await;
    let gone = Downloads::answering(Err(ExotelError::Refused {
        status: 410,
        code: None,
        message: "gone".into(),
    }));
    let (files, pending) = (Files::default(), Pending(vec![lost]));
    let media = h.media(&gone, &files, &pending);
    assert!(matches!(
        media.fetch(lost, &|_| meta()).await.unwrap(),
        Fetched::Unavailable(_)
    ));
    assert!(matches!(
        media.media(ORG, lost, &meta()).await,
        Err(MessagesError::MediaUnavailable)
    ));
    assert_eq!(
        gone.asked.lock().unwrap().len(),
        1,
        "a lost file is not asked for again"
    );
    let failing = h.photo("wamid-photo-4").await;
    let down = Downloads::answering(Err(ExotelError::ServerError {
        status: 503,
        message: "down".into(),
    }));
    let media = h.media(&down, &files, &pending);
    assert!(matches!(
        media.fetch(failing, &|_| meta()).await,
        Err(MessagesError::Exotel(_))
    ));
    let loaded = h.inbound.load(&failing.to_string()).await.unwrap().unwrap().aggregate;
    assert_eq!(loaded.media_to_fetch(), Some(PHOTO_URL), "still to fetch");
}

#[tokio::test]
async fn the_fetcher_goes_through_the_waiting_media_except_what_it_holds_back() {
    let h = Harness::new().await;
    let first = h.photo("wamid-photo-5").await;
    let second = h.photo("wamid-photo-6").await;
    let downloads = Downloads::answering(Ok((b"jpeg".to_vec(), None)));
    let (files, pending) = (Files::default(), Pending(vec![first, second]));
    let media = h.media(&downloads, &files, &pending);
    let outcomes = media.fetch_pending(10, &|id| id == second).await.unwrap();
    assert_eq!(outcomes.len(), 1);
    assert_eq!(outcomes[0].0, first);
    assert!(matches!(outcomes[0].1, Ok(Fetched::Kept(_))));
    assert_eq!(
        media.fetch_pending(1, &|_| false).await.unwrap().len(),
        1,
        "at most the limit"
    );
}
