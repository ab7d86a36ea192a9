//! The gateway in front of real node processes: it spreads requests over
//! every node, keeps serving when one is SIGKILLed, merges the nodes' event
//! feeds with its own routing decisions (and reconnects to a node's feed that
//! falls silent), and refuses oversized bodies. Its API description is a
//! node's with its own operations added.

mod common;

use common::gateway::{
    answered_by, every_node_in_rotation, start_gateway, start_gateway_for, start_gateway_with,
    PATIENCE,
};
use common::relay::Relay;
use common::{cluster_specs, eventually, start_all};
use futures::StreamExt;
use std::collections::BTreeSet;
use std::time::Duration;

#[tokio::test]
async fn requests_go_round_every_node_and_survive_a_killed_one() {
    let specs = cluster_specs("gateway_rotation", 3);
    let mut nodes = start_all(&specs).await;
    let gateway = start_gateway(&nodes.iter().collect::<Vec<_>>()).await;
    let client = reqwest::Client::new();
    // Once every node passed a health check, round robin visits them in turn.
    assert!(
        every_node_in_rotation(&client, &gateway, 3).await,
        "three requests in a row reach three nodes"
    );

    nodes[1].kill();
    for _ in 0..30 {
        let node = answered_by(&client, &gateway).await.expect("an answer");
        assert_ne!(node, "node-2", "the killed node answers nothing");
    }
    let status: serde_json::Value = client
        .get(format!("{}/gateway/status", gateway.base_url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(status["strategy"], "round_robin");
    assert_eq!(status["nodes"][1]["live"], false, "{status}");

    // Back from the dead, the node passes a health check and rejoins.
    nodes[1] = specs[1].start().await.expect("node 2 comes back");
    let rejoined = eventually(PATIENCE, || async {
        (answered_by(&client, &gateway).await?.as_str() == "node-2").then_some(())
    })
    .await;
    assert!(rejoined.is_some(), "the restarted node gets requests again");

    // What it routed, per node, and the retries after node 2 died, in
    // Prometheus's text format.
    let metrics = client
        .get(format!("{}/metrics", gateway.base_url))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for node in ["1", "2", "3"] {
        let routed = format!("moviebook_gateway_routed_total{{node=\"{node}\",status=\"200\"}}");
        assert!(metrics.contains(&routed), "{routed} in {metrics}");
    }
    assert!(
        metrics
            .contains("moviebook_gateway_request_duration_seconds_bucket{node=\"1\",le=\"+Inf\"}"),
        "{metrics}"
    );

    let too_big = vec![b'x'; 2 * 1024 * 1024];
    let response = client
        .post(format!("{}/api/bookings", gateway.base_url))
        .header("content-type", "application/json")
        .body(too_big)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let error: serde_json::Value = response.json().await.unwrap();
    assert_eq!(error["error"]["code"], "payload_too_large");
}

#[tokio::test]
async fn the_gateway_feed_merges_every_node_and_its_routing_decisions() {
    let specs = cluster_specs("gateway_feed", 2);
    let mut nodes = start_all(&specs).await;
    let gateway = start_gateway(&nodes.iter().collect::<Vec<_>>()).await;
    let feed_url = format!("{}/ws/events", gateway.base_url.replace("http://", "ws://"));
    let (mut feed, _) = tokio_tungstenite::connect_async(feed_url.as_str())
        .await
        .expect("the gateway's feed");
    let client = reqwest::Client::new();
    let mut nodes_heard = BTreeSet::new();
    let mut routed = false;
    let heard = tokio::time::timeout(PATIENCE, async {
        while let Some(Ok(message)) = feed.next().await {
            let Ok(text) = message.into_text() else {
                continue;
            };
            let event: serde_json::Value = serde_json::from_str(&text).expect("JSON events");
            match event["event"]["kind"].as_str() {
                Some("heartbeat") => {
                    nodes_heard.insert(event["node"].as_u64().expect("a node id"));
                    // Heartbeats flow: now route a request and expect to hear of it.
                    let _ = client
                        .get(format!("{}/api/movies", gateway.base_url))
                        .send()
                        .await;
                }
                Some("routing") => {
                    assert_eq!(event["node"], 0, "routing events come from the gateway");
                    assert_eq!(event["event"]["path"], "/api/movies");
                    routed = true;
                }
                _ => {}
            }
            if nodes_heard.len() == 2 && routed {
                return;
            }
        }
    })
    .await;
    assert!(
        heard.is_ok(),
        "heard heartbeats from {nodes_heard:?}, routing event: {routed}"
    );

    nodes[1].kill();
    let told = tokio::time::timeout(PATIENCE, async {
        while let Some(Ok(message)) = feed.next().await {
            let Ok(text) = message.into_text() else {
                continue;
            };
            let event: serde_json::Value = serde_json::from_str(&text).expect("JSON events");
            if event["node"] == 0
                && event["event"]["kind"] == "gatewayNodeDown"
                && event["event"]["peer"] == 2
            {
                return;
            }
        }
    })
    .await;
    assert!(told.is_ok(), "the feed says the gateway took node 2 out");
}

/// Addresses that were free a moment ago: nothing listens there.
fn unreachable_addresses(count: usize) -> Vec<String> {
    let listeners: Vec<std::net::TcpListener> = (0..count)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    listeners
        .iter()
        .map(|l| l.local_addr().expect("a bound address").to_string())
        .collect()
}

#[tokio::test]
async fn with_no_node_reachable_the_gateway_answers_503_in_the_error_shape() {
    let addresses = unreachable_addresses(2);
    let gateway = start_gateway_for(&addresses.iter().map(String::as_str).collect::<Vec<_>>());

    let response = reqwest::get(format!("{}/api/movies", gateway.base_url))
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), 503);
    let error: serde_json::Value = response.json().await.expect("a JSON error");
    assert_eq!(error["error"]["code"], "unavailable");
    let message = error["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("reachable"), "{message}");

    // No node to give its description: the gateway's is a 503 too.
    let response = reqwest::get(format!("{}/api/openapi.json", gateway.base_url))
        .await
        .expect("the gateway answers");
    assert_eq!(response.status(), 503);
    let error: serde_json::Value = response.json().await.expect("a JSON error");
    assert_eq!(error["error"]["code"], "unavailable");
}

/// The gateway's own operations, as its description must give them.
const GATEWAY_OPERATIONS: &[(&str, &str, bool)] = &[
    ("get", "/gateway/status", false),
    ("put", "/gateway/strategy", true),
    ("post", "/api/heal", true),
    ("post", "/api/nodes/{id}/kill", true),
    ("post", "/api/nodes/{id}/restart", true),
    ("post", "/api/nodes/{id}/pause", true),
];

#[tokio::test]
async fn the_gateway_describes_its_own_operations_beside_the_nodes_api() {
    let specs = cluster_specs("gateway_openapi", 1);
    let nodes = start_all(&specs).await;
    let gateway = start_gateway(&nodes.iter().collect::<Vec<_>>()).await;
    let url = format!("{}/api/openapi.json", gateway.base_url);
    // Once the node is in rotation, the gateway has a description to extend.
    let description: serde_json::Value = eventually(PATIENCE, || async {
        let response = reqwest::get(&url).await.ok()?;
        (response.status() == 200).then_some(())?;
        response.json().await.ok()
    })
    .await
    .expect("the gateway serves a description once its node is live");
    let node_description: serde_json::Value = reqwest::get(nodes[0].url("/api/openapi.json"))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();

    let paths = description["paths"].as_object().unwrap();
    let node_paths = node_description["paths"].as_object().unwrap();
    for (path, item) in node_paths {
        assert_eq!(&paths[path], item, "the node's {path}, unchanged");
    }
    // Each of the gateway's operations has a path of its own.
    assert_eq!(paths.len(), node_paths.len() + GATEWAY_OPERATIONS.len());
    for (method, path, operators_only) in GATEWAY_OPERATIONS {
        let operation = &paths[*path][*method];
        assert_eq!(
            operation["tags"],
            serde_json::json!(["gateway"]),
            "{method} {path}"
        );
        let answers = operation["responses"].as_object().unwrap();
        for status in ["200", "429", "503"] {
            assert!(
                answers.contains_key(status),
                "{method} {path} lacks {status}"
            );
        }
        if *operators_only {
            assert_eq!(operation["security"], serde_json::json!([{"operator": []}]));
            for status in ["401", "403", "409"] {
                assert!(
                    answers.contains_key(status),
                    "{method} {path} lacks {status}"
                );
            }
        }
    }
    let schemas = description["components"]["schemas"].as_object().unwrap();
    for schema in [
        "ProcessView",
        "HealedEverything",
        "GatewayStatus",
        "ErrorBody",
        "Booking",
    ] {
        assert!(schemas.contains_key(schema), "{schema} is not described");
    }
}

/// Each client has a bucket for ordinary requests and a tighter one for
/// sign-ins and operator actions; past it, a 429 in the error shape with
/// `Retry-After`, and the request goes no further. (Nothing listens behind
/// this gateway: a request it lets through gets its 503.)
#[tokio::test]
async fn a_client_beyond_its_rate_gets_429_with_retry_after() {
    let addresses = unreachable_addresses(1);
    let flags = [
        "--rate-limit",
        "0.5",
        "--rate-burst",
        "3",
        "--sensitive-per-minute",
        "6",
    ];
    let gateway = start_gateway_with(&[addresses[0].as_str()], &flags);
    let client = reqwest::Client::new();
    let get_movies = || {
        client
            .get(format!("{}/api/movies", gateway.base_url))
            .send()
    };

    for _ in 0..3 {
        assert_eq!(get_movies().await.unwrap().status(), 503);
    }
    let refused = get_movies().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "2");
    assert_eq!(refused.headers()["x-content-type-options"], "nosniff");
    let error: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(error["error"]["code"], "too_many_requests");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("wait 2 s"),
        "{error}"
    );

    // Operator actions draw from a bucket of their own: ten at once.
    let start_election = || {
        client
            .post(format!("{}/api/election", gateway.base_url))
            .json(&serde_json::json!({"algorithm": "bully"}))
            .send()
    };
    for _ in 0..10 {
        assert_eq!(start_election().await.unwrap().status(), 503);
    }
    let refused = start_election().await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["retry-after"], "10");
}

