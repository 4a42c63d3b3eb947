//! The OpenAPI document, generated from the handlers.

use utoipa::openapi::path::{Operation, ParameterIn, PathItem};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Switchboard", description = "Business communications over Exotel, SMS, WhatsApp and e-mail, with the event history as the audit log. Every successful JSON answer is `{success: true, data}` (lists add `count`, and `next_cursor` where they page by cursor); every error is `application/problem+json`."),
    paths(
        routes::auth::login,
        routes::users::list, routes::users::create, routes::users::get, routes::users::update,
        routes::users::deactivate, routes::users::reactivate, routes::users::reset_password, routes::users::me, routes::users::change_password,
        routes::api_keys::list, routes::api_keys::create, routes::api_keys::revoke,
        routes::organisation::get, routes::organisation::rename, routes::holidays::list, routes::holidays::replace,
        routes::integrations::list, routes::integrations::get, routes::integrations::configure, routes::integrations::test, routes::integrations::disable, routes::integrations::enable,
        routes::integrations::delete, routes::integrations::get_permission, routes::integrations::put_permission,
        routes::integrations::configuration_status, routes::integrations::rotate_callback_token, routes::integrations::flow_urls, routes::integrations::sms_flow_urls,
        routes::email_accounts::test, routes::email_accounts::create, routes::email_accounts::list, routes::email_accounts::get, routes::email_accounts::update, routes::email_accounts::remove,
        routes::phone_numbers::sync, routes::phone_numbers::list, routes::phone_numbers::assign, routes::phone_numbers::make_primary,
        routes::emails::send, routes::emails::get,
        routes::calls::create, routes::calls::list, routes::calls::one, routes::calls::recording,
        routes::webhooks::exotel_calls, routes::webhooks::exotel_passthru, routes::webhooks::exotel_connect, routes::webhooks::exotel_sms, routes::webhooks::exotel_incoming_sms_get, routes::webhooks::exotel_incoming_sms_post, routes::webhooks::exotel_whatsapp,
        routes::whatsapp::create, routes::whatsapp::list, routes::whatsapp::one, routes::whatsapp::inbound, routes::whatsapp::inbound_media,
        routes::whatsapp_templates::sync, routes::whatsapp_templates::list,
        routes::sms::create, routes::sms::list, routes::sms::one, routes::sms::templates, routes::sms::register_template, routes::sms::remove_template,
        routes::masked_sessions::create, routes::masked_sessions::list, routes::masked_sessions::one, routes::masked_sessions::end,
        routes::webhook_endpoints::list, routes::webhook_endpoints::create, routes::webhook_endpoints::one,
        routes::webhook_endpoints::update, routes::webhook_endpoints::remove, routes::webhook_endpoints::rotate_secret,
        routes::webhook_endpoints::deliveries, routes::webhook_endpoints::delivery, routes::webhook_endpoints::redeliver,
        routes::seed::health, routes::seed::config, routes::seed::set_config, routes::seed::click_to_call, routes::seed::number_masking, routes::seed::send_sms, routes::seed::send_whatsapp,
        routes::email_inbox::poll_now,
        routes::threads::list, routes::threads::counts, routes::threads::one, routes::threads::send::message,
        routes::threads::send::call, routes::threads::assign, routes::threads::close, routes::threads::reopen,
        routes::threads::read, routes::thread_messages::send_media, routes::thread_messages::send_template,
        routes::customers::list, routes::customers::one, routes::customers::update, routes::customers::link,
        routes::customers::unmerge,
        routes::audit::events, routes::audit::history, routes::audit::state_at, routes::audit::verify,
        routes::system::health, routes::system::ready,
        crate::realtime::socket_route, crate::realtime::events_route,
    ),
    components(schemas(crate::error::Problem, crate::realtime::message::RealtimeMessage)),
    modifiers(&BearerAuth, &Problems)
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("a login token or an API key"))
            .build();
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The media type of every error.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Errors any operation can meet before or outside its handler, by status:
/// the guard, the JSON extractor and the timeout answer them for every
/// route, so each route need not list them.
const ANY_OPERATION: [(&str, &str, &str); 1] = [(
    "408",
    "RequestTimeout",
    "the request took longer than the server allows",
)];
const SECURED: [(&str, &str, &str); 3] = [
    ("401", "Unauthenticated", "missing, invalid or expired credentials"),
    (
        "429",
        "RateLimited",
        "too many requests from this caller or organisation; see Retry-After",
    ),
    ("503", "Unavailable", "the store or the broker cannot be reached"),
];
const WITH_QUERY: [(&str, &str, &str); 1] = [(
    "400",
    "InvalidQuery",
    "a query parameter is not of its type or out of its range; `field` names it",
)];
const WITH_BODY: [(&str, &str, &str); 4] = [
    (
        "400",
        "MalformedJson",
        "the body is not JSON, or not the JSON asked for",
    ),
    ("413", "BodyTooLarge", "the body is over the limit"),
    ("415", "UnsupportedMediaType", "the body is not application/json"),
    (
        "422",
        "InvalidField",
        "a field is missing or breaks a rule; `field` names it",
    ),
];

