//! The webhook use cases over in-memory stores, a cipher that seals by
//! binding, an outbox in memory and a scripted receiver.

use super::*;
use domain::webhook_endpoint::WebhookEventType;
use std::collections::VecDeque;
use std::sync::Mutex;

use crate::memory::{BindingCipher, Keys, Memory};

const ORG: Uuid = Uuid::from_u128(1);
const ADMIN: Uuid = Uuid::from_u128(2);

struct Kept {
    record: DeliveryRecord,
    attempts: Vec<AttemptRecord>,
    leased_until: Option<DateTime<Utc>>,
}

#[derive(Default)]
struct Outbox {
    kept: Mutex<Vec<Kept>>,
    resumed: Mutex<Vec<(Uuid, DateTime<Utc>)>>,
}

impl Outbox {
    fn add(&self, record: DeliveryRecord) {
        self.kept.lock().unwrap().push(Kept {
            record,
            attempts: Vec::new(),
            leased_until: None,
        });
    }
    fn record(&self, id: Uuid) -> DeliveryRecord {
        let kept = self.kept.lock().unwrap();
        kept.iter().find(|k| k.record.delivery_id == id).unwrap().record.clone()
    }
    fn attempts(&self, id: Uuid) -> Vec<AttemptRecord> {
        let kept = self.kept.lock().unwrap();
        kept.iter()
            .find(|k| k.record.delivery_id == id)
            .unwrap()
            .attempts
            .clone()
    }
}

