//! The replication modes between real node processes: a mode is chosen at
//! start and switched through the cluster, and the nonsense ones are
//! refused; eventual bookings of one seat made on both sides of a partition
//! settle on the same winner everywhere, the loser marked lost to it, and
//! so does a cancellation racing a rival's booking of its seat;
//! gossip brings a node that was cut off to the same state as the others;
//! a causal client reads its own writes on a node that had not heard of
//! them; a gossip write acknowledged by a node killed before it spread it
//! reaches every node once that node is back; copies pushed together go in
//! even beside one that cannot.

mod common;

use cluster::replication::OpId;
use common::relay::Links;
use common::{
    agreed_leader, booking_on, cluster_specs, eventually, not_available, seat_states, start_all,
    FakePeer, NodeApi,
};
use common::{NodeProcess, NodeSpec};
use moviebook::replication::wire::{Change, ReplicationRequest};
use moviebook::store::{BookingReplica, NewBookingRecord};
use serde_json::{json, Value};
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(20);
const SEEN_HEADER: &str = "x-moviebook-seen";

/// Elections and quorums are timing-sensitive: one cluster at a time.
static ONE_CLUSTER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn in_mode(specs: Vec<NodeSpec>, strategy: &str, consistency: &str) -> Vec<NodeSpec> {
    specs
        .into_iter()
        .map(|spec| {
            spec.env("REPLICATION", strategy)
                .env("CONSISTENCY", consistency)
                .env("GOSSIP_FANOUT", 1)
                .env("GOSSIP_PERIOD_MS", 100)
        })
        .collect()
}

async fn put_mode(node: &NodeProcess, body: Value) -> (u16, Value) {
    node.operator_json(reqwest::Method::PUT, "/api/replication", body)
        .await
}

fn id_of(booking: &Value) -> String {
    booking["id"].as_str().expect("a booking id").to_string()
}