/// Makes every operation's errors problem+json and adds the statuses every
/// secured operation (401, 429, 503), every operation with query parameters
/// (400) and every operation with a body (400, 413, 415, 422) can answer,
/// where the route does not already describe them.
struct Problems;

impl Modify for Problems {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        for (_, name, description) in ANY_OPERATION
            .iter()
            .chain(&SECURED)
            .chain(&WITH_QUERY)
            .chain(&WITH_BODY)
        {
            components
                .responses
                .insert((*name).to_string(), RefOr::T(problem(description)));
        }
        for item in openapi.paths.paths.values_mut() {
            for operation in operations(item) {
                add_problems(operation);
            }
        }
    }
}

fn problem(description: &str) -> Response {
    let schema = RefOr::Ref(Ref::from_schema_name("Problem"));
    ResponseBuilder::new()
        .description(description)
        .content(PROBLEM_JSON, Content::new(Some(schema)))
        .build()
}

fn operations(item: &mut PathItem) -> impl Iterator<Item = &mut Operation> {
    [
        item.get.as_mut(),
        item.put.as_mut(),
        item.post.as_mut(),
        item.delete.as_mut(),
        item.patch.as_mut(),
        item.head.as_mut(),
        item.options.as_mut(),
        item.trace.as_mut(),
    ]
    .into_iter()
    .flatten()
}

fn add_problems(operation: &mut Operation) {
    let secured = operation.security.as_ref().is_some_and(|s| !s.is_empty());
    let with_body = operation.request_body.is_some();
    let with_query = operation
        .parameters
        .iter()
        .flatten()
        .any(|p| p.parameter_in == ParameterIn::Query);
    let responses = &mut operation.responses.responses;
    for response in responses.values_mut() {
        if let RefOr::T(response) = response {
            as_problem_json(response);
        }
    }
    let wanted = ANY_OPERATION
        .iter()
        .chain(SECURED.iter().filter(|_| secured))
        .chain(WITH_QUERY.iter().filter(|_| with_query))
        .chain(WITH_BODY.iter().filter(|_| with_body));
    for (status, name, _) in wanted {
        responses
            .entry((*status).to_string())
            .or_insert_with(|| RefOr::Ref(Ref::from_response_name(*name)));
    }
}

/// A `Problem` body documented as `application/json` is problem+json on the wire.
fn as_problem_json(response: &mut Response) {
    let Some(content) = response.content.shift_remove("application/json") else {
        return;
    };
    let is_problem = matches!(&content.schema, Some(RefOr::Ref(r)) if r.ref_location.ends_with("/Problem"));
    let media_type = if is_problem { PROBLEM_JSON } else { "application/json" };
    response.content.insert(media_type.to_string(), content);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> serde_json::Value {
        serde_json::to_value(ApiDoc::openapi()).unwrap()
    }

    fn operations(doc: &serde_json::Value) -> Vec<(String, &serde_json::Value)> {
        let mut all = Vec::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                all.push((format!("{} {path}", method.to_uppercase()), operation));
            }
        }
        all
    }

    #[test]
    fn every_secured_operation_documents_401_429_and_503_as_problems() {
        let doc = document();
        let secured: Vec<_> = operations(&doc)
            .into_iter()
            .filter(|(_, op)| op.get("security").is_some())
            .collect();
        assert!(secured.len() > 30, "{}", secured.len());
        for (name, op) in secured {
            for status in ["401", "429", "503"] {
                assert!(op["responses"].get(status).is_some(), "{name} lacks {status}");
            }
        }
    }

    #[test]
    fn no_problem_is_documented_as_plain_json() {
        let doc = document();
        let mut problems = 0;
        for (name, op) in operations(&doc) {
            for (status, response) in op["responses"].as_object().unwrap() {
                let content = &response["content"];
                let plain = &content["application/json"]["schema"]["$ref"];
                assert_ne!(plain, "#/components/schemas/Problem", "{name} {status}");
                problems += usize::from(content.get(PROBLEM_JSON).is_some());
            }
        }
        assert!(problems > 50, "{problems}");
    }

    #[test]
    fn every_query_parameter_is_in_the_query_and_optional_except_in_a_providers_request() {
        let doc = document();
        for (name, op) in operations(&doc) {
            for parameter in op["parameters"].as_array().into_iter().flatten() {
                let path_has_it = name.contains(&format!("{{{}}}", parameter["name"].as_str().unwrap()));
                match path_has_it {
                    true => assert_eq!(parameter["in"], "path", "{name}: {parameter}"),
                    false if parameter["in"] == "header" => {
                        assert_ne!(parameter["required"], true, "{name}: {parameter}")
                    }
                    false => {
                        assert_eq!(parameter["in"], "query", "{name}: {parameter}");
                        // Only a provider's request, whose query the provider
                        // writes, may require a parameter.
                        if !name.contains(" /webhooks/") {
                            assert_ne!(parameter["required"], true, "{name}: {parameter}");
                        }
                    }
                }
            }
        }
    }
}
