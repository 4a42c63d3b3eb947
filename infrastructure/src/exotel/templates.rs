//! A page of v2 WhatsApp templates: `response.whatsapp.templates[]`, each
//! item a `{code, status, error_data, data}` wrapper around Meta's template
//! object (addendum §A.1). Items whose `code` is not 200 are left out, as
//! production clients do, and so are items that cannot be read; both are
//! counted. The next page's cursor is Meta's `paging.cursors.after`, found
//! under `response.whatsapp` or, as one client hedges, at the top.

use serde_json::Value;

use application::exotel::{ExotelError, TemplatePage};
use domain::whatsapp_template::{
    ButtonKind, HeaderFormat, TemplateButton, TemplateDefinition, TemplateHeader, TemplateStatus,
};

use super::parse::{code, text};

pub fn page(answer: &Value) -> Result<TemplatePage, ExotelError> {
    let items = answer
        .pointer("/response/whatsapp/templates")
        .and_then(Value::as_array)
        .ok_or_else(|| ExotelError::Malformed("no `response.whatsapp.templates` in the answer".into()))?;
    let mut templates = Vec::with_capacity(items.len());
    let mut unreadable = 0;
    for item in items {
        let ok = code(item.get("code")).is_none_or(|c| c == 200);
        match item.get("data").filter(|_| ok).and_then(definition) {
            Some(definition) => templates.push(definition),
            None => unreadable += 1,
        }
    }
    let after = ["/response/whatsapp/paging/cursors/after", "/paging/cursors/after"]
        .iter()
        .find_map(|p| text(answer.pointer(p)));
    // Meta names a next page only when there is one; a cursor on a page
    // that came back short of its items is the last page's.
    let after = after.filter(|_| !items.is_empty());
    Ok(TemplatePage {
        templates,
        unreadable,
        after,
    })
}

/// Meta's template object as kept, or `None` when it lacks a name, a
/// language, a status or a body.
fn definition(data: &Value) -> Option<TemplateDefinition> {
    let components = data
        .get("components")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let of_type = |wanted: &str| {
        components
            .iter()
            .find(|c| text(c.get("type")).is_some_and(|t| t.eq_ignore_ascii_case(wanted)))
    };
    let body = text(of_type("BODY")?.get("text"))?;
    let header = of_type("HEADER").map(|h| TemplateHeader {
        format: header_format(text(h.get("format")).as_deref()),
        text: text(h.get("text")),
    });
    let buttons = of_type("BUTTONS")
        .and_then(|b| b.get("buttons"))
        .and_then(Value::as_array)
        .map(|buttons| buttons.iter().map(button).collect())
        .unwrap_or_default();
    let rejected_reason = text(data.get("rejected_reason")).filter(|r| !r.eq_ignore_ascii_case("NONE"));
    Some(TemplateDefinition {
        provider_id: text(data.get("id")).unwrap_or_default(),
        name: text(data.get("name"))?,
        language: text(data.get("language"))?,
        category: text(data.get("category")).unwrap_or_default().to_ascii_uppercase(),
        status: TemplateStatus::parse(&text(data.get("status"))?),
        rejected_reason,
        header,
        body,
        footer: of_type("FOOTER").and_then(|f| text(f.get("text"))),
        buttons,
    })
}

fn header_format(format: Option<&str>) -> HeaderFormat {
    match format.map(str::to_ascii_uppercase).as_deref() {
        Some("IMAGE") => HeaderFormat::Image,
        Some("VIDEO") => HeaderFormat::Video,
        Some("DOCUMENT") => HeaderFormat::Document,
        Some("LOCATION") => HeaderFormat::Location,
        _ => HeaderFormat::Text,
    }
}

