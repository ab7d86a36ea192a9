//! Multi-master with strong consistency between real node processes: any
//! node coordinates a booking and wins its seats at a majority. Rival
//! bookings of one seat made through different nodes at the same moment
//! never both succeed, and those that lose leave nothing held; with a
//! coordinator SIGKILLed in the middle of the load and restarted, every
//! acknowledged booking is confirmed on every node, no seat is acknowledged
//! twice, and the replicas end identical.

mod common;

use common::{
    agreed_leader, booking_on, cluster_specs, eventually, not_available, seat_states, start_all,
    NodeApi,
};
use common::{NodeProcess, NodeSpec};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(30);

/// Elections and quorums are timing-sensitive: one cluster at a time.
static ONE_CLUSTER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn strong_multi_master(specs: Vec<NodeSpec>) -> Vec<NodeSpec> {
    specs
        .into_iter()
        .map(|spec| {
            spec.env("REPLICATION", "multi-master")
                .env("CONSISTENCY", "strong")
        })
        .collect()
}

async fn status_of(node: &NodeProcess, id: &str) -> Option<String> {
    let booking = booking_on(node, id).await?;
    booking["status"].as_str().map(str::to_string)
}

/// The seats taken on `node`, for one showtime.
async fn taken_on(node: &NodeProcess, showtime: i64) -> BTreeSet<String> {
    not_available(&seat_states(node, showtime, "observer").await)
        .into_iter()
        .collect()
}

#[tokio::test]
async fn rival_bookings_of_a_seat_through_different_nodes_never_both_succeed() {
    let _turn = ONE_CLUSTER_AT_A_TIME.lock().await;
    let nodes = start_all(&strong_multi_master(cluster_specs("mm_rivals", 3))).await;
    // The cluster has settled (an election's promises fence off writes of
    // the epoch before) before the race starts.
    let all: Vec<&NodeProcess> = nodes.iter().collect();
    eventually(PATIENCE, || agreed_leader(&all))
        .await
        .expect("a leader");
    let showtime = nodes[0].future_showtime(3).await;

    // Seats A1..A12 are booked through two nodes at once, B1..B6 through
    // all three.
    let mut races = Vec::new();
    for n in 1..=12 {
        races.push((format!("A{n}"), vec![0, 1 + n % 2]));
    }
    for n in 1..=6 {
        races.push((format!("B{n}"), vec![0, 1, 2]));
    }
    let mut winners: BTreeMap<String, String> = BTreeMap::new();
    let mut losers = Vec::new();
    for (seat, through) in &races {
        let attempts = through.iter().map(|&i| {
            let body =
                json!({"userId": format!("rival-{i}"), "showtimeId": showtime, "seats": [seat]});
            nodes[i].book(body)
        });
        let answers = futures::future::join_all(attempts).await;
        let mut won = Vec::new();
        for (status, body) in answers {
            match status {
                201 => {
                    assert_eq!(body["mode"], "multi-master/strong", "{body}");
                    won.push(body["id"].as_str().unwrap().to_string());
                }
                409 => {
                    assert_eq!(body["error"]["code"], "seats_taken", "{body}");
                    losers.push(seat.clone());
                }
                other => panic!("seat {seat}: {other} {body}"),
            }
        }
        assert!(won.len() <= 1, "seat {seat} was sold {} times", won.len());
        if let Some(id) = won.pop() {
            winners.insert(seat.clone(), id);
        }
    }
    assert!(
        winners.len() >= 6,
        "most two-way races have a winner: {winners:?}"
    );

    // Every node holds exactly the winners' seats, and each winner confirmed.
    let expected: BTreeSet<String> = winners.keys().cloned().collect();
    for node in &nodes {
        let settled = eventually(PATIENCE, || async {
            (taken_on(node, showtime).await == expected).then_some(())
        })
        .await;
        assert!(
            settled.is_some(),
            "{} holds {:?}, the winners hold {expected:?}: a losing claim was left held",
            node.base_url,
            taken_on(node, showtime).await
        );
        for id in winners.values() {
            assert_eq!(status_of(node, id).await.as_deref(), Some("confirmed"));
        }
    }
}

#[tokio::test]
async fn a_coordinator_killed_in_the_middle_loses_no_acknowledged_booking() {
    let _turn = ONE_CLUSTER_AT_A_TIME.lock().await;
    let specs = strong_multi_master(cluster_specs("mm_killed", 3));
    let mut nodes = start_all(&specs).await;
    let showtime = nodes[0].future_showtime(4).await;
    let seats: Vec<String> = seat_states(&nodes[0], showtime, "observer")
        .await
        .into_iter()
        .map(|(label, _)| label)
        .take(90)
        .collect();

    // Three clients book through the three nodes, two of them contending
    // for the same seats; node 1 is SIGKILLed a moment in.
    let book_all = |node: usize, seats: Vec<String>| {
        let client = reqwest::Client::new();
        let url = format!("{}/api/bookings", nodes[node].base_url);
        let token = nodes[node].user_token(&format!("load-{node}"));
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for seat in seats {
                let body = json!({"userId": format!("load-{node}"), "showtimeId": showtime, "seats": [seat]});
                let request = client.post(&url).bearer_auth(&token).json(&body);
                let Ok(response) = request.send().await else {
                    continue;
                };
                let status = response.status().as_u16();
                let answer: Value = response.json().await.unwrap_or(Value::Null);
                assert!(
                    [201, 409, 503].contains(&status),
                    "node {node}, seat {seat}: {status} {answer}"
                );
                if status == 201 {
                    acknowledged.push((seat, answer["id"].as_str().unwrap().to_string()));
                }
            }
            acknowledged
        })
    };
    let load = [
        book_all(0, seats[..60].to_vec()),
        book_all(1, seats[30..90].to_vec()),
        book_all(2, seats[60..90].iter().rev().cloned().collect()),
    ];
    tokio::time::sleep(Duration::from_millis(300)).await;
    nodes[0].kill();
    let mut acknowledged: Vec<(String, String)> = Vec::new();
    for task in load {
        acknowledged.extend(task.await.unwrap());
    }
    nodes[0] = specs[0].start().await.expect("node 1 comes back");

    let mut sold: BTreeMap<&str, &str> = BTreeMap::new();
    for (seat, id) in &acknowledged {
        if let Some(other) = sold.insert(seat, id) {
            panic!("seat {seat} was acknowledged to {other} and to {id}");
        }
    }
    assert!(!acknowledged.is_empty(), "some bookings went through");

    // Afterwards every acknowledged booking is confirmed everywhere, and
    // the replicas agree on which seats are taken.
    for node in &nodes {
        for (seat, id) in &acknowledged {
            let status = eventually(PATIENCE, || async {
                status_of(node, id).await.filter(|s| s == "confirmed")
            })
            .await;
            assert!(
                status.is_some(),
                "{}: the acknowledged booking {id} of seat {seat} is {:?}",
                node.base_url,
                status_of(node, id).await
            );
        }
    }
    let agreed = eventually(PATIENCE, || async {
        let mut seen = Vec::new();
        for node in &nodes {
            seen.push(taken_on(node, showtime).await);
        }
        seen.windows(2)
            .all(|pair| pair[0] == pair[1])
            .then_some(seen.remove(0))
    })
    .await
    .expect("the replicas agree on the seats taken once the claims are settled");
    let acknowledged_seats: BTreeSet<String> =
        acknowledged.iter().map(|(seat, _)| seat.clone()).collect();
    assert!(
        acknowledged_seats.is_subset(&agreed),
        "every acknowledged seat is taken"
    );
}
