//! The gateway in front of a master-slave cluster: bookings and
//! cancellations go straight to the leader its health checks name, so no
//! follower has to forward them, while reads still go round every node.
//! With the leader killed, bookings go on through the followers until the
//! gateway learns the new leader, and then go to it.

mod common;

use common::gateway::{every_node_in_rotation, start_gateway, GatewayProcess, PATIENCE};
use common::{agreed_leader, cluster_specs, eventually, start_all, NodeApi, NodeProcess};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

/// Sends a request through the gateway as moviegoer `user` (with a session
/// `node`'s cluster accepts): the status, the JSON answer and the node that
/// answered.
async fn as_user(
    gateway: &GatewayProcess,
    node: &NodeProcess,
    user: &str,
    (method, path): (Method, &str),
    body: Value,
) -> (u16, Value, String) {
    let response = reqwest::Client::new()
        .request(method, format!("{}{path}", gateway.base_url))
        .bearer_auth(node.user_token(user))
        .json(&body)
        .send()
        .await
        .expect("the gateway answers");
    let answered_by = response
        .headers()
        .get("x-moviebook-node")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let status = response.status().as_u16();
    (
        status,
        response.json().await.unwrap_or(Value::Null),
        answered_by,
    )
}

/// `user` books `seat` through the gateway.
async fn book(
    gateway: &GatewayProcess,
    node: &NodeProcess,
    user: &str,
    (showtime, seat): (i64, &str),
) -> (u16, Value, String) {
    let body = json!({"userId": user, "showtimeId": showtime, "seats": [seat]});
    let request = (Method::POST, "/api/bookings");
    as_user(gateway, node, user, request, body).await
}

/// Whether, within `PATIENCE`, the gateway says writes go to `leader`: the
/// nodes named it, in master-slave, and it passed its health check.
async fn gateway_writes_to(gateway: &GatewayProcess, leader: u64) -> bool {
    let url = format!("{}/gateway/status", gateway.base_url);
    let known = eventually(PATIENCE, || async {
        let status: Value = reqwest::get(&url).await.ok()?.json().await.ok()?;
        let node = status["nodes"]
            .as_array()?
            .iter()
            .find(|n| n["nodeId"] == leader)?;
        (status["leader"] == leader
            && status["replication"] == "master-slave"
            && node["live"] == true)
            .then_some(())
    })
    .await;
    known.is_some()
}

#[tokio::test]
async fn in_master_slave_the_gateway_sends_writes_straight_to_the_leader() {
    let specs: Vec<_> = cluster_specs("gateway_writes_to_leader", 3)
        .into_iter()
        .map(|spec| {
            spec.env("REPLICATION", "master-slave")
                .env("CONSISTENCY", "strong")
        })
        .collect();
    let mut nodes = start_all(&specs).await;
    let gateway = start_gateway(&nodes.iter().collect::<Vec<_>>()).await;
    let client = reqwest::Client::new();
    let all: Vec<&NodeProcess> = nodes.iter().collect();
    let (leader, _) = eventually(PATIENCE, || agreed_leader(&all))
        .await
        .expect("the nodes agree on a leader");
    assert!(
        every_node_in_rotation(&client, &gateway, 3).await,
        "every node enters the rotation"
    );
    assert!(
        gateway_writes_to(&gateway, leader).await,
        "the gateway learns that node {leader} leads"
    );

    // Every booking and the cancellation are answered by the leader itself:
    // none reached a follower that had to forward it.
    let showtime = nodes[0].future_showtime(1).await;
    let leader_name = format!("node-{leader}");
    let mut made = Vec::new();
    for (user, seat) in [("ada", "A1"), ("bob", "A2"), ("cy", "A3"), ("di", "A4")] {
        let (status, booking, answered_by) =
            book(&gateway, &nodes[0], user, (showtime, seat)).await;
        assert_eq!(status, 201, "{booking}");
        assert_eq!(
            answered_by, leader_name,
            "{user}'s booking went to the leader"
        );
        assert_eq!(booking["processedBy"], leader_name);
        made.push(booking["id"].as_str().expect("a booking id").to_string());
    }
    let cancel = format!("/api/bookings?id={}&userId=ada", made[0]);
    let (status, cancelled, answered_by) = as_user(
        &gateway,
        &nodes[0],
        "ada",
        (Method::DELETE, &cancel),
        Value::Null,
    )
    .await;
    assert_eq!(status, 200, "{cancelled}");
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(
        answered_by, leader_name,
        "the cancellation went to the leader"
    );

    // Reads keep the balancing strategy: three in a row reach three nodes.
    assert!(every_node_in_rotation(&client, &gateway, 3).await);
    let metrics = client
        .get(format!("{}/metrics", gateway.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let to_leader = format!("moviebook_gateway_writes_to_leader_total{{node=\"{leader}\"}} 5");
    assert!(metrics.contains(&to_leader), "{to_leader} in {metrics}");

    // The leader dies. Bookings go on through the followers (answered 503
    // only while no node leads), and once the gateway hears of the new
    // leader, writes go to it.
    nodes[leader as usize - 1].kill();
    let followers: Vec<&NodeProcess> = nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i as u64 + 1 != leader)
        .map(|(_, node)| node)
        .collect();
    let (gateway, mut attempt) = (&gateway, 0);
    let booked = eventually(Duration::from_secs(30), || {
        // A seat of its own each time: a 503 may come after the write.
        attempt += 1;
        let seat = format!("B{attempt}");
        let node = followers[0];
        async move {
            let (status, booking, _) = book(gateway, node, "ed", (showtime, &seat)).await;
            assert!(
                status == 201 || status == 503,
                "a booking without the leader answers {status}: {booking}"
            );
            (status == 201).then_some(booking)
        }
    })
    .await;
    assert!(
        booked.is_some(),
        "a booking succeeds once the leader is gone"
    );
    let (new_leader, _) = eventually(PATIENCE, || async {
        agreed_leader(&followers)
            .await
            .filter(|(id, _)| *id != leader)
    })
    .await
    .expect("the followers agree on a new leader");
    assert!(
        gateway_writes_to(gateway, new_leader).await,
        "the gateway learns that node {new_leader} leads now"
    );
    let (status, booking, answered_by) = book(gateway, followers[0], "flo", (showtime, "C1")).await;
    assert_eq!(status, 201, "{booking}");
    assert_eq!(answered_by, format!("node-{new_leader}"));
}
