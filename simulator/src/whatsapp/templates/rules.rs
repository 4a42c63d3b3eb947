//! The rules a submitted template follows, as far as the addendum (A.1,
//! A.2) gives Meta's: what `whatsapp.templates[i].template` must hold to
//! be created or edited. Component `type`s, header `format`s and button
//! `type`s are read in any case and kept UPPERCASE, as Meta lists them.
//! Each refusal is a text naming the field at fault, relative to
//! `template`.

use serde_json::{Map, Value};

use super::template::{Category, Draft, Edit};

/// Longest template name Meta takes.
const MAX_NAME: usize = 512;

/// Header formats; the media ones need a sample (`example.header_handle`).
const HEADER_FORMATS: [&str; 5] = ["TEXT", "IMAGE", "VIDEO", "DOCUMENT", "LOCATION"];
const MEDIA_FORMATS: [&str; 3] = ["IMAGE", "VIDEO", "DOCUMENT"];

const BUTTON_TYPES: [&str; 5] = ["QUICK_REPLY", "URL", "PHONE_NUMBER", "COPY_CODE", "FLOW"];
const MAX_BUTTONS: usize = 10;

/// Components a template holds at most once (besides its one `BODY`).
const AT_MOST_ONCE: [&str; 4] = ["HEADER", "FOOTER", "BUTTONS", "CAROUSEL"];

/// A template to create, or why not.
pub fn draft(template: &Value) -> Result<Draft, String> {
    let category = category(template.get("category"))?.ok_or("category is mandatory")?;
    let components = template.get("components").ok_or("components is mandatory")?;
    Ok(Draft {
        name: name(template)?,
        language: language(template)?,
        category,
        components: components_of(components)?,
    })
}

/// An edit of the template `id`, or why not. `name` and `language` cannot
/// change and are ignored; `category` and `components` replace what the
/// template holds, and at least one of them must be there.
pub fn edit(template: &Value) -> Result<Edit, String> {
    let id = match template.get("id") {
        Some(Value::String(id)) if !id.trim().is_empty() => id.trim().to_string(),
        Some(Value::Number(id)) => id.to_string(),
        _ => return Err("id is mandatory".into()),
    };
    let category = category(template.get("category"))?;
    let components = template.get("components").filter(|c| !c.is_null());
    let components = components.map(components_of).transpose()?;
    if category.is_none() && components.is_none() {
        return Err("category or components is mandatory".into());
    }
    Ok(Edit {
        id,
        category,
        components,
    })
}

/// The highest `{{n}}` placeholder in a text; 0 when it has none.
pub fn highest_placeholder(text: &str) -> usize {
    let insides = text.split("{{").skip(1).filter_map(|rest| rest.split_once("}}"));
    insides
        .filter_map(|(inside, _)| inside.trim().parse().ok())
        .max()
        .unwrap_or(0)
}

/// 1–512 characters of `a-z`, `0-9` and `_`.
fn name(template: &Value) -> Result<String, String> {
    let name = template
        .get("name")
        .and_then(Value::as_str)
        .ok_or("name is mandatory")?;
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_';
    if name.is_empty() || name.chars().count() > MAX_NAME || !name.chars().all(allowed) {
        return Err(format!(
            "name {name:?} must be 1 to {MAX_NAME} characters of a-z, 0-9 and _"
        ));
    }
    Ok(name.to_string())
}

fn language(template: &Value) -> Result<String, String> {
    let language = template.get("language").and_then(Value::as_str).map(str::trim);
    let language = language.filter(|l| !l.is_empty()).ok_or("language is mandatory")?;
    Ok(language.to_string())
}

/// The category when one is given.
fn category(value: Option<&Value>) -> Result<Option<Category>, String> {
    let Some(value) = value.filter(|v| !v.is_null()) else {
        return Ok(None);
    };
    let category = value.as_str().and_then(Category::parse);
    let category = category.ok_or("category must be MARKETING, UTILITY or AUTHENTICATION")?;
    Ok(Some(category))
}

/// Exactly one `BODY`, and at most one of each other kind.
fn components_of(value: &Value) -> Result<Vec<Value>, String> {
    let list = value.as_array().ok_or("components must be a list")?;
    let list: Vec<Value> = list
        .iter()
        .enumerate()
        .map(|(i, c)| component(c).map_err(|e| format!("components[{i}].{e}")))
        .collect::<Result<_, _>>()?;
    let count = |kind: &str| list.iter().filter(|c| c["type"] == kind).count();
    if let Some(kind) = AT_MOST_ONCE.into_iter().find(|kind| count(kind) > 1) {
        return Err(format!("components holds more than one {kind}"));
    }
    match count("BODY") {
        1 => Ok(list),
        0 => Err("components must hold a BODY".into()),
        _ => Err("components holds more than one BODY".into()),
    }
}

