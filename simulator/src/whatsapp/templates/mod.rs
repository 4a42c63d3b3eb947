//! WhatsApp message templates (addendum A.1–A.4), kept per account and
//! WhatsApp Business Account (WABA), with Basic auth as for `messages`:
//!
//! - `GET /v2/accounts/{sid}/templates?waba_id=…`: the WABA's templates in
//!   creation order, filtered and paged (see `listing`), as
//!   `response.whatsapp.templates[]` plus `response.whatsapp.paging`.
//! - `POST …/templates?waba_id=…` `{"whatsapp":{"templates":[{"template":
//!   {name, language, category, components, allow_category_change?}}]}}`:
//!   submits each template for review; it waits `PENDING`.
//! - `PUT …/templates?waba_id=…`, items `{"template":{"id", category?,
//!   components?}}`: replaces what is given; the template waits `PENDING`
//!   again.
//! - `DELETE …/templates?waba_id=…`, with a JSON body naming the templates
//!   (`{"whatsapp":{"templates":[{"template":{"name":"t1"}}]}}`), or with no
//!   body and `&name=t1`. That second form is only seen in one client and
//!   is unverified, so both are accepted. Every language of the name goes,
//!   and the name cannot be used again for four weeks.
//!
//! Each template of a listing or a change is answered in its own wrapper:
//! `{"code":200,"status":"success","error_data":null,"data":…}`, or
//! `{"code":400|404,"status":"failure","error_data":{"code":1001,"message","description"},"data":null}`.
//! A change answers 200 when any item succeeded. When none did it answers
//! 400, still with the wrappers: Exotel's status there is not documented,
//! and clients read Meta's reason from the item's `error_data.description`.
//! Bad credentials answer 401, and a missing `waba_id`, a bad paging
//! parameter or a body without `whatsapp.templates` 400, in the v2 error
//! envelope.
//!
//! The simulator's own `PUT /_simulator/accounts/{sid}/templates/{name}`
//! plays Meta's reviewer (see `approval`); messages that use a template
//! are judged in `sending`.

mod approval;
mod listing;
mod rules;
mod sandbox;
mod sending;
mod store;
mod template;
#[cfg(test)]
mod tests;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{Method, StatusCode};
use axum::response::Response;
use axum::routing::{get, put};
use chrono::Utc;
use serde_json::{Value, json};
use std::sync::Arc;

pub use sending::verdict;
pub use store::{SANDBOX_WABA, Templates};

use super::{INVALID, unauthorized};
use crate::request::{Answer, Received, Refused, field};
use crate::state::SimState;
use crate::wire::{error_data, v2, v2_error};
use listing::{Filters, Page};
use template::TemplateError;

/// The template routes, and the simulator's review route.
pub fn routes() -> Router<Arc<SimState>> {
    Router::new()
        .route(
            "/v2/accounts/{sid}/templates",
            get(list).post(create).put(edit).delete(delete),
        )
        .route("/_simulator/accounts/{sid}/templates/{name}", put(approval::review))
}

/// `GET …/templates?waba_id=`: a page of the WABA's templates that pass the filters.
pub async fn list(State(state): State<Arc<SimState>>, Path(sid): Path<String>, request: Received) -> Answer {
    let waba = open(&state, &sid, &request)?;
    let query = request.query();
    let page = Page::read(&query).map_err(|e| refuse(&request.method, &e))?;
    let filters = Filters::read(&query);
    let templates = state.templates.list(&sid, &waba);
    let (shown, paging) = page.cut(templates.into_iter().filter(|t| filters.admit(t)).collect());
    let items: Vec<Value> = shown.iter().map(|t| wrapped(Ok(t.meta()))).collect();
    let response = json!({"whatsapp": {"templates": items, "paging": paging}});
    Ok(v2(StatusCode::OK, &request.method, None, response))
}

/// `POST …/templates?waba_id=`: each template submitted for review.
pub async fn create(State(state): State<Arc<SimState>>, Path(sid): Path<String>, request: Received) -> Answer {
    let waba = open(&state, &sid, &request)?;
    let items = items(&request.body).map_err(|e| refuse(&request.method, &e))?;
    let now = Utc::now();
    let submit = |(i, item): (usize, &Value)| {
        let draft = read(i, item, rules::draft)?;
        state.templates.create(&sid, &waba, draft, now).map(|t| t.receipt())
    };
    Ok(answer(&request.method, items.iter().enumerate().map(submit).collect()))
}

