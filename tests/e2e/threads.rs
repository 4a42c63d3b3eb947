//! Omnichannel threads: the seed's Test 10 (an e-mail answered on WhatsApp
//! from its thread, on one timeline, pushed to the agent in order), one
//! customer across channels with merges that lose and double nothing, and
//! the inbox's role rules with closing, reopening and reading.

use reqwest::StatusCode;
use serde_json::{Value, json};
use std::time::Duration;
use uuid::Uuid;

use domain::Role;

use crate::email_receive::{Folder, add_account, mail_settings, message, new_id};
use crate::realtime::{Socket, member, new_customer};
use crate::support::{self, TestApp, assert_problem, eventually, sim};

const WAIT: Duration = Duration::from_secs(20);
const MAILBOX: &str = "load4@switchboard.test";
const MAILBOX_PASSWORD: &str = "load-password";

/// A request with `token` that must answer `status`; its `data`.
async fn call(
    app: &TestApp,
    method: reqwest::Method,
    path: &str,
    token: &str,
    body: Option<Value>,
    status: StatusCode,
) -> Value {
    let mut request = app.http.request(method, app.url(path)).bearer_auth(token);
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.unwrap();
    let got = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(got, status, "{path}: {text}");
    let body: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
    body.get("data").cloned().unwrap_or(body)
}

async fn get(app: &TestApp, path: &str, token: &str) -> Value {
    call(app, reqwest::Method::GET, path, token, None, StatusCode::OK).await
}

async fn post(app: &TestApp, path: &str, token: &str, body: Value, status: StatusCode) -> Value {
    call(app, reqwest::Method::POST, path, token, Some(body), status).await
}

/// The threads the token's user may see under `query`.
async fn listed(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    let page = get(app, &format!("/api/v1/communications/threads?{query}"), token).await;
    page.as_array().cloned().unwrap_or_default()
}

async fn thread(app: &TestApp, token: &str, id: &str) -> Value {
    get(app, &format!("/api/v1/communications/threads/{id}"), token).await
}

/// The one thread of the customer writing from `point`, once it shows.
async fn thread_of(app: &TestApp, token: &str, point: &str) -> Value {
    let query = format!("q={}", point.replace('+', "%2B"));
    let field = if point.contains('@') {
        "customer_email"
    } else {
        "customer_phone"
    };
    let find = || async {
        listed(app, token, &query)
            .await
            .into_iter()
            .filter(|t| t[field] == point)
            .collect::<Vec<_>>()
    };
    eventually(WAIT, &format!("a thread of {point}"), || async {
        !find().await.is_empty()
    })
    .await;
    let found = find().await;
    assert_eq!(found.len(), 1, "one thread of {point}: {found:?}");
    found[0].clone()
}

/// A customer's WhatsApp text through the simulator, as Exotel posts it.
async fn customer_writes_whatsapp(app: &TestApp, sim: &simulator::RunningSimulator, from: &str, text: &str) {
    crate::whatsapp::customer_writes(app, sim, from, json!({"type": "text", "text": {"body": text}})).await;
}

/// Grants `user_id` the use of an integration.
async fn grant(app: &TestApp, kind: &str, user_id: Uuid) {
    let path = format!("/api/v1/settings/integrations/{kind}/permissions/{user_id}");
    let grant = json!({"can_use": true, "can_configure": false, "daily_limit": null});
    let response = app
        .http
        .put(app.url(&path))
        .bearer_auth(&app.admin_token)
        .json(&grant)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK, "{}", response.text().await.unwrap());
}

/// A customer's e-mail delivered to the support mailbox and fetched now.
async fn customer_emails(app: &TestApp, folder: &Folder, account: Uuid, from: &str, subject: &str, body: &str) {
    folder.save(&message(Some(&new_id()), from, subject, "", body));
    let path = format!("/api/v1/settings/email-accounts/{account}/poll-now");
    // A background poll may have taken it first; either way it is recorded once.
    post(app, &path, &app.admin_token, json!({}), StatusCode::OK).await;
}

/// The next change on the socket that is about `thread_id`.
async fn change_on(socket: &mut Socket, thread_id: &str) -> Value {
    loop {
        let change = socket.change().await;
        if change["thread_id"] == thread_id {
            return change;
        }
    }
}

