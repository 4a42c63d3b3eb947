//! Asking for a call: permission and daily limit, the numbers checked,
//! the caller id chosen, and the intent recorded. Nothing is sent to the
//! provider here; the dispatcher places recorded calls.

use chrono::{DateTime, Utc};
use uuid::Uuid;

use domain::OrganisationId;
use domain::call::{Call, CallCommand, CallRequest, Direction, Purpose, Verification};
use domain::integration::IntegrationKind;
use domain::integration::IntegrationStatus;
use domain::integration::settings::phone_number;
use domain::phone_numbers::PhoneNumbers;
use domain::user::User;

use super::{Calls, CallsError, MAX_CUSTOM_DATA_BYTES, visible};
use crate::metadata::EventMetadata;
use crate::policy;
use crate::store::execute_new_returning;
use crate::users::Acting;

/// A click-to-call request as the caller gave it.
#[derive(Debug, Clone, PartialEq)]
pub struct CallInput {
    /// The caller's idempotency: the same id and request again is the same call.
    pub call_id: Uuid,
    pub agent_user_id: Option<Uuid>,
    pub agent_phone: Option<String>,
    pub customer_phone: String,
    pub caller_id: Option<String>,
    pub record: bool,
    pub recording_channels: u8,
    pub time_limit_secs: Option<u32>,
    pub custom_data: Option<String>,
    pub purpose: Purpose,
    pub verified: bool,
    /// What a verified call shows as its reason; needed when `verified`.
    pub verification_reason: Option<String>,
    /// The thread the call goes on (a thread's own route gives it); by
    /// default the customer's open thread, or a new one.
    pub thread_id: Option<Uuid>,
}