#[tokio::test]
async fn benchmarks_can_turn_the_rate_limits_off() {
    let addresses = unreachable_addresses(1);
    let flags = [
        "--rate-limit",
        "0.5",
        "--rate-burst",
        "1",
        "--no-rate-limit",
    ];
    let gateway = start_gateway_with(&[addresses[0].as_str()], &flags);
    for _ in 0..20 {
        let response = reqwest::get(format!("{}/api/movies", gateway.base_url))
            .await
            .unwrap();
        assert_eq!(response.status(), 503);
    }
}

/// Waits for the next event of `node` on the feed.
async fn next_event_of(
    feed: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
    node: u64,
) -> bool {
    while let Some(Ok(message)) = feed.next().await {
        let Ok(text) = message.into_text() else {
            continue;
        };
        let event: serde_json::Value = serde_json::from_str(&text).expect("JSON events");
        if event["node"] == node {
            return true;
        }
    }
    false
}

#[tokio::test]
async fn a_node_feed_cut_off_without_a_word_is_noticed_and_reconnected() {
    let node = common::start_node("gateway_silent_feed").await;
    let relay = Relay::start(node.base_url.trim_start_matches("http://").to_string()).await;
    let gateway = start_gateway_for(&[relay.address.as_str()]);
    let feed_url = format!("{}/ws/events", gateway.base_url.replace("http://", "ws://"));
    let (mut feed, _) = tokio_tungstenite::connect_async(feed_url.as_str())
        .await
        .expect("the gateway's feed");
    let heard = tokio::time::timeout(PATIENCE, next_event_of(&mut feed, 1)).await;
    assert_eq!(heard.ok(), Some(true), "the node's events reach the feed");

    // The gateway's connection to the node's feed goes silent for good.
    relay.cut();
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Drop what was already on its way.
    while tokio::time::timeout(Duration::from_millis(50), feed.next())
        .await
        .is_ok()
    {}
    let heard_again = tokio::time::timeout(PATIENCE, next_event_of(&mut feed, 1)).await;
    assert_eq!(
        heard_again.ok(),
        Some(true),
        "the gateway noticed the silent feed and connected again"
    );
}

