//! The message templates each account keeps per WhatsApp Business Account
//! (WABA): Meta's template objects in creation order, and when each name
//! was last deleted (Meta will not take a deleted name back for four
//! weeks). Every change takes its time as an argument, so the four-week
//! rule is tested without waiting.

use chrono::{DateTime, TimeDelta, Utc};
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};

use super::template::{Draft, Edit, Review, Status, Template, TemplateError};

/// The sandbox account's WABA, seeded with two approved templates.
pub const SANDBOX_WABA: &str = "sandbox-waba";

/// How long a deleted name cannot be used again (Meta's rule).
pub const REUSE_AFTER: TimeDelta = TimeDelta::weeks(4);

/// Ids are numeric strings like Meta's (`1189…`); this is the first.
const FIRST_ID: u64 = 1_189_000_000_000_001;

/// Every account's templates.
#[derive(Default)]
pub struct Templates {
    book: Mutex<Book>,
}

#[derive(Default)]
struct Book {
    /// Keyed by account sid; creation order (ids rise with it).
    templates: HashMap<String, Vec<Template>>,
    /// When a name was last deleted, by (account sid, WABA id, name).
    deleted: HashMap<(String, String, String), DateTime<Utc>>,
    created: u64,
}

impl Templates {
    fn book(&self) -> MutexGuard<'_, Book> {
        self.book.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Submits a template for review: it waits `PENDING`.
    pub fn create(&self, sid: &str, waba: &str, draft: Draft, now: DateTime<Utc>) -> Result<Template, TemplateError> {
        let mut book = self.book();
        let key = (sid.to_string(), waba.to_string(), draft.name.clone());
        if let Some(until) = book
            .deleted
            .get(&key)
            .map(|at| *at + REUSE_AFTER)
            .filter(|until| now < *until)
        {
            return Err(TemplateError::NameNotReusable {
                name: draft.name,
                until,
            });
        }
        let templates = book.templates.entry(sid.to_string()).or_default();
        if templates
            .iter()
            .any(|t| t.waba_id == waba && t.name == draft.name && t.language == draft.language)
        {
            return Err(TemplateError::AlreadyExists {
                language: draft.language,
            });
        }
        book.created += 1;
        let template = Template {
            id: FIRST_ID + book.created - 1,
            waba_id: waba.to_string(),
            name: draft.name,
            language: draft.language,
            category: draft.category,
            components: draft.components,
            status: Status::Pending,
            rejected_reason: "NONE".into(),
            quality_score: "UNKNOWN".into(),
            updated: now,
        };
        book.templates
            .entry(sid.to_string())
            .or_default()
            .push(template.clone());
        Ok(template)
    }

    /// Replaces a template's category or components: it waits for review again.
    pub fn edit(&self, sid: &str, waba: &str, edit: Edit, now: DateTime<Utc>) -> Result<Template, TemplateError> {
        let mut book = self.book();
        let templates = book.templates.entry(sid.to_string()).or_default();
        let found = templates
            .iter_mut()
            .find(|t| t.waba_id == waba && t.id.to_string() == edit.id);
        let template = found.ok_or(TemplateError::UnknownId(edit.id))?;
        template.category = edit.category.unwrap_or(template.category);
        template.components = edit.components.unwrap_or_else(|| template.components.clone());
        template.status = Status::Pending;
        template.rejected_reason = "NONE".into();
        template.updated = now;
        Ok(template.clone())
    }

    /// Deletes every language of `name`, and remembers when; how many went.
    pub fn delete(&self, sid: &str, waba: &str, name: &str, now: DateTime<Utc>) -> Result<usize, TemplateError> {
        let mut book = self.book();
        let templates = book.templates.entry(sid.to_string()).or_default();
        let before = templates.len();
        templates.retain(|t| !(t.waba_id == waba && t.name == name));
        let deleted = before - templates.len();
        if deleted == 0 {
            return Err(TemplateError::UnknownName(name.to_string()));
        }
        book.deleted
            .insert((sid.to_string(), waba.to_string(), name.to_string()), now);
        Ok(deleted)
    }

    /// The WABA's templates, in creation order.
    pub fn list(&self, sid: &str, waba: &str) -> Vec<Template> {
        let book = self.book();
        let templates = book.templates.get(sid).into_iter().flatten();
        templates.filter(|t| t.waba_id == waba).cloned().collect()
    }