impl Calls<'_> {
    /// Records the intent of a click-to-call and returns the call as
    /// recorded (for the same id and request again, as first recorded).
    pub async fn request(&self, acting: &Acting, input: CallInput, meta: &EventMetadata) -> Result<Call, CallsError> {
        let organisation_id = acting.organisation_id;
        let existing = self.load(input.call_id).await?;
        if let Some(existing) = &existing
            && !existing.is_in(organisation_id)
        {
            return Err(CallsError::Command(crate::CommandError::Rejected(
                domain::call::CallError::CallIdReused,
            )));
        }
        self.permit(acting).await?;
        self.ensure_configured(organisation_id).await?;
        if input.verified && self.verified.provider(organisation_id).is_none() {
            return Err(CallsError::VerificationUnavailable);
        }
        if input.time_limit_secs == Some(0) {
            return Err(CallsError::Invalid(domain::integration::settings::SettingsError {
                field: "time_limit".into(),
                reason: "a call lasts at least one second".into(),
            }));
        }
        if input
            .custom_data
            .as_ref()
            .is_some_and(|d| d.len() > MAX_CUSTOM_DATA_BYTES)
        {
            return Err(CallsError::CustomDataTooLong);
        }
        let customer_phone = phone_number("customer_phone", &input.customer_phone)?;
        let agent = match input.agent_user_id {
            Some(user_id) => Some(self.active_member(organisation_id, user_id).await?),
            None => None,
        };
        let agent_phone = match (&input.agent_phone, agent.as_ref().and_then(|a| a.phone.clone())) {
            (Some(phone), _) => phone_number("agent_phone", phone)?,
            (None, Some(own)) => own,
            (None, None) => return Err(CallsError::AgentPhoneMissing),
        };
        if input.purpose == Purpose::Promotional {
            self.ensure_reachable_by_promotion(organisation_id, &customer_phone)
                .await?;
        }
        let numbers = self.numbers_of(organisation_id).await?;
        let caller_id = caller_id(&numbers, input.caller_id.as_deref(), input.agent_user_id)?;
        let customer_id = domain::customer::phone_customer_id(organisation_id, &customer_phone);
        let thread_id = self
            .threads
            .for_outbound(organisation_id, customer_id, input.thread_id, input.call_id)
            .await?;
        let request = CallRequest {
            organisation_id,
            direction: Direction::Outbound,
            requested_by: acting.user_id,
            agent_user_id: agent.and(input.agent_user_id),
            agent_phone,
            customer_phone,
            customer_id: Some(customer_id),
            caller_id,
            time_limit_secs: input.time_limit_secs,
            record: input.record,
            recording_channels: input.recording_channels,
            custom_data: input.custom_data,
            purpose: input.purpose,
            verified: input.verified,
            masked_session_id: None,
            verification: input.verification_reason.map(|reason| Verification { reason }),
            thread_id: Some(thread_id),
        };
        let command = CallCommand::Request {
            request: Box::new(request),
            at: Utc::now(),
        };
        let id = input.call_id.to_string();
        // A new call id (none was found above) appends without reading; the
        // same request again runs against what its id holds. The answer is
        // the state the command committed.
        let committed = match existing {
            None => execute_new_returning(self.store, &id, command, meta).await?,
            Some(_) => self.store.execute_returning(&id, command, meta).await?,
        };
        visible(Some(committed.aggregate), organisation_id)
    }

    /// Use of the `exotel_phone` integration, within the daily limit.
    async fn permit(&self, acting: &Acting) -> Result<(), CallsError> {
        // An admin may always use it, with no daily limit: nothing to look up.
        if acting.role == domain::Role::Admin {
            return Ok(());
        }
        let grant = self.access.grant(acting, IntegrationKind::ExotelPhone).await?;
        let limited = grant.is_some_and(|g| g.daily_limit.is_some());
        let used = match (limited, acting.user_id) {
            (true, Some(user_id)) => {
                let since = start_of_day(Utc::now());
                self.directory
                    .requested_since(acting.organisation_id, user_id, since)
                    .await?
            }
            _ => 0,
        };
        Ok(policy::may_use(acting.role, grant, used)?)
    }

    /// The organisation's Exotel phone integration is set up and enabled.
    async fn ensure_configured(&self, organisation_id: OrganisationId) -> Result<(), CallsError> {
        let integration = self
            .integrations
            .current(organisation_id, IntegrationKind::ExotelPhone)
            .await?;
        match integration {
            Some(i) if i.status == IntegrationStatus::Active && i.settings.is_some() => Ok(()),
            _ => Err(CallsError::NotConfigured),
        }
    }

    /// A promotional call may reach a DND number only once the account has
    /// whitelisted it; Exotel is asked (a look-up, nothing placed).
    async fn ensure_reachable_by_promotion(
        &self,
        organisation_id: OrganisationId,
        customer_phone: &str,
    ) -> Result<(), CallsError> {
        let account = crate::phone_numbers::exotel_phone_account(organisation_id, &self.integrations)
            .await
            .map_err(|_| CallsError::NotConfigured)?;
        let info = self.numbers_api.number_info(&account, customer_phone).await?;
        if !info.dnd {
            return Ok(());
        }
        let standing = self.numbers_api.whitelist_standing(&account, customer_phone).await?;
        match standing.status.eq_ignore_ascii_case("whitelist") {
            true => Ok(()),
            false => Err(CallsError::CustomerOnDnd),
        }
    }

    async fn active_member(&self, organisation_id: OrganisationId, user_id: Uuid) -> Result<User, CallsError> {
        let user = self.access.users.load(&user_id.to_string()).await?.map(|l| l.aggregate);
        user.filter(|u| u.organisation_id == Some(organisation_id) && u.active)
            .ok_or(CallsError::UnknownAgent)
    }

    async fn numbers_of(&self, organisation_id: OrganisationId) -> Result<PhoneNumbers, CallsError> {
        let loaded = self.numbers.load(&organisation_id.to_string()).await?;
        Ok(loaded.map(|l| l.aggregate).unwrap_or_default())
    }
}