#[async_trait]
impl WebhookOutbox for Outbox {
    async fn due(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<DeliveryRecord>, StoreError> {
        let kept = self.kept.lock().unwrap();
        Ok(kept
            .iter()
            .filter(|k| k.record.state == DeliveryState::Pending)
            .filter(|k| k.record.next_attempt_at.is_some_and(|at| at <= now))
            .filter(|k| k.leased_until.is_none_or(|until| until <= now))
            .take(limit)
            .map(|k| k.record.clone())
            .collect())
    }
    async fn claim(&self, delivery_id: Uuid, now: DateTime<Utc>, until: DateTime<Utc>) -> Result<bool, StoreError> {
        let mut kept = self.kept.lock().unwrap();
        let found = kept.iter_mut().find(|k| k.record.delivery_id == delivery_id).unwrap();
        let due =
            found.record.state == DeliveryState::Pending && found.record.next_attempt_at.is_some_and(|at| at <= now);
        if !due || found.leased_until.is_some_and(|u| u > now) {
            return Ok(false);
        }
        found.leased_until = Some(until);
        Ok(true)
    }
    async fn finish(
        &self,
        delivery_id: Uuid,
        lease: DateTime<Utc>,
        attempt: &AttemptRecord,
        result: AttemptResult,
    ) -> Result<bool, StoreError> {
        let mut kept = self.kept.lock().unwrap();
        let found = kept.iter_mut().find(|k| k.record.delivery_id == delivery_id).unwrap();
        if found.leased_until != Some(lease) {
            return Ok(false);
        }
        found.attempts.push(attempt.clone());
        found.leased_until = None;
        found.record.attempts = attempt.attempt;
        found.record.last_status = attempt.status;
        found.record.last_error = attempt.error.clone();
        (found.record.state, found.record.next_attempt_at) = match result {
            AttemptResult::Succeeded => (DeliveryState::Succeeded, None),
            AttemptResult::Retry { at } => (DeliveryState::Pending, Some(at)),
            AttemptResult::GaveUp => (DeliveryState::Failed, None),
        };
        Ok(true)
    }
    async fn delivery(
        &self,
        endpoint_id: Uuid,
        delivery_id: Uuid,
    ) -> Result<Option<(DeliveryRecord, Vec<AttemptRecord>)>, StoreError> {
        let kept = self.kept.lock().unwrap();
        Ok(kept
            .iter()
            .find(|k| k.record.delivery_id == delivery_id && k.record.endpoint_id == endpoint_id)
            .map(|k| (k.record.clone(), k.attempts.clone())))
    }
    async fn redeliver(
        &self,
        endpoint_id: Uuid,
        delivery_id: Uuid,
        now: DateTime<Utc>,
        window_ends_at: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut kept = self.kept.lock().unwrap();
        let Some(found) = kept
            .iter_mut()
            .find(|k| k.record.delivery_id == delivery_id && k.record.endpoint_id == endpoint_id)
        else {
            return Ok(false);
        };
        found.record.state = DeliveryState::Pending;
        found.record.next_attempt_at = Some(now);
        found.record.window_ends_at = Some(window_ends_at);
        found.record.attempts_before_window = found.record.attempts;
        Ok(true)
    }
    async fn resume(&self, endpoint_id: Uuid, window_ends_at: DateTime<Utc>) -> Result<u64, StoreError> {
        self.resumed.lock().unwrap().push((endpoint_id, window_ends_at));
        Ok(1)
    }
}

/// A post as the receiver got it: URL, headers, body.
type Post = (String, Vec<(&'static str, String)>, String);

/// Refuses URLs naming 10.0.0.1; answers posts from a script (200 once spent).
#[derive(Default)]
struct Receiver {
    script: Mutex<VecDeque<Answer>>,
    got: Mutex<Vec<Post>>,
}

#[async_trait]
impl WebhookTransport for Receiver {
    fn check(&self, url: &str) -> Result<(), String> {
        match url.contains("10.0.0.1") {
            true => Err("10.0.0.1:80 is not a public address".into()),
            false => Ok(()),
        }
    }
    async fn post(&self, url: &str, headers: &[(&'static str, String)], body: &str) -> Answer {
        self.got
            .lock()
            .unwrap()
            .push((url.to_string(), headers.to_vec(), body.to_string()));
        self.script.lock().unwrap().pop_front().unwrap_or(Answer::Status(200))
    }
}

struct World {
    store: Memory<WebhookEndpoint>,
    keys: Keys,
    outbox: Outbox,
    receiver: Receiver,
}

const INITIAL: Duration = Duration::from_secs(5);
const WINDOW: Duration = Duration::from_secs(3600);
const OVERLAP: Duration = Duration::from_secs(600);

impl World {
    fn new() -> Self {
        Self {
            store: Memory::new(),
            keys: Keys::default(),
            outbox: Outbox::default(),
            receiver: Receiver::default(),
        }
    }

    fn webhooks(&self) -> Webhooks<'_> {
        Webhooks {
            store: &self.store,
            keys: &self.keys,
            cipher: &BindingCipher,
            outbox: &self.outbox,
            transport: &self.receiver,
            timing: WebhookTiming {
                retry_initial: INITIAL,
                window: WINDOW,
                secret_overlap: OVERLAP,
                lease: Duration::from_secs(60),
            },
        }
    }

    async fn register(&self) -> (Uuid, Zeroizing<String>) {
        let (endpoint, secret) = self
            .webhooks()
            .register(ORG, spec("https://crm.example.com/hooks"), Some(ADMIN), &meta())
            .await
            .unwrap();
        (endpoint.id.unwrap(), secret)
    }

    /// A delivery due now to `endpoint_id`, created `age` ago.
    fn due(&self, endpoint_id: Uuid, age: chrono::Duration) -> Uuid {
        let id = delivery_id(endpoint_id, &format!("call:c-{}:1", Uuid::new_v4()));
        let created_at = Utc::now() - age;
        self.outbox.add(DeliveryRecord {
            delivery_id: id,
            endpoint_id,
            organisation_id: ORG,
            event_type: "call.requested".into(),
            source_event: "call:c:1".into(),
            body: r#"{"type":"call.requested"}"#.into(),
            created_at,
            written_at: created_at,
            state: DeliveryState::Pending,
            attempts: 0,
            attempts_before_window: 0,
            next_attempt_at: Some(created_at),
            window_ends_at: None,
            last_status: None,
            last_error: None,
            delivered_at: None,
        });
        id
    }

    fn answer(&self, answers: impl IntoIterator<Item = Answer>) {
        self.receiver.script.lock().unwrap().extend(answers);
    }

    fn posts(&self) -> Vec<Post> {
        self.receiver.got.lock().unwrap().clone()
    }
}

fn meta() -> EventMetadata {
    EventMetadata::system("test", Some(ORG))
}

fn spec(url: &str) -> EndpointSpec {
    EndpointSpec {
        url: url.into(),
        event_types: vec![WebhookEventType::CallCompleted],
        description: "CRM".into(),
    }
}

fn header<'a>(headers: &'a [(&'static str, String)], name: &str) -> &'a str {
    headers
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.as_str())
        .unwrap()
}

#[tokio::test]
async fn a_url_the_address_rule_refuses_is_not_registered_and_makes_no_key() {
    let world = World::new();
    let refused = world
        .webhooks()
        .register(ORG, spec("http://10.0.0.1/hook"), Some(ADMIN), &meta())
        .await;
    assert!(matches!(refused, Err(WebhooksError::UrlRefused(reason)) if reason.contains("not a public")));
    let malformed = world
        .webhooks()
        .register(ORG, spec("ftp://crm.example.com/"), Some(ADMIN), &meta())
        .await;
    assert!(matches!(
        malformed,
        Err(WebhooksError::Command(CommandError::Rejected(
            WebhookEndpointError::InvalidUrl
        )))
    ));
    assert!(world.keys.all().await.unwrap().is_empty());
}

#[tokio::test]
async fn a_registered_endpoint_is_in_its_organisation_only_and_its_secret_is_sealed() {
    let world = World::new();
    let (id, secret) = world.register().await;
    let endpoint = world.webhooks().get(ORG, id).await.unwrap();
    assert_eq!(endpoint.spec.unwrap().url, "https://crm.example.com/hooks");
    assert_eq!(endpoint.created_by, Some(ADMIN));
    let sealed = endpoint.secret.unwrap();
    assert_ne!(sealed.ciphertext, *secret);
    assert!(!sealed.ciphertext.contains(secret.trim_start_matches("whsec_")));
    assert!(world.webhooks().get(Uuid::from_u128(9), id).await.is_err());
    assert_eq!(world.keys.all().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_due_delivery_is_posted_signed_with_the_secret_shown_at_registration() {
    let world = World::new();
    let (endpoint_id, secret) = world.register().await;
    let id = world.due(endpoint_id, chrono::Duration::zero());
    assert_eq!(world.webhooks().deliver_due(10).await.unwrap(), 1);
    let posts = world.posts();
    assert_eq!(posts.len(), 1);
    let (url, headers, body) = &posts[0];
    assert_eq!(url, "https://crm.example.com/hooks");
    assert_eq!(header(headers, "webhook-id"), webhook_id(id));
    assert_eq!(header(headers, "content-type"), "application/json");
    let timestamp: i64 = header(headers, "webhook-timestamp").parse().unwrap();
    assert!((Utc::now().timestamp() - timestamp).abs() <= 2);
    let key = signing::key_of(&secret).unwrap();
    assert_eq!(
        header(headers, "webhook-signature"),
        signing::sign(&key, &webhook_id(id), timestamp, body)
    );
    let record = world.outbox.record(id);
    assert_eq!(record.state, DeliveryState::Succeeded);
    assert_eq!(record.attempts, 1);
    assert_eq!(world.outbox.attempts(id)[0].status, Some(200));
    assert_eq!(world.outbox.attempts(id)[0].error, None);
    assert_eq!(
        world.webhooks().deliver_due(10).await.unwrap(),
        0,
        "nothing is due any more"
    );
}

#[tokio::test]
async fn a_failed_attempt_is_retried_after_the_initial_delay_then_four_times_longer() {
    let world = World::new();
    let (endpoint_id, _) = world.register().await;
    let id = world.due(endpoint_id, chrono::Duration::zero());
    world.answer([Answer::Status(500), Answer::Failed("connection refused".into())]);
    world.webhooks().deliver_due(10).await.unwrap();
    let first = world.outbox.record(id);
    assert_eq!(first.state, DeliveryState::Pending);
    assert_eq!(first.last_error.as_deref(), Some("HTTP 500"));
    assert_eq!(first.last_status, Some(500));
    let wait = first.next_attempt_at.unwrap() - Utc::now();
    assert!(
        wait > chrono::Duration::seconds(4) && wait <= chrono::Duration::seconds(5),
        "{wait}"
    );
    assert_eq!(
        world.webhooks().deliver_due(10).await.unwrap(),
        0,
        "not due before its time"
    );

    world.outbox.kept.lock().unwrap()[0].record.next_attempt_at = Some(Utc::now());
    world.webhooks().deliver_due(10).await.unwrap();
    let second = world.outbox.record(id);
    assert_eq!(second.attempts, 2);
    assert_eq!(second.last_status, None);
    assert_eq!(second.last_error.as_deref(), Some("connection refused"));
    let wait = second.next_attempt_at.unwrap() - Utc::now();
    assert!(
        wait > chrono::Duration::seconds(19) && wait <= chrono::Duration::seconds(20),
        "{wait}"
    );
}

#[tokio::test]
async fn the_last_retry_is_at_the_end_of_the_window_and_a_failure_after_it_disables_the_endpoint() {
    let world = World::new();
    let (endpoint_id, _) = world.register().await;
    let almost = chrono::Duration::from_std(WINDOW).unwrap() - chrono::Duration::seconds(2);
    let id = world.due(endpoint_id, almost);
    world.answer([Answer::Status(502), Answer::Status(502)]);
    world.webhooks().deliver_due(10).await.unwrap();
    let record = world.outbox.record(id);
    let window_ends_at = world.webhooks().window_ends_at(&record);
    assert_eq!(
        record.next_attempt_at,
        Some(window_ends_at),
        "clamped to the window's end"
    );
    assert!(world.webhooks().get(ORG, endpoint_id).await.unwrap().disabled.is_none());

    world.outbox.kept.lock().unwrap()[0].record.written_at -= chrono::Duration::seconds(5);
    world.outbox.kept.lock().unwrap()[0].record.next_attempt_at = Some(Utc::now());
    world.webhooks().deliver_due(10).await.unwrap();
    assert_eq!(world.outbox.record(id).state, DeliveryState::Failed);
    let endpoint = world.webhooks().get(ORG, endpoint_id).await.unwrap();
    let disabled = endpoint.disabled.expect("disabled");
    assert!(disabled.reason.contains("HTTP 502"), "{}", disabled.reason);
    assert!(disabled.reason.contains(&webhook_id(id)), "{}", disabled.reason);
    assert!(disabled.reason.contains("2 attempts"), "{}", disabled.reason);
    assert_eq!(disabled.by, None);
}

#[tokio::test]
async fn a_delivery_claimed_by_another_worker_is_not_posted() {
    let world = World::new();
    let (endpoint_id, _) = world.register().await;
    let id = world.due(endpoint_id, chrono::Duration::zero());
    assert!(
        world
            .outbox
            .claim(id, Utc::now(), Utc::now() + chrono::Duration::seconds(30))
            .await
            .unwrap()
    );
    assert_eq!(world.webhooks().deliver_due(10).await.unwrap(), 0);
    assert!(world.posts().is_empty());
}

#[tokio::test]
async fn a_delivery_to_a_deleted_endpoint_gives_up_without_a_post() {
    let world = World::new();
    let (endpoint_id, _) = world.register().await;
    let id = world.due(endpoint_id, chrono::Duration::zero());
    world.webhooks().delete(ORG, endpoint_id, &meta()).await.unwrap();
    assert!(world.keys.all().await.unwrap().is_empty(), "its key is destroyed");
    world.webhooks().deliver_due(10).await.unwrap();
    assert!(world.posts().is_empty());
    let record = world.outbox.record(id);
    assert_eq!(record.state, DeliveryState::Failed);
    assert_eq!(record.last_error.as_deref(), Some("the endpoint was deleted"));
}

#[tokio::test]
async fn a_rotated_secret_signs_beside_the_previous_one() {
    let world = World::new();
    let (endpoint_id, old) = world.register().await;
    let (endpoint, new) = world.webhooks().rotate_secret(ORG, endpoint_id, &meta()).await.unwrap();
    assert_ne!(*old, *new);
    let until = endpoint.previous_secret.unwrap().valid_until - Utc::now();
    assert!(until > chrono::Duration::seconds(590) && until <= chrono::Duration::seconds(600));
    let id = world.due(endpoint_id, chrono::Duration::zero());
    world.webhooks().deliver_due(10).await.unwrap();
    let (_, headers, body) = &world.posts()[0];
    let timestamp: i64 = header(headers, "webhook-timestamp").parse().unwrap();
    let sign = |secret: &str| signing::sign(&signing::key_of(secret).unwrap(), &webhook_id(id), timestamp, body);
    assert_eq!(
        header(headers, "webhook-signature"),
        format!("{} {}", sign(&new), sign(&old))
    );
}

#[tokio::test]
async fn redelivery_needs_an_enabled_endpoint_and_a_delivery_of_it() {
    let world = World::new();
    let (endpoint_id, _) = world.register().await;
    let id = world.due(endpoint_id, chrono::Duration::zero());
    world.webhooks().deliver_due(10).await.unwrap();
    let (record, attempts) = world.webhooks().redeliver(ORG, endpoint_id, id).await.unwrap();
    assert_eq!(record.state, DeliveryState::Pending);
    assert_eq!(attempts.len(), 1);
    let window = record.window_ends_at.unwrap() - Utc::now();
    assert!(window > chrono::Duration::seconds(3590), "a new window: {window}");
    let unknown = world.webhooks().redeliver(ORG, endpoint_id, Uuid::new_v4()).await;
    assert!(matches!(unknown, Err(WebhooksError::DeliveryNotFound)));

    let changed = world
        .webhooks()
        .change(
            ORG,
            endpoint_id,
            EndpointChange::default(),
            Some(false),
            Some(ADMIN),
            &meta(),
        )
        .await
        .unwrap();
    assert_eq!(changed.disabled.as_ref().map(|d| d.by), Some(Some(ADMIN)));
    let refused = world.webhooks().redeliver(ORG, endpoint_id, id).await;
    assert!(matches!(refused, Err(WebhooksError::EndpointDisabled)));
    assert!(world.outbox.resumed.lock().unwrap().is_empty());

    let enabled = world
        .webhooks()
        .change(
            ORG,
            endpoint_id,
            EndpointChange::default(),
            Some(true),
            Some(ADMIN),
            &meta(),
        )
        .await
        .unwrap();
    assert!(enabled.disabled.is_none());
    let resumed = world.outbox.resumed.lock().unwrap().clone();
    assert_eq!(resumed.len(), 1);
    assert_eq!(resumed[0].0, endpoint_id);
    assert!(resumed[0].1 - Utc::now() > chrono::Duration::seconds(3590));
}

#[tokio::test]
async fn a_changed_url_is_checked_by_the_address_rule() {
    let world = World::new();
    let (endpoint_id, _) = world.register().await;
    let change = EndpointChange {
        url: Some("http://10.0.0.1/x".into()),
        ..EndpointChange::default()
    };
    let refused = world
        .webhooks()
        .change(ORG, endpoint_id, change, None, Some(ADMIN), &meta())
        .await;
    assert!(matches!(refused, Err(WebhooksError::UrlRefused(_))));
    let change = EndpointChange {
        url: Some("https://crm.example.com/v2".into()),
        ..EndpointChange::default()
    };
    let changed = world
        .webhooks()
        .change(ORG, endpoint_id, change, None, Some(ADMIN), &meta())
        .await
        .unwrap();
    assert_eq!(changed.spec.unwrap().url, "https://crm.example.com/v2");
}

/// A receiver so slow that another worker claims the delivery meanwhile.
struct Overtaken<'a> {
    outbox: &'a Outbox,
}

#[async_trait]
impl WebhookTransport for Overtaken<'_> {
    fn check(&self, _: &str) -> Result<(), String> {
        Ok(())
    }
    async fn post(&self, _: &str, _: &[(&'static str, String)], _: &str) -> Answer {
        self.outbox.kept.lock().unwrap()[0].leased_until = Some(Utc::now() + chrono::Duration::hours(1));
        Answer::Status(500)
    }
}

#[tokio::test]
async fn an_attempt_that_outlived_its_claim_records_nothing() {
    let world = World::new();
    let (endpoint_id, _) = world.register().await;
    let id = world.due(endpoint_id, chrono::Duration::zero());
    let overtaken = Overtaken { outbox: &world.outbox };
    let webhooks = Webhooks {
        transport: &overtaken,
        ..world.webhooks()
    };
    assert_eq!(webhooks.deliver_due(10).await.unwrap(), 1);
    let record = world.outbox.record(id);
    assert_eq!(record.attempts, 0, "the other worker's claim stands");
    assert_eq!(record.state, DeliveryState::Pending);
    assert!(world.outbox.attempts(id).is_empty());
}

#[tokio::test]
async fn a_delivery_to_an_endpoint_disabled_since_it_was_listed_is_not_posted() {
    let world = World::new();
    let (endpoint_id, _) = world.register().await;
    let id = world.due(endpoint_id, chrono::Duration::zero());
    world
        .webhooks()
        .change(
            ORG,
            endpoint_id,
            EndpointChange::default(),
            Some(false),
            Some(ADMIN),
            &meta(),
        )
        .await
        .unwrap();
    world.webhooks().deliver_due(10).await.unwrap();
    assert!(world.posts().is_empty());
    assert_eq!(world.outbox.record(id).attempts, 0);
}

#[test]
fn a_delivery_has_one_id_per_endpoint_and_event_and_its_webhook_id_names_it() {
    let (one, two) = (Uuid::from_u128(1), Uuid::from_u128(2));
    let first = delivery_id(one, "call:c:1");
    assert_eq!(first, delivery_id(one, "call:c:1"));
    assert_ne!(first, delivery_id(two, "call:c:1"));
    assert_ne!(first, delivery_id(one, "call:c:2"));
    assert_ne!(first, Uuid::nil());
    assert_eq!(webhook_id(first), format!("msg_{}", first.simple()));
    assert_eq!(binding(one), format!("webhook_endpoint:{one}"));
    assert_ne!(binding(one), crate::email_accounts::binding(one));
}

#[tokio::test]
async fn asking_for_the_state_an_endpoint_is_in_changes_nothing() {
    let world = World::new();
    let (endpoint_id, _) = world.register().await;
    let enabled = world
        .webhooks()
        .change(
            ORG,
            endpoint_id,
            EndpointChange::default(),
            Some(true),
            Some(ADMIN),
            &meta(),
        )
        .await
        .unwrap();
    assert!(enabled.disabled.is_none());
    assert!(world.outbox.resumed.lock().unwrap().is_empty(), "nothing to resume");
    for _ in 0..2 {
        let disabled = world
            .webhooks()
            .change(
                ORG,
                endpoint_id,
                EndpointChange::default(),
                Some(false),
                Some(ADMIN),
                &meta(),
            )
            .await
            .unwrap();
        assert_eq!(
            disabled.disabled.map(|d| d.reason),
            Some("disabled by an admin".to_string())
        );
    }
}

#[tokio::test]
async fn after_a_redelivery_retries_start_again_from_the_first_delay() {
    let world = World::new();
    let (endpoint_id, _) = world.register().await;
    let id = world.due(endpoint_id, chrono::Duration::zero());
    world.answer([Answer::Status(500), Answer::Status(500), Answer::Status(500)]);
    world.webhooks().deliver_due(10).await.unwrap();
    world.outbox.kept.lock().unwrap()[0].record.next_attempt_at = Some(Utc::now());
    world.webhooks().deliver_due(10).await.unwrap();
    assert_eq!(world.outbox.record(id).attempts, 2);
    world.webhooks().redeliver(ORG, endpoint_id, id).await.unwrap();
    world.webhooks().deliver_due(10).await.unwrap();
    let record = world.outbox.record(id);
    assert_eq!(record.attempts, 3, "attempts keep counting");
    let wait = record.next_attempt_at.unwrap() - Utc::now();
    assert!(
        wait > chrono::Duration::seconds(4) && wait <= chrono::Duration::seconds(5),
        "{wait}"
    );
}