/// One component, with its `type` (and `format`, button `type`s) UPPERCASE.
fn component(component: &Value) -> Result<Value, String> {
    let mut object = component.as_object().cloned().ok_or("type is mandatory")?;
    let kind = upper(&mut object, "type").ok_or("type is mandatory")?;
    match kind.as_str() {
        "BODY" => body(&object)?,
        "HEADER" => header(&mut object)?,
        "FOOTER" => footer(&object)?,
        "BUTTONS" => buttons(&mut object)?,
        "CAROUSEL" => carousel(&object)?,
        other => return Err(format!("type {other} is not HEADER, BODY, FOOTER, BUTTONS or CAROUSEL")),
    }
    Ok(Value::Object(object))
}

/// Upper-cases the string at `key`; what it became.
fn upper(object: &mut Map<String, Value>, key: &str) -> Option<String> {
    let value = object.get(key)?.as_str()?.trim().to_uppercase();
    object.insert(key.into(), Value::String(value.clone()));
    Some(value)
}

fn has_text(object: &Map<String, Value>) -> bool {
    object
        .get("text")
        .and_then(Value::as_str)
        .is_some_and(|t| !t.trim().is_empty())
}

/// A non-empty list at `example.{key}`.
fn has_example(object: &Map<String, Value>, key: &str) -> bool {
    let example = object.get("example").and_then(|e| e.get(key));
    example
        .and_then(Value::as_array)
        .is_some_and(|samples| !samples.is_empty())
}

/// Text, with samples for its placeholders.
fn body(object: &Map<String, Value>) -> Result<(), String> {
    if !has_text(object) {
        return Err("text: a BODY needs a non-empty text".into());
    }
    let text = object["text"].as_str().unwrap_or_default();
    if highest_placeholder(text) > 0 && !has_example(object, "body_text") {
        return Err("example.body_text: a BODY with {{n}} placeholders needs samples".into());
    }
    Ok(())
}

/// A format; text for TEXT, a sample handle for media.
fn header(object: &mut Map<String, Value>) -> Result<(), String> {
    let format = upper(object, "format").filter(|f| HEADER_FORMATS.contains(&f.as_str()));
    let format = format.ok_or("format: a HEADER's format is TEXT, IMAGE, VIDEO, DOCUMENT or LOCATION")?;
    if format == "TEXT" && !has_text(object) {
        return Err("text: a TEXT HEADER needs a non-empty text".into());
    }
    if MEDIA_FORMATS.contains(&format.as_str()) && !has_example(object, "header_handle") {
        return Err(format!(
            "example.header_handle: an {format} HEADER needs a sample's handle"
        ));
    }
    Ok(())
}

fn footer(object: &Map<String, Value>) -> Result<(), String> {
    match has_text(object) {
        true => Ok(()),
        false => Err("text: a FOOTER needs a non-empty text".into()),
    }
}

/// One to ten buttons of Meta's types.
fn buttons(object: &mut Map<String, Value>) -> Result<(), String> {
    let buttons = object.get_mut("buttons").and_then(Value::as_array_mut);
    let buttons = buttons.filter(|b| (1..=MAX_BUTTONS).contains(&b.len()));
    let buttons = buttons.ok_or("buttons: BUTTONS holds one to ten buttons")?;
    for (i, button) in buttons.iter_mut().enumerate() {
        let kind = button.as_object_mut().and_then(|b| upper(b, "type"));
        if !kind.is_some_and(|k| BUTTON_TYPES.contains(&k.as_str())) {
            return Err(format!(
                "buttons[{i}].type is QUICK_REPLY, URL, PHONE_NUMBER, COPY_CODE or FLOW"
            ));
        }
    }
    Ok(())
}

