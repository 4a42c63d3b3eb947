//! Two runtimes on one PostgreSQL database: every account is polled by
//! exactly one of them, and the other takes over when it dies.

use std::collections::HashSet;
use std::time::Duration;
use uuid::Uuid;

use api::runtime::Running;

use super::*;
use crate::support::{DEFAULT_NATS, distributed, launch};

const ACCOUNTS: usize = 4;
const EACH: i64 = 5;

/// Which runtimes' pollers have the account, by index.
fn polled_by(runtimes: &[&Running], account: Uuid) -> Vec<usize> {
    let has = |r: &&Running| r.state.receiving.receiver.hub.has(account);
    runtimes
        .iter()
        .enumerate()
        .filter(|(_, r)| has(r))
        .map(|(i, _)| i)
        .collect()
}

async fn lease_holders(state: &AppState) -> Vec<(String, String)> {
    use sqlx::Row;
    let rows = sqlx::query("SELECT account_id, holder FROM mail_leases ORDER BY account_id")
        .fetch_all(&state.db.read)
        .await
        .unwrap();
    rows.iter().map(|r| (r.get(0), r.get(1))).collect()
}

async fn all_have(state: &AppState, accounts: &[Uuid], count: i64) -> bool {
    for account in accounts {
        if inbound_events(state, *account, "EmailReceived").await != count {
            return false;
        }
    }
    true
}

#[tokio::test]
async fn two_runtimes_share_the_accounts_and_each_is_polled_by_exactly_one() {
    let (settings, _dir) = distributed(DEFAULT_NATS).await;
    let settings = mail_settings(settings);
    let (first, second) = (launch(&settings).await, launch(&settings).await);
    let state = first.state.clone();
    let organisation_id = create_organisation(&state, "Acme Foods").await;
    let folders: Vec<Folder> = (0..ACCOUNTS).map(|_| Folder::new("load8@switchboard.test")).collect();
    let mut accounts = Vec::new();
    for folder in &folders {
        for n in 0..EACH {
            folder.save(&message(
                Some(&new_id()),
                "asha@example.in",
                &format!("{} {n}", folder.name),
                "",
                "x",
            ));
        }
        accounts.push(add_account(&state, organisation_id, &folder.user, LOAD_PASSWORD, &[&folder.name]).await);
    }
    eventually(Duration::from_secs(30), "every account's mail recorded", || async {
        all_have(&state, &accounts, EACH).await
    })
    .await;

    let holders = lease_holders(&state).await;
    for _ in 0..10 {
        for account in &accounts {
            assert_eq!(
                polled_by(&[&first, &second], *account).len(),
                1,
                "one poller for {account}"
            );
        }
        assert_eq!(lease_holders(&state).await, holders, "no lease changed hands");
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    let distinct: HashSet<&String> = holders.iter().map(|(_, h)| h).collect();
    assert_eq!(
        (holders.len(), distinct.len()),
        (ACCOUNTS, ACCOUNTS),
        "one lease, one holder each"
    );
    assert!(all_have(&state, &accounts, EACH).await, "nothing recorded twice");

    let (dying, survivor) = match accounts.iter().any(|a| polled_by(&[&first], *a).len() == 1) {
        true => (first, second),
        false => (second, first),
    };
    dying.abort();
    for folder in &folders {
        folder.save(&message(
            Some(&new_id()),
            "asha@example.in",
            &format!("{} after", folder.name),
            "",
            "y",
        ));
    }
    eventually(Duration::from_secs(30), "the survivor polls every account", || async {
        accounts.iter().all(|a| polled_by(&[&survivor], *a) == [0]) && all_have(&state, &accounts, EACH + 1).await
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(all_have(&state, &accounts, EACH + 1).await);
    survivor.stop().await;
}
