//! No secret in any log line or event: nodes logging everything at debug
//! level, through bookings, an election and a cancellation, never print the
//! cluster secret, and neither does their event feed.

mod common;

use common::{agreed_leader, cluster_specs, eventually, start_all, NodeApi, NodeProcess};
use futures::StreamExt;
use serde_json::json;
use std::time::Duration;

/// Everything a node's event feed carries for `listen`.
async fn feed_of(node: &NodeProcess, listen: Duration) -> String {
    let url = node.base_url.replace("http://", "ws://") + "/ws/events";
    let (mut feed, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("the feed");
    let mut seen = String::new();
    let _ = tokio::time::timeout(listen, async {
        while let Some(Ok(message)) = feed.next().await {
            if let Ok(text) = message.into_text() {
                seen.push_str(&text);
            }
        }
    })
    .await;
    seen
}

#[tokio::test]
async fn the_cluster_secret_appears_in_no_log_line_and_no_event() {
    let secret = "secret-of-no_secret_logged";
    let specs: Vec<_> = cluster_specs("no_secret_logged", 2)
        .into_iter()
        .map(|spec| spec.env("RUST_LOG", "debug"))
        .collect();
    let nodes = start_all(&specs).await;
    let all: Vec<&NodeProcess> = nodes.iter().collect();
    let led = eventually(Duration::from_secs(20), || agreed_leader(&all)).await;
    assert!(led.is_some(), "the nodes agree on a leader");
    let listening = feed_of(&nodes[0], Duration::from_secs(3));
    let traffic = async {
        let showtime = nodes[1].future_showtime(1).await;
        let booked = eventually(Duration::from_secs(20), || async {
            let (status, booking) = nodes[1]
                .book(json!({"userId": "sam", "showtimeId": showtime, "seats": ["D4"]}))
                .await;
            (status == 201).then_some(booking)
        })
        .await
        .expect("a booking");
        let id = booked["id"].as_str().unwrap();
        let (status, cancelled) = nodes[0].cancel(id, "sam").await;
        assert_eq!(status, 200, "{cancelled}");
        let (status, _) = nodes[0]
            .operator_json(
                reqwest::Method::POST,
                "/api/election",
                json!({"algorithm": "ring"}),
            )
            .await;
        assert_eq!(status, 202);
    };
    let (events, ()) = tokio::join!(listening, traffic);
    // The feed was followed while the booking went through the cluster.
    assert!(events.contains("\"kind\":\"heartbeat\""), "{events}");
    assert!(events.contains("\"seats\":[\"D4\"]"), "{events}");
    assert!(!events.contains(secret), "an event carries the secret");
    for node in &nodes {
        let output = node.output.lock().unwrap().clone();
        assert!(output.contains("DEBUG"), "debug logs were written");
        assert!(!output.contains(secret), "a log line carries the secret");
    }
}
