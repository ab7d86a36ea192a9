//! Replication between real node processes, each with its own database: a
//! booking made through any node is carried out by the leader and held by
//! every node, and so is a movie added through any node; a node that was
//! down catches up; a new leader keeps what a majority acknowledged; without
//! a majority nothing is booked.

mod common;

use common::{
    agreed_leader, cluster_specs, eventually, not_available, seat_states, start_all, FakePeer,
    NodeApi, NodeProcess,
};
use moviebook::replication::wire::{ReplicationReply, ReplicationRequest, Write};
use serde_json::{json, Value};
use std::time::Duration;
use uuid::Uuid;

const PATIENCE: Duration = Duration::from_secs(20);

/// Elections and quorums are timing-sensitive: one cluster at a time.
static ONE_CLUSTER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// Waits until every given node names the same leader; returns its id.
async fn wait_for_leader(nodes: &[&NodeProcess]) -> u64 {
    eventually(PATIENCE, || agreed_leader(nodes))
        .await
        .expect("the nodes agree on a leader")
        .0
}

/// Waits until `node` shows exactly `seats` as not available.
async fn sees_taken(node: &NodeProcess, showtime: i64, seats: &[&str]) -> bool {
    eventually(PATIENCE, || async {
        let mut taken = not_available(&seat_states(node, showtime, "observer").await);
        taken.sort();
        (taken == seats).then_some(())
    })
    .await
    .is_some()
}

/// Books through `node`, again while the cluster answers 503 (no leader
/// serving yet); the first other answer.
async fn book_once_decided(node: &NodeProcess, body: Value) -> (u16, Value) {
    eventually(PATIENCE, || async {
        let (status, answer) = node.book(body.clone()).await;
        (status != 503).then_some((status, answer))
    })
    .await
    .expect("an answer other than 503")
}

async fn booking_status(node: &NodeProcess, id: &str) -> Option<String> {
    let booking: Value = node.get_json(&format!("/api/bookings?id={id}")).await;
    booking["status"].as_str().map(str::to_string)
}

#[tokio::test]
async fn a_booking_through_any_node_is_held_by_every_node() {
    let _turn = ONE_CLUSTER_AT_A_TIME.lock().await;
    let specs = cluster_specs("replicated_booking", 3);
    let nodes = start_all(&specs).await;
    let all: Vec<&NodeProcess> = nodes.iter().collect();
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
    let (status, cancelled) = nodes[1].cancel(&id, "ada").await;
    assert_eq!(status, 200, "{cancelled}");
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
    let all: Vec<&NodeProcess> = nodes.iter().collect();
    assert_eq!(wait_for_leader(&all).await, 3);
    let showtime = nodes[0].future_showtime(3).await;

    // Node 1 misses a booking that nodes 2 and 3 commit.
    nodes[0].kill();
    let (status, first) = nodes[1]
        .book(json!({"userId": "cy", "showtimeId": showtime, "seats": ["E1"]}))
        .await;
    assert_eq!(status, 201, "{first}");
    nodes[0] = specs[0].start().await.expect("node 1 comes back");
    assert!(
        sees_taken(&nodes[0], showtime, &["E1"]).await,
        "the restarted node pulls what it missed"
    );

    // The leader dies; the new one still holds the committed booking and
    // takes new ones.
    nodes[2].kill();
    let survivors: Vec<&NodeProcess> = nodes[..2].iter().collect();
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
    nodes[2] = specs[2].start().await.expect("the old leader comes back");
    for node in &nodes {
        assert!(sees_taken(node, showtime, &["E1", "E2"]).await);
    }
}

