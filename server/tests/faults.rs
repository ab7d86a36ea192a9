//! Faults injected through the API into real nodes' links. Cutting the
//! leader off from its peers makes them elect another, which takes
//! bookings, while the old leader, alone, takes none; the cut shows in
//! force on the leader and, never healed,
//! expires by itself, after which the cluster is one again and the old
//! leader holds what was booked meanwhile. A lossy link is healed on
//! request. A clock skewed by an operator is pulled back to the others by
//! the Berkeley rounds. Only an operator injects or heals, and a fault
//! that makes no sense is refused with a 422 that says why.

mod common;

use common::{
    agreed_leader, booking_on, cluster_specs, eventually, start_all, NodeApi, NodeProcess,
};
use reqwest::Method;
use serde_json::{json, Value};
use std::time::Duration;

const PATIENCE: Duration = Duration::from_secs(20);

#[tokio::test]
async fn a_leader_cut_off_is_replaced_and_the_cut_heals_by_itself() {
    let nodes = start_all(&cluster_specs("faults_cut", 3)).await;
    let all: Vec<&NodeProcess> = nodes.iter().collect();
    let (leader, _) = eventually(PATIENCE, || agreed_leader(&all))
        .await
        .expect("a leader");
    let cut_off = &nodes[(leader - 1) as usize];
    let others: Vec<u64> = (1..=3).filter(|id| *id != leader).collect();
    let survivors: Vec<&NodeProcess> = others.iter().map(|id| &nodes[(id - 1) as usize]).collect();
    let cut = json!({"peers": others, "harm": "cut", "seconds": 6});

    let (status, _) = cut_off
        .send_json(Method::POST, "/api/faults", cut.clone())
        .await;
    assert_eq!(status, 401, "only an operator injects faults");
    for (nonsense, why) in [
        (
            json!({"peers": [9], "harm": "cut", "seconds": 5}),
            "is not a peer",
        ),
        (
            json!({"peers": [leader], "harm": "cut", "seconds": 5}),
            "is not a peer",
        ),
        (
            json!({"peers": others, "harm": "cut", "seconds": 0}),
            "lasts from 1",
        ),
        (
            json!({"peers": others, "harm": "melt", "seconds": 5}),
            "Unknown harm",
        ),
        (
            json!({"peers": others, "harm": "cut", "dropShare": 0.5, "seconds": 5}),
            "cut link",
        ),
        (
            json!({"peers": others, "harm": "lossy", "dropShare": 2, "seconds": 5}),
            "between 0 and 1",
        ),
    ] {
        let (status, error) = cut_off
            .operator_json(Method::POST, "/api/faults", nonsense.clone())
            .await;
        assert_eq!(status, 422, "{nonsense}: {error}");
        let message = error["error"]["message"].as_str().unwrap_or_default();
        assert!(message.contains(why), "{nonsense}: {message}");
    }
    assert_eq!(cut_off.get_json("/api/faults").await["faults"], json!([]));

    let (status, injected) = cut_off
        .operator_json(Method::POST, "/api/faults", cut)
        .await;
    assert_eq!(status, 201, "{injected}");
    let in_force = cut_off.get_json("/api/faults").await;
    assert_eq!(in_force["faults"][0]["harm"], "cut");
    assert_eq!(in_force["faults"][0]["peers"], json!(others));

    // The two others elect one of themselves, and book through it.
    let (new_leader, _) = eventually(PATIENCE, || async {
        agreed_leader(&survivors)
            .await
            .filter(|(id, _)| *id != leader)
    })
    .await
    .expect("the others elect a new leader");
    let (status, booking) = nodes[(new_leader - 1) as usize]
        .book(json!({"userId": "ada", "showtimeId": survivors[0].future_showtime(2).await, "seats": ["C5"]}))
        .await;
    assert_eq!(status, 201, "a majority takes bookings: {booking}");
    let id = booking["id"].as_str().unwrap().to_string();
    // The node cut off, a minority of one, takes no strong write.
    let (status, refused) = cut_off
        .book(json!({"userId": "bo", "showtimeId": survivors[0].future_showtime(2).await, "seats": ["C6"]}))
        .await;
    assert_eq!(status, 503, "a minority takes no booking: {refused}");

    // Never healed, the cut expires, and the cluster is one again.
    let expired = eventually(PATIENCE, || async {
        let faults = cut_off.get_json("/api/faults").await;
        (faults["faults"] == json!([])).then_some(())
    })
    .await;
    assert!(expired.is_some(), "the cut expires by itself");
    eventually(PATIENCE, || agreed_leader(&all))
        .await
        .expect("all three agree on a leader again");
    let held = eventually(PATIENCE, || async {
        let copy = booking_on(cut_off, &id).await?;
        (copy["status"] == "confirmed").then_some(copy)
    })
    .await;
    assert!(
        held.is_some(),
        "the node cut off holds what was booked meanwhile"
    );

    // A lossy link, healed on request.
    let lossy = json!({"peers": [others[0]], "harm": "lossy", "dropShare": 0.3, "delayMs": 50, "seconds": 60});
    let (status, injected) = cut_off
        .operator_json(Method::POST, "/api/faults", lossy)
        .await;
    assert_eq!(status, 201, "{injected}");
    assert_eq!(injected["fault"]["dropShare"], 0.3);
    let (status, _) = cut_off
        .send_json(Method::DELETE, "/api/faults", Value::Null)
        .await;
    assert_eq!(status, 401, "only an operator heals");
    let (status, healed) = cut_off
        .operator_json(Method::DELETE, "/api/faults", Value::Null)
        .await;
    assert_eq!(status, 200);
    assert_eq!(healed["healed"].as_array().map(Vec::len), Some(1));
    assert_eq!(cut_off.get_json("/api/faults").await["faults"], json!([]));
}