fn carousel(object: &Map<String, Value>) -> Result<(), String> {
    let cards = object.get("cards").and_then(Value::as_array);
    match cards.is_some_and(|cards| !cards.is_empty()) {
        true => Ok(()),
        false => Err("cards: a CAROUSEL holds at least one card".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn template(components: Value) -> Value {
        json!({"name": "order_update", "language": "en", "category": "utility", "components": components})
    }

    fn body(text: &str) -> Value {
        json!({"type": "body", "text": text, "example": {"body_text": [["Asha"]]}})
    }

    #[test]
    fn a_valid_draft_keeps_its_components_with_uppercase_types() {
        let header = json!({"type": "header", "format": "image", "example": {"header_handle": ["4::aW1n"]}});
        let buttons = json!({"type": "buttons", "buttons": [{"type": "quick_reply", "text": "Thanks"}]});
        let draft = draft(&template(json!([header, body("Hi {{1}}"), buttons]))).unwrap();
        assert_eq!(draft.category, Category::Utility);
        let kinds: Vec<&Value> = draft.components.iter().map(|c| &c["type"]).collect();
        assert_eq!(kinds, ["HEADER", "BODY", "BUTTONS"]);
        assert_eq!(draft.components[0]["format"], "IMAGE");
        assert_eq!(draft.components[2]["buttons"][0]["type"], "QUICK_REPLY");
        assert_eq!(draft.components[1]["example"], json!({"body_text": [["Asha"]]}));
    }

    #[test]
    fn names_are_lowercase_letters_digits_and_underscores() {
        let named =
            |name: &str| json!({"name": name, "language": "en", "category": "UTILITY", "components": [body("Hi")]});
        assert!(draft(&named("order_update_2")).is_ok());
        for refused in ["", "Order", "order-update", "order update", &"a".repeat(513)] {
            assert!(draft(&named(refused)).unwrap_err().starts_with("name"), "{refused}");
        }
        assert!(draft(&named(&"a".repeat(512))).is_ok());
    }

    #[test]
    fn components_hold_exactly_one_body_and_at_most_one_of_the_rest() {
        let footer = json!({"type": "FOOTER", "text": "Bye"});
        let refused = [
            (json!([]), "must hold a BODY"),
            (json!([body("a"), body("b")]), "more than one BODY"),
            (json!([body("a"), footer, footer]), "more than one FOOTER"),
            (json!([{"type": "BODY", "text": " "}]), "components[0].text"),
            (json!([{"type": "BODY", "text": "Hi {{1}}"}]), "example.body_text"),
            (
                json!([body("a"), {"type": "HEADER", "format": "TEXT"}]),
                "components[1].text",
            ),
            (
                json!([body("a"), {"type": "HEADER", "format": "GIF"}]),
                "components[1].format",
            ),
            (
                json!([body("a"), {"type": "HEADER", "format": "VIDEO"}]),
                "header_handle",
            ),
            (json!([body("a"), {"type": "BUTTONS", "buttons": []}]), "one to ten"),
            (
                json!([body("a"), {"type": "BUTTONS", "buttons": [{"type": "CALL"}]}]),
                "buttons[0].type",
            ),
            (json!([body("a"), {"type": "STICKER"}]), "type STICKER"),
        ];
        for (components, mentions) in refused {
            let error = draft(&template(components.clone())).unwrap_err();
            assert!(error.contains(mentions), "{components}: {error}");
        }
        let eleven = vec![json!({"type": "QUICK_REPLY", "text": "x"}); 11];
        assert!(draft(&template(json!([body("a"), {"type": "BUTTONS", "buttons": eleven}]))).is_err());
        let location = json!({"type": "HEADER", "format": "LOCATION"});
        assert!(draft(&template(json!([location, body("a"), footer]))).is_ok());
    }

    #[test]
    fn categories_and_languages_are_mandatory() {
        let mut item = template(json!([body("a")]));
        item["category"] = json!("SERVICE");
        assert!(draft(&item).unwrap_err().starts_with("category"));
        item["category"] = json!("MARKETING");
        item["language"] = json!("");
        assert_eq!(draft(&item).unwrap_err(), "language is mandatory");
    }

    #[test]
    fn an_edit_names_its_template_and_changes_something() {
        assert_eq!(edit(&json!({"category": "UTILITY"})).unwrap_err(), "id is mandatory");
        assert!(
            edit(&json!({"id": "12"}))
                .unwrap_err()
                .contains("category or components")
        );
        let changed = edit(&json!({"id": 12, "components": [body("Hi")]})).unwrap();
        assert_eq!((changed.id.as_str(), changed.category), ("12", None));
    }

    #[test]
    fn the_highest_placeholder_counts_the_parameters_a_body_takes() {
        assert_eq!(highest_placeholder("Hi {{1}}, your order {{2}} is on its way."), 2);
        assert_eq!(highest_placeholder("{{3}} then {{1}}"), 3);
        assert_eq!(highest_placeholder("No {{name}} placeholders {{"), 0);
    }
}
