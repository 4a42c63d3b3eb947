//! Syncing the WhatsApp templates of the organisation's business account:
//! what is listed is kept, what a complete listing lacks is removed, and
//! nothing is removed unless the whole listing was read.

use super::*;
use crate::exotel::{ExotelError, TemplatePage};
use domain::whatsapp::TemplateMessage;

fn page(templates: Vec<TemplateDefinition>, after: Option<&str>) -> Result<TemplatePage, ExotelError> {
    Ok(TemplatePage {
        templates,
        unreadable: 0,
        after: after.map(str::to_string),
    })
}

fn approved(name: &str) -> TemplateDefinition {
    definition(name, TemplateStatus::Approved)
}

fn synced(changed: usize, listed: usize, removed: usize, unreadable: usize) -> TemplateSync {
    TemplateSync {
        listed,
        changed,
        removed,
        unreadable,
    }
}

impl Harness {
    async fn sync_scripted(&self) -> Result<TemplateSync, MessagesError> {
        self.use_case().sync_whatsapp_templates(ORG, &meta()).await
    }

    async fn kept_names(&self) -> Vec<String> {
        let kept = self.use_case().whatsapp_templates(ORG, None).await.unwrap();
        kept.into_iter().map(|t| t.definition.name).collect()
    }

    async fn sendable(&self, name: &str) -> Result<(), MessagesError> {
        let message = TemplateMessage {
            name: name.into(),
            language: "en".into(),
            header: None,
            body: vec!["Asha".into(), "A-1".into()],
            buttons: Vec::new(),
        };
        self.use_case().check_template(ORG, &message).await
    }
}

#[tokio::test]
async fn listed_templates_are_kept_page_by_page_and_an_identical_sync_changes_nothing() {
    let h = Harness::new().await;
    h.exotel
        .answer_page(page(vec![approved("a"), approved("b")], Some("p2")));
    h.exotel.answer_page(page(vec![approved("c")], None));
    assert_eq!(h.sync_scripted().await.unwrap(), synced(3, 3, 0, 0));
    let asked = h.exotel.pages_asked();
    let expected = [
        ("acme-wa".to_string(), WABA.to_string(), None),
        ("acme-wa".to_string(), WABA.to_string(), Some("p2".to_string())),
    ];
    assert_eq!(asked, expected);
    let kept = h.use_case().whatsapp_templates(ORG, None).await.unwrap();
    assert_eq!(kept.len(), 3);
    assert!(kept.iter().all(|t| t.synced_at == afternoon()));
    assert_eq!(kept[0].definition, approved("a"));
    assert_eq!(
        h.sync(vec![approved("a"), approved("b"), approved("c")]).await,
        synced(0, 3, 0, 0)
    );
    let paused = definition("b", TemplateStatus::Paused);
    assert_eq!(
        h.sync(vec![approved("a"), paused, approved("c")]).await,
        synced(1, 3, 0, 0)
    );
    let sendable = h
        .use_case()
        .whatsapp_templates(ORG, Some(TemplateStatus::Approved))
        .await
        .unwrap();
    let names: Vec<&str> = sendable.iter().map(|t| t.definition.name.as_str()).collect();
    assert_eq!(names, ["a", "c"]);
    assert!(matches!(h.sendable("b").await, Err(MessagesError::TemplateRule(_))));
}

#[tokio::test]
async fn a_template_listed_twice_is_kept_once() {
    let h = Harness::new().await;
    assert_eq!(h.sync(vec![approved("a"), approved("a")]).await, synced(1, 2, 0, 0));
    assert_eq!(h.kept_names().await, ["a"]);
}

#[tokio::test]
async fn a_template_missing_from_a_complete_listing_is_removed_and_can_no_longer_be_sent() {
    let h = Harness::new().await;
    h.sync(vec![approved("a"), approved("b")]).await;
    assert!(h.sendable("b").await.is_ok());
    assert_eq!(h.sync(vec![approved("a")]).await, synced(0, 1, 1, 0));
    assert_eq!(h.kept_names().await, ["a"]);
    assert!(matches!(
        h.sendable("b").await,
        Err(MessagesError::UnknownTemplate { .. })
    ));
    assert_eq!(h.sync(vec![approved("a")]).await, synced(0, 1, 0, 0), "removed once");
}