#[tokio::test]
async fn a_skewed_clock_is_pulled_back_to_the_others_by_berkeley() {
    let specs: Vec<_> = cluster_specs("faults_skew", 3)
        .into_iter()
        .map(|spec| {
            spec.env("BERKELEY_INTERVAL_MS", 500)
                .env("CLOCK_OFFSET_MS", 0)
                .env("CLOCK_DRIFT_PPM", 0)
        })
        .collect();
    let nodes = start_all(&specs).await;
    let all: Vec<&NodeProcess> = nodes.iter().collect();
    eventually(PATIENCE, || agreed_leader(&all))
        .await
        .expect("a leader");
    let skewed = &nodes[0];
    let skew = json!({"offsetMs": 20000, "driftPpm": 500, "seconds": 30});

    let (status, _) = skewed
        .send_json(Method::POST, "/api/faults/clock", skew.clone())
        .await;
    assert_eq!(status, 401, "only an operator skews a clock");
    for nonsense in [
        json!({"offsetMs": 1e12, "seconds": 5}),
        json!({"driftPpm": 1e6, "seconds": 5}),
        json!({"offsetMs": 5, "seconds": 0}),
    ] {
        let (status, error) = skewed
            .operator_json(Method::POST, "/api/faults/clock", nonsense.clone())
            .await;
        assert_eq!(status, 422, "{nonsense}: {error}");
    }
    let (status, skewed_to) = skewed
        .operator_json(Method::POST, "/api/faults/clock", skew)
        .await;
    assert_eq!(status, 201, "{skewed_to}");
    assert!(
        skewed_to["offsetMs"].as_f64().unwrap() > 19_000.0,
        "{skewed_to}"
    );

    // The Berkeley rounds bring the three clocks together again.
    let spread = |offsets: &[f64]| {
        let (low, high) = offsets
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), o| (l.min(*o), h.max(*o)));
        high - low
    };
    let together = eventually(PATIENCE, || async {
        let mut offsets = Vec::new();
        for node in &nodes {
            offsets.push(node.get_json("/api/sync").await["offsetMs"].as_f64()?);
        }
        (spread(&offsets) < 1_000.0).then_some(offsets)
    })
    .await;
    assert!(together.is_some(), "the clocks come together again");
}
