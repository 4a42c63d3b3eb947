//! Creating, editing, deleting and reviewing templates: each item answered
//! in its own wrapper, and the simulator's review route.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::{assert_refused, call, create, items, listed, names, order, query, review, set_status, sim, wrapped};

#[tokio::test]
async fn a_bulk_create_answers_each_item_and_refuses_the_invalid_ones() {
    let sim = sim().await;
    let mut unsampled = order("unsampled", "en");
    unsampled["components"][0]["example"] = Value::Null;
    let batch = vec![
        order("welcome", "en"),
        order("Welcome Note", "en"),
        unsampled,
        order("welcome", "en"),
    ];
    let (status, answer) = create(&sim, batch).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let items = items(&answer);
    let codes: Vec<Value> = items.iter().map(|i| i["code"].clone()).collect();
    assert_eq!(codes, [200, 400, 400, 400]);
    let descriptions: Vec<&str> = items[1..]
        .iter()
        .map(|i| i["error_data"]["description"].as_str().unwrap())
        .collect();
    assert!(
        descriptions[0].starts_with("whatsapp.templates[1].template.name"),
        "{}",
        descriptions[0]
    );
    assert!(descriptions[1].contains("example.body_text"), "{}", descriptions[1]);
    assert!(descriptions[2].starts_with("There is already English content for this template"));
    assert_eq!(
        (&items[3]["status"], &items[3]["data"]),
        (&json!("failure"), &Value::Null)
    );
    assert_eq!(items[3]["error_data"]["code"], 1001);

    let (status, answer) = create(&sim, vec![order("welcome", "en")]).await;
    assert_eq!((status, &answer["http_code"]), (StatusCode::BAD_REQUEST, &json!(400)));
    assert_eq!(
        self::items(&answer)[0]["error_data"]["message"],
        "Template already exists"
    );
    for malformed in [
        json!({"whatsapp": {"templates": []}}),
        json!({"templates": [order("x", "en")]}),
    ] {
        let (status, answer) = call(&sim, Method::POST, &query(&[]), Some(malformed)).await;
        assert_refused(status, &answer, StatusCode::BAD_REQUEST, "whatsapp.templates");
    }
}

#[tokio::test]
async fn an_edit_puts_the_template_back_to_pending_and_an_unknown_id_is_404() {
    let sim = sim().await;
    let (_, answer) = create(&sim, vec![order("reminder", "en")]).await;
    let id = items(&answer)[0]["data"]["id"].as_str().unwrap().to_string();
    set_status(&sim, "reminder", json!({"status": "APPROVED"})).await;
    let components = json!([{"type": "body", "text": "See you soon"}, {"type": "footer", "text": "Team"}]);
    let edit = json!({"id": id, "name": "reminder", "category": "MARKETING", "components": components});
    let (status, answer) = call(&sim, Method::PUT, &query(&[]), Some(wrapped(vec![edit]))).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(
        items(&answer)[0]["data"],
        json!({"id": id, "status": "PENDING", "category": "MARKETING"})
    );
    let data = listed(&sim, &[]).await["templates"][0]["data"].clone();
    assert_eq!(
        (&data["status"], &data["category"]),
        (&json!("PENDING"), &json!("MARKETING"))
    );
    assert_eq!(data["components"][1], json!({"type": "FOOTER", "text": "Team"}));

    let unknown = json!({"id": "42", "category": "UTILITY"});
    let anonymous = json!({"category": "UTILITY"});
    let (status, answer) = call(&sim, Method::PUT, &query(&[]), Some(wrapped(vec![unknown, anonymous]))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
    let codes: Vec<Value> = items(&answer).iter().map(|i| i["code"].clone()).collect();
    assert_eq!(codes, [404, 400]);
    assert!(
        items(&answer)[1]["error_data"]["description"]
            .as_str()
            .unwrap()
            .contains("id is mandatory")
    );
}

#[tokio::test]
async fn a_delete_by_body_or_by_name_removes_every_language_and_holds_the_name_back() {
    let sim = sim().await;
    let batch = vec![order("promo", "en"), order("promo", "hi"), order("other", "en")];
    assert_eq!(create(&sim, batch).await.0, StatusCode::OK);
    let by_body = json!({"whatsapp": {"templates": [{"template": {"name": "promo"}}]}});
    let (status, answer) = call(&sim, Method::DELETE, &query(&[]), Some(by_body)).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(items(&answer)[0]["data"], json!({"name": "promo", "success": true}));
    assert_eq!(names(&listed(&sim, &[]).await), ["other"]);
    let (status, answer) = create(&sim, vec![order("promo", "en")]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        items(&answer)[0]["error_data"]["message"],
        "Template name cannot be reused yet"
    );

    let (status, answer) = call(&sim, Method::DELETE, &query(&[("name", "other")]), None).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert!(names(&listed(&sim, &[]).await).is_empty());
    let (status, answer) = call(&sim, Method::DELETE, &query(&[("name", "other")]), None).await;
    assert_eq!(
        (status, &items(&answer)[0]["code"]),
        (StatusCode::BAD_REQUEST, &json!(404))
    );
    let (status, answer) = call(&sim, Method::DELETE, &query(&[]), None).await;
    assert_refused(status, &answer, StatusCode::BAD_REQUEST, "name");
}

#[tokio::test]
async fn the_review_route_sets_one_language_or_all_and_refuses_unknown_statuses_and_names() {
    let sim = sim().await;
    assert_eq!(
        create(&sim, vec![order("notice", "en"), order("notice", "hi")]).await.0,
        StatusCode::OK
    );
    let rejection = json!({"status": "rejected", "language": "hi", "rejected_reason": "INCORRECT_CATEGORY"});
    let (status, changed) = review(&sim, "notice", rejection).await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed.as_array().map(Vec::len), Some(1));
    assert_eq!(
        (&changed[0]["language"], &changed[0]["status"]),
        (&json!("hi"), &json!("REJECTED"))
    );
    assert_eq!(changed[0]["rejected_reason"], "INCORRECT_CATEGORY");
    let statuses: Vec<Value> = listed(&sim, &[]).await["templates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["data"]["status"].clone())
        .collect();
    assert_eq!(statuses, ["PENDING", "REJECTED"]);
    let (status, changed) = review(&sim, "notice", json!({"status": "IN_APPEAL"})).await;
    assert_eq!((status, changed.as_array().map(Vec::len)), (StatusCode::OK, Some(2)));
    assert_eq!(changed[1]["rejected_reason"], "NONE");

    assert_eq!(
        review(&sim, "notice", json!({"status": "LIVE"})).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        review(&sim, "missing", json!({"status": "APPROVED"})).await.0,
        StatusCode::NOT_FOUND
    );
    let other_language = json!({"status": "APPROVED", "language": "ta"});
    assert_eq!(review(&sim, "notice", other_language).await.0, StatusCode::NOT_FOUND);
}
