//! The cluster with real node processes talking over real sockets: a leader
//! is elected, SIGKILLed and replaced, comes back without being obeyed in its
//! old epoch; an operator's Ring election; Berkeley rounds pull skewed
//! clocks together; forged or malformed node messages change nothing.

mod common;

use common::{agreed_leader, cluster_specs, eventually, start_all, NodeApi, NodeProcess};
use moviebook::runtime::envelope::SIGNATURE_HEADER;
use moviebook::runtime::signer::Signer;
use serde_json::{json, Value};
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(20);

/// One cluster at a time: the tests pick free ports before the nodes bind
/// them, and timing-sensitive elections should not share two cores.
static ONE_CLUSTER_AT_A_TIME: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

#[tokio::test]
async fn a_killed_leader_is_replaced_and_steps_down_when_it_returns() {
    let _turn = ONE_CLUSTER_AT_A_TIME.lock().await;
    let specs = cluster_specs("failover", 3);
    let mut nodes = start_all(&specs).await;
    let all: Vec<&NodeProcess> = nodes.iter().collect();
    let (leader, epoch) = eventually(PATIENCE, || agreed_leader(&all))
        .await
        .expect("a leader");
    assert_eq!(leader, 3, "Bully: the highest id wins");

    let health = nodes[0].get_json("/api/health").await;
    assert_eq!(health["summary"]["healthy"], 3, "{health}");
    let listed = health["nodes"].as_array().unwrap();
    assert!(listed
        .iter()
        .any(|n| n["nodeId"] == 3 && n["isLeader"] == true));
    assert!(listed
        .iter()
        .all(|n| n["port"].is_u64() && n["host"] == "127.0.0.1"));

    nodes[2].kill();
    let survivors: Vec<&NodeProcess> = nodes[..2].iter().collect();
    let (new_leader, new_epoch) = eventually(PATIENCE, || async {
        agreed_leader(&survivors).await.filter(|(id, _)| *id != 3)
    })
    .await
    .expect("a new leader after the old one died");
    assert_eq!(new_leader, 2);
    assert!(new_epoch > epoch, "a new leadership has a new epoch");
    // The failure detector marks the dead node down within a heartbeat or two.
    let marked_down = eventually(PATIENCE, || async {
        let health = nodes[0].get_json("/api/health").await;
        (health["summary"]["down"] == 1).then_some(())
    })
    .await;
    assert!(marked_down.is_some(), "the killed leader shows as down");

    // The old leader comes back: it must not lead its old epoch again.
    nodes[2] = specs[2].start().await.expect("the old leader comes back");
    let all: Vec<&NodeProcess> = nodes.iter().collect();
    let (final_leader, final_epoch) = eventually(PATIENCE, || agreed_leader(&all))
        .await
        .expect("all three agree again");
    assert!(final_epoch >= new_epoch);
    assert!(
        final_leader != 3 || final_epoch > new_epoch,
        "never obeyed in its old epoch"
    );
}

#[tokio::test]
async fn an_operator_can_hold_a_ring_election() {
    let _turn = ONE_CLUSTER_AT_A_TIME.lock().await;
    let specs = cluster_specs("ring", 3);
    let nodes = start_all(&specs).await;
    let all: Vec<&NodeProcess> = nodes.iter().collect();
    let (_, epoch) = eventually(PATIENCE, || agreed_leader(&all))
        .await
        .expect("a leader");

    let start = |algorithm: &str| {
        nodes[0].operator_json(
            reqwest::Method::POST,
            "/api/election",
            json!({ "algorithm": algorithm }),
        )
    };
    assert_eq!(start("paxos").await.0, 400);
    assert_eq!(start("ring").await.0, 202);

    // The ring elects the highest live id; a leader that wins again keeps
    // its epoch, since its leadership never lapsed.
    let view = eventually(PATIENCE, || async {
        let view = nodes[0].get_json("/api/election").await;
        let last = &view["lastElection"];
        let done = last["algorithm"] == "ring" && last["durationMs"].is_u64();
        done.then_some(view)
    })
    .await
    .expect("the ring election finishes");
    let last = &view["lastElection"];
    let kinds: Vec<&str> = last["messages"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|m| m["kind"].as_str())
        .collect();
    assert!(
        kinds.contains(&"ringToken") && kinds.contains(&"victory"),
        "{view}"
    );
    assert_eq!(last["leader"], 3, "{view}");
    let (leader, new_epoch) = eventually(PATIENCE, || agreed_leader(&all))
        .await
        .expect("agreement");
    assert_eq!(leader, 3);
    assert!(new_epoch >= epoch);
    // Every node follows it, and shows it as its last election: those that
    // only passed the token on, and the leader told of its victory, too.
    for node in &nodes {
        let algorithm = eventually(PATIENCE, || async {
            let view = node.get_json("/api/election").await;
            let shown = view["algorithm"] == "ring" && view["lastElection"]["algorithm"] == "ring";
            shown.then_some(())
        })
        .await;
        assert!(algorithm.is_some(), "every node shows the ring election");
    }
}