#[tokio::test]
async fn a_repeated_cursor_ends_the_listing_as_complete() {
    let h = Harness::new().await;
    h.sync(vec![approved("a"), approved("b"), approved("c")]).await;
    h.exotel.answer_page(page(vec![approved("a")], Some("p2")));
    h.exotel.answer_page(page(vec![approved("b")], Some("p2")));
    h.exotel.answer_page(page(vec![approved("c")], None));
    assert_eq!(h.sync_scripted().await.unwrap(), synced(0, 2, 1, 0));
    assert_eq!(
        h.exotel.pages_asked().len(),
        3,
        "one page for the first sync, two for this one"
    );
    assert_eq!(h.kept_names().await, ["a", "b"]);
}

#[tokio::test]
async fn nothing_is_kept_or_removed_when_a_page_fails() {
    let h = Harness::new().await;
    h.sync(vec![approved("a"), approved("b")]).await;
    h.exotel
        .answer_page(page(vec![definition("a", TemplateStatus::Paused)], Some("p2")));
    let failure = ExotelError::ServerError {
        status: 502,
        message: "bad gateway".into(),
    };
    h.exotel.answer_page(Err(failure.clone()));
    let outcome = h.sync_scripted().await;
    assert!(
        matches!(&outcome, Err(MessagesError::Exotel(e)) if *e == failure),
        "{outcome:?}"
    );
    assert_eq!(h.kept_names().await, ["a", "b"]);
    assert!(
        h.sendable("a").await.is_ok(),
        "the page read before the failure changed nothing"
    );
}

#[tokio::test]
async fn nothing_is_removed_when_an_item_of_the_listing_is_unreadable() {
    let h = Harness::new().await;
    h.sync(vec![approved("a"), approved("b")]).await;
    let partial = TemplatePage {
        templates: vec![approved("a")],
        unreadable: 1,
        after: Some("p2".into()),
    };
    h.exotel.answer_page(Ok(partial));
    h.exotel.answer_page(page(vec![], None));
    assert_eq!(h.sync_scripted().await.unwrap(), synced(0, 1, 0, 1));
    assert_eq!(h.kept_names().await, ["a", "b"]);
}

#[tokio::test]
async fn nothing_is_removed_when_the_listing_is_longer_than_one_sync_reads() {
    let h = Harness::new().await;
    h.sync(vec![approved("a"), approved("b")]).await;
    h.exotel.answer_page(page(vec![approved("a")], Some("p1")));
    for n in 2..=crate::messages::MAX_SYNC_PAGES {
        h.exotel.answer_page(page(vec![], Some(&format!("p{n}"))));
    }
    assert_eq!(h.sync_scripted().await.unwrap(), synced(0, 1, 0, 0));
    assert_eq!(h.exotel.pages_asked().len(), 1 + crate::messages::MAX_SYNC_PAGES);
    assert_eq!(h.kept_names().await, ["a", "b"]);
}

#[tokio::test]
async fn a_sync_without_a_business_account_is_invalid_on_waba_id_and_reads_nothing() {
    let h = Harness::new().await;
    h.sync(vec![approved("a")]).await;
    h.configure_whatsapp(WhatsappSettings {
        waba_id: None,
        ..whatsapp_settings()
    })
    .await;
    assert_eq!(field_of(h.sync_scripted().await.unwrap_err()), "waba_id");
    assert_eq!(h.exotel.pages_asked().len(), 1, "only the first sync asked Exotel");
    assert_eq!(h.kept_names().await, ["a"]);
    h.configure_whatsapp(whatsapp_settings()).await;
    h.disable(IntegrationKind::ExotelWhatsapp).await;
    let disabled = h.sync_scripted().await.unwrap_err();
    assert!(matches!(disabled, MessagesError::WhatsappNotConfigured), "{disabled:?}");
}