fn button(button: &Value) -> TemplateButton {
    let kind = match text(button.get("type")).map(|t| t.to_ascii_uppercase()).as_deref() {
        Some("QUICK_REPLY") => ButtonKind::QuickReply,
        Some("URL") => ButtonKind::Url,
        Some("PHONE_NUMBER") => ButtonKind::PhoneNumber,
        Some("COPY_CODE") => ButtonKind::CopyCode,
        Some("FLOW") => ButtonKind::Flow,
        _ => ButtonKind::Other,
    };
    TemplateButton {
        kind,
        text: text(button.get("text")).unwrap_or_default(),
        url: text(button.get("url")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn answer(items: Value, paging: Value) -> Value {
        json!({"request_id": "r", "method": "GET", "http_code": 200,
            "response": {"whatsapp": {"templates": items, "paging": paging}}})
    }

    fn leave_approved() -> Value {
        json!({"code": 200, "status": "success", "error_data": null, "data": {
            "id": "1189", "name": "leave_approved", "language": "en", "status": "APPROVED",
            "category": "utility", "rejected_reason": "NONE",
            "components": [
                {"type": "HEADER", "format": "IMAGE", "example": {"header_handle": ["h"]}},
                {"type": "BODY", "text": "Hi {{1}}, your leave is approved", "example": {"body_text": [["Priya"]]}},
                {"type": "FOOTER", "text": "HR"},
                {"type": "BUTTONS", "buttons": [
                    {"type": "QUICK_REPLY", "text": "Thanks"},
                    {"type": "URL", "text": "Open", "url": "https://hr.example.com/{{1}}"}]}]}})
    }

    #[test]
    fn a_listed_template_is_read_with_its_header_body_footer_and_buttons() {
        let page = page(&answer(
            json!([leave_approved()]),
            json!({"cursors": {"before": "b", "after": "a"}}),
        ))
        .unwrap();
        assert_eq!(page.unreadable, 0);
        assert_eq!(page.after.as_deref(), Some("a"));
        let template = &page.templates[0];
        assert_eq!(template.provider_id, "1189");
        assert_eq!(template.name, "leave_approved");
        assert_eq!(template.language, "en");
        assert_eq!(template.category, "UTILITY");
        assert_eq!(template.status, TemplateStatus::Approved);
        assert_eq!(template.rejected_reason, None);
        assert_eq!(template.header.as_ref().map(|h| h.format), Some(HeaderFormat::Image));
        assert_eq!(template.body, "Hi {{1}}, your leave is approved");
        assert_eq!(template.footer.as_deref(), Some("HR"));
        assert_eq!(template.buttons.len(), 2);
        assert_eq!(template.buttons[0].kind, ButtonKind::QuickReply);
        assert_eq!(template.buttons[1].kind, ButtonKind::Url);
        assert!(template.buttons[1].takes_value());
    }

    #[test]
    fn failed_and_unreadable_items_are_left_out_and_counted() {
        let failed = json!({"code": 400, "status": "failure", "error_data": {"message": "x"}, "data": null});
        let mut bodiless = leave_approved();
        bodiless["data"]["components"] = json!([{"type": "FOOTER", "text": "HR"}]);
        let mut rejected = leave_approved();
        rejected["data"]["status"] = json!("rejected");
        rejected["data"]["rejected_reason"] = json!("INVALID_FORMAT");
        let page = page(&answer(json!([failed, bodiless, rejected]), json!({}))).unwrap();
        assert_eq!(page.unreadable, 2);
        assert_eq!(page.after, None);
        assert_eq!(page.templates.len(), 1);
        assert_eq!(page.templates[0].status, TemplateStatus::Rejected);
        assert_eq!(page.templates[0].rejected_reason.as_deref(), Some("INVALID_FORMAT"));
    }

    #[test]
    fn a_cursor_at_the_top_is_read_and_an_empty_page_ends_the_listing() {
        let mut top = answer(json!([leave_approved()]), json!(null));
        top["paging"] = json!({"cursors": {"after": "next"}});
        assert_eq!(page(&top).unwrap().after.as_deref(), Some("next"));
        let empty = answer(json!([]), json!({"cursors": {"after": "next"}}));
        assert_eq!(page(&empty).unwrap().after, None);
        assert!(matches!(page(&json!({"response": {}})), Err(ExotelError::Malformed(_))));
    }
}