/// The number the call shows: the one asked for, which must be an active
/// number of the organisation's; else the agent's own assigned number;
/// else the organisation's primary; else its first active number.
fn caller_id(numbers: &PhoneNumbers, asked: Option<&str>, agent: Option<Uuid>) -> Result<String, CallsError> {
    let active = || numbers.numbers.iter().filter(|(_, n)| n.active && n.details.can_call);
    if let Some(asked) = asked {
        let asked = phone_number("caller_id", asked)?;
        return match active().any(|(_, n)| n.phone_number == asked) {
            true => Ok(asked),
            false => Err(CallsError::UnknownCallerId),
        };
    }
    let assigned = agent.and_then(|user| active().find(|(_, n)| n.assigned_to == Some(user)));
    let primary = || {
        let primary = numbers.primary?;
        active().find(|(id, _)| **id == primary)
    };
    assigned
        .or_else(primary)
        .or_else(|| active().next())
        .map(|(_, n)| n.phone_number.clone())
        .ok_or(CallsError::NoCallerId)
}

fn start_of_day(now: DateTime<Utc>) -> DateTime<Utc> {
    now.date_naive().and_hms_opt(0, 0, 0).map_or(now, |t| t.and_utc())
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::phone_numbers::{NumberDetails, NumberState};

    fn number(phone: &str, active: bool, can_call: bool, assigned_to: Option<Uuid>) -> NumberState {
        NumberState {
            phone_number: phone.into(),
            integration_id: Uuid::nil(),
            details: NumberDetails {
                exotel_sid: phone.into(),
                display_name: None,
                number_type: "virtual".into(),
                can_call,
                can_sms: false,
                region: None,
            },
            active,
            assigned_to,
        }
    }

    fn book(entries: Vec<(u128, NumberState)>, primary: Option<u128>) -> PhoneNumbers {
        PhoneNumbers {
            organisation_id: None,
            numbers: entries.into_iter().map(|(id, n)| (Uuid::from_u128(id), n)).collect(),
            primary: primary.map(Uuid::from_u128),
        }
    }

    const AGENT: Uuid = Uuid::from_u128(77);

    #[test]
    fn the_caller_id_is_the_agents_number_then_the_primary_then_any_active_one() {
        let numbers = book(
            vec![
                (1, number("+918047112201", true, true, None)),
                (2, number("+918047112202", true, true, Some(AGENT))),
                (3, number("+918047112203", true, true, None)),
            ],
            Some(3),
        );
        assert_eq!(caller_id(&numbers, None, Some(AGENT)).unwrap(), "+918047112202");
        assert_eq!(caller_id(&numbers, None, None).unwrap(), "+918047112203");
        assert_eq!(
            caller_id(&numbers, None, Some(Uuid::from_u128(5))).unwrap(),
            "+918047112203"
        );
        let no_primary = book(vec![(1, number("+918047112201", true, true, None))], None);
        assert_eq!(caller_id(&no_primary, None, None).unwrap(), "+918047112201");
    }

    #[test]
    fn a_released_or_voiceless_number_is_never_the_caller_id() {
        let numbers = book(
            vec![
                (1, number("+918047112201", false, true, Some(AGENT))),
                (2, number("+918047112202", true, false, None)),
                (3, number("+918047112203", true, true, None)),
            ],
            Some(1),
        );
        assert_eq!(caller_id(&numbers, None, Some(AGENT)).unwrap(), "+918047112203");
        assert!(matches!(
            caller_id(&numbers, Some("+918047112201"), None),
            Err(CallsError::UnknownCallerId)
        ));
        assert!(matches!(
            caller_id(&numbers, Some("+918047112202"), None),
            Err(CallsError::UnknownCallerId)
        ));
        assert!(matches!(
            caller_id(&book(vec![], None), None, None),
            Err(CallsError::NoCallerId)
        ));
    }

    #[test]
    fn an_explicit_caller_id_is_read_in_either_form_and_must_be_the_organisations() {
        let numbers = book(vec![(1, number("+918047112201", true, true, None))], None);
        assert_eq!(caller_id(&numbers, Some("08047112201"), None).unwrap(), "+918047112201");
        assert!(matches!(
            caller_id(&numbers, Some("+918047112299"), None),
            Err(CallsError::UnknownCallerId)
        ));
        assert!(matches!(
            caller_id(&numbers, Some("nope"), None),
            Err(CallsError::Invalid(e)) if e.field == "caller_id"
        ));
    }
}