#[tokio::test]
async fn the_mode_is_chosen_at_start_switched_through_the_cluster_and_nonsense_is_refused() {
    let _turn = ONE_CLUSTER_AT_A_TIME.lock().await;
    let nodes = start_all(&cluster_specs("mode_switch", 3)).await;
    let all: Vec<&NodeProcess> = nodes.iter().collect();
    eventually(PATIENCE, || agreed_leader(&all))
        .await
        .expect("a leader");
    let mode = nodes[0].get_json("/api/replication").await;
    assert_eq!(
        (&mode["strategy"], &mode["consistency"]),
        (&json!("master-slave"), &json!("strong"))
    );

    for (body, says) in [
        (
            json!({"strategy": "gossip", "consistency": "strong"}),
            "Gossip cannot be strong",
        ),
        (
            json!({"strategy": "paxos", "consistency": "strong"}),
            "not a strategy",
        ),
        (
            json!({"strategy": "gossip", "consistency": "sometimes"}),
            "not a consistency model",
        ),
    ] {
        let (status, error) = put_mode(&nodes[1], body.clone()).await;
        assert_eq!(status, 422, "{body} -> {error}");
        let message = error["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(says), "{body} -> {message}");
    }
    let (status, _) = put_mode(&nodes[1], json!({"strategy": "gossip"})).await;
    assert!((400..500).contains(&status), "a missing field is a 4xx");
    let unchanged = nodes[2].get_json("/api/replication").await;
    assert_eq!(
        unchanged["strategy"], "master-slave",
        "refusals change nothing"
    );

    let (status, switched) = put_mode(
        &nodes[1],
        json!({"strategy": "multi-master", "consistency": "causal"}),
    )
    .await;
    assert_eq!(status, 200, "{switched}");
    assert!(switched["version"].as_u64() >= Some(1), "{switched}");
    for node in &nodes {
        let mode = node.get_json("/api/replication").await;
        assert_eq!(
            (&mode["strategy"], &mode["consistency"], &mode["version"]),
            (
                &json!("multi-master"),
                &json!("causal"),
                &switched["version"]
            ),
            "every node switched at the agreed point"
        );
    }

    // Every booking records the mode it was made under, and reaches every node.
    let showtime = nodes[0].future_showtime(3).await;
    let (status, booking) = nodes[2]
        .book(json!({"userId": "ada", "showtimeId": showtime, "seats": ["C3"]}))
        .await;
    assert_eq!(status, 201, "{booking}");
    assert_eq!(booking["mode"], "multi-master/causal");
    let id = id_of(&booking);
    for node in &nodes {
        let held = eventually(PATIENCE, || booking_on(node, &id)).await;
        assert_eq!(held.expect("every node holds it")["status"], "confirmed");
    }
}

#[tokio::test]
async fn eventual_bookings_of_one_seat_across_a_partition_settle_on_one_winner_everywhere() {
    let _turn = ONE_CLUSTER_AT_A_TIME.lock().await;
    let (specs, links) = Links::cluster("eventual_conflict", 3).await;
    let nodes = start_all(&in_mode(specs, "multi-master", "eventual")).await;
    let showtime = nodes[0].future_showtime(4).await;

    // Node 1 is cut off; both sides sell seat E5, and both acknowledge.
    links.isolate(1);
    let (status, ada) = nodes[0]
        .book(json!({"userId": "ada", "showtimeId": showtime, "seats": ["E5", "E6"]}))
        .await;
    assert_eq!(status, 201, "{ada}");
    let (status, bob) = nodes[1]
        .book(json!({"userId": "bob", "showtimeId": showtime, "seats": ["E5"]}))
        .await;
    assert_eq!(status, 201, "{bob}");
    assert_eq!(ada["mode"], "multi-master/eventual");
    let (ada, bob) = (id_of(&ada), id_of(&bob));

    links.heal();
    let mut verdicts = Vec::new();
    for node in &nodes {
        let verdict = eventually(PATIENCE, || async {
            let ada = booking_on(node, &ada).await?;
            let bob = booking_on(node, &bob).await?;
            let statuses = (ada["status"].as_str()?, bob["status"].as_str()?);
            match statuses {
                ("confirmed", "lost") => Some((ada.clone(), bob.clone())),
                ("lost", "confirmed") => Some((bob.clone(), ada.clone())),
                _ => None,
            }
        })
        .await
        .expect("one booking wins the seat and the other is marked lost");
        let (winner, loser) = verdict;
        assert_eq!(
            loser["lostTo"], winner["id"],
            "the loser names the booking that won"
        );
        verdicts.push(id_of(&winner));
        let mut taken = not_available(&seat_states(node, showtime, "observer").await);
        taken.sort();
        let expected: Vec<String> = if id_of(&winner) == ada {
            vec!["E5".into(), "E6".into()]
        } else {
            vec!["E5".into()]
        };
        assert_eq!(
            taken, expected,
            "the winner's seats and no others are taken"
        );
    }
    assert!(
        verdicts.windows(2).all(|pair| pair[0] == pair[1]),
        "every node settles on the same winner: {verdicts:?}"
    );
    // The operator's conflict log names both bookings and says why.
    let loser = if verdicts[0] == ada { &bob } else { &ada };
    let view = nodes[0].get_json("/api/replicas").await;
    let conflict = view["conflicts"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["bookingId"] == json!(loser)))
        .unwrap_or_else(|| panic!("the conflict is logged: {view}"));
    assert_eq!(conflict["lostTo"], json!(verdicts[0]));
    let why = conflict["why"].as_str().unwrap_or_default();
    assert!(
        why.starts_with("last write wins: the winner's stamp (epoch"),
        "{why}"
    );
}

