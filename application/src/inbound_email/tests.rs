use super::*;
use std::collections::HashMap;
use std::sync::Mutex;

use crate::memory::Memory;
use domain::EmailAddress;
use domain::customer::customer_id;

/// The thread read model as a test fixture.
#[derive(Default)]
struct Index {
    by_message_id: Mutex<HashMap<String, Uuid>>,
    by_subject: Mutex<HashMap<(Uuid, String), Uuid>>,
}

#[async_trait]
impl ThreadIndex for Index {
    async fn thread_of(&self, _: OrganisationId, ids: &[String]) -> Result<Option<Uuid>, StoreError> {
        let known = self.by_message_id.lock().unwrap();
        Ok(ids.iter().find_map(|id| known.get(id).copied()))
    }

    async fn thread_with_subject(
        &self,
        _: OrganisationId,
        customer: Uuid,
        key: &str,
    ) -> Result<Option<Uuid>, StoreError> {
        Ok(self
            .by_subject
            .lock()
            .unwrap()
            .get(&(customer, key.to_string()))
            .copied())
    }
}

struct World {
    emails: Memory<InboundEmail>,
    customers: Memory<Customer>,
    index: Index,
    recent: RecentThreads,
}

const MAILBOX: Mailbox = Mailbox {
    account_id: Uuid::from_u128(1),
    organisation_id: Uuid::from_u128(2),
};

impl World {
    fn new() -> Self {
        Self {
            emails: Memory::new(),
            customers: Memory::new(),
            index: Index::default(),
            recent: RecentThreads::default(),
        }
    }

    fn use_case(&self) -> InboundEmails<'_> {
        InboundEmails {
            emails: &self.emails,
            customers: &self.customers,
            index: &self.index,
            recent: &self.recent,
        }
    }

    /// Records a message; its outcome and the thread it went to.
    async fn record(&self, uid: u32, parsed: ParsedEmail) -> (Ingested, Option<Uuid>) {
        let at = position(uid);
        let id = inbound_email_id(
            MAILBOX.account_id,
            MessageKey::best(parsed.message_id.as_deref(), Some(&parsed.sha256), &at),
        );
        let meta = EventMetadata::system("test", Some(MAILBOX.organisation_id));
        let outcome = self
            .use_case()
            .record(MAILBOX, position(uid), Fetched::Parsed(Box::new(parsed)), &meta)
            .await
            .unwrap();
        let loaded = self.emails.load(&id.to_string()).await.unwrap();
        (outcome, loaded.and_then(|l| l.aggregate.thread_id))
    }
}

fn position(uid: u32) -> MailPosition {
    MailPosition {
        folder: "INBOX".into(),
        uidvalidity: 1,
        uid,
    }
}

fn mail(message_id: &str, from: &str, subject: &str) -> ParsedEmail {
    ParsedEmail {
        message_id: Some(message_id.into()),
        in_reply_to: None,
        references: Vec::new(),
        from: Some(MailAddress {
            name: Some("Sender".into()),
            address: from.into(),
        }),
        to: Vec::new(),
        cc: Vec::new(),
        subject: Some(subject.into()),
        date: None,
        bodies: Bodies::default(),
        attachments: Vec::new(),
        size: 10,
        sha256: format!("sha-of-{message_id}"),
    }
}

fn reply(message_id: &str, from: &str, subject: &str, to: &str) -> ParsedEmail {
    ParsedEmail {
        in_reply_to: Some(to.into()),
        ..mail(message_id, from, subject)
    }
}

#[tokio::test]
async fn a_reply_fetched_with_its_original_joins_the_originals_thread() {
    let world = World::new();
    let (first, thread) = world.record(1, mail("a@x", "asha@example.in", "Order 7")).await;
    assert_eq!(first, Ingested::Received { new_thread: true });
    let (second, joined) = world
        .record(2, reply("b@x", "ravi@example.in", "Something else", "a@x"))
        .await;
    assert_eq!(second, Ingested::Received { new_thread: false });
    assert_eq!(joined, thread);
}

#[tokio::test]
async fn a_reply_to_an_email_switchboard_sent_joins_that_thread() {
    let world = World::new();
    let sent_thread = Uuid::from_u128(77);
    world
        .index
        .by_message_id
        .lock()
        .unwrap()
        .insert("sent-1@switchboard".into(), sent_thread);
    let mut answer = mail("c@x", "asha@example.in", "Re: your quote");
    answer.references = vec!["older@x".into(), "sent-1@switchboard".into()];
    let (outcome, thread) = world.record(1, answer).await;
    assert_eq!(
        (outcome, thread),
        (Ingested::Received { new_thread: false }, Some(sent_thread))
    );
}

#[tokio::test]
async fn the_same_customer_and_subject_join_one_thread_and_another_subject_starts_one() {
    let world = World::new();
    let (_, thread) = world.record(1, mail("a@x", "asha@example.in", "Invoice 42")).await;
    let (_, again) = world
        .record(2, mail("b@x", "Asha@Example.in", "RE: [Acme] invoice  42"))
        .await;
    assert_eq!(again, thread);
    let (outcome, other) = world.record(3, mail("c@x", "asha@example.in", "Delivery date")).await;
    assert_eq!(outcome, Ingested::Received { new_thread: true });
    assert_ne!(other, thread);
}

#[tokio::test]
async fn the_same_subject_from_another_customer_starts_its_own_thread() {
    let world = World::new();
    let (_, thread) = world.record(1, mail("a@x", "asha@example.in", "Invoice 42")).await;
    let (outcome, other) = world.record(2, mail("b@x", "ravi@example.in", "Invoice 42")).await;
    assert_eq!(outcome, Ingested::Received { new_thread: true });
    assert_ne!(other, thread);
}

