//! A conversation with a customer across channels. Its messages and calls
//! are recorded by their own aggregates, carrying the thread's id; threads
//! are started by messages, so this aggregate has no creation command: its
//! first command, whichever, starts its history. What it records is what
//! agents do to the thread: who it is assigned to, its closing and
//! reopening, and how far each user has read it.
//!
//! Nothing moves backwards and a repeat records nothing, so a command sent
//! twice (a retried request, two agents clicking at once) is harmless.

use chrono::{DateTime, Utc};
use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

use crate::OrganisationId;

/// Why a closed thread was opened again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReopenReason {
    /// An agent reopened it.
    Agent,
    /// The customer wrote to it again.
    CustomerWrote,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ThreadCommand {
    /// Gives the thread to a user, or to nobody (`None`).
    Assign {
        thread_id: Uuid,
        organisation_id: OrganisationId,
        assignee: Option<Uuid>,
        at: DateTime<Utc>,
    },
    Close {
        thread_id: Uuid,
        organisation_id: OrganisationId,
        at: DateTime<Utc>,
    },
    Reopen {
        thread_id: Uuid,
        organisation_id: OrganisationId,
        reason: ReopenReason,
        at: DateTime<Utc>,
    },
    /// `user_id` has read everything up to `through`.
    MarkRead {
        thread_id: Uuid,
        organisation_id: OrganisationId,
        user_id: Uuid,
        through: DateTime<Utc>,
        at: DateTime<Utc>,
    },
}

impl ThreadCommand {
    fn thread_id(&self) -> Uuid {
        match self {
            Self::Assign { thread_id, .. }
            | Self::Close { thread_id, .. }
            | Self::Reopen { thread_id, .. }
            | Self::MarkRead { thread_id, .. } => *thread_id,
        }
    }

