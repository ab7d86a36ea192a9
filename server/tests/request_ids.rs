//! One request id follows a booking: given to a follower with
//! `x-request-id`, it comes back on the answer and is in the JSON log
//! lines (`LOG_FORMAT=json`) of the follower and of the leader the write
//! went to. An id that is not plain is replaced by one the node makes up.

mod common;

use common::{agreed_leader, cluster_specs, eventually, start_all, NodeApi, NodeProcess};
use serde_json::json;
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(20);

fn logs(node: &NodeProcess) -> String {
    node.output.lock().map(|o| o.clone()).unwrap_or_default()
}

#[tokio::test]
async fn a_request_id_follows_a_booking_from_the_follower_to_the_leader() {
    let specs: Vec<_> = cluster_specs("request_ids", 3)
        .into_iter()
        .map(|spec| {
            spec.env("LOG_FORMAT", "json").env(
                "RUST_LOG",
                "warn,moviebook::request_id=debug,moviebook::node=info",
            )
        })
        .collect();
    let nodes = start_all(&specs).await;
    let all: Vec<&NodeProcess> = nodes.iter().collect();
    let (leader, _) = eventually(PATIENCE, || agreed_leader(&all))
        .await
        .expect("a leader");
    // Node i + 1 is nodes[i].
    let follower = nodes
        .iter()
        .enumerate()
        .find(|(i, _)| *i as u64 + 1 != leader)
        .map(|(_, node)| node)
        .expect("a follower");
    let leader = &nodes[(leader - 1) as usize];

    let showtime = follower.future_showtime(1).await;
    let answer = follower
        .client
        .post(follower.url("/api/bookings"))
        .bearer_auth(follower.user_token("ada"))
        .header("x-request-id", "trace-me-42")
        .json(&json!({"showtimeId": showtime, "seats": ["D4"]}))
        .send()
        .await
        .expect("an answer");
    assert_eq!(answer.status(), 201);
    assert_eq!(answer.headers()["x-request-id"], "trace-me-42");

    let traced = |node: &NodeProcess| {
        logs(node)
            .lines()
            .filter(|line| line.contains("trace-me-42"))
            .map(|line| serde_json::from_str::<serde_json::Value>(line).expect("a JSON line"))
            .collect::<Vec<_>>()
    };
    let followed = eventually(PATIENCE, || async {
        (!traced(follower).is_empty() && !traced(leader).is_empty()).then_some(())
    })
    .await;
    assert!(
        followed.is_some(),
        "the id is in both logs:\nfollower:\n{}\nleader:\n{}",
        logs(follower),
        logs(leader)
    );
    let line = &traced(leader)[0];
    assert_eq!(line["span"]["request_id"], "trace-me-42", "{line}");
    assert!(
        traced(leader).iter().any(|line| line["fields"]["path"]
            .as_str()
            .is_some_and(|p| p.starts_with("/internal/"))),
        "the leader served a replication call under the id"
    );

    // A malformed id is not kept.
    let answer = follower
        .client
        .get(follower.url("/api/movies"))
        .header("x-request-id", "not plain!")
        .send()
        .await
        .expect("an answer");
    let given = answer.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_string();
    let (prefix, count) = given.split_once('-').expect("prefix-count");
    assert!(
        prefix.len() == 12 && prefix.bytes().all(|b| b.is_ascii_hexdigit()),
        "{given}"
    );
    assert!(count.parse::<u64>().is_ok(), "{given}");
}
