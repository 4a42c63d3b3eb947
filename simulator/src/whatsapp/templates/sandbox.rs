//! The sandbox account's templates: on WABA `sandbox-waba`, two approved
//! UTILITY templates in `en`, so template messages can be sent at once.
//!
//! - `order_update`: BODY "Hi {{1}}, your order {{2}} is on its way."
//! - `delivery_photo`: an IMAGE HEADER, BODY "Your order {{1}} was
//!   delivered." and a QUICK_REPLY button "Thanks".

use chrono::Utc;
use serde_json::{Value, json};

use super::rules;
use super::store::{SANDBOX_WABA, Templates};
use super::template::{Review, Status};

/// The sandbox account's sid.
const SANDBOX: &str = "sandbox";

impl Templates {
    /// A store holding the sandbox's templates, approved.
    pub fn sandbox() -> Self {
        let templates = Self::default();
        let now = Utc::now();
        for (name, components) in seeds() {
            let submitted = json!({"name": name, "language": "en", "category": "UTILITY", "components": components});
            if let Ok(draft) = rules::draft(&submitted) {
                let _created = templates.create(SANDBOX, SANDBOX_WABA, draft, now);
            }
        }
        let approved = Review {
            status: Status::Approved,
            rejected_reason: None,
            quality_score: None,
        };
        for (name, _) in seeds() {
            templates.review(SANDBOX, name, None, &approved, now);
        }
        templates
    }
}

fn seeds() -> [(&'static str, Value); 2] {
    let order_update = json!([{"type": "BODY", "text": "Hi {{1}}, your order {{2}} is on its way.",
        "example": {"body_text": [["Asha", "A-1042"]]}}]);
    let delivery_photo = json!([
        {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["4::aW1hZ2UvanBlZw==:sandbox-delivery-photo"]}},
        {"type": "BODY", "text": "Your order {{1}} was delivered.", "example": {"body_text": [["A-1042"]]}},
        {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Thanks"}]},
    ]);
    [("order_update", order_update), ("delivery_photo", delivery_photo)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sandbox_waba_holds_two_approved_utility_templates_in_english() {
        let listed = Templates::sandbox().list(SANDBOX, SANDBOX_WABA);
        let names: Vec<&str> = listed.iter().map(|t| t.name.as_str()).collect();
        assert_eq!(names, ["order_update", "delivery_photo"]);
        for template in &listed {
            assert_eq!((template.status, template.language.as_str()), (Status::Approved, "en"));
            assert_eq!(template.meta()["category"], "UTILITY");
        }
        assert_eq!(listed[1].components[0]["format"], "IMAGE");
        assert_eq!(listed[1].components[2]["buttons"][0]["text"], "Thanks");
    }
}
