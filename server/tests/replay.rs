//! Node messages cannot be replayed. Three real nodes run with a recording
//! proxy in front of node 1, so every envelope the others send it (heartbeats,
//! election messages, Berkeley polls and adjustments, replication pushes,
//! digests and syncs) is captured as it crossed the wire. Sent again, each one is refused
//! with a 409 and changes nothing on node 1.

mod common;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use common::{agreed_leader, eventually, free_ports, node_spec, NodeApi, NodeProcess, NodeSpec};
use moviebook::runtime::envelope::SIGNATURE_HEADER;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(30);
const SECRET: &str = "secret-of-replay";

/// One request as it reached node 1.
#[derive(Clone, Debug)]
struct Captured {
    path: String,
    signature: String,
    body: Bytes,
}

impl Captured {
    /// What kind of message it is, e.g. "rpc heartbeat", "rpc berkeley adjust",
    /// "call apply".
    fn kind(&self) -> String {
        let envelope: Value = serde_json::from_slice(&self.body).unwrap_or_default();
        let body = &envelope["body"];
        let endpoint = self.path.trim_start_matches("/internal/");
        match body["kind"].as_str().unwrap_or("?") {
            "berkeley" | "election" => format!(
                "{endpoint} {} {}",
                body["kind"].as_str().unwrap_or("?"),
                body["message"]["type"].as_str().unwrap_or("?")
            ),
            kind => format!("{endpoint} {kind}"),
        }
    }
}