    /// The account's templates of `name` and `language`, under every WABA.
    pub fn find(&self, sid: &str, name: &str, language: &str) -> Vec<Template> {
        let book = self.book();
        let templates = book.templates.get(sid).into_iter().flatten();
        templates
            .filter(|t| t.name == name && t.language == language)
            .cloned()
            .collect()
    }

    /// Gives the account's templates of `name` (only `language`'s when
    /// given), under every WABA, a review outcome; the templates changed.
    pub fn review(
        &self,
        sid: &str,
        name: &str,
        language: Option<&str>,
        review: &Review,
        now: DateTime<Utc>,
    ) -> Vec<Template> {
        let mut book = self.book();
        let templates = book.templates.entry(sid.to_string()).or_default();
        let chosen = |t: &Template| t.name == name && language.is_none_or(|l| t.language == l);
        let reason = match review.status {
            Status::Rejected => review
                .rejected_reason
                .clone()
                .unwrap_or_else(|| "INVALID_FORMAT".into()),
            _ => "NONE".into(),
        };
        let mut changed = Vec::new();
        for template in templates.iter_mut().filter(|t| chosen(t)) {
            template.status = review.status;
            template.rejected_reason = reason.clone();
            template.quality_score = review
                .quality_score
                .clone()
                .unwrap_or_else(|| template.quality_score.clone());
            template.updated = now;
            changed.push(template.clone());
        }
        changed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::whatsapp::templates::template::Category;
    use serde_json::json;

    fn draft(name: &str, language: &str) -> Draft {
        Draft {
            name: name.into(),
            language: language.into(),
            category: Category::Utility,
            components: vec![json!({"type": "BODY", "text": "Hi"})],
        }
    }

    fn at(days: i64) -> DateTime<Utc> {
        DateTime::UNIX_EPOCH + TimeDelta::days(days)
    }

    #[test]
    fn a_deleted_name_cannot_be_created_again_for_four_weeks() {
        let store = Templates::default();
        assert!(store.create("a", "w", draft("promo", "en"), at(0)).is_ok());
        assert_eq!(store.delete("a", "w", "promo", at(1)), Ok(1));
        let refused = store.create("a", "w", draft("promo", "hi"), at(28));
        let until = at(29);
        assert_eq!(
            refused,
            Err(TemplateError::NameNotReusable {
                name: "promo".into(),
                until
            })
        );
        assert!(store.create("a", "other-waba", draft("promo", "en"), at(2)).is_ok());
        let again = store.create("a", "w", draft("promo", "en"), at(29)).unwrap();
        assert_eq!((again.status, again.id), (Status::Pending, FIRST_ID + 2));
    }

    #[test]
    fn a_name_is_unique_per_language_and_waba() {
        let store = Templates::default();
        assert!(store.create("a", "w", draft("promo", "en"), at(0)).is_ok());
        assert!(store.create("a", "w", draft("promo", "hi"), at(0)).is_ok());
        let twice = store.create("a", "w", draft("promo", "en"), at(0)).unwrap_err();
        assert_eq!(twice, TemplateError::AlreadyExists { language: "en".into() });
        assert!(
            twice
                .description()
                .starts_with("There is already English content for this template")
        );
        assert!(store.create("b", "w", draft("promo", "en"), at(0)).is_ok());
        assert_eq!(store.list("a", "w").len(), 2);
    }

    #[test]
    fn a_review_reaches_every_waba_of_the_account_and_keeps_a_reason_only_for_rejections() {
        let store = Templates::default();
        for waba in ["w1", "w2"] {
            assert!(store.create("a", waba, draft("promo", "en"), at(0)).is_ok());
        }
        assert!(store.create("a", "w1", draft("promo", "hi"), at(0)).is_ok());
        let review = |status, reason: Option<&str>| Review {
            status,
            rejected_reason: reason.map(str::to_string),
            quality_score: None,
        };
        let rejected = store.review("a", "promo", Some("en"), &review(Status::Rejected, None), at(1));
        let reasons: Vec<&str> = rejected.iter().map(|t| t.rejected_reason.as_str()).collect();
        assert_eq!(reasons, ["INVALID_FORMAT", "INVALID_FORMAT"]);
        let approved = store.review("a", "promo", None, &review(Status::Approved, Some("SCAM")), at(2));
        assert_eq!(approved.len(), 3);
        assert!(
            approved
                .iter()
                .all(|t| t.rejected_reason == "NONE" && t.status == Status::Approved)
        );
        assert!(
            store
                .review("b", "promo", None, &review(Status::Approved, None), at(2))
                .is_empty()
        );
    }
}