#[tokio::test]
async fn a_gateway_that_does_not_run_its_nodes_refuses_process_controls_and_pins_requests() {
    let unreachable = common::free_ports(1)[0];
    let address = format!("127.0.0.1:{unreachable}");
    let gateway = start_gateway_for(&[&address]);
    let client = reqwest::Client::new();
    for path in ["/api/nodes/1/kill", "/api/nodes/1/restart", "/api/heal"] {
        let response = client
            .post(format!("{}{path}", gateway.base_url))
            .send()
            .await
            .expect("the gateway answers");
        assert_eq!(response.status(), 409, "{path}");
        let body: serde_json::Value = response.json().await.expect("a JSON error");
        let message = body["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains("moviebook up"), "{message}");
    }
    let response = client
        .put(format!("{}/gateway/strategy", gateway.base_url))
        .json(&serde_json::json!({"strategy": "least_connections"}))
        .send()
        .await
        .expect("the gateway answers");
    assert_eq!(
        response.status(),
        409,
        "a gateway alone cannot tell an operator"
    );
    for (path, expected) in [("/api/nodes/1/faults", 503), ("/api/nodes/2/faults", 404)] {
        let response = client
            .get(format!("{}{path}", gateway.base_url))
            .send()
            .await
            .expect("the gateway answers");
        assert_eq!(response.status(), expected, "{path}");
    }
}

/// Nodes part-way through a rolling update serve two builds of the browser
/// app. A page links its build's files, and the gateway finds them on a node
/// that serves that build, whichever node it asks first.
#[tokio::test]
async fn a_builds_files_are_found_on_whichever_node_serves_that_build() {
    let sites: Vec<tempfile::TempDir> = ["old", "new"]
        .iter()
        .map(|build| {
            let site = tempfile::tempdir().unwrap();
            std::fs::create_dir_all(site.path().join("pkg")).unwrap();
            std::fs::write(
                site.path().join("pkg/app.js"),
                format!("// the {build} build"),
            )
            .unwrap();
            site
        })
        .collect();
    let specs: Vec<_> = cluster_specs("gateway_builds", 2)
        .into_iter()
        .zip(&sites)
        .map(|(spec, site)| spec.env("LEPTOS_SITE_ROOT", site.path().display()))
        .collect();
    let nodes = start_all(&specs).await;
    let gateway = start_gateway(&nodes.iter().collect::<Vec<_>>()).await;
    let client = reqwest::Client::new();

    // Each node's pages link its own build.
    let mut builds = Vec::new();
    for node in &nodes {
        let page = client
            .get(node.url("/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let start = page.find("/build/").expect("a page links its build");
        builds.push(page[start..start + "/build/".len() + 16].to_string());
    }
    assert_ne!(builds[0], builds[1]);

    // Both nodes in rotation, so round robin alone would miss half the time.
    assert!(
        every_node_in_rotation(&client, &gateway, 2).await,
        "both nodes should enter the rotation"
    );
    for (build, name) in builds.iter().zip(["old", "new"]) {
        for _ in 0..6 {
            let url = format!("{}{build}/pkg/app.js", gateway.base_url);
            let answer = client.get(&url).send().await.unwrap();
            assert_eq!(answer.status(), 200, "{url}");
            assert_eq!(answer.text().await.unwrap(), format!("// the {name} build"));
        }
    }
    // A build no node serves: a 404, once every node was asked.
    let unknown = format!("{}/build/0000000000000000/pkg/app.js", gateway.base_url);
    assert_eq!(client.get(&unknown).send().await.unwrap().status(), 404);
}