#[tokio::test]
async fn the_seeds_test_10_an_email_answered_on_whatsapp_is_one_customer_on_one_timeline_pushed_in_order() {
    let (settings, dir) = support::distributed(support::DEFAULT_NATS).await;
    let mut settings = mail_settings(settings);
    crate::sms::quick(&mut settings);
    let app = TestApp::start(settings, Some(dir)).await;
    let sim = sim::fast(100.0).await;
    crate::whatsapp::configure(&app, &sim).await;
    let synced = post(
        &app,
        "/api/v1/settings/integrations/exotel_whatsapp/sync-templates",
        &app.admin_token,
        json!({}),
        StatusCode::OK,
    )
    .await;
    assert_eq!(synced["listed"], 2, "{synced}");
    let folder = Folder::new(MAILBOX);
    let account = add_account(
        &app.state,
        app.organisation_id,
        MAILBOX,
        MAILBOX_PASSWORD,
        &[&folder.name],
    )
    .await;
    let (agent_id, agent) = member(&app, Role::Agent).await;
    grant(&app, "exotel_whatsapp", agent_id).await;
    let mut socket = Socket::connect(&app.base, &agent, "").await;
    socket.ready().await;

    // A customer e-mails the support address: a thread with a new customer.
    let address = format!("asha.{}@example.in", &Uuid::new_v4().simple().to_string()[..8]);
    let subject = format!("Order A-{} not delivered", &Uuid::new_v4().simple().to_string()[..6]);
    customer_emails(&app, &folder, account, &address, &subject, "Where is my order?").await;
    let listed_thread = thread_of(&app, &agent, &address).await;
    let thread_id = listed_thread["id"].as_str().unwrap().to_string();
    assert_eq!(listed_thread["subject"], subject.as_str());
    assert_eq!(listed_thread["status"], "open");
    assert_eq!(
        listed_thread["assignee_id"],
        Value::Null,
        "unassigned, so the agent sees it"
    );
    let customer_id = listed_thread["customer_id"].as_str().unwrap().to_string();
    let pushed = change_on(&mut socket, &thread_id).await;
    assert_eq!(pushed["type"], "thread.message", "{pushed}");
    assert_eq!(pushed["data"]["channel"], "email", "{pushed}");
    assert_eq!(pushed["data"]["direction"], "inbound", "{pushed}");

    // The agent adds the customer's WhatsApp number and replies from the
    // thread: a template, as the customer has not written on WhatsApp.
    let phone = new_customer();
    let linked = post(
        &app,
        &format!("/api/v1/customers/{customer_id}/contact-points"),
        &agent,
        json!({"kind": "phone", "value": phone}),
        StatusCode::OK,
    )
    .await;
    assert_eq!(linked["id"], customer_id.as_str(), "{linked}");
    assert_eq!(linked["phones"], json!([phone]), "{linked}");
    assert_eq!(linked["emails"], json!([address]), "{linked}");
    let merged_id = linked["merged"].as_str().unwrap().to_string();
    assert_ne!(merged_id, customer_id, "the number's own customer was merged in");
    let reply = json!({"channel": "WHATSAPP",
        "whatsapp": {"type": "template", "name": "order_update", "language": "en", "body": ["Asha", "A-1042"]}});
    let sent = post(
        &app,
        &format!("/api/v1/communications/threads/{thread_id}/messages"),
        &agent,
        reply,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(sent["thread_id"], thread_id.as_str(), "{sent}");
    assert_eq!(sent["channel"], "WHATSAPP", "{sent}");
    assert_eq!(sent["to"], phone.as_str(), "the customer's number by default: {sent}");
    let message_id = sent["message_id"].as_str().unwrap().to_string();

    // The reply and its delivery report reach the agent's socket in order.
    let out = change_on(&mut socket, &thread_id).await;
    assert_eq!(out["type"], "thread.message", "{out}");
    assert_eq!(out["data"]["channel"], "whatsapp", "{out}");
    assert_eq!(out["data"]["direction"], "outbound", "{out}");
    let mut statuses = Vec::new();
    while !statuses.contains(&"delivered".to_string()) {
        let status = change_on(&mut socket, &thread_id).await;
        assert_eq!(status["type"], "thread.message_status", "{status}");
        assert!(
            status["id"].as_str().unwrap().parse::<i64>().unwrap()
                > out["id"].as_str().unwrap().parse::<i64>().unwrap()
        );
        statuses.push(status["data"]["status"].as_str().unwrap().to_string());
    }
    let order: Vec<&str> = statuses.iter().map(String::as_str).collect();
    let sent_at = order.iter().position(|s| *s == "sent");
    let delivered_at = order.iter().position(|s| *s == "delivered");
    assert!(
        sent_at.is_none() || sent_at < delivered_at,
        "never backwards: {order:?}"
    );

    // One timeline, one customer, no second thread.
    // Delivered, or already read past it: statuses only move forward.
    eventually(WAIT, "the timeline shows the delivery", || async {
        let detail = thread(&app, &agent, &thread_id).await;
        detail["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["status"] == "delivered" || i["status"] == "read")
    })
    .await;
    let detail = thread(&app, &agent, &thread_id).await;
    let timeline = detail["timeline"].as_array().unwrap();
    let items: Vec<(&str, &str)> = timeline
        .iter()
        .map(|i| (i["channel"].as_str().unwrap(), i["direction"].as_str().unwrap()))
        .collect();
    assert_eq!(items, [("email", "inbound"), ("whatsapp", "outbound")], "{detail}");
    assert_eq!(timeline[1]["id"], message_id.as_str());
    let status = timeline[1]["status"].as_str().unwrap();
    assert!(
        ["delivered", "read"].contains(&status),
        "the report is on the item: {status}"
    );
    assert_eq!(detail["channels"], json!(["email", "whatsapp"]), "{detail}");
    assert_eq!(detail["message_count"], 2);
    assert_eq!(detail["messages"].as_array().unwrap().len(), 1, "the e-mail in full");
    let of_customer = listed(&app, &app.admin_token, &format!("customer_id={customer_id}")).await;
    assert_eq!(of_customer.len(), 1, "no duplicate thread: {of_customer:?}");
    eventually(WAIT, "the merge reaches the customers view", || async {
        listed(&app, &app.admin_token, &format!("customer_id={merged_id}"))
            .await
            .len()
            == 1
    })
    .await;
    let of_merged = listed(&app, &app.admin_token, &format!("customer_id={merged_id}")).await;
    assert_eq!(of_merged.len(), 1, "the merged id finds the same customer's thread");
    assert_eq!(of_merged[0]["id"], thread_id.as_str());
    let customers = get(
        &app,
        &format!("/api/v1/customers?q={}", phone.replace('+', "%2B")),
        &agent,
    )
    .await;
    let customers = customers.as_array().unwrap();
    assert_eq!(customers.len(), 1, "{customers:?}");
    assert_eq!(customers[0]["id"], customer_id.as_str());
    assert_eq!(customers[0]["merged_from"], json!([merged_id]));
    assert_eq!(crate::whatsapp::sends_for(&sim, &message_id).await, 1, "sent once");
}

#[tokio::test]
async fn linking_a_number_that_wrote_on_whatsapp_merges_both_timelines_with_nothing_lost_or_doubled() {
    let (mut settings, dir) = support::embedded();
    crate::sms::quick(&mut settings);
    let app = TestApp::start(mail_settings(settings), Some(dir)).await;
    let sim = sim::fast(100.0).await;
    crate::whatsapp::configure(&app, &sim).await;
    let folder = Folder::new(MAILBOX);
    let account = add_account(
        &app.state,
        app.organisation_id,
        MAILBOX,
        MAILBOX_PASSWORD,
        &[&folder.name],
    )
    .await;
    let admin = app.admin_token.clone();

    let phone = new_customer();
    customer_writes_whatsapp(&app, &sim, &phone, "Is the shop open on Sunday?").await;
    let by_phone = thread_of(&app, &admin, &phone).await;
    let address = format!("ravi.{}@example.in", &Uuid::new_v4().simple().to_string()[..8]);
    let subject = format!("Invoice {}", &Uuid::new_v4().simple().to_string()[..6]);
    customer_emails(&app, &folder, account, &address, &subject, "Please send the invoice").await;
    let by_mail = thread_of(&app, &admin, &address).await;
    let (phone_customer, mail_customer) = (
        by_phone["customer_id"].as_str().unwrap().to_string(),
        by_mail["customer_id"].as_str().unwrap().to_string(),
    );
    assert_ne!(phone_customer, mail_customer, "two customers before the link");

    let linked = post(
        &app,
        &format!("/api/v1/customers/{mail_customer}/contact-points"),
        &admin,
        json!({"kind": "phone", "value": phone}),
        StatusCode::OK,
    )
    .await;
    assert_eq!(linked["merged"], phone_customer.as_str(), "{linked}");
    let again = post(
        &app,
        &format!("/api/v1/customers/{mail_customer}/contact-points"),
        &admin,
        json!({"kind": "phone", "value": phone}),
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["merged"], Value::Null, "linking again changes nothing: {again}");
    let merges = app
        .count("SELECT COUNT(*) FROM events WHERE event_type = 'CustomerMerged'")
        .await;
    assert_eq!(merges, 1, "the merge recorded once");

    eventually(WAIT, "both threads are the one customer's", || async {
        listed(&app, &admin, &format!("customer_id={mail_customer}"))
            .await
            .len()
            == 2
    })
    .await;
    let threads = listed(&app, &admin, &format!("customer_id={mail_customer}")).await;
    let mut ids: Vec<&str> = threads.iter().map(|t| t["id"].as_str().unwrap()).collect();
    ids.sort();
    let mut expected = vec![by_phone["id"].as_str().unwrap(), by_mail["id"].as_str().unwrap()];
    expected.sort();
    assert_eq!(ids, expected, "nothing lost");
    for t in &threads {
        assert_eq!(t["customer_id"], mail_customer.as_str(), "{t}");
        assert_eq!(t["message_count"], 1, "nothing doubled: {t}");
    }
    let customer = get(&app, &format!("/api/v1/customers/{phone_customer}"), &admin).await;
    assert_eq!(
        customer["id"],
        mail_customer.as_str(),
        "the merged id finds the customer"
    );
    assert_eq!(customer["emails"], json!([address]));
    assert_eq!(customer["phones"], json!([phone]));
    let mut shown: Vec<&str> = customer["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap())
        .collect();
    shown.sort();
    assert_eq!(shown, expected, "the customer shows both threads");
    let all = get(&app, "/api/v1/customers", &admin).await;
    let matching: Vec<&Value> = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["phones"].as_array().unwrap().contains(&json!(phone))
                || c["emails"].as_array().unwrap().contains(&json!(address))
        })
        .collect();
    assert_eq!(matching.len(), 1, "one customer: {matching:?}");

    // The customer writes again on WhatsApp: their open WhatsApp thread.
    customer_writes_whatsapp(&app, &sim, &phone, "Also, do you deliver?").await;
    eventually(WAIT, "the second message joins the first thread", || async {
        thread(&app, &admin, by_phone["id"].as_str().unwrap()).await["message_count"] == 2
    })
    .await;
    assert_eq!(
        listed(&app, &admin, &format!("customer_id={mail_customer}"))
            .await
            .len(),
        2,
        "no new thread"
    );

    // An agent may not split customers; a manager may.
    let (_, agent) = member(&app, Role::Agent).await;
    let refused = app
        .post_json(
            &format!("/api/v1/customers/{phone_customer}/unmerge"),
            Some(&agent),
            json!({}),
        )
        .await;
    assert_problem(refused, StatusCode::FORBIDDEN, "forbidden").await;
    let (_, manager) = member(&app, Role::Manager).await;
    let split = post(
        &app,
        &format!("/api/v1/customers/{phone_customer}/unmerge"),
        &manager,
        json!({}),
        StatusCode::OK,
    )
    .await;
    assert_eq!(split["id"], phone_customer.as_str());
    assert_eq!(split["phones"], json!([phone]), "{split}");
    eventually(WAIT, "the phone's thread is its own customer's again", || async {
        listed(&app, &admin, &format!("customer_id={mail_customer}"))
            .await
            .len()
            == 1
    })
    .await;
    let own = listed(&app, &admin, &format!("customer_id={phone_customer}")).await;
    assert_eq!(own.len(), 1, "{own:?}");
    assert_eq!(own[0]["id"], by_phone["id"]);
    let twice = app
        .post_json(
            &format!("/api/v1/customers/{phone_customer}/unmerge"),
            Some(&manager),
            json!({}),
        )
        .await;
    assert_problem(twice, StatusCode::CONFLICT, "customer_not_merged").await;
}

/// Puts Switchboard's incoming-SMS URL in a Passthru of the sandbox
/// ExoPhone's SMS flow; the URL.
async fn assign_sms_flow(app: &TestApp, sim: &simulator::RunningSimulator) -> String {
    let urls = get(
        app,
        "/api/v1/settings/integrations/exotel_sms/flow-urls",
        &app.admin_token,
    )
    .await;
    let incoming = urls["incoming_url"]
        .as_str()
        .expect("the simulator is reachable")
        .to_string();
    assert!(incoming.ends_with("/sms/incoming"), "{urls}");
    assert!(
        urls["status_callback_url"].as_str().unwrap().ends_with("/sms"),
        "{urls}"
    );
    sim::admin(sim, "flows/sms-inbox", json!([{"type": "passthru", "url": incoming}])).await;
    let assigned = reqwest::Client::new()
        .put(format!(
            "{}/v2_beta/Accounts/sandbox/IncomingPhoneNumbers/{}",
            sim.base_url(),
            sim::EXOPHONE
        ))
        .basic_auth(sim::KEY, Some(sim::TOKEN))
        .form(&[("SMSUrl", "http://my.exotel.com/sandbox/exoml/start_sms/sms-inbox")])
        .send()
        .await
        .unwrap();
    assert_eq!(assigned.status(), StatusCode::OK, "{}", assigned.text().await.unwrap());
    incoming
}

/// A customer texts the sandbox ExoPhone; the flow must have handed the
/// SMS to Switchboard. The simulator's sid for it.
async fn customer_texts(sim: &simulator::RunningSimulator, from: &str, body: &str) -> String {
    let (status, answer) = sim::admin_request(
        sim,
        reqwest::Method::POST,
        "incoming-sms",
        json!({"from": from, "to": sim::EXOPHONE, "body": body}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{answer}");
    let answer: Value = serde_json::from_str(&answer).unwrap();
    assert_eq!(answer["steps"][0]["applet"], "passthru", "{answer}");
    assert_eq!(answer["steps"][0]["http_status"], 200, "{answer}");
    answer["sid"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_customer_who_texts_an_exophone_and_later_emails_from_a_linked_address_is_one_customer_on_one_timeline() {
    let (mut settings, dir) = support::embedded();
    crate::sms::quick(&mut settings);
    let app = TestApp::start(mail_settings(settings), Some(dir)).await;
    let sim = sim::fast(100.0).await;
    crate::sms::configure(&app, &sim, Some(crate::sms::ENTITY)).await;
    let incoming = assign_sms_flow(&app, &sim).await;
    let folder = Folder::new(MAILBOX);
    let account = add_account(
        &app.state,
        app.organisation_id,
        MAILBOX,
        MAILBOX_PASSWORD,
        &[&folder.name],
    )
    .await;
    let admin = app.admin_token.clone();

    let phone = new_customer();
    let sid = customer_texts(&sim, &phone, "Where is my order 4521?").await;
    let by_sms = thread_of(&app, &admin, &phone).await;
    let customer = by_sms["customer_id"].as_str().unwrap().to_string();
    let detail = thread(&app, &admin, by_sms["id"].as_str().unwrap()).await;
    let timeline = detail["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 1, "{detail}");
    assert_eq!(
        (timeline[0]["channel"].as_str(), timeline[0]["direction"].as_str()),
        (Some("sms"), Some("inbound")),
        "{detail}"
    );
    assert!(detail.to_string().contains("Where is my order 4521?"), "{detail}");

    // Exotel repeats the Passthru (the call flow's names this time): one message.
    let repeated = app
        .http
        .get(&incoming)
        .query(&[
            ("CallSid", sid.as_str()),
            ("CallFrom", &phone),
            ("CallTo", sim::EXOPHONE),
            ("Content", "Where is my order 4521?"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(repeated.status(), StatusCode::OK);
    let received = app
        .count("SELECT COUNT(*) FROM events WHERE event_type = 'InboundMessageReceived'")
        .await;
    assert_eq!(received, 1, "the repeated SMS is the same message");

    // The customer's address is linked, then the customer writes from it.
    let address = format!("meera.{}@example.in", &Uuid::new_v4().simple().to_string()[..8]);
    let linked = post(
        &app,
        &format!("/api/v1/customers/{customer}/contact-points"),
        &admin,
        json!({"kind": "email", "value": address}),
        StatusCode::OK,
    )
    .await;
    assert_eq!(linked["id"], customer.as_str(), "the customer keeps its id: {linked}");
    assert_eq!(linked["emails"], json!([address]), "{linked}");
    let subject = format!("Order {}", &Uuid::new_v4().simple().to_string()[..6]);
    customer_emails(&app, &folder, account, &address, &subject, "Any news on my order?").await;
    let by_mail = thread_of(&app, &admin, &address).await;
    assert_eq!(
        by_mail["customer_id"],
        customer.as_str(),
        "the e-mail is the same customer's"
    );

    let threads = listed(&app, &admin, &format!("customer_id={customer}")).await;
    let mut ids: Vec<&str> = threads.iter().map(|t| t["id"].as_str().unwrap()).collect();
    ids.sort();
    let mut expected = vec![by_sms["id"].as_str().unwrap(), by_mail["id"].as_str().unwrap()];
    expected.sort();
    assert_eq!(ids, expected, "both conversations on the one customer");
    for t in &threads {
        assert_eq!(t["message_count"], 1, "nothing doubled: {t}");
    }
    let shown = get(&app, &format!("/api/v1/customers/{customer}"), &admin).await;
    assert_eq!(shown["phones"], json!([phone]), "{shown}");
    assert_eq!(shown["emails"], json!([address]), "{shown}");
    let all = get(&app, "/api/v1/customers", &admin).await;
    let matching = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| {
            c["phones"].as_array().unwrap().contains(&json!(phone))
                || c["emails"].as_array().unwrap().contains(&json!(address))
        })
        .count();
    assert_eq!(matching, 1, "one customer");

    // A second SMS joins the open SMS thread.
    customer_texts(&sim, &phone, "Also, can I change the address?").await;
    eventually(WAIT, "the second SMS joins the first thread", || async {
        thread(&app, &admin, by_sms["id"].as_str().unwrap()).await["message_count"] == 2
    })
    .await;
    assert_eq!(
        listed(&app, &admin, &format!("customer_id={customer}")).await.len(),
        2,
        "no new thread"
    );
}

#[tokio::test]
async fn an_incoming_sms_with_a_wrong_token_or_no_sender_is_refused_and_nothing_is_recorded() {
    let (mut settings, dir) = support::embedded();
    crate::sms::quick(&mut settings);
    let app = TestApp::start(settings, Some(dir)).await;
    let sim = sim::fast(100.0).await;
    crate::sms::configure(&app, &sim, Some(crate::sms::ENTITY)).await;
    let incoming = assign_sms_flow(&app, &sim).await;
    let phone = new_customer();

    let wrong = incoming.replace("/sms/incoming", "x/sms/incoming");
    let refused = app
        .http
        .get(&wrong)
        .query(&[
            ("SmsSid", "s1"),
            ("From", phone.as_str()),
            ("To", sim::EXOPHONE),
            ("Body", "hi"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    let no_sender = app
        .http
        .get(&incoming)
        .query(&[("SmsSid", "s2"), ("To", sim::EXOPHONE), ("Body", "hi")])
        .send()
        .await
        .unwrap();
    let problem = assert_problem(no_sender, StatusCode::BAD_REQUEST, "invalid_callback").await;
    assert_eq!(problem["field"], "From", "{problem}");
    let no_sid = app
        .http
        .post(&incoming)
        .form(&[("From", phone.as_str()), ("To", sim::EXOPHONE), ("Body", "hi")])
        .send()
        .await
        .unwrap();
    let problem = assert_problem(no_sid, StatusCode::BAD_REQUEST, "invalid_callback").await;
    assert_eq!(problem["field"], "SmsSid", "{problem}");
    let received = app
        .count("SELECT COUNT(*) FROM events WHERE event_type = 'InboundMessageReceived'")
        .await;
    assert_eq!(received, 0, "nothing recorded");

    // The same fields posted as a form are recorded.
    let posted = app
        .http
        .post(&incoming)
        .form(&[
            ("SmsSid", "s3"),
            ("From", phone.as_str()),
            ("To", sim::EXOPHONE),
            ("Body", "hi"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(posted.status(), StatusCode::OK);
    let receipt: Value = posted.json().await.unwrap();
    let expected =
        domain::inbound_message::inbound_message_id(app.organisation_id, domain::outbound_message::Channel::Sms, "s3");
    assert_eq!(receipt["data"]["message_id"], expected.to_string(), "{receipt}");
}

#[tokio::test]
async fn agents_see_their_own_and_unassigned_threads_and_a_closed_thread_reopens_when_the_customer_writes() {
    let (mut settings, dir) = support::embedded();
    crate::sms::quick(&mut settings);
    let app = TestApp::start(settings, Some(dir)).await;
    let sim = sim::fast(100.0).await;
    crate::whatsapp::configure(&app, &sim).await;
    let (first_id, first) = member(&app, Role::Agent).await;
    let (second_id, second) = member(&app, Role::Agent).await;
    let (_, manager) = member(&app, Role::Manager).await;
    let (_, auditor) = member(&app, Role::Auditor).await;

    let phone = new_customer();
    customer_writes_whatsapp(&app, &sim, &phone, "My parcel is damaged").await;
    let listed_thread = thread_of(&app, &first, &phone).await;
    let id = listed_thread["id"].as_str().unwrap().to_string();
    assert_eq!(listed_thread["unread"], true, "{listed_thread}");
    let path = |action: &str| format!("/api/v1/communications/threads/{id}/{action}");

    // An agent assigns only themselves; a manager assigns anyone.
    let other = app
        .post_json(&path("assign"), Some(&first), json!({"user_id": second_id}))
        .await;
    assert_problem(other, StatusCode::FORBIDDEN, "forbidden").await;
    let assigned = post(
        &app,
        &path("assign"),
        &manager,
        json!({"user_id": second_id}),
        StatusCode::OK,
    )
    .await;
    assert_eq!(assigned["assignee_id"], second_id.to_string().as_str());
    let nobody = app
        .post_json(&path("assign"), Some(&manager), json!({"user_id": Uuid::new_v4()}))
        .await;
    let body = assert_problem(nobody, StatusCode::UNPROCESSABLE_ENTITY, "unknown_user").await;
    assert_eq!(body["field"], "user_id");

    eventually(WAIT, "the first agent no longer sees the thread", || async {
        !listed(&app, &first, "").await.iter().any(|t| t["id"] == id.as_str())
    })
    .await;
    let hidden = app
        .get(&format!("/api/v1/communications/threads/{id}"), Some(&first))
        .await;
    assert_problem(hidden, StatusCode::NOT_FOUND, "not_found").await;
    let take = app
        .post_json(&path("assign"), Some(&first), json!({"user_id": first_id}))
        .await;
    assert_problem(take, StatusCode::NOT_FOUND, "not_found").await;
    let mine = listed(&app, &second, "assignee=me").await;
    assert!(mine.iter().any(|t| t["id"] == id.as_str()), "{mine:?}");
    assert!(listed(&app, &manager, "").await.iter().any(|t| t["id"] == id.as_str()));
    let denied = app.get("/api/v1/communications/threads", Some(&auditor)).await;
    assert_problem(denied, StatusCode::FORBIDDEN, "forbidden").await;

    // Reading, closing, and the customer's message reopening it.
    let read = post(&app, &path("read"), &second, json!({}), StatusCode::OK).await;
    assert!(read["read_through"].is_string(), "{read}");
    eventually(WAIT, "the thread shows as read", || async {
        thread(&app, &second, &id).await["unread"] == false
    })
    .await;
    let closed = post(&app, &path("close"), &second, json!({}), StatusCode::OK).await;
    assert_eq!(closed["status"], "closed");
    eventually(WAIT, "the inbox counts it closed", || async {
        get(&app, "/api/v1/communications/threads/counts", &manager).await["closed"] == 1
    })
    .await;
    assert_eq!(listed(&app, &second, "status=closed").await.len(), 1);
    customer_writes_whatsapp(&app, &sim, &phone, "Still waiting for a replacement").await;
    eventually(WAIT, "the customer's message reopens the thread", || async {
        let detail = thread(&app, &second, &id).await;
        detail["status"] == "open" && detail["message_count"] == 2
    })
    .await;
    let detail = thread(&app, &second, &id).await;
    assert_eq!(detail["assignee_id"], second_id.to_string().as_str(), "still theirs");
    assert_eq!(detail["unread"], true, "the new message is unread");
    let reopenings = app
        .count("SELECT COUNT(*) FROM events WHERE event_type = 'ThreadReopened'")
        .await;
    assert_eq!(reopenings, 1);
    let threads = listed(&app, &manager, &format!("q={}", phone.replace('+', "%2B"))).await;
    assert_eq!(threads.len(), 1, "the same thread, not a new one: {threads:?}");
    let counts = get(&app, "/api/v1/communications/threads/counts", &manager).await;
    assert_eq!(
        (counts["open"].as_i64(), counts["closed"].as_i64()),
        (Some(1), Some(0)),
        "{counts}"
    );
}

#[tokio::test]
async fn the_seeds_send_media_and_send_template_land_on_the_thread_named_in_their_shapes() {
    let (app, sim) = crate::whatsapp::app_and_simulator().await;
    let files = crate::whatsapp::file_server().await;
    let admin = app.admin_token.clone();
    let synced = post(
        &app,
        "/api/v1/settings/integrations/exotel_whatsapp/sync-templates",
        &admin,
        json!({}),
        StatusCode::OK,
    )
    .await;
    assert_eq!(synced["listed"], 2, "{synced}");
    let phone = new_customer();
    customer_writes_whatsapp(&app, &sim, &phone, "Send me a photo of the parcel").await;
    let id = thread_of(&app, &admin, &phone).await["id"]
        .as_str()
        .unwrap()
        .to_string();

    let media = json!({"thread_id": id, "channel": "WHATSAPP", "media_type": "image",
        "media_url": format!("{files}/photo.jpg"), "caption": "Your parcel"});
    let sent_media = post(
        &app,
        "/api/v1/communications/messages/send-media",
        &admin,
        media,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(sent_media["thread_id"], id.as_str(), "{sent_media}");
    assert_eq!(sent_media["to"], phone.as_str(), "the thread's customer: {sent_media}");
    assert_eq!(sent_media["channel"], "WHATSAPP");
    let template = json!({"thread_id": id, "template_name": "order_update", "language": "en",
        "variables": {"2": "A-1042", "1": "Asha"}});
    let sent_template = post(
        &app,
        "/api/v1/communications/messages/send-template",
        &admin,
        template,
        StatusCode::ACCEPTED,
    )
    .await;
    assert_eq!(sent_template["thread_id"], id.as_str(), "{sent_template}");
    let template_id = sent_template["message_id"].as_str().unwrap().to_string();

    let gap = json!({"thread_id": id, "template_name": "order_update", "language": "en",
        "variables": {"1": "Asha", "3": "A-1042"}});
    let refused = app
        .post_json("/api/v1/communications/messages/send-template", Some(&admin), gap)
        .await;
    let body = assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert_eq!(body["field"], "variables", "{body}");
    let nowhere = json!({"media_type": "image", "media_url": format!("{files}/photo.jpg")});
    let refused = app
        .post_json("/api/v1/communications/messages/send-media", Some(&admin), nowhere)
        .await;
    let body = assert_problem(refused, StatusCode::UNPROCESSABLE_ENTITY, "invalid_field").await;
    assert_eq!(body["field"], "to", "{body}");
    let unknown =
        json!({"thread_id": Uuid::new_v4(), "media_type": "image", "media_url": format!("{files}/photo.jpg")});
    let refused = app
        .post_json("/api/v1/communications/messages/send-media", Some(&admin), unknown)
        .await;
    assert_problem(refused, StatusCode::NOT_FOUND, "not_found").await;

    eventually(WAIT, "both replies are on the thread's timeline", || async {
        thread(&app, &admin, &id).await["message_count"] == 3
    })
    .await;
    let detail = thread(&app, &admin, &id).await;
    let directions: Vec<&str> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["direction"].as_str().unwrap())
        .collect();
    assert_eq!(directions, ["inbound", "outbound", "outbound"], "{detail}");
    eventually(WAIT, "the template reaches Exotel", || async {
        crate::whatsapp::sends_for(&sim, &template_id).await == 1
    })
    .await;
    let sent = sim::requests(&sim)
        .await
        .into_iter()
        .find(|r| r["body"].as_str().is_some_and(|b| b.contains(&template_id)))
        .unwrap();
    let wire: Value = serde_json::from_str(sent["body"].as_str().unwrap()).unwrap();
    let parameters = &wire["whatsapp"]["messages"][0]["content"]["template"]["components"][0]["parameters"];
    assert_eq!(
        (parameters[0]["text"].as_str(), parameters[1]["text"].as_str()),
        (Some("Asha"), Some("A-1042"))
    );
}

#[tokio::test]
async fn calling_from_a_thread_puts_the_call_and_its_end_on_that_threads_timeline() {
    let (app, sim) = crate::calls::app_and_simulator().await;
    crate::whatsapp::configure(&app, &sim).await;
    let admin = app.admin_token.clone();
    let phone = new_customer();
    customer_writes_whatsapp(&app, &sim, &phone, "Please call me about the refund").await;
    let id = thread_of(&app, &admin, &phone).await["id"]
        .as_str()
        .unwrap()
        .to_string();

    let body = json!({"agent_phone": crate::calls::AGENT});
    let path = format!("/api/v1/communications/threads/{id}/call");
    let call = post(&app, &path, &admin, body, StatusCode::ACCEPTED).await;
    assert_eq!(call["customer_phone"], phone.as_str(), "the thread's customer: {call}");
    assert_eq!(call["status"], "requested", "{call}");
    let call_id = call["id"].as_str().unwrap().to_string();
    let ended = ["completed", "busy", "no_answer", "failed", "canceled"];
    eventually(WAIT, "the call ends on the thread's timeline", || async {
        let detail = thread(&app, &admin, &id).await;
        let timeline = detail["timeline"].as_array().cloned().unwrap_or_default();
        timeline
            .iter()
            .any(|i| i["id"] == call_id.as_str() && ended.contains(&i["status"].as_str().unwrap_or_default()))
    })
    .await;
    let detail = thread(&app, &admin, &id).await;
    let items: Vec<(&str, &str)> = detail["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| (i["channel"].as_str().unwrap(), i["direction"].as_str().unwrap()))
        .collect();
    assert_eq!(
        items,
        [("whatsapp", "inbound"), ("call", "outbound")],
        "once each: {detail}"
    );
    assert_eq!(detail["channels"], json!(["whatsapp", "call"]), "{detail}");
    let threads = listed(&app, &admin, &format!("q={}", phone.replace('+', "%2B"))).await;
    assert_eq!(threads.len(), 1, "no second thread: {threads:?}");
}
