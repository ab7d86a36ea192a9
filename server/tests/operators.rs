//! Who may steer the cluster. Every operator action refuses anonymous
//! callers (401), moviegoers (403) and forged or expired sessions (401),
//! and changes nothing for them; a signed-in operator's goes through. An
//! operator signs in with the password stored for them (a wrong one is
//! answered after a second, without saying which part was wrong), the
//! session one node issued is accepted by the others, and the password
//! never reaches a log.

mod common;

use common::{cluster_specs, start_all, start_node, NodeApi, NodeProcess};
use moviebook::auth::{passwords, SessionKeys};
use moviebook::secret::Secret;
use moviebook::store::Store;
use reqwest::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn operator_actions() -> Vec<(Method, &'static str, Value)> {
    vec![
        (Method::POST, "/api/election", json!({"algorithm": "bully"})),
        (
            Method::PUT,
            "/api/replication",
            json!({"strategy": "multi-master", "consistency": "eventual"}),
        ),
        (
            Method::POST,
            "/api/movies",
            json!({
                "title": "Operators Only", "description": "Added by an operator.",
                "genres": ["Drama"], "rating": 7.0, "durationMinutes": 90,
                "releaseYear": 2026, "certificate": "PG"
            }),
        ),
    ]
}

/// What the actions change: the election's epoch, the mode, the movies.
async fn state(node: &NodeProcess) -> (Value, Value, usize) {
    let election = node.get_json("/api/election").await;
    let mode = node.get_json("/api/replication").await;
    let movies = node.get_json("/api/movies").await;
    (
        election["epoch"].clone(),
        json!([mode["strategy"], mode["consistency"]]),
        movies.as_array().map_or(0, Vec::len),
    )
}

#[tokio::test]
async fn operator_actions_refuse_anyone_but_a_signed_in_operator() {
    let node = start_node("operator_only").await;
    let now = chrono::Utc::now().timestamp();
    let keys = SessionKeys::new(&Secret::new(&node.secret));
    let expired = keys.issue_operator("tester", now - 9 * 3600).token;
    let forged = SessionKeys::new(&Secret::new("not the secret"))
        .issue_operator("tester", now)
        .token;
    let before = state(&node).await;

    for (method, path, body) in operator_actions() {
        let (status, error) = node.send_json(method.clone(), path, body.clone()).await;
        assert_eq!(status, 401, "anonymous {method} {path}: {error}");
        assert_eq!(error["error"]["code"], "sign_in_required");
        for token in [&expired, &forged] {
            let (status, _) = node
                .send_json_as(Some(token), method.clone(), path, body.clone())
                .await;
            assert_eq!(status, 401, "{method} {path} with a bad session");
        }
        let as_moviegoer = node
            .client
            .request(method.clone(), node.url(path))
            .bearer_auth(node.user_token("u-moviegoer"))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(as_moviegoer.status(), 403, "a moviegoer's {method} {path}");
    }
    assert_eq!(state(&node).await, before, "nothing changed");

    let expected = [202, 200, 201];
    for ((method, path, body), expected) in operator_actions().into_iter().zip(expected) {
        let (status, answer) = node.operator_json(method.clone(), path, body).await;
        assert_eq!(status, expected, "an operator's {method} {path}: {answer}");
    }
    let after = state(&node).await;
    assert_eq!(after.1, json!(["multi-master", "eventual"]));
    assert_eq!(after.2, before.2 + 1);
}

#[tokio::test]
async fn an_operator_signs_in_on_one_node_and_the_others_accept_the_session() {
    const PASSWORD: &str = "a password long enough";
    let specs = cluster_specs("operator_sign_in", 2);
    let nodes = start_all(&specs).await;
    let store = Store::connect(&specs[0].database_url(), 1).await.unwrap();
    let hash = passwords::hash(PASSWORD).unwrap();
    store.set_operator("ada", &hash).await.unwrap();
    let sign_in = |name: &str, password: &str| {
        nodes[0].send_json(
            Method::POST,
            "/api/operator/session",
            json!({ "name": name, "password": password }),
        )
    };

    for (name, password) in [("ada", "not the password"), ("bob", PASSWORD)] {
        let asked = Instant::now();
        let (status, error) = sign_in(name, password).await;
        assert_eq!(status, 401, "{error}");
        assert_eq!(
            error["error"]["message"],
            "Wrong operator name or password."
        );
        assert!(asked.elapsed() >= Duration::from_millis(990));
    }
    let (status, error) = sign_in("not a name!", PASSWORD).await;
    assert_eq!(status, 422, "{error}");

    let response = nodes[0]
        .client
        .post(nodes[0].url("/api/operator/session"))
        .json(&json!({"name": " ADA ", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let session: Value = response.json().await.unwrap();
    assert_eq!(session["name"], "ada");
    let token = session["token"].as_str().unwrap().to_string();

    // Node 2 holds no account, and takes the session node 1 issued.
    let (status, me) = nodes[1]
        .send_json_as(
            Some(&token),
            Method::GET,
            "/api/operator/session",
            Value::Null,
        )
        .await;
    assert_eq!((status, &me["name"]), (200, &json!("ada")));
    let with_cookie = nodes[1]
        .client
        .post(nodes[1].url("/api/election"))
        .header("cookie", format!("mb_operator={token}"))
        .json(&json!({"algorithm": "ring"}))
        .send()
        .await
        .unwrap();
    assert_eq!(with_cookie.status(), 202);

    let signed_out = nodes[0]
        .client
        .delete(nodes[0].url("/api/operator/session"))
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), 204);
    let cleared = signed_out.headers()["set-cookie"].to_str().unwrap();
    assert!(cleared.starts_with("mb_operator=;") && cleared.contains("Max-Age=0"));

    for node in &nodes {
        let log = node.output.lock().unwrap().clone();
        assert!(!log.contains(PASSWORD) && !log.contains(&token));
    }
}