/// Forwards every request to `target` and keeps a copy of each one `target`
/// answered.
async fn start_recording_proxy(port: u16, target: String) -> Arc<Mutex<Vec<Captured>>> {
    let captured = Arc::new(Mutex::new(Vec::new()));
    let client = reqwest::Client::new();
    let record = captured.clone();
    let app = axum::Router::new().fallback(
        move |uri: axum::http::Uri, headers: HeaderMap, body: Bytes| {
            let (client, record, target) = (client.clone(), record.clone(), target.clone());
            async move {
                let signature = headers
                    .get(SIGNATURE_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
                    .to_string();
                let answer = client
                    .post(format!("http://{target}{}", uri.path()))
                    .header(SIGNATURE_HEADER, signature.clone())
                    .header("content-type", "application/json")
                    .body(body.clone())
                    .send()
                    .await;
                match answer {
                    Ok(answer) => {
                        // Kept only once node 1 has answered it: a request
                        // whose sender hung up (a timeout, or the sender
                        // killed) before it was passed on never reached
                        // node 1, and sending it later would be its first
                        // delivery, not a replay.
                        record.lock().unwrap().push(Captured {
                            path: uri.path().to_string(),
                            signature,
                            body,
                        });
                        let status = StatusCode::from_u16(answer.status().as_u16()).unwrap();
                        let mut headers = HeaderMap::new();
                        if let Some(signature) = answer.headers().get(SIGNATURE_HEADER) {
                            headers.insert(SIGNATURE_HEADER, signature.clone());
                        }
                        headers.insert("content-type", "application/json".parse().unwrap());
                        (status, headers, answer.bytes().await.unwrap_or_default())
                    }
                    Err(_) => (StatusCode::BAD_GATEWAY, HeaderMap::new(), Bytes::new()),
                }
            }
        },
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("the proxy's port");
    tokio::spawn(async move { axum::serve(listener, app).await });
    captured
}

/// What a replayed message could change on `node`: its epoch, its clock's
/// offset, how many nodes it sees alive, and the test's bookings.
async fn observed_state(node: &NodeProcess) -> (Value, f64, Value, Value) {
    (
        node.get_json("/api/election").await["epoch"].clone(),
        node.get_json("/api/sync").await["offsetMs"]
            .as_f64()
            .unwrap(),
        node.get_json("/api/health").await["summary"]["healthy"].clone(),
        node.get_json("/api/bookings?userId=ida").await,
    )
}

#[tokio::test]
async fn every_kind_of_captured_envelope_is_refused_when_replayed() {
    let ports = free_ports(4);
    let (node_ports, proxy_port) = (&ports[..3], ports[3]);
    let address = |port: u16| format!("127.0.0.1:{port}");
    // Nodes 2 and 3 reach node 1 only through the proxy.
    let peers_of = |id: u32| -> String {
        (1..=3u32)
            .filter(|&other| other != id)
            .map(|other| {
                let port = if other == 1 && id != 1 {
                    proxy_port
                } else {
                    node_ports[(other - 1) as usize]
                };
                format!("{other}={}", address(port))
            })
            .collect::<Vec<_>>()
            .join(",")
    };
    let spec = |database: &str, id: u32| {
        node_spec(database, id, node_ports[(id - 1) as usize])
            .env("PEERS", peers_of(id))
            .env("CLUSTER_SECRET", SECRET)
            .env("BERKELEY_INTERVAL_MS", 300)
            .env("CLOCK_DRIFT_PPM", 0)
    };
    let specs: Vec<NodeSpec> = (1..=3u32).map(|id| spec("replay", id)).collect();
    let captured = start_recording_proxy(proxy_port, address(node_ports[0])).await;
    let mut nodes: Vec<NodeProcess> = Vec::new();
    for spec in &specs {
        nodes.push(spec.start().await.expect("the node starts"));
    }
    let all: Vec<&NodeProcess> = nodes.iter().collect();
    eventually(PATIENCE, || agreed_leader(&all))
        .await
        .expect("a leader");

    // Traffic of every kind towards node 1: a booking (pushed to it), an
    // election (its coordinator message), time passing (heartbeats,
    // Berkeley rounds, anti-entropy digests), and node 2 back on an empty
    // database (it lacks the booking, so its rounds sync from node 1).
    let showtime = nodes[1].future_showtime(1).await;
    let (status, booking) = nodes[1]
        .book(json!({"userId": "ida", "showtimeId": showtime, "seats": ["A4"]}))
        .await;
    assert_eq!(status, 201, "{booking}");
    let (status, _) = nodes[1]
        .operator_json(
            reqwest::Method::POST,
            "/api/election",
            json!({"algorithm": "bully"}),
        )
        .await;
    assert_eq!(status, 202);
    nodes[1].kill();
    nodes[1] = spec("replay_emptied", 2)
        .start()
        .await
        .expect("node 2 comes back on an empty database");
    let wanted: BTreeSet<&str> = [
        "rpc heartbeat",
        "rpc election coordinator",
        "rpc berkeley timeRequest",
        "rpc berkeley adjust",
        "call apply",
        "call digest",
        "call sync",
    ]
    .into();
    let kinds_captured = || -> BTreeSet<String> {
        captured
            .lock()
            .unwrap()
            .iter()
            .map(Captured::kind)
            .collect()
    };
    let all_kinds = eventually(PATIENCE, || async {
        let kinds = kinds_captured();
        wanted.iter().all(|w| kinds.contains(*w)).then_some(())
    })
    .await;
    assert!(all_kinds.is_some(), "captured only {:?}", kinds_captured());

    // The others stop, so nothing new reaches node 1; its state now:
    nodes[1].kill();
    nodes[2].kill();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let node1 = &nodes[0];
    let before = observed_state(node1).await;

    let replays: Vec<Captured> = captured.lock().unwrap().clone();
    let mut refused_kinds = BTreeSet::new();
    for message in &replays {
        let response = node1
            .client
            .post(node1.url(&message.path))
            .header(SIGNATURE_HEADER, &message.signature)
            .header("content-type", "application/json")
            .body(message.body.clone())
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or_default();
        assert_eq!(status, 409, "{} replayed: {answer}", message.kind());
        assert_eq!(
            answer["error"]["code"],
            "stale_message",
            "{}",
            message.kind()
        );
        refused_kinds.insert(message.kind());
    }
    for kind in &wanted {
        assert!(refused_kinds.contains(*kind), "{kind} was never replayed");
    }

    let after = observed_state(node1).await;
    assert_eq!(before.0, after.0, "no replay moved the epoch");
    assert!(
        (before.1 - after.1).abs() < 1.0,
        "no replayed adjustment moved the clock: {} then {}",
        before.1,
        after.1
    );
    assert_eq!(
        before.2, after.2,
        "no replayed heartbeat revived a dead node"
    );
    assert_eq!(before.3, after.3, "no replayed push changed a booking");
    println!(
        "replayed {} envelopes of kinds {refused_kinds:?}",
        replays.len()
    );
}