    fn organisation_id(&self) -> OrganisationId {
        match self {
            Self::Assign { organisation_id, .. }
            | Self::Close { organisation_id, .. }
            | Self::Reopen { organisation_id, .. }
            | Self::MarkRead { organisation_id, .. } => *organisation_id,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ThreadEvent {
    ThreadAssigned {
        thread_id: Uuid,
        organisation_id: OrganisationId,
        assignee: Option<Uuid>,
        /// Who had it before, `None` if nobody.
        previous: Option<Uuid>,
        at: DateTime<Utc>,
    },
    ThreadClosed {
        thread_id: Uuid,
        organisation_id: OrganisationId,
        at: DateTime<Utc>,
    },
    ThreadReopened {
        thread_id: Uuid,
        organisation_id: OrganisationId,
        reason: ReopenReason,
        at: DateTime<Utc>,
    },
    ThreadRead {
        thread_id: Uuid,
        organisation_id: OrganisationId,
        user_id: Uuid,
        through: DateTime<Utc>,
        at: DateTime<Utc>,
    },
}

impl ThreadEvent {
    pub fn thread_id(&self) -> Uuid {
        match self {
            Self::ThreadAssigned { thread_id, .. }
            | Self::ThreadClosed { thread_id, .. }
            | Self::ThreadReopened { thread_id, .. }
            | Self::ThreadRead { thread_id, .. } => *thread_id,
        }
    }

    pub fn organisation_id(&self) -> OrganisationId {
        match self {
            Self::ThreadAssigned { organisation_id, .. }
            | Self::ThreadClosed { organisation_id, .. }
            | Self::ThreadReopened { organisation_id, .. }
            | Self::ThreadRead { organisation_id, .. } => *organisation_id,
        }
    }
}

impl DomainEvent for ThreadEvent {
    fn event_type(&self) -> String {
        match self {
            Self::ThreadAssigned { .. } => "ThreadAssigned",
            Self::ThreadClosed { .. } => "ThreadClosed",
            Self::ThreadReopened { .. } => "ThreadReopened",
            Self::ThreadRead { .. } => "ThreadRead",
        }
        .to_string()
    }

    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

/// One variant per rule a thread command can break.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ThreadError {
    /// 404: the thread belongs to another organisation.
    #[error("no such thread")]
    OtherOrganisation,
    /// 422: the command names another thread than this one.
    #[error("the command names another thread")]
    OtherThread,
}

#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Thread {
    pub id: Option<Uuid>,
    pub organisation_id: Option<OrganisationId>,
    /// When it was closed, while it is closed.
    pub closed_at: Option<DateTime<Utc>>,
    pub assignee: Option<Uuid>,
    /// How far each user has read: user → read through.
    pub reads: BTreeMap<Uuid, DateTime<Utc>>,
}

impl Thread {
    pub fn is_closed(&self) -> bool {
        self.closed_at.is_some()
    }

    fn decide(&self, command: ThreadCommand) -> Result<Vec<ThreadEvent>, ThreadError> {
        if self.organisation_id.is_some_and(|org| org != command.organisation_id()) {
            return Err(ThreadError::OtherOrganisation);
        }
        if self.id.is_some_and(|id| id != command.thread_id()) {
            return Err(ThreadError::OtherThread);
        }
        Ok(match command {
            ThreadCommand::Assign {
                thread_id,
                organisation_id,
                assignee,
                at,
            } => self.assign(thread_id, organisation_id, assignee, at),
            ThreadCommand::Close {
                thread_id,
                organisation_id,
                at,
            } => self.close(thread_id, organisation_id, at),
            ThreadCommand::Reopen {
                thread_id,
                organisation_id,
                reason,
                at,
            } => self.reopen(thread_id, organisation_id, reason, at),
            ThreadCommand::MarkRead {
                thread_id,
                organisation_id,
                user_id,
                through,
                at,
            } => self.mark_read(thread_id, organisation_id, user_id, through, at),
        })
    }

    fn assign(
        &self,
        thread_id: Uuid,
        organisation_id: OrganisationId,
        assignee: Option<Uuid>,
        at: DateTime<Utc>,
    ) -> Vec<ThreadEvent> {
        if self.assignee == assignee {
            return Vec::new();
        }
        vec![ThreadEvent::ThreadAssigned {
            thread_id,
            organisation_id,
            assignee,
            previous: self.assignee,
            at,
        }]
    }

    fn close(&self, thread_id: Uuid, organisation_id: OrganisationId, at: DateTime<Utc>) -> Vec<ThreadEvent> {
        if self.is_closed() {
            return Vec::new();
        }
        vec![ThreadEvent::ThreadClosed {
            thread_id,
            organisation_id,
            at,
        }]
    }

    fn reopen(
        &self,
        thread_id: Uuid,
        organisation_id: OrganisationId,
        reason: ReopenReason,
        at: DateTime<Utc>,
    ) -> Vec<ThreadEvent> {
        if !self.is_closed() {
            return Vec::new();
        }
        vec![ThreadEvent::ThreadReopened {
            thread_id,
            organisation_id,
            reason,
            at,
        }]
    }

    fn mark_read(
        &self,
        thread_id: Uuid,
        organisation_id: OrganisationId,
        user_id: Uuid,
        through: DateTime<Utc>,
        at: DateTime<Utc>,
    ) -> Vec<ThreadEvent> {
        if self.reads.get(&user_id).is_some_and(|read| through <= *read) {
            return Vec::new();
        }
        vec![ThreadEvent::ThreadRead {
            thread_id,
            organisation_id,
            user_id,
            through,
            at,
        }]
    }
}

impl Aggregate for Thread {
    const TYPE: &'static str = "thread";
    type Command = ThreadCommand;
    type Event = ThreadEvent;
    type Error = ThreadError;
    type Services = ();

    async fn handle(&mut self, command: Self::Command, _: &(), sink: &EventSink<Self>) -> Result<(), Self::Error> {
        crate::write_all(self, sink, self.decide(command)?).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        self.id = Some(event.thread_id());
        self.organisation_id = Some(event.organisation_id());
        match event {
            ThreadEvent::ThreadAssigned { assignee, .. } => self.assignee = assignee,
            ThreadEvent::ThreadClosed { at, .. } => self.closed_at = Some(at),
            ThreadEvent::ThreadReopened { .. } => self.closed_at = None,
            ThreadEvent::ThreadRead { user_id, through, .. } => {
                self.reads.insert(user_id, through);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;

    type Given = TestFramework<Thread>;

    const ORG: Uuid = Uuid::from_u128(1);
    const THREAD: Uuid = Uuid::from_u128(2);
    const ASHA: Uuid = Uuid::from_u128(3);
    const RAVI: Uuid = Uuid::from_u128(4);

    fn at(seconds: i64) -> DateTime<Utc> {
        DateTime::from_timestamp(seconds, 0).unwrap()
    }

    fn assign(assignee: Option<Uuid>) -> ThreadCommand {
        ThreadCommand::Assign {
            thread_id: THREAD,
            organisation_id: ORG,
            assignee,
            at: at(10),
        }
    }

    fn assigned(assignee: Option<Uuid>, previous: Option<Uuid>) -> ThreadEvent {
        ThreadEvent::ThreadAssigned {
            thread_id: THREAD,
            organisation_id: ORG,
            assignee,
            previous,
            at: at(10),
        }
    }

    fn close() -> ThreadCommand {
        ThreadCommand::Close {
            thread_id: THREAD,
            organisation_id: ORG,
            at: at(20),
        }
    }

    fn closed() -> ThreadEvent {
        ThreadEvent::ThreadClosed {
            thread_id: THREAD,
            organisation_id: ORG,
            at: at(20),
        }
    }

    fn reopen(reason: ReopenReason) -> ThreadCommand {
        ThreadCommand::Reopen {
            thread_id: THREAD,
            organisation_id: ORG,
            reason,
            at: at(30),
        }
    }

    fn reopened(reason: ReopenReason) -> ThreadEvent {
        ThreadEvent::ThreadReopened {
            thread_id: THREAD,
            organisation_id: ORG,
            reason,
            at: at(30),
        }
    }

    fn mark_read(user_id: Uuid, through: i64) -> ThreadCommand {
        ThreadCommand::MarkRead {
            thread_id: THREAD,
            organisation_id: ORG,
            user_id,
            through: at(through),
            at: at(40),
        }
    }

    fn read(user_id: Uuid, through: i64) -> ThreadEvent {
        ThreadEvent::ThreadRead {
            thread_id: THREAD,
            organisation_id: ORG,
            user_id,
            through: at(through),
            at: at(40),
        }
    }

    fn after(events: Vec<ThreadEvent>) -> Thread {
        let mut thread = Thread::default();
        events.into_iter().for_each(|e| thread.apply(e));
        thread
    }

    #[test]
    fn an_unassigned_thread_is_assigned_with_nobody_before() {
        Given::with(())
            .given_no_previous_events()
            .when(assign(Some(ASHA)))
            .then_expect_events(vec![assigned(Some(ASHA), None)]);
    }

    #[test]
    fn a_reassignment_records_who_had_the_thread_before() {
        Given::with(())
            .given(vec![assigned(Some(ASHA), None)])
            .when(assign(Some(RAVI)))
            .then_expect_events(vec![assigned(Some(RAVI), Some(ASHA))]);
    }

    #[test]
    fn an_assigned_thread_can_be_given_back_to_nobody() {
        Given::with(())
            .given(vec![assigned(Some(ASHA), None)])
            .when(assign(None))
            .then_expect_events(vec![assigned(None, Some(ASHA))]);
    }

    #[test]
    fn assigning_the_current_assignee_again_records_nothing() {
        Given::with(())
            .given(vec![assigned(Some(ASHA), None)])
            .when(assign(Some(ASHA)))
            .then_expect_events(vec![]);
    }

    #[test]
    fn assigning_nobody_to_a_never_assigned_thread_records_nothing() {
        Given::with(())
            .given_no_previous_events()
            .when(assign(None))
            .then_expect_events(vec![]);
    }

    #[test]
    fn an_open_thread_is_closed() {
        Given::with(())
            .given(vec![read(ASHA, 5)])
            .when(close())
            .then_expect_events(vec![closed()]);
    }

    #[test]
    fn a_thread_without_history_can_be_closed() {
        Given::with(())
            .given_no_previous_events()
            .when(close())
            .then_expect_events(vec![closed()]);
    }

    #[test]
    fn closing_a_closed_thread_records_nothing() {
        Given::with(())
            .given(vec![closed()])
            .when(close())
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_closed_thread_is_reopened_with_its_reason() {
        Given::with(())
            .given(vec![closed()])
            .when(reopen(ReopenReason::CustomerWrote))
            .then_expect_events(vec![reopened(ReopenReason::CustomerWrote)]);
    }

    #[test]
    fn reopening_an_open_thread_records_nothing() {
        Given::with(())
            .given(vec![closed(), reopened(ReopenReason::Agent)])
            .when(reopen(ReopenReason::CustomerWrote))
            .then_expect_events(vec![]);
    }

    #[test]
    fn reopening_a_thread_without_history_records_nothing() {
        Given::with(())
            .given_no_previous_events()
            .when(reopen(ReopenReason::Agent))
            .then_expect_events(vec![]);
    }

    #[test]
    fn close_reopen_close_records_three_events() {
        let commands = [close(), reopen(ReopenReason::Agent), close()];
        let mut thread = Thread::default();
        let mut recorded = Vec::new();
        for command in commands {
            let events = thread.decide(command).unwrap();
            events.iter().cloned().for_each(|e| thread.apply(e));
            recorded.extend(events);
        }
        assert_eq!(recorded, vec![closed(), reopened(ReopenReason::Agent), closed()]);
        assert!(thread.is_closed());
    }

    #[test]
    fn a_first_read_is_recorded() {
        Given::with(())
            .given_no_previous_events()
            .when(mark_read(ASHA, 100))
            .then_expect_events(vec![read(ASHA, 100)]);
    }

    #[test]
    fn reading_further_is_recorded() {
        Given::with(())
            .given(vec![read(ASHA, 100)])
            .when(mark_read(ASHA, 101))
            .then_expect_events(vec![read(ASHA, 101)]);
    }

    #[test]
    fn reading_as_far_again_records_nothing() {
        Given::with(())
            .given(vec![read(ASHA, 100)])
            .when(mark_read(ASHA, 100))
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_read_never_moves_backwards() {
        Given::with(())
            .given(vec![read(ASHA, 100)])
            .when(mark_read(ASHA, 99))
            .then_expect_events(vec![]);
    }

    #[test]
    fn one_user_reading_does_not_mark_the_thread_read_for_another() {
        Given::with(())
            .given(vec![read(ASHA, 100)])
            .when(mark_read(RAVI, 50))
            .then_expect_events(vec![read(RAVI, 50)]);
        let thread = after(vec![read(ASHA, 100)]);
        assert_eq!(thread.reads.get(&RAVI), None);
    }

    #[test]
    fn a_command_for_another_organisation_is_refused() {
        let command = ThreadCommand::Close {
            thread_id: THREAD,
            organisation_id: Uuid::from_u128(9),
            at: at(20),
        };
        Given::with(())
            .given(vec![assigned(Some(ASHA), None)])
            .when(command)
            .then_expect_error(ThreadError::OtherOrganisation);
    }

    #[test]
    fn a_command_naming_another_thread_is_refused() {
        let command = ThreadCommand::MarkRead {
            thread_id: Uuid::from_u128(9),
            organisation_id: ORG,
            user_id: ASHA,
            through: at(100),
            at: at(40),
        };
        Given::with(())
            .given(vec![assigned(Some(ASHA), None)])
            .when(command)
            .then_expect_error(ThreadError::OtherThread);
    }

    #[test]
    fn every_command_names_its_thread_and_organisation() {
        let other = Uuid::from_u128(9);
        let commands = [
            assign(Some(ASHA)),
            close(),
            reopen(ReopenReason::Agent),
            mark_read(ASHA, 100),
        ];
        for command in commands {
            assert_eq!((command.thread_id(), command.organisation_id()), (THREAD, ORG));
            let mut elsewhere = after(vec![read(RAVI, 1)]);
            elsewhere.organisation_id = Some(other);
            assert_eq!(elsewhere.decide(command.clone()), Err(ThreadError::OtherOrganisation));
            let mut another = after(vec![read(RAVI, 1)]);
            another.id = Some(other);
            assert_eq!(another.decide(command), Err(ThreadError::OtherThread));
        }
    }

    #[test]
    fn every_event_names_its_thread_and_organisation() {
        let events = [
            assigned(Some(ASHA), None),
            closed(),
            reopened(ReopenReason::Agent),
            read(ASHA, 100),
        ];
        for event in events {
            assert_eq!((event.thread_id(), event.organisation_id()), (THREAD, ORG));
        }
    }

    #[test]
    fn event_type_names_are_pinned() {
        assert_eq!(assigned(None, None).event_type(), "ThreadAssigned");
        assert_eq!(closed().event_type(), "ThreadClosed");
        assert_eq!(reopened(ReopenReason::Agent).event_type(), "ThreadReopened");
        assert_eq!(read(ASHA, 1).event_type(), "ThreadRead");
        for event in [
            assigned(None, None),
            closed(),
            reopened(ReopenReason::Agent),
            read(ASHA, 1),
        ] {
            assert_eq!(event.event_version(), "1.0");
        }
    }

    #[test]
    fn reopen_reasons_keep_their_stored_names() {
        let names = [ReopenReason::Agent, ReopenReason::CustomerWrote].map(|r| serde_json::to_value(r).unwrap());
        assert_eq!(names, [serde_json::json!("agent"), serde_json::json!("customer_wrote")]);
    }

    #[test]
    fn the_thread_remembers_its_assignee_its_closing_and_each_users_read() {
        let thread = after(vec![
            assigned(Some(ASHA), None),
            read(ASHA, 100),
            read(RAVI, 50),
            read(ASHA, 120),
            closed(),
        ]);
        let expected = Thread {
            id: Some(THREAD),
            organisation_id: Some(ORG),
            closed_at: Some(at(20)),
            assignee: Some(ASHA),
            reads: BTreeMap::from([(ASHA, at(120)), (RAVI, at(50))]),
        };
        assert_eq!(thread, expected);
        assert!(thread.is_closed());
        let reopened = after(vec![
            closed(),
            reopened(ReopenReason::Agent),
            assigned(None, Some(ASHA)),
        ]);
        assert_eq!(reopened.closed_at, None);
        assert_eq!(reopened.assignee, None);
        assert!(!reopened.is_closed());
    }

    #[test]
    fn the_first_event_of_any_kind_sets_the_threads_id_and_organisation() {
        for event in [
            assigned(None, None),
            closed(),
            reopened(ReopenReason::Agent),
            read(ASHA, 1),
        ] {
            let thread = after(vec![event]);
            assert_eq!((thread.id, thread.organisation_id), (Some(THREAD), Some(ORG)));
        }
    }
}
