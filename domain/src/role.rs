use serde::{Deserialize, Serialize};

/// What a user or API key may do inside its organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Manages users, API keys and integrations.
    Admin,
    /// Runs the operation: campaigns, reports, every conversation.
    Manager,
    /// Talks to customers.
    Agent,
    /// Reads the audit history and nothing else.
    Auditor,
}

impl Role {
    /// The stable name used in URLs, tokens and configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Agent => "agent",
            Role::Auditor => "auditor",
        }
    }

    /// Parses the stable name back.
    pub fn parse(name: &str) -> Option<Role> {
        match name {
            "admin" => Some(Role::Admin),
            "manager" => Some(Role::Manager),
            "agent" => Some(Role::Agent),
            "auditor" => Some(Role::Auditor),
            _ => None,
        }
    }

    /// Whether this role may manage users, API keys and settings.
    pub fn can_administer(self) -> bool {
        self == Role::Admin
    }

    /// Whether this role may read the audit history.
    pub fn can_audit(self) -> bool {
        matches!(self, Role::Admin | Role::Auditor)
    }

    /// Whether this role may read the organisation's people and resources.
    pub fn can_read_directory(self) -> bool {
        matches!(self, Role::Admin | Role::Manager | Role::Agent)
    }

    /// Whether everything `other` may do, this role may do too: nobody
    /// hands out a role above their own.
    pub fn includes(self, other: Role) -> bool {
        self == other || self == Role::Admin || (self == Role::Manager && other == Role::Agent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_role_name_parses_back_to_its_role() {
        for role in ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
    }

    const ALL: [Role; 4] = [Role::Admin, Role::Manager, Role::Agent, Role::Auditor];

    fn allowed(can: fn(Role) -> bool) -> Vec<Role> {
        ALL.into_iter().filter(|r| can(*r)).collect()
    }

    #[test]
    fn only_admins_administer() {
        assert_eq!(allowed(Role::can_administer), [Role::Admin]);
    }

    #[test]
    fn only_admins_and_auditors_read_the_audit_history() {
        assert_eq!(allowed(Role::can_audit), [Role::Admin, Role::Auditor]);
    }

    #[test]
    fn everyone_but_an_auditor_reads_the_directory() {
        assert_eq!(
            allowed(Role::can_read_directory),
            [Role::Admin, Role::Manager, Role::Agent]
        );
    }

    #[test]
    fn an_unknown_role_name_is_no_role() {
        assert_eq!(Role::parse("owner"), None);
        assert_eq!(Role::parse("Admin"), None);
    }

    #[test]
    fn an_admin_includes_every_role_and_a_manager_only_agents_besides_itself() {
        use Role::*;
        let all = [Admin, Manager, Agent, Auditor];
        let included = |role: Role| {
            all.into_iter()
                .filter(|other| role.includes(*other))
                .collect::<Vec<_>>()
        };
        assert_eq!(included(Admin), all);
        assert_eq!(included(Manager), [Manager, Agent]);
        assert_eq!(included(Agent), [Agent]);
        assert_eq!(included(Auditor), [Auditor]);
    }
}