#[tokio::test]
async fn without_a_majority_nothing_is_booked() {
    let _turn = ONE_CLUSTER_AT_A_TIME.lock().await;
    let specs = cluster_specs("no_majority", 3);
    let mut nodes = start_all(&specs).await;
    let all: Vec<&NodeProcess> = nodes.iter().collect();
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
        "from": 2, "to": 1, "incarnation": 1, "seq": 1, "sentAtMs": 1, "lamport": 1, "vclock": {},
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

/// Books `seat` through the leader `node` once it takes writes (it has
/// caught up in its epoch).
async fn books_once_serving(node: &NodeProcess, showtime: i64, seat: &str) {
    let served = eventually(PATIENCE, || async {
        let (status, _) = node
            .book(json!({"userId": "gil", "showtimeId": showtime, "seats": [seat]}))
            .await;
        (status == 201).then_some(())
    })
    .await;
    assert!(served.is_some(), "the leader takes writes");
}

/// A booking of `seats` as a forwarded write, the way a follower hands one
/// to the leader.
fn forwarded_booking(id: Uuid, showtime: i64, seats: &[&str]) -> ReplicationRequest {
    ReplicationRequest::Forward(Write::Book {
        booking_id: id,
        request: app::model::BookingRequest {
            user_id: "gil".into(),
            user_name: None,
            showtime_id: showtime,
            seats: seats.iter().map(|s| s.to_string()).collect(),
        },
    })
}

#[tokio::test]
async fn a_write_whose_caller_hangs_up_keeps_its_seat_and_a_retry_confirms_it() {
    let _turn = ONE_CLUSTER_AT_A_TIME.lock().await;
    // Nodes 2 and 3 are real; this test is node 1, forwarding writes.
    let specs = cluster_specs("decided", 3);
    let nodes = start_all(&specs[1..]).await;
    let (node2, node3) = (&nodes[0], &nodes[1]);
    assert_eq!(wait_for_leader(&[node2, node3]).await, 3);
    let follower = FakePeer::new(1, "secret-of-decided");
    let showtime = node3.future_showtime(1).await;
    // The leader takes writes (it has caught up in its epoch).
    books_once_serving(node3, showtime, "B1").await;

    // Node 2 freezes, so no majority can hold the write; the caller gives up
    // long before the leader could decide.
    let id = Uuid::new_v4();
    node2.pause();
    let gave_up = follower
        .call(
            node3,
            3,
            forwarded_booking(id, showtime, &["B2"]),
            Duration::from_millis(300),
        )
        .await;
    assert!(gave_up.is_err(), "{gave_up:?}");

    // The leader still decides, without the caller: the outcome is not
    // known (a majority may hold it though the answers did not come), so
    // the booking is never withdrawn. It keeps its seat on the leader.
    let idle = eventually(PATIENCE, || async {
        (node3.own_load().await == 0).then_some(())
    })
    .await;
    assert!(idle.is_some(), "the leader's load never went back to 0");
    let status = booking_status(node3, &id.to_string()).await;
    assert_eq!(status.as_deref(), Some("confirmed"));

    // The retry of that write, under the same id, once a majority can be
    // reached again, confirms that same booking: one booking, never two.
    node2.resume();
    let leader = wait_for_leader(&[node2, node3]).await;
    let leader_node = if leader == 2 { node2 } else { node3 };
    let retried = follower
        .call(
            leader_node,
            u32::try_from(leader).unwrap(),
            forwarded_booking(id, showtime, &["B2"]),
            PATIENCE,
        )
        .await;
    match retried {
        Ok(ReplicationReply::Booking { booking, .. }) => {
            assert_eq!(booking.id, id.to_string());
            assert_eq!(booking.status, app::model::BookingStatus::Confirmed);
        }
        other => panic!("the retry was answered {other:?}"),
    }
    for node in [node2, node3] {
        assert!(sees_taken(node, showtime, &["B1", "B2"]).await);
        let status = booking_status(node, &id.to_string()).await;
        assert_eq!(status.as_deref(), Some("confirmed"));
    }
}

/// A leader deposed without knowing it yet: a new leader (here this test,
/// as node 1) won a later epoch and read what node 3 held when node 3
/// promised it. Node 3 still believes it leads, and node 2 has promised
/// nothing yet; if node 3 counted itself for a write of its old epoch, a
/// majority (node 3 and node 2) would hold a booking the new leader never
/// read, and it could sell the seat again. Node 3 refuses the write.
#[tokio::test]
async fn a_leader_that_promised_a_later_epoch_takes_no_write_of_its_own() {
    let _turn = ONE_CLUSTER_AT_A_TIME.lock().await;
    let specs = cluster_specs("self_fenced", 3);
    let nodes = start_all(&specs[1..]).await;
    let (node2, node3) = (&nodes[0], &nodes[1]);
    assert_eq!(wait_for_leader(&[node2, node3]).await, 3);
    let new_leader = FakePeer::new(1, "secret-of-self_fenced");
    let showtime = node3.future_showtime(1).await;
    books_once_serving(node3, showtime, "C1").await;
    let (_, epoch) = agreed_leader(&[node2, node3]).await.expect("one leader");

    let promised = new_leader
        .call(
            node3,
            3,
            ReplicationRequest::Promise { epoch: epoch + 5 },
            PATIENCE,
        )
        .await;
    assert!(
        matches!(promised, Ok(ReplicationReply::Promised)),
        "{promised:?}"
    );
    let (status, body) = node3
        .book(json!({"userId": "gil", "showtimeId": showtime, "seats": ["C2"]}))
        .await;
    assert_eq!(status, 503, "{body}");
    assert!(body.to_string().contains("no longer leads"), "{body}");
    // Nothing was written, here or at node 2.
    for node in [node2, node3] {
        assert!(sees_taken(node, showtime, &["C1"]).await, "C2 was sold");
    }
}

#[tokio::test]
async fn a_cancellation_is_acknowledged_only_once_a_majority_holds_it() {
    let _turn = ONE_CLUSTER_AT_A_TIME.lock().await;
    let specs = cluster_specs("cancel_quorum", 3);
    let nodes = start_all(&specs).await;
    let all: Vec<&NodeProcess> = nodes.iter().collect();
    assert_eq!(wait_for_leader(&all).await, 3);
    let showtime = nodes[2].future_showtime(1).await;
    let (status, booking) = nodes[2]
        .book(json!({"userId": "hal", "showtimeId": showtime, "seats": ["C3"]}))
        .await;
    assert_eq!(status, 201, "{booking}");
    let id = booking["id"].as_str().unwrap();

    nodes[0].pause();
    nodes[1].pause();
    let (status, body) = nodes[2].cancel(id, "hal").await;
    nodes[0].resume();
    nodes[1].resume();
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("cancellation"),
        "{body}"
    );
}

