//! Threads: which thread a message or call joins, and what agents do to a
//! thread (assign, close, reopen, mark read) under the role rules:
//! admins and managers act on every thread of their organisation; agents
//! see and act on threads assigned to them or to nobody, and assign only
//! themselves (taking an unassigned thread, or giving up their own).

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use uuid::Uuid;

use domain::email_thread::new_thread_id;
use domain::thread::{ReopenReason, Thread, ThreadCommand, ThreadError};
use domain::user::User;
use domain::{OrganisationId, Role};

use crate::CommandError;
use crate::error::StoreError;
use crate::metadata::EventMetadata;
use crate::store::AggregateStore;
use crate::users::Acting;

/// How many days after it was closed a customer's message reopens a thread
/// instead of starting a new one, unless configured.
pub const DEFAULT_REOPEN_DAYS: i64 = 7;

/// A thread as the read model knows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThreadState {
    pub thread_id: Uuid,
    /// Its customer as they are now (merges followed).
    pub customer_id: Option<Uuid>,
    pub closed: bool,
    pub closed_at: Option<DateTime<Utc>>,
    pub assignee_id: Option<Uuid>,
    pub last_item_at: Option<DateTime<Utc>>,
}

/// The threads read model, as the write side needs it.
#[async_trait]
pub trait ThreadDirectory: Send + Sync {
    async fn find(&self, organisation_id: OrganisationId, thread_id: Uuid) -> Result<Option<ThreadState>, StoreError>;
    /// The customer's latest thread (any channel), merges followed.
    async fn latest_of_customer(
        &self,
        organisation_id: OrganisationId,
        customer_id: Uuid,
    ) -> Result<Option<ThreadState>, StoreError>;
}

/// Why a thread could not be acted on.
#[derive(Debug, thiserror::Error)]
pub enum ThreadsError {
    /// 404: no such thread, another organisation's, or one the agent may not see.
    #[error("no such thread")]
    NotFound,
    /// 403: agents assign only themselves.
    #[error("an agent may only assign a thread to themselves or give up their own")]
    AssignOthers,
    /// 422 on `user_id`: not an active user of the organisation.
    #[error("the user is not an active member of this organisation")]
    UnknownUser,
    /// 403: reading is recorded per user; an API key acting for nobody cannot read.
    #[error("only a user's own reading is recorded")]
    NoReader,
    #[error(transparent)]
    Command(#[from] CommandError<ThreadError>),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a new item goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub thread_id: Uuid,
    /// The thread is closed and the customer's message reopens it.
    pub reopens: bool,
}

/// The thread a customer's new message joins: their latest thread while it
/// is open, or closed less than `reopen_within` ago (then it reopens);
/// else a new thread, named after the item so deciding again gives the same.
pub fn placement_for_inbound(
    latest: Option<&ThreadState>,
    item_id: Uuid,
    reopen_within: Duration,
    now: DateTime<Utc>,
) -> Placement {
    match latest {
        Some(thread) if !thread.closed => Placement {
            thread_id: thread.thread_id,
            reopens: false,
        },
        Some(thread) if thread.closed_at.is_some_and(|at| now - at < reopen_within) => Placement {
            thread_id: thread.thread_id,
            reopens: true,
        },
        _ => Placement {
            thread_id: new_thread_id(item_id),
            reopens: false,
        },
    }
}

/// The thread a message or call the organisation starts joins, when no
/// thread was named: the customer's open thread, else a new one.
pub fn placement_for_outbound(latest: Option<&ThreadState>, item_id: Uuid) -> Uuid {
    match latest {
        Some(thread) if !thread.closed => thread.thread_id,
        _ => new_thread_id(item_id),
    }
}

/// What places new messages and calls on threads.
#[derive(Clone, Copy)]
pub struct ThreadLinks<'a> {
    pub directory: &'a dyn ThreadDirectory,
    pub store: &'a dyn AggregateStore<Thread>,
    /// A closed thread reopens when its customer writes within this long.
    pub reopen_within: Duration,
}

