//! The embedded default's sandbox: an organisation and an admin created on
//! first start, so a newcomer can log in at once.

use rand::Rng;
use rand::distributions::Alphanumeric;
use uuid::Uuid;

use application::accounts::NewUser;
use application::{AggregateStore, EventMetadata};
use domain::{EmailAddress, Role};
use infrastructure::InfraError;

use crate::secrets::write_private;
use crate::state::AppState;

/// The sandbox organisation's fixed id.
pub const SANDBOX_ORGANISATION: Uuid = Uuid::from_u128(0x5b1c_0a2e_7d41_4e3a_9f10_5a4d_b0c5_0001);
/// The sandbox admin's e-mail address.
pub const SANDBOX_ADMIN: &str = "admin@sandbox.switchboard.local";
const CREDENTIALS_FILE: &str = "sandbox-admin.txt";

/// Creates the sandbox on first start and says how to log in.
pub async fn ensure(state: &AppState) -> Result<(), InfraError> {
    let path = state.settings.data_dir.join(CREDENTIALS_FILE);
    let exists = state
        .organisations
        .load(&SANDBOX_ORGANISATION.to_string())
        .await
        .map_err(|e| InfraError::Config(e.0))?
        .is_some();
    if exists {
        println!(
            "Sandbox: log in as {SANDBOX_ADMIN}; the password is in {}",
            path.display()
        );
        return Ok(());
    }
    let meta = EventMetadata::system("sandbox", Some(SANDBOX_ORGANISATION));
    let accounts = state.accounts();
    accounts
        .create_organisation_with_id(SANDBOX_ORGANISATION, "Sandbox", &meta)
        .await
        .map_err(|e| InfraError::Config(format!("creating the sandbox organisation: {e}")))?;
    let password: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(20)
        .map(char::from)
        .collect();
    let email = EmailAddress::parse(SANDBOX_ADMIN).map_err(|e| InfraError::Config(e.to_string()))?;
    let admin = NewUser {
        organisation_id: SANDBOX_ORGANISATION,
        email,
        display_name: "Sandbox admin".into(),
        password: password.clone(),
        role: Role::Admin,
    };
    accounts
        .register_user(admin, &meta)
        .await
        .map_err(|e| InfraError::Config(format!("creating the sandbox admin: {e}")))?;
    write_private(&path, &format!("email: {SANDBOX_ADMIN}\npassword: {password}\n"))?;
    println!(
        "Sandbox ready. Log in with:\n  curl -s http://{}/api/v1/auth/login -H 'content-type: application/json' \\\n    -d '{{\"email\":\"{SANDBOX_ADMIN}\",\"password\":\"{password}\"}}'\n(the password is also in {})",
        state.settings.listen,
        path.display()
    );
    Ok(())
}
