//! Replication between real node processes, each with its own database: a
//! booking made through any node is carried out by the leader and held by
//! every node, and so is a movie added through any node; a node that was
//! down catches up; a new leader keeps what a majority acknowledged; without
//! a majority nothing is booked.

mod common;

use common::{
    agreed_leader, cluster_specs, eventually, not_available, seat_states, start_all, TestNode,
};
use serde_json::{json, Value};
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(20);

/// Elections and quorums are timing-sensitive: one cluster at a time.
static ONE_CLUSTER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Waits until every given node names the same leader; returns its id.
async fn wait_for_leader(nodes: &[&TestNode]) -> u64 {
    eventually(PATIENCE, || agreed_leader(nodes))
        .await
        .expect("the nodes agree on a leader")
        .0
}

/// Waits until `node` shows exactly `seats` as not available.
async fn sees_taken(node: &TestNode, showtime: i64, seats: &[&str]) -> bool {
    eventually(PATIENCE, || async {
        let mut taken = not_available(&seat_states(node, showtime, "observer").await);
        taken.sort();
        (taken == seats).then_some(())
    })
    .await
    .is_some()
}

async fn booking_status(node: &TestNode, id: &str) -> Option<String> {
    let booking: Value = node.get_json(&format!("/api/bookings?id={id}")).await;
    booking["status"].as_str().map(str::to_string)
}

#[tokio::test]
async fn a_booking_through_any_node_is_held_by_every_node() {
    let _turn = ONE_CLUSTER_AT_A_TIME.lock().await;
    let specs = cluster_specs("replicated_booking", 3);
    let nodes = start_all(&specs).await;
    let all: Vec<&TestNode> = nodes.iter().collect();
    assert_eq!(wait_for_leader(&all).await, 3);
    let showtime = nodes[0].future_showtime(2).await;

    // Node 1 is a follower: it hands the booking to the leader.
    let (status, booking) = nodes[0]
        .book(json!({"userId": "ada", "showtimeId": showtime, "seats": ["D4", "D5"]}))
        .await;
    assert_eq!(status, 201, "{booking}");
    assert_eq!(
        booking["processedBy"], "node-3",
        "the leader carries out writes"
    );
    let id = booking["id"].as_str().unwrap().to_string();
    for node in &nodes {
        assert!(sees_taken(node, showtime, &["D4", "D5"]).await);
        assert_eq!(
            booking_status(node, &id).await.as_deref(),
            Some("confirmed")
        );
    }

    // The same seat through another follower: refused, whichever node asks.
    let (status, refusal) = nodes[1]
        .book(json!({"userId": "bob", "showtimeId": showtime, "seats": ["D5"]}))
        .await;
    assert_eq!(status, 409, "{refusal}");
    assert_eq!(refusal["error"]["code"], "seats_taken");

    // A cancellation through a follower frees the seats everywhere.
    let response = nodes[1]
        .client
        .delete(nodes[1].url(&format!("/api/bookings?id={id}&userId=ada")))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    for node in &nodes {
        assert!(sees_taken(node, showtime, &[]).await);
        assert_eq!(
            booking_status(node, &id).await.as_deref(),
            Some("cancelled")
        );
    }
}

#[tokio::test]
async fn a_node_that_was_down_catches_up_and_a_new_leader_keeps_what_was_committed() {
    let _turn = ONE_CLUSTER_AT_A_TIME.lock().await;
    let specs = cluster_specs("catch_up", 3);
    let mut nodes = start_all(&specs).await;
    let all: Vec<&TestNode> = nodes.iter().collect();
    assert_eq!(wait_for_leader(&all).await, 3);
    let showtime = nodes[0].future_showtime(3).await;

    // Node 1 misses a booking that nodes 2 and 3 commit.
    nodes[0].kill();
    let (status, first) = nodes[1]
        .book(json!({"userId": "cy", "showtimeId": showtime, "seats": ["E1"]}))
        .await;
    assert_eq!(status, 201, "{first}");
    nodes[0] = specs[0].start().await;
    assert!(
        sees_taken(&nodes[0], showtime, &["E1"]).await,
        "the restarted node pulls what it missed"
    );

    // The leader dies; the new one still holds the committed booking and
    // takes new ones.
    nodes[2].kill();
    let survivors: Vec<&TestNode> = nodes[..2].iter().collect();
    let new_leader = eventually(PATIENCE, || async {
        let (leader, _) = agreed_leader(&survivors).await?;
        (leader != 3).then_some(leader)
    })
    .await
    .expect("a new leader");
    assert_eq!(new_leader, 2);
    let (status, second) = nodes[0]
        .book(json!({"userId": "di", "showtimeId": showtime, "seats": ["E2"]}))
        .await;
    assert_eq!(status, 201, "{second}");
    assert_eq!(second["processedBy"], "node-2");
    let (status, _) = nodes[0]
        .book(json!({"userId": "ed", "showtimeId": showtime, "seats": ["E1"]}))
        .await;
    assert_eq!(status, 409, "the new leader knows E1 is sold");

    // The old leader returns and converges with the others.
    nodes[2] = specs[2].start().await;
    for node in &nodes {
        assert!(sees_taken(node, showtime, &["E1", "E2"]).await);
    }
}

#[tokio::test]
async fn without_a_majority_nothing_is_booked() {
    let _turn = ONE_CLUSTER_AT_A_TIME.lock().await;
    let specs = cluster_specs("no_majority", 3);
    let mut nodes = start_all(&specs).await;
    let all: Vec<&TestNode> = nodes.iter().collect();
    wait_for_leader(&all).await;
    let showtime = nodes[0].future_showtime(1).await;

    nodes[1].kill();
    nodes[2].kill();
    let (status, refusal) = nodes[0]
        .book(json!({"userId": "fay", "showtimeId": showtime, "seats": ["A3"]}))
        .await;
    assert_eq!(status, 503, "{refusal}");
    assert_eq!(refusal["error"]["code"], "unavailable");
    assert!(not_available(&seat_states(&nodes[0], showtime, "x").await).is_empty());
}

#[tokio::test]
async fn replication_calls_must_be_signed() {
    let _turn = ONE_CLUSTER_AT_A_TIME.lock().await;
    let specs = cluster_specs("forged_call", 2);
    let nodes = start_all(&specs).await;
    let forged = json!({
        "from": 2, "to": 1, "lamport": 1, "vclock": {},
        "body": {"kind": "pull", "since": 0, "limit": 10}
    });
    let response = nodes[0]
        .client
        .post(nodes[0].url("/internal/call"))
        .json(&forged)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
}