#[tokio::test]
async fn a_known_subject_in_the_read_model_is_joined_after_a_restart() {
    let world = World::new();
    let asha = EmailAddress::parse("asha@example.in").unwrap();
    let customer = customer_id(MAILBOX.organisation_id, &asha);
    let thread = Uuid::from_u128(55);
    world
        .index
        .by_subject
        .lock()
        .unwrap()
        .insert((customer, "invoice 42".into()), thread);
    let (_, joined) = world.record(1, mail("a@x", "asha@example.in", "Fwd: Invoice 42")).await;
    assert_eq!(joined, Some(thread));
}

#[tokio::test]
async fn a_message_seen_twice_is_a_duplicate_and_changes_nothing() {
    let world = World::new();
    let (_, thread) = world.record(1, mail("a@x", "asha@example.in", "Order 7")).await;
    let (outcome, same) = world.record(9, mail("a@x", "asha@example.in", "Order 7")).await;
    assert_eq!((outcome, same), (Ingested::Duplicate, thread));
}

#[tokio::test]
async fn the_sender_becomes_a_customer_once() {
    let world = World::new();
    world.record(1, mail("a@x", "asha@example.in", "One")).await;
    world.record(2, mail("b@x", "ASHA@example.in", "Two")).await;
    let asha = EmailAddress::parse("asha@example.in").unwrap();
    let id = customer_id(MAILBOX.organisation_id, &asha);
    let customer = world.customers.load(&id.to_string()).await.unwrap().unwrap();
    assert_eq!(customer.version, 1);
    assert_eq!(customer.aggregate.email, Some(asha));
}

#[tokio::test]
async fn a_sender_without_a_readable_address_links_no_customer_and_never_matches_by_subject() {
    let world = World::new();
    let (_, thread) = world.record(1, mail("a@x", "not an address", "Hello")).await;
    let (outcome, other) = world.record(2, mail("b@x", "not an address", "Hello")).await;
    assert_eq!(outcome, Ingested::Received { new_thread: true });
    assert_ne!(thread, other);
}

#[tokio::test]
async fn a_rejected_message_is_recorded_once() {
    let world = World::new();
    let meta = EventMetadata::system("test", Some(MAILBOX.organisation_id));
    let rejected = || Fetched::Rejected {
        message_id: None,
        sha256: Some("ff".into()),
        size: 5,
        reason: RejectReason::Unparseable,
        detail: "no headers".into(),
    };
    let use_case = world.use_case();
    let first = use_case.record(MAILBOX, position(4), rejected(), &meta).await.unwrap();
    let second = use_case.record(MAILBOX, position(4), rejected(), &meta).await.unwrap();
    assert_eq!((first, second), (Ingested::Rejected, Ingested::Duplicate));
}

fn parsed(email: ParsedEmail) -> Fetched {
    Fetched::Parsed(Box::new(email))
}

#[tokio::test]
async fn a_batch_keeps_its_order_for_threading_though_its_commits_overlap() {
    let world = World::new();
    let meta = EventMetadata::system("test", Some(MAILBOX.organisation_id));
    let mut batch = vec![(position(1), parsed(mail("a@x", "asha@example.in", "Order 7")))];
    for n in 2..=20 {
        let reply = reply(&format!("r{n}@x"), "ravi@example.in", &format!("Topic {n}"), "a@x");
        batch.push((position(n), parsed(reply)));
    }
    let outcomes = world.use_case().record_all(MAILBOX, batch, &meta).await.unwrap();
    assert_eq!(outcomes[0], Ingested::Received { new_thread: true });
    assert!(
        outcomes[1..]
            .iter()
            .all(|o| *o == Ingested::Received { new_thread: false })
    );
    let (_, first) = world.record(1, mail("a@x", "asha@example.in", "Order 7")).await;
    let (_, last) = world
        .record(20, reply("r20@x", "ravi@example.in", "Topic 20", "a@x"))
        .await;
    assert_eq!(first, last);
}

#[tokio::test]
async fn a_message_recorded_before_leads_a_reply_in_the_same_batch_to_its_thread_after_a_restart() {
    let world = World::new();
    let (_, thread) = world.record(1, mail("a@x", "asha@example.in", "Order 7")).await;
    let restarted = RecentThreads::default();
    let use_case = InboundEmails {
        recent: &restarted,
        ..world.use_case()
    };
    let meta = EventMetadata::system("test", Some(MAILBOX.organisation_id));
    let batch = vec![
        (position(1), parsed(mail("a@x", "asha@example.in", "Order 7"))),
        (position(2), parsed(reply("b@x", "ravi@example.in", "Unrelated", "a@x"))),
    ];
    let outcomes = use_case.record_all(MAILBOX, batch, &meta).await.unwrap();
    assert_eq!(
        outcomes,
        [Ingested::Duplicate, Ingested::Received { new_thread: false }]
    );
    let (_, joined) = world
        .record(2, reply("b@x", "ravi@example.in", "Unrelated", "a@x"))
        .await;
    assert_eq!(joined, thread);
}

#[tokio::test]
async fn a_message_prepared_but_never_committed_still_starts_its_own_thread_when_fetched_again() {
    let world = World::new();
    let meta = EventMetadata::system("test", Some(MAILBOX.organisation_id));
    let abandoned = world
        .use_case()
        .prepare(
            MAILBOX,
            position(1),
            parsed(mail("a@x", "asha@example.in", "Order 7")),
            &meta,
        )
        .await
        .unwrap();
    drop(abandoned);
    let (outcome, _) = world.record(1, mail("a@x", "asha@example.in", "Order 7")).await;
    assert_eq!(outcome, Ingested::Received { new_thread: true });
}