/// `PUT …/templates?waba_id=`: each template edited, back to review.
pub async fn edit(State(state): State<Arc<SimState>>, Path(sid): Path<String>, request: Received) -> Answer {
    let waba = open(&state, &sid, &request)?;
    let items = items(&request.body).map_err(|e| refuse(&request.method, &e))?;
    let now = Utc::now();
    let change = |(i, item): (usize, &Value)| {
        let edit = read(i, item, rules::edit)?;
        state.templates.edit(&sid, &waba, edit, now).map(|t| t.receipt())
    };
    Ok(answer(&request.method, items.iter().enumerate().map(change).collect()))
}

/// `DELETE …/templates?waba_id=`: every language of each name named.
pub async fn delete(State(state): State<Arc<SimState>>, Path(sid): Path<String>, request: Received) -> Answer {
    let waba = open(&state, &sid, &request)?;
    let names = names_to_delete(&request).map_err(|e| refuse(&request.method, &e))?;
    let now = Utc::now();
    let remove = |name: Result<String, TemplateError>| -> Result<Value, TemplateError> {
        let name = name?;
        state.templates.delete(&sid, &waba, &name, now)?;
        Ok(json!({"name": name, "success": true}))
    };
    Ok(answer(&request.method, names.into_iter().map(remove).collect()))
}

/// The WABA a request names, once its credentials open the account.
fn open(state: &SimState, sid: &str, request: &Received) -> Result<String, Refused> {
    if request.account(state, sid).is_none() {
        return Err(unauthorized(&request.method).into());
    }
    let waba = field(&request.query(), "waba_id").map(str::to_string);
    waba.ok_or_else(|| refuse(&request.method, "waba_id is mandatory"))
}

/// A request refused as a whole: 400 in the v2 error envelope.
fn refuse(method: &Method, description: &str) -> Refused {
    v2_error(
        StatusCode::BAD_REQUEST,
        method,
        error_data(INVALID, description, description),
    )
    .into()
}

/// `whatsapp.templates`, which must hold at least one item.
fn items(body: &[u8]) -> Result<Vec<Value>, String> {
    let request: Value = serde_json::from_slice(body).map_err(|_| "The body is not valid JSON".to_string())?;
    let templates = request.get("whatsapp").and_then(|w| w.get("templates"));
    match templates.and_then(Value::as_array) {
        Some(templates) if !templates.is_empty() => Ok(templates.clone()),
        _ => Err("whatsapp.templates is mandatory and must hold at least one template".into()),
    }
}

/// Item `i`'s `template` as `rule` reads it, or the refusal naming the field.
fn read<T>(i: usize, item: &Value, rule: fn(&Value) -> Result<T, String>) -> Result<T, TemplateError> {
    let Some(template) = item.get("template").filter(|t| t.is_object()) else {
        let missing = format!("whatsapp.templates[{i}].template is mandatory");
        return Err(TemplateError::Invalid(missing));
    };
    rule(template).map_err(|e| TemplateError::Invalid(format!("whatsapp.templates[{i}].template.{e}")))
}

/// The names a delete names: the body's when it has one, else `?name=`.
fn names_to_delete(request: &Received) -> Result<Vec<Result<String, TemplateError>>, String> {
    if request.body.iter().all(u8::is_ascii_whitespace) {
        let query = request.query();
        let name = field(&query, "name").ok_or("whatsapp.templates (or, with no body, name) is mandatory")?;
        return Ok(vec![Ok(name.to_string())]);
    }
    let name = |template: &Value| {
        let name = template.get("name").and_then(Value::as_str).filter(|n| !n.is_empty());
        name.map(str::to_string).ok_or_else(|| "name is mandatory".to_string())
    };
    let items = items(&request.body)?;
    Ok(items.iter().enumerate().map(|(i, item)| read(i, item, name)).collect())
}

/// 200 with a wrapper per item when any succeeded, else 400 with them.
fn answer(method: &Method, results: Vec<Result<Value, TemplateError>>) -> Response {
    let status = match results.iter().any(Result::is_ok) {
        true => StatusCode::OK,
        false => StatusCode::BAD_REQUEST,
    };
    let items: Vec<Value> = results.into_iter().map(wrapped).collect();
    v2(status, method, None, json!({"whatsapp": {"templates": items}}))
}

/// One item's wrapper: `{code, status, error_data, data}`.
fn wrapped(result: Result<Value, TemplateError>) -> Value {
    match result {
        Ok(data) => json!({"code": 200, "status": "success", "error_data": null, "data": data}),
        Err(error) => {
            let error_data = error_data(INVALID, error.message(), &error.description());
            json!({"code": error.code(), "status": "failure", "error_data": error_data, "data": null})
        }
    }
}