impl ThreadLinks<'_> {
    /// The thread an item the organisation starts joins: the one asked for,
    /// else the customer's open thread, else a new one.
    pub async fn for_outbound(
        &self,
        organisation_id: OrganisationId,
        customer_id: Uuid,
        asked: Option<Uuid>,
        item_id: Uuid,
    ) -> Result<Uuid, StoreError> {
        if let Some(thread_id) = asked {
            return Ok(thread_id);
        }
        let latest = self.directory.latest_of_customer(organisation_id, customer_id).await?;
        Ok(placement_for_outbound(latest.as_ref(), item_id))
    }

    /// Where a customer's message goes (see [`placement_for_inbound`]).
    pub async fn for_inbound(
        &self,
        organisation_id: OrganisationId,
        customer_id: Uuid,
        item_id: Uuid,
        now: DateTime<Utc>,
    ) -> Result<Placement, StoreError> {
        let latest = self.directory.latest_of_customer(organisation_id, customer_id).await?;
        Ok(placement_for_inbound(latest.as_ref(), item_id, self.reopen_within, now))
    }

    /// Reopens the thread a customer wrote to.
    pub async fn reopen(
        &self,
        organisation_id: OrganisationId,
        thread_id: Uuid,
        meta: &EventMetadata,
    ) -> Result<(), CommandError<ThreadError>> {
        let command = ThreadCommand::Reopen {
            thread_id,
            organisation_id,
            reason: ReopenReason::CustomerWrote,
            at: Utc::now(),
        };
        self.store.execute(&thread_id.to_string(), command, meta).await
    }
}

/// Whether `acting` may see a thread assigned to `assignee`.
pub fn may_see(acting: &Acting, assignee: Option<Uuid>) -> bool {
    match acting.role {
        Role::Admin | Role::Manager => true,
        Role::Agent => assignee.is_none() || assignee == acting.user_id,
        Role::Auditor => false,
    }
}

/// The thread use cases.
pub struct Threads<'a> {
    pub store: &'a dyn AggregateStore<Thread>,
    pub directory: &'a dyn ThreadDirectory,
    pub users: &'a dyn AggregateStore<User>,
}

