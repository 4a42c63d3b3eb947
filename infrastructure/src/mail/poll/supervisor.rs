//! This process's share of the pollers: every third of a lease's life it
//! lists the accounts that want polling, starts a poller for each whose
//! lease it can take, restarts one whose settings changed and stops one
//! whose account no longer wants it. One account's trouble never reaches
//! another's poller.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use application::receiving::{MailSink, PollTarget};

use super::{MailReceiver, account};

/// A poller task; dropping it (this supervisor aborted) aborts the task,
/// so no poller outlives the process part that started it.
struct Running {
    fingerprint: String,
    stop: CancellationToken,
    handle: JoinHandle<()>,
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.abort();
    }
}

/// Runs this process's pollers until `stop`; an error listing the accounts
/// is returned (the caller restarts this), after the pollers have stopped.
pub async fn run(receiver: MailReceiver, sink: Arc<dyn MailSink>, stop: CancellationToken) -> Result<(), String> {
    let scope = stop.child_token();
    let mut running: HashMap<Uuid, Running> = HashMap::new();
    let every = receiver.config.lease / 3;
    let outcome = loop {
        if let Err(error) = scan(&receiver, &sink, &scope, &mut running).await {
            break Err(error);
        }
        tokio::select! {
            _ = stop.cancelled() => break Ok(()),
            _ = tokio::time::sleep(every) => {}
        }
    };
    scope.cancel();
    for (_, mut poller) in running.drain() {
        let _ = (&mut poller.handle).await;
    }
    outcome
}

async fn scan(
    receiver: &MailReceiver,
    sink: &Arc<dyn MailSink>,
    scope: &CancellationToken,
    running: &mut HashMap<Uuid, Running>,
) -> Result<(), String> {
    let targets = sink.pollable().await.map_err(|e| e.to_string())?;
    running.retain(|_, poller| !poller.handle.is_finished());
    let wanted: HashSet<Uuid> = targets.iter().map(|t| t.account_id).collect();
    for (account_id, poller) in running.iter() {
        if !wanted.contains(account_id) {
            poller.stop.cancel();
        }
    }
    for target in targets {
        if let Some(poller) = running.get(&target.account_id) {
            if poller.fingerprint == target.fingerprint {
                continue;
            }
            if let Some(mut old) = running.remove(&target.account_id) {
                old.stop.cancel();
                let _ = (&mut old.handle).await;
            }
        }
        let holder = MailReceiver::holder_name();
        match receiver.leases.acquire(target.account_id, &holder).await {
            Ok(true) => {
                let poller = start(receiver, sink, target.clone(), holder, scope.child_token());
                running.insert(target.account_id, poller);
            }
            Ok(false) => {}
            Err(error) => return Err(format!("mailbox leases: {error}")),
        }
    }
    Ok(())
}

fn start(
    receiver: &MailReceiver,
    sink: &Arc<dyn MailSink>,
    target: PollTarget,
    holder: String,
    stop: CancellationToken,
) -> Running {
    let (receiver, sink, token) = (receiver.clone(), sink.clone(), stop.clone());
    let fingerprint = target.fingerprint.clone();
    let handle = tokio::spawn(async move {
        let account_id = target.account_id;
        tracing::info!(%account_id, holder, "mailbox poller started");
        account::run(&receiver, sink.as_ref(), &target, &holder, &token).await;
        if let Err(error) = receiver.leases.release(account_id, &holder).await {
            tracing::warn!(%account_id, %error, "a mailbox lease was not released; it lapses by itself");
        }
        tracing::info!(%account_id, holder, "mailbox poller stopped");
    });
    Running {
        fingerprint,
        stop,
        handle,
    }
}