#[tokio::test]
async fn a_leader_back_from_a_pause_catches_up_before_it_sells_anything() {
    let _turn = ONE_CLUSTER_AT_A_TIME.lock().await;
    let specs = cluster_specs("paused_leader", 3);
    let nodes = start_all(&specs).await;
    let all: Vec<&NodeProcess> = nodes.iter().collect();
    assert_eq!(wait_for_leader(&all).await, 3);
    let showtime = nodes[0].future_showtime_in_a_hall_of(200).await;

    // The leader freezes; the other two elect node 2 and sell seats.
    nodes[2].pause();
    let survivors: Vec<&NodeProcess> = nodes[..2].iter().collect();
    let stand_in = eventually(PATIENCE, || async {
        let (leader, _) = agreed_leader(&survivors).await?;
        (leader != 3).then_some(leader)
    })
    .await;
    assert_eq!(stand_in, Some(2));
    let seats: Vec<String> = (1..=18)
        .flat_map(|n| [format!("A{n}"), format!("B{n}")])
        .collect();
    let mut sold = Vec::new();
    for seat in &seats {
        let body = json!({"userId": "jo", "showtimeId": showtime, "seats": [seat]});
        let answer = book_once_decided(&nodes[0], body).await;
        assert_eq!(answer.0, 201, "{seat}: {}", answer.1);
        sold.push(answer.1["id"].as_str().unwrap().to_string());
    }

    // Node 3 comes back; Bully hands it the leadership at once. Asked for
    // the same seats, it must know they are sold.
    nodes[2].resume();
    let back = eventually(PATIENCE, || async {
        let (leader, _) = agreed_leader(&all).await?;
        (leader == 3).then_some(())
    })
    .await;
    assert!(back.is_some(), "node 3 leads again");
    for seat in &seats {
        let body = json!({"userId": "kim", "showtimeId": showtime, "seats": [seat]});
        let answer = book_once_decided(&nodes[2], body).await;
        assert_eq!(answer.0, 409, "{seat} was sold twice: {}", answer.1);
    }
    for node in &nodes {
        let mut expected: Vec<&str> = seats.iter().map(String::as_str).collect();
        expected.sort();
        assert!(sees_taken(node, showtime, &expected).await);
        for id in &sold {
            assert_eq!(booking_status(node, id).await.as_deref(), Some("confirmed"));
        }
    }
}

#[tokio::test]
async fn a_cluster_restarted_as_a_whole_elects_past_the_epochs_it_promised_and_takes_writes() {
    let _turn = ONE_CLUSTER_AT_A_TIME.lock().await;
    let specs = cluster_specs("whole_restart", 3);
    let mut nodes = start_all(&specs).await;
    let all: Vec<&NodeProcess> = nodes.iter().collect();
    wait_for_leader(&all).await;
    // The leader dies and comes back: each change of leader is an epoch a
    // majority promised.
    let (_, first_epoch) = agreed_leader(&all).await.expect("a leader");
    drop(all);
    nodes[2].kill();
    let survivors: Vec<&NodeProcess> = nodes[..2].iter().collect();
    eventually(PATIENCE, || async {
        let (_, epoch) = agreed_leader(&survivors).await?;
        (epoch > first_epoch).then_some(())
    })
    .await
    .expect("a new leader in a later epoch");
    drop(survivors);
    nodes[2] = specs[2].start().await.expect("node 3 comes back");
    let all: Vec<&NodeProcess> = nodes.iter().collect();
    wait_for_leader(&all).await;
    let showtime = nodes[0].future_showtime(4).await;
    let (status, booking) = nodes[0]
        .book(json!({"userId": "ada", "showtimeId": showtime, "seats": ["A1"]}))
        .await;
    assert_eq!(status, 201, "{booking}");

    // Every node restarts, remembering only its database.
    drop(all);
    for node in nodes.iter_mut() {
        node.kill();
    }
    nodes = start_all(&specs).await;
    let written = eventually(PATIENCE, || async {
        let (status, booking) = nodes[1]
            .book(json!({"userId": "bob", "showtimeId": showtime, "seats": ["A2"]}))
            .await;
        (status == 201).then_some(booking)
    })
    .await;
    assert!(written.is_some(), "the restarted cluster takes writes");
}