#[tokio::test]
async fn berkeley_rounds_pull_skewed_clocks_together() {
    let _turn = ONE_CLUSTER_AT_A_TIME.lock().await;
    let offsets = [1500.0, -1000.0, 300.0];
    let specs: Vec<_> = cluster_specs("berkeley", 3)
        .into_iter()
        .zip(offsets)
        .map(|(spec, offset)| {
            spec.env("CLOCK_OFFSET_MS", offset)
                .env("CLOCK_DRIFT_PPM", 0)
                .env("BERKELEY_INTERVAL_MS", 300)
        })
        .collect();
    let nodes = start_all(&specs).await;
    let all: Vec<&NodeProcess> = nodes.iter().collect();
    let spread = |views: &[Value]| {
        let offsets: Vec<f64> = views
            .iter()
            .map(|v| v["offsetMs"].as_f64().unwrap())
            .collect();
        let max = offsets.iter().cloned().fold(f64::MIN, f64::max);
        let min = offsets.iter().cloned().fold(f64::MAX, f64::min);
        max - min
    };
    let (leader, _) = eventually(PATIENCE, || agreed_leader(&all))
        .await
        .expect("a leader");
    let leader_node = &nodes[(leader - 1) as usize];
    // A round may already have pulled two of the clocks together before the
    // third node answered one, so the spread before is the configured one.
    eventually(PATIENCE, || async {
        let view = leader_node.get_json("/api/sync").await;
        let adjusted = view["lastRound"]["adjustments"]
            .as_array()
            .map_or(0, |a| a.len());
        (adjusted == 3).then_some(())
    })
    .await
    .expect("a Berkeley round with all three nodes");
    let spread_before = offsets.iter().cloned().fold(f64::MIN, f64::max)
        - offsets.iter().cloned().fold(f64::MAX, f64::min);

    let mut views = Vec::new();
    for node in &nodes {
        views.push(node.get_json("/api/sync").await);
    }
    let after = spread(&views);
    println!("Berkeley: spread {spread_before:.1} ms before a round, {after:.2} ms after");
    assert!(after < 100.0, "the clocks end close together: {after} ms");
    for view in &views {
        assert!(view["lamport"].as_u64().unwrap() > 0);
        assert!(view["vectorClock"].is_object());
    }
}

#[tokio::test]
async fn forged_or_malformed_node_messages_are_refused() {
    let _turn = ONE_CLUSTER_AT_A_TIME.lock().await;
    let specs = cluster_specs("forgery", 2);
    let node = specs[0].start().await.expect("node 1 starts");
    let post = |body: Vec<u8>, signature: Option<String>| {
        let mut request = node
            .client
            .post(node.url("/internal/rpc"))
            .header("content-type", "application/json")
            .body(body);
        if let Some(signature) = signature {
            request = request.header(SIGNATURE_HEADER, signature);
        }
        request.send()
    };
    let envelope = |from: u32, to: u32| {
        serde_json::to_vec(&json!({
            "from": from, "to": to, "incarnation": 1, "seq": 1, "sentAtMs": 1,
            "lamport": 1, "vclock": {},
            "body": {"kind": "election", "message": {"type": "coordinator", "epoch": 999}}
        }))
        .unwrap()
    };
    let good_signer = Signer::new("secret-of-forgery");
    let before = node.get_json("/api/election").await;

    let forged = envelope(2, 1);
    assert_eq!(post(forged.clone(), None).await.unwrap().status(), 401);
    let wrong = Signer::new("guess").sign(&forged);
    assert_eq!(
        post(forged.clone(), Some(wrong)).await.unwrap().status(),
        401
    );
    let garbage = b"{not json".to_vec();
    let signed = good_signer.sign(&garbage);
    assert_eq!(post(garbage, Some(signed)).await.unwrap().status(), 400);
    let misaddressed = envelope(2, 7);
    let signed = good_signer.sign(&misaddressed);
    assert_eq!(
        post(misaddressed, Some(signed)).await.unwrap().status(),
        422
    );
    let stranger = envelope(9, 1);
    let signed = good_signer.sign(&stranger);
    assert_eq!(post(stranger, Some(signed)).await.unwrap().status(), 403);

    let after = node.get_json("/api/election").await;
    assert_eq!(
        before["epoch"], after["epoch"],
        "no forged message moved the epoch"
    );
    assert!(after["epoch"].as_u64().unwrap() < 999);
}