/// A cancellation races a rival's booking of its seat. Node 3, cut off,
/// sells F7 to Bob; node 1 sells F7 to Ada later (a later stamp), node 2
/// takes Ada's booking and is cut off too; node 1 cancels Ada's booking.
/// Healed, node 1 hears of Bob after the cancellation, node 2 hears of
/// both with Ada's booking still confirmed there, node 3 hears of both at
/// once: each ends the same, Bob's booking lost to Ada's (last write wins,
/// and a cancelled booking still ranks) and F7 free.
#[tokio::test]
async fn a_cancellation_racing_a_rival_booking_of_its_seat_settles_the_same_everywhere() {
    let _turn = ONE_CLUSTER_AT_A_TIME.lock().await;
    let (specs, links) = Links::cluster("cancel_race", 3).await;
    let nodes = start_all(&in_mode(specs, "multi-master", "eventual")).await;
    let showtime = nodes[0].future_showtime(2).await;
    let clock = |booking: &Value| booking["logicalClock"].as_u64().expect("a Lamport time");

    links.isolate(3);
    let (status, bob) = nodes[2]
        .book(json!({"userId": "bob", "showtimeId": showtime, "seats": ["F7"]}))
        .await;
    assert_eq!(status, 201, "{bob}");
    // Node 1's clock moves past Bob's stamp, so Ada's booking is the later.
    for seat in 1.. {
        let (status, other) = nodes[0]
            .book(json!({"userId": "cy", "showtimeId": showtime, "seats": [format!("G{seat}")]}))
            .await;
        assert_eq!(status, 201, "{other}");
        if clock(&other) > clock(&bob) {
            break;
        }
    }
    let (status, ada) = nodes[0]
        .book(json!({"userId": "ada", "showtimeId": showtime, "seats": ["F7"]}))
        .await;
    assert_eq!(status, 201, "{ada}");
    assert!(clock(&ada) > clock(&bob));
    let (ada, bob) = (id_of(&ada), id_of(&bob));
    let confirmed_on_2 = eventually(PATIENCE, || async {
        let held = booking_on(&nodes[1], &ada).await?;
        (held["status"] == "confirmed").then_some(())
    })
    .await;
    assert!(confirmed_on_2.is_some(), "node 2 holds Ada's booking");

    links.isolate(2);
    let (status, cancelled) = nodes[0].cancel(&ada, "ada").await;
    assert_eq!(status, 200, "{cancelled}");

    links.heal();
    for node in &nodes {
        let settled = eventually(PATIENCE, || async {
            let ada = booking_on(node, &ada).await?;
            let bob = booking_on(node, &bob).await?;
            (ada["status"] == "cancelled" && bob["status"] == "lost").then_some(bob)
        })
        .await
        .unwrap_or_else(|| panic!("{}: Ada's booking cancelled, Bob's lost", node.base_url));
        assert_eq!(settled["lostTo"], json!(ada), "Bob's booking lost to Ada's");
        let taken = not_available(&seat_states(node, showtime, "observer").await);
        assert!(!taken.contains(&"F7".to_string()), "F7 is free: {taken:?}");
    }
    let view = nodes[1].get_json("/api/replicas").await;
    let conflict = view["conflicts"]
        .as_array()
        .and_then(|all| all.iter().find(|c| c["bookingId"] == json!(bob)))
        .unwrap_or_else(|| panic!("the conflict is logged: {view}"));
    let why = conflict["why"].as_str().unwrap_or_default();
    assert!(why.contains("cancelled it since"), "{why}");
}

