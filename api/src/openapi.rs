//! The OpenAPI document, generated from the handlers.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::routes;

#[derive(OpenApi)]
#[openapi(
    info(title = "Switchboard", description = "Business communications over Exotel, SMS, WhatsApp and e-mail, with the event history as the audit log."),
    paths(
        routes::auth::login,
        routes::users::list, routes::users::create, routes::users::get, routes::users::update,
        routes::users::deactivate, routes::users::reactivate, routes::users::reset_password, routes::users::me, routes::users::change_password,
        routes::api_keys::list, routes::api_keys::create, routes::api_keys::revoke,
        routes::organisation::get, routes::organisation::rename,
        routes::integrations::list, routes::integrations::get, routes::integrations::configure, routes::integrations::test, routes::integrations::disable, routes::integrations::enable,
        routes::integrations::delete, routes::integrations::get_permission, routes::integrations::put_permission,
        routes::integrations::configuration_status,
        routes::email_accounts::test, routes::email_accounts::create, routes::email_accounts::list, routes::email_accounts::get, routes::email_accounts::update, routes::email_accounts::remove,
        routes::phone_numbers::sync, routes::phone_numbers::list, routes::phone_numbers::assign, routes::phone_numbers::make_primary,
        routes::emails::send, routes::emails::get,
        routes::email_inbox::poll_now, routes::email_inbox::list_threads, routes::email_inbox::get_thread,
        routes::audit::events, routes::audit::history, routes::audit::state_at, routes::audit::verify,
        routes::system::health, routes::system::ready,
    ),
    components(schemas(crate::error::Problem)),
    modifiers(&BearerAuth)
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