impl Threads<'_> {
    /// The thread, if the caller may see it.
    pub async fn visible(&self, acting: &Acting, thread_id: Uuid) -> Result<ThreadState, ThreadsError> {
        let thread = self.directory.find(acting.organisation_id, thread_id).await?;
        thread
            .filter(|t| may_see(acting, t.assignee_id))
            .ok_or(ThreadsError::NotFound)
    }

    /// Assigns the thread to `assignee`, or to nobody.
    pub async fn assign(
        &self,
        acting: &Acting,
        thread_id: Uuid,
        assignee: Option<Uuid>,
        meta: &EventMetadata,
    ) -> Result<(), ThreadsError> {
        self.visible(acting, thread_id).await?;
        if acting.role == Role::Agent && assignee.is_some_and(|a| Some(a) != acting.user_id) {
            return Err(ThreadsError::AssignOthers);
        }
        if let Some(user_id) = assignee {
            self.ensure_member(acting.organisation_id, user_id).await?;
        }
        let command = ThreadCommand::Assign {
            thread_id,
            organisation_id: acting.organisation_id,
            assignee,
            at: Utc::now(),
        };
        self.run(thread_id, command, meta).await
    }

    /// Closes the thread (closing a closed thread changes nothing).
    pub async fn close(&self, acting: &Acting, thread_id: Uuid, meta: &EventMetadata) -> Result<(), ThreadsError> {
        self.visible(acting, thread_id).await?;
        let command = ThreadCommand::Close {
            thread_id,
            organisation_id: acting.organisation_id,
            at: Utc::now(),
        };
        self.run(thread_id, command, meta).await
    }

    /// Reopens the thread (reopening an open thread changes nothing).
    pub async fn reopen(&self, acting: &Acting, thread_id: Uuid, meta: &EventMetadata) -> Result<(), ThreadsError> {
        self.visible(acting, thread_id).await?;
        let command = ThreadCommand::Reopen {
            thread_id,
            organisation_id: acting.organisation_id,
            reason: ReopenReason::Agent,
            at: Utc::now(),
        };
        self.run(thread_id, command, meta).await
    }

    /// Records that the caller has read the thread through its last item.
    pub async fn mark_read(&self, acting: &Acting, thread_id: Uuid, meta: &EventMetadata) -> Result<(), ThreadsError> {
        let thread = self.visible(acting, thread_id).await?;
        let user_id = acting.user_id.ok_or(ThreadsError::NoReader)?;
        let now = Utc::now();
        let command = ThreadCommand::MarkRead {
            thread_id,
            organisation_id: acting.organisation_id,
            user_id,
            through: thread.last_item_at.unwrap_or(now),
            at: now,
        };
        self.run(thread_id, command, meta).await
    }

    async fn ensure_member(&self, organisation_id: OrganisationId, user_id: Uuid) -> Result<(), ThreadsError> {
        let user = self.users.load(&user_id.to_string()).await?.map(|l| l.aggregate);
        match user {
            Some(u) if u.organisation_id == Some(organisation_id) && u.active => Ok(()),
            _ => Err(ThreadsError::UnknownUser),
        }
    }

    async fn run(&self, thread_id: Uuid, command: ThreadCommand, meta: &EventMetadata) -> Result<(), ThreadsError> {
        self.store
            .execute(&thread_id.to_string(), command, meta)
            .await
            .map_err(ThreadsError::Command)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thread(closed_at: Option<DateTime<Utc>>) -> ThreadState {
        ThreadState {
            thread_id: Uuid::from_u128(1),
            customer_id: None,
            closed: closed_at.is_some(),
            closed_at,
            assignee_id: None,
            last_item_at: None,
        }
    }

    #[test]
    fn a_customers_message_joins_their_open_thread() {
        let now = Utc::now();
        let open = thread(None);
        let placed = placement_for_inbound(Some(&open), Uuid::from_u128(9), Duration::days(7), now);
        assert_eq!(
            placed,
            Placement {
                thread_id: open.thread_id,
                reopens: false
            }
        );
    }

    #[test]
    fn a_message_within_the_reopen_window_reopens_the_closed_thread_and_after_it_starts_a_new_one() {
        let now = Utc::now();
        let item = Uuid::from_u128(9);
        let recent = thread(Some(now - Duration::days(6)));
        let placed = placement_for_inbound(Some(&recent), item, Duration::days(7), now);
        assert_eq!(
            placed,
            Placement {
                thread_id: recent.thread_id,
                reopens: true
            }
        );
        let old = thread(Some(now - Duration::days(7)));
        let placed = placement_for_inbound(Some(&old), item, Duration::days(7), now);
        assert_eq!(
            placed,
            Placement {
                thread_id: new_thread_id(item),
                reopens: false
            }
        );
        let placed = placement_for_inbound(None, item, Duration::days(7), now);
        assert_eq!(
            placed,
            Placement {
                thread_id: new_thread_id(item),
                reopens: false
            }
        );
    }

    #[test]
    fn an_outbound_item_joins_the_open_thread_and_never_a_closed_one() {
        let item = Uuid::from_u128(9);
        assert_eq!(placement_for_outbound(Some(&thread(None)), item), Uuid::from_u128(1));
        assert_eq!(
            placement_for_outbound(Some(&thread(Some(Utc::now()))), item),
            new_thread_id(item)
        );
        assert_eq!(placement_for_outbound(None, item), new_thread_id(item));
    }

    #[test]
    fn agents_see_their_own_and_unassigned_threads_and_managers_see_all() {
        let me = Uuid::from_u128(5);
        let other = Uuid::from_u128(6);
        let agent = Acting {
            organisation_id: Uuid::from_u128(1),
            role: Role::Agent,
            user_id: Some(me),
        };
        assert!(may_see(&agent, None));
        assert!(may_see(&agent, Some(me)));
        assert!(!may_see(&agent, Some(other)));
        for role in [Role::Manager, Role::Admin] {
            let acting = Acting { role, ..agent };
            assert!(may_see(&acting, Some(other)));
        }
    }

    mod use_cases {
        use super::*;
        use crate::memory::Memory;
        use domain::EmailAddress;
        use domain::user::UserCommand;

        const ORG: Uuid = Uuid::from_u128(7);
        const THREAD: Uuid = Uuid::from_u128(1);

        /// A read model holding one thread, and that thread as a customer's latest.
        struct Known(ThreadState);

        #[async_trait]
        impl ThreadDirectory for Known {
            async fn find(&self, _: OrganisationId, id: Uuid) -> Result<Option<ThreadState>, StoreError> {
                Ok((id == self.0.thread_id).then(|| self.0.clone()))
            }

            async fn latest_of_customer(&self, _: OrganisationId, _: Uuid) -> Result<Option<ThreadState>, StoreError> {
                Ok(Some(self.0.clone()))
            }
        }

        fn state(assignee_id: Option<Uuid>, closed: bool) -> Known {
            let at = Utc::now() - Duration::minutes(5);
            Known(ThreadState {
                thread_id: THREAD,
                customer_id: Some(Uuid::from_u128(3)),
                closed,
                closed_at: closed.then_some(at),
                assignee_id,
                last_item_at: Some(at),
            })
        }

        fn meta() -> EventMetadata {
            EventMetadata::system("test", Some(ORG))
        }

        fn acting(role: Role, user_id: Option<Uuid>) -> Acting {
            Acting {
                organisation_id: ORG,
                role,
                user_id,
            }
        }

        /// A user store with `name`'s user registered in `organisation_id`; the user's id.
        async fn member(users: &Memory<User>, organisation_id: OrganisationId, name: &str) -> Uuid {
            let email = EmailAddress::parse(&format!("{name}@acme.test")).unwrap();
            let user_id = domain::user::user_id_for(organisation_id, &email);
            let register = UserCommand::Register {
                user_id,
                organisation_id,
                email,
                display_name: name.into(),
                password_hash: "hash".into(),
                role: Role::Agent,
                registered_by: None,
                at: Utc::now(),
            };
            users.execute(&user_id.to_string(), register, &meta()).await.unwrap();
            user_id
        }

        async fn thread_of(store: &Memory<Thread>) -> Option<Thread> {
            store.load(&THREAD.to_string()).await.unwrap().map(|l| l.aggregate)
        }

        #[tokio::test]
        async fn an_agent_takes_an_unassigned_thread_for_themselves_but_never_for_a_colleague() {
            let (store, users) = (Memory::<Thread>::new(), Memory::<User>::new());
            let me = member(&users, ORG, "asha").await;
            let colleague = member(&users, ORG, "ravi").await;
            let directory = state(None, false);
            let threads = Threads {
                store: &store,
                directory: &directory,
                users: &users,
            };
            let agent = acting(Role::Agent, Some(me));
            let refused = threads
                .assign(&agent, THREAD, Some(colleague), &meta())
                .await
                .unwrap_err();
            assert!(matches!(refused, ThreadsError::AssignOthers), "{refused:?}");
            threads.assign(&agent, THREAD, None, &meta()).await.unwrap();
            assert!(
                thread_of(&store).await.is_none(),
                "nothing to give up, nothing recorded"
            );
            threads.assign(&agent, THREAD, Some(me), &meta()).await.unwrap();
            assert_eq!(thread_of(&store).await.unwrap().assignee, Some(me));
        }

        #[tokio::test]
        async fn a_manager_assigns_only_active_members_of_the_organisation() {
            let (store, users) = (Memory::<Thread>::new(), Memory::<User>::new());
            let colleague = member(&users, ORG, "ravi").await;
            let gone = member(&users, ORG, "gone").await;
            let deactivate = UserCommand::Deactivate {
                organisation_id: ORG,
                acting_user_id: None,
            };
            users.execute(&gone.to_string(), deactivate, &meta()).await.unwrap();
            let stranger = member(&users, Uuid::from_u128(8), "stranger").await;
            let directory = state(None, false);
            let threads = Threads {
                store: &store,
                directory: &directory,
                users: &users,
            };
            let manager = acting(Role::Manager, Some(Uuid::from_u128(60)));
            for user in [gone, stranger, Uuid::from_u128(61)] {
                let refused = threads.assign(&manager, THREAD, Some(user), &meta()).await.unwrap_err();
                assert!(matches!(refused, ThreadsError::UnknownUser), "{user}: {refused:?}");
            }
            assert!(thread_of(&store).await.is_none());
            threads
                .assign(&manager, THREAD, Some(colleague), &meta())
                .await
                .unwrap();
            assert_eq!(thread_of(&store).await.unwrap().assignee, Some(colleague));
        }

        #[tokio::test]
        async fn a_colleagues_thread_is_not_found_to_an_agent_whatever_they_do() {
            let (store, users) = (Memory::<Thread>::new(), Memory::<User>::new());
            let me = member(&users, ORG, "asha").await;
            let directory = state(Some(Uuid::from_u128(62)), false);
            let threads = Threads {
                store: &store,
                directory: &directory,
                users: &users,
            };
            let agent = acting(Role::Agent, Some(me));
            let outcomes = [
                threads.assign(&agent, THREAD, Some(me), &meta()).await,
                threads.close(&agent, THREAD, &meta()).await,
                threads.reopen(&agent, THREAD, &meta()).await,
                threads.mark_read(&agent, THREAD, &meta()).await,
            ];
            for outcome in outcomes {
                assert!(matches!(outcome, Err(ThreadsError::NotFound)), "{outcome:?}");
            }
            let other = threads.close(&agent, Uuid::from_u128(2), &meta()).await;
            assert!(matches!(other, Err(ThreadsError::NotFound)), "{other:?}");
            assert!(thread_of(&store).await.is_none());
        }

        #[tokio::test]
        async fn closing_reopening_and_reading_are_recorded_on_the_thread() {
            let (store, users) = (Memory::<Thread>::new(), Memory::<User>::new());
            let directory = state(None, false);
            let threads = Threads {
                store: &store,
                directory: &directory,
                users: &users,
            };
            let reader = Uuid::from_u128(63);
            let manager = acting(Role::Manager, Some(reader));
            threads.close(&manager, THREAD, &meta()).await.unwrap();
            assert!(thread_of(&store).await.unwrap().is_closed());
            threads.reopen(&manager, THREAD, &meta()).await.unwrap();
            assert!(!thread_of(&store).await.unwrap().is_closed());
            threads.mark_read(&manager, THREAD, &meta()).await.unwrap();
            let read = thread_of(&store).await.unwrap().reads.get(&reader).copied();
            assert_eq!(read, directory.0.last_item_at, "read through the last item");
            let key = acting(Role::Admin, None);
            let refused = threads.mark_read(&key, THREAD, &meta()).await.unwrap_err();
            assert!(matches!(refused, ThreadsError::NoReader), "{refused:?}");
        }

        #[tokio::test]
        async fn an_outbound_item_goes_where_it_is_sent_else_to_the_open_thread_else_to_a_new_one() {
            let store = Memory::<Thread>::new();
            let item = Uuid::from_u128(90);
            let customer = Uuid::from_u128(3);
            let (open, closed) = (state(None, false), state(None, true));
            let links = |directory| ThreadLinks {
                directory,
                store: &store,
                reopen_within: Duration::days(7),
            };
            let asked = Uuid::from_u128(4);
            assert_eq!(
                links(&open)
                    .for_outbound(ORG, customer, Some(asked), item)
                    .await
                    .unwrap(),
                asked
            );
            assert_eq!(
                links(&open).for_outbound(ORG, customer, None, item).await.unwrap(),
                THREAD
            );
            assert_eq!(
                links(&closed).for_outbound(ORG, customer, None, item).await.unwrap(),
                new_thread_id(item)
            );
            let placed = links(&closed)
                .for_inbound(ORG, customer, item, Utc::now())
                .await
                .unwrap();
            assert_eq!(
                placed,
                Placement {
                    thread_id: THREAD,
                    reopens: true
                }
            );
        }

        #[tokio::test]
        async fn a_customers_message_reopens_their_closed_thread() {
            let (store, users) = (Memory::<Thread>::new(), Memory::<User>::new());
            let directory = state(None, false);
            let threads = Threads {
                store: &store,
                directory: &directory,
                users: &users,
            };
            threads
                .close(&acting(Role::Admin, None), THREAD, &meta())
                .await
                .unwrap();
            let links = ThreadLinks {
                directory: &directory,
                store: &store,
                reopen_within: Duration::days(7),
            };
            links.reopen(ORG, THREAD, &meta()).await.unwrap();
            assert!(!thread_of(&store).await.unwrap().is_closed());
        }
    }
}