#[tokio::test]
async fn gossip_brings_a_node_that_was_cut_off_to_the_same_state() {
    let _turn = ONE_CLUSTER_AT_A_TIME.lock().await;
    let (specs, links) = Links::cluster("gossip_converges", 3).await;
    let nodes = start_all(&in_mode(specs, "gossip", "eventual")).await;
    let showtime = nodes[0].future_showtime(5).await;

    links.isolate(3);
    let mut ids = Vec::new();
    for (node, seat) in nodes.iter().zip(["A1", "A2", "A3"]) {
        let (status, booking) = node
            .book(json!({"userId": "ada", "showtimeId": showtime, "seats": [seat]}))
            .await;
        assert_eq!(status, 201, "{booking}");
        assert_eq!(booking["mode"], "gossip/eventual");
        ids.push(id_of(&booking));
    }
    // The cut-off node has only its own booking.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(booking_on(&nodes[2], &ids[0]).await.is_none());

    links.heal();
    for node in &nodes {
        let converged = eventually(PATIENCE, || async {
            let mut taken = not_available(&seat_states(node, showtime, "observer").await);
            taken.sort();
            (taken == ["A1", "A2", "A3"]).then_some(())
        })
        .await;
        assert!(converged.is_some(), "{} holds every booking", node.base_url);
    }

    // The operator's view agrees: every replica reachable, none behind, and
    // all of them holding the same changes.
    let view = eventually(PATIENCE, || async {
        let view = nodes[0].get_json("/api/replicas").await;
        let replicas = view["replicas"].as_array()?.clone();
        let settled = replicas.len() == 3
            && replicas
                .iter()
                .all(|r| r["reachable"] == true && r["behind"] == 0);
        settled.then_some(replicas)
    })
    .await
    .expect("GET /api/replicas shows three replicas, none behind");
    for replica in &view {
        assert_eq!(replica["applied"], view[0]["applied"], "{replica}");
        assert_eq!(replica["confirmed"], 3, "{replica}");
    }
    assert_eq!(view[2]["applied"]["node-3"], 1, "node 3's own booking");
}

#[tokio::test]
async fn a_causal_client_reads_its_own_writes_on_a_node_that_had_not_heard_of_them() {
    let _turn = ONE_CLUSTER_AT_A_TIME.lock().await;
    let (specs, links) = Links::cluster("causal_reads", 3).await;
    let nodes = start_all(&in_mode(specs, "multi-master", "causal")).await;
    let showtime = nodes[0].future_showtime(6).await;

    // Node 1's pushes never reach node 2; node 2 can still ask its peers.
    links.block(1, 2);
    let ada = nodes[0].user_token("ada");
    let response = nodes[0]
        .client
        .post(nodes[0].url("/api/bookings"))
        .bearer_auth(&ada)
        .json(&json!({"userId": "ada", "showtimeId": showtime, "seats": ["B7"]}))
        .send()
        .await
        .expect("book");
    assert_eq!(response.status(), 201);
    let seen = response.headers()[SEEN_HEADER]
        .to_str()
        .expect("a readable header")
        .to_string();
    assert!(
        seen.contains("1:"),
        "the client has seen node 1's write: {seen}"
    );
    let booking: Value = response.json().await.expect("the booking");

    // At once, on node 2, the client finds its booking and its seat.
    let read = nodes[1]
        .client
        .get(nodes[1].url(&format!("/api/bookings?id={}", id_of(&booking))))
        .bearer_auth(&ada)
        .header(SEEN_HEADER, &seen)
        .send()
        .await
        .expect("read on node 2");
    assert_eq!(read.status(), 200, "node 2 caught up before answering");
    let map: Value = nodes[1]
        .client
        .get(nodes[1].url(&format!("/api/seats?showtimeId={showtime}&userId=ada")))
        .bearer_auth(&ada)
        .header(SEEN_HEADER, &seen)
        .send()
        .await
        .expect("seat map on node 2")
        .json()
        .await
        .expect("a seat map");
    let b7 = map["rows"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row["seats"].as_array().cloned().unwrap_or_default())
        .find(|seat| seat["label"] == "B7")
        .expect("seat B7");
    assert_eq!(b7["state"], "yours");

    // What a client says it has seen must be well formed.
    let garbled = nodes[1]
        .client
        .get(nodes[1].url("/api/movies"))
        .header(SEEN_HEADER, "1:two")
        .send()
        .await
        .expect("a request with a garbled header");
    assert_eq!(garbled.status(), 400);
}

