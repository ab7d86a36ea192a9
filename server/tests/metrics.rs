//! A node's Prometheus metrics: after a booking, `GET /metrics` counts the
//! request by route, method and status with its latency histogram, the
//! booking by outcome, in the text format.

mod common;

use common::start_node;
use common::NodeApi;
use serde_json::json;

#[tokio::test]
async fn a_node_counts_its_requests_and_bookings_for_prometheus() {
    let node = start_node("metrics_node").await;
    let showtime = node.future_showtime(1).await;
    let (status, booking) = node
        .book(json!({"userId": "ada", "showtimeId": showtime, "seats": ["B3"]}))
        .await;
    assert_eq!(status, 201, "{booking}");
    let (status, _) = node
        .book(json!({"userId": "bo", "showtimeId": showtime, "seats": ["B3"]}))
        .await;
    assert_eq!(status, 409);

    let answer = reqwest::get(node.url("/metrics")).await.expect("an answer");
    assert_eq!(answer.status(), 200);
    let content_type = answer.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let metrics = answer.text().await.unwrap();
    for line in [
        r#"moviebook_http_requests_total{route="/api/bookings",method="POST",status="201"} 1"#,
        r#"moviebook_http_requests_total{route="/api/bookings",method="POST",status="409"} 1"#,
        r#"moviebook_bookings_total{status="confirmed"} 1"#,
        r#"moviebook_http_request_duration_seconds_bucket{route="/api/bookings",method="POST",le="+Inf"} 2"#,
    ] {
        assert!(metrics.contains(line), "{line} in:\n{metrics}");
    }
}

/// Every metric the Grafana dashboard in `deploy/` queries is one a node
/// or the gateway records, so the dashboard cannot drift from the code.
#[test]
fn the_dashboard_queries_only_metrics_that_exist() {
    let dashboard = include_str!("../../deploy/grafana/moviebook.json");
    let recorded = [
        include_str!("../src/metrics.rs"),
        include_str!("../src/gateway/proxy.rs"),
    ]
    .concat();
    let parsed: serde_json::Value = serde_json::from_str(dashboard).expect("the dashboard is JSON");
    let mut queried = 0;
    for panel in parsed["panels"].as_array().expect("panels") {
        let expr = panel["targets"][0]["expr"].as_str().expect("a query");
        for name in expr
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .filter(|word| word.starts_with("moviebook_"))
        {
            let name = name.trim_end_matches("_bucket");
            assert!(
                recorded.contains(&format!("\"{name}\"")),
                "{name} (panel {}) is recorded nowhere",
                panel["title"]
            );
            queried += 1;
        }
    }
    assert!(queried >= 14, "the dashboard queries {queried} metrics");
}
