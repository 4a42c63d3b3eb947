//! One policy for who may use or configure an integration, applied by every
//! command that uses one.

use domain::Role;
use domain::integration_permission::Grant;

/// Why a use was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    #[error("you have not been granted use of this integration")]
    NotGranted,
    #[error("you may not configure this integration")]
    CannotConfigure,
    #[error("your daily limit of {limit} for this integration is used up")]
    DailyLimitReached { limit: u32 },
}

/// Admins may always use an integration; others need a grant, within its
/// daily limit.
pub fn may_use(role: Role, grant: Option<Grant>, used_today: u32) -> Result<(), Denied> {
    if role == Role::Admin {
        return Ok(());
    }
    let grant = grant.filter(|g| g.can_use).ok_or(Denied::NotGranted)?;
    match grant.daily_limit {
        Some(limit) if used_today >= limit => Err(Denied::DailyLimitReached { limit }),
        _ => Ok(()),
    }
}

/// Admins may always configure; others only with a grant to.
pub fn may_configure(role: Role, grant: Option<Grant>) -> Result<(), Denied> {
    if role == Role::Admin || (role != Role::Auditor && grant.is_some_and(|g| g.can_configure)) {
        return Ok(());
    }
    Err(Denied::CannotConfigure)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITED: Grant = Grant {
        can_use: true,
        can_configure: false,
        daily_limit: Some(2),
    };

    #[test]
    fn an_agent_without_a_grant_may_not_use_an_integration() {
        assert_eq!(may_use(Role::Agent, None, 0), Err(Denied::NotGranted));
    }

    #[test]
    fn a_granted_agent_may_use_it_until_the_daily_limit() {
        assert_eq!(may_use(Role::Agent, Some(LIMITED), 1), Ok(()));
        assert_eq!(
            may_use(Role::Agent, Some(LIMITED), 2),
            Err(Denied::DailyLimitReached { limit: 2 })
        );
    }

    #[test]
    fn admins_may_always_use_and_configure() {
        assert_eq!(may_use(Role::Admin, None, 1000), Ok(()));
        assert_eq!(may_configure(Role::Admin, None), Ok(()));
    }

    #[test]
    fn configuring_needs_its_own_grant() {
        assert_eq!(
            may_configure(Role::Manager, Some(LIMITED)),
            Err(Denied::CannotConfigure)
        );
        let configure = Grant {
            can_configure: true,
            ..LIMITED
        };
        assert_eq!(may_configure(Role::Manager, Some(configure)), Ok(()));
        assert_eq!(
            may_configure(Role::Auditor, Some(configure)),
            Err(Denied::CannotConfigure)
        );
    }
}