#[tokio::test]
async fn a_gossip_write_whose_node_is_killed_before_spreading_it_reaches_everyone_after_a_restart()
{
    let _turn = ONE_CLUSTER_AT_A_TIME.lock().await;
    let (specs, links) = Links::cluster("gossip_killed", 3).await;
    let specs = in_mode(specs, "gossip", "causal");
    let mut nodes = start_all(&specs).await;
    let showtime = nodes[0].future_showtime(8).await;

    // Node 3 acknowledges a booking while cut off, and dies before any
    // gossip round could carry it.
    links.isolate(3);
    let (status, booking) = nodes[2]
        .book(json!({"userId": "ada", "showtimeId": showtime, "seats": ["F9"]}))
        .await;
    assert_eq!(status, 201, "{booking}");
    let id = id_of(&booking);
    nodes[2].kill();
    // `kill` waits for the process without yielding, so the relays (tasks
    // of this test) may not yet have taken the connections node 3 opened
    // while cut off; given a moment while still cut off, they turn them
    // away, instead of taking one after the heal and carrying what a dead
    // node sent before it died.
    tokio::time::sleep(Duration::from_millis(100)).await;
    links.heal();
    tokio::time::sleep(Duration::from_millis(500)).await;
    for node in &nodes[..2] {
        assert!(
            booking_on(node, &id).await.is_none(),
            "nobody else has it yet"
        );
    }

    // Back, it spreads what it acknowledged.
    nodes[2] = specs[2].start().await.expect("node 3 comes back");
    for node in &nodes {
        let held = eventually(PATIENCE, || booking_on(node, &id)).await;
        assert_eq!(
            held.expect("the acknowledged booking reaches every node")["status"],
            "confirmed"
        );
    }
}

/// A copy of a booking of `seat`, made by node 1 as its op `number`.
fn copy_from_node_1(showtime_id: i64, seat: &str, number: u64) -> BookingReplica {
    BookingReplica {
        record: NewBookingRecord {
            id: uuid::Uuid::new_v4(),
            user_id: "pia".into(),
            user_name: "Pia".into(),
            showtime_id,
            seats: vec![(seat.into(), 1200)],
            logical_clock: number,
            vector_clock: Default::default(),
            processed_by: "node-1".into(),
            timestamp: chrono::Utc::now(),
            mode: "multi-master/eventual".parse().unwrap(),
            epoch: 0,
        },
        status: app::model::BookingStatus::Confirmed,
        status_epoch: 0,
        ops: vec![OpId { origin: 1, number }],
        deps: Default::default(),
        made_with: Default::default(),
        lost_to: None,
        written_at: None,
    }
}

/// A peer's push carries many copies, merged in one transaction. One that
/// cannot go in here (of a showtime this node does not have) fails that
/// transaction; the others go in all the same, one by one, and the call
/// says something went wrong.
#[tokio::test]
async fn copies_pushed_together_go_in_even_beside_one_that_cannot() {
    let _turn = ONE_CLUSTER_AT_A_TIME.lock().await;
    // Nodes 2 and 3 are real; this test is node 1.
    let specs = in_mode(cluster_specs("one_bad_copy", 3), "multi-master", "eventual");
    let nodes = start_all(&specs[1..]).await;
    let node2 = &nodes[0];
    let showtime = node2.future_showtime(1).await;
    let copies = [
        copy_from_node_1(showtime, "D1", 1),
        copy_from_node_1(i64::from(i32::MAX), "D2", 2),
        copy_from_node_1(showtime, "D3", 3),
    ];
    let changes = copies
        .iter()
        .map(|replica| Change::Booking {
            replica: replica.clone(),
        })
        .collect();
    let reply = FakePeer::new(1, "secret-of-one_bad_copy")
        .call(node2, 2, ReplicationRequest::Share { changes }, PATIENCE)
        .await;
    assert!(reply.is_err(), "{reply:?}");
    for (replica, here) in copies.iter().zip([true, false, true]) {
        let booking = booking_on(node2, &replica.record.id.to_string()).await;
        assert_eq!(booking.is_some(), here, "{:?}", replica.record.seats);
    }
}
