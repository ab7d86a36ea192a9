//! Tests of how a node learns, keeps and loses its leader: heartbeats, the
//! failure detector, the leader wait, the election log and switching
//! algorithms.

use super::testkit::{events, fresh, messages, TestCluster};
use super::*;

#[test]
fn losing_the_leader_starts_an_election() {
    let mut node = fresh(1, &[1, 2, 3], Algorithm::Bully);
    node.on_message(3, ElectionMessage::Coordinator { epoch: 3 }, 0);
    let out = node.on_alive_changed(&[1, 2], 1_000);
    assert_eq!(
        events(&out)[..2],
        [
            ElectionEvent::LeaderLost {
                leader: 3,
                epoch: 3
            },
            ElectionEvent::ElectionStarted {
                algorithm: Algorithm::Bully,
                epoch: 3,
                reason: StartReason::LeaderLost
            },
        ]
    );
    assert_eq!(
        messages(&out),
        vec![(2, ElectionMessage::Election { epoch: 3 })],
        "3 is known dead"
    );
}

#[test]
fn the_runtime_may_report_the_leader_lost_directly() {
    let mut node = fresh(1, &[1, 2, 3], Algorithm::Ring);
    node.on_message(3, ElectionMessage::Coordinator { epoch: 3 }, 0);
    let out = node.on_leader_lost(5);
    assert!(events(&out).contains(&ElectionEvent::LeaderLost {
        leader: 3,
        epoch: 3
    }));
    assert!(node.is_electing());
    assert!(
        fresh(1, &[1, 2, 3], Algorithm::Ring)
            .on_leader_lost(5)
            .is_empty(),
        "no leader, nothing lost"
    );
}

#[test]
fn heartbeats_teach_a_node_who_leads() {
    let mut node = fresh(1, &[1, 2, 3], Algorithm::Bully);
    node.on_heartbeat(2, 3, Some(3), 10);
    assert_eq!(node.epoch(), 3, "anyone may tell of a newer epoch");
    assert_eq!(
        node.leader(),
        None,
        "but only the leader itself of its leadership"
    );
    let out = node.on_heartbeat(3, 3, Some(3), 20);
    assert_eq!(
        events(&out),
        vec![ElectionEvent::Following {
            leader: 3,
            epoch: 3
        }]
    );
    assert!(messages(&out).is_empty());

    let mut node = fresh(1, &[1, 2, 3], Algorithm::Bully);
    node.on_heartbeat(2, 3, Some(2), 10);
    assert_eq!(node.leader(), None, "2 does not own epoch 3");
}

#[test]
fn a_leader_that_stops_leading_is_lost() {
    let mut node = fresh(1, &[1, 2, 3], Algorithm::Bully);
    node.on_heartbeat(3, 3, Some(3), 10);
    let out = node.on_heartbeat(3, 3, None, 20);
    assert!(events(&out).contains(&ElectionEvent::LeaderLost {
        leader: 3,
        epoch: 3
    }));
}

#[test]
fn a_claimant_names_itself_in_heartbeats() {
    let mut node = fresh(3, &[1, 2, 3], Algorithm::Bully);
    assert_eq!(node.announced_leader(), None);
    node.start_election(0);
    assert_eq!((node.announced_leader(), node.leader()), (Some(3), None));
}

#[test]
fn without_a_majority_nobody_tries() {
    let mut node = Election::new(1, &[1, 2, 3], Algorithm::Bully, ElectionConfig::default());
    let out = node.start(0);
    assert_eq!(
        out,
        vec![Output::SetTimer {
            timer: TimerKind::LeaderWait,
            after_ms: 380
        }]
    );
    let out = node.start_election(1);
    assert_eq!(
        events(&out),
        vec![ElectionEvent::NoQuorum {
            alive: 1,
            needed: 2
        }]
    );
}

#[test]
fn a_node_without_a_leader_eventually_starts_an_election() {
    let mut node = fresh(2, &[1, 2, 3], Algorithm::Ring);
    assert!(
        node.on_timer(TimerKind::LeaderWait, 339).is_empty(),
        "before its deadline"
    );
    let out = node.on_timer(TimerKind::LeaderWait, 340);
    assert!(events(&out).contains(&ElectionEvent::ElectionStarted {
        algorithm: Algorithm::Ring,
        epoch: 0,
        reason: StartReason::NoLeader
    }));
    assert!(
        node.on_timer(TimerKind::LeaderWait, 340).is_empty(),
        "each arming fires once"
    );
}

#[test]
fn a_known_leader_makes_the_leader_wait_harmless() {
    let mut node = fresh(1, &[1, 2, 3], Algorithm::Bully);
    node.on_message(3, ElectionMessage::Coordinator { epoch: 3 }, 0);
    assert!(node.on_timer(TimerKind::LeaderWait, 1_000).is_empty());
}

#[test]
fn strangers_and_echoes_are_ignored() {
    let mut node = fresh(1, &[1, 2, 3], Algorithm::Bully);
    assert!(node
        .on_message(9, ElectionMessage::Coordinator { epoch: 9 }, 0)
        .is_empty());
    assert!(node
        .on_message(1, ElectionMessage::Coordinator { epoch: 1 }, 0)
        .is_empty());
    assert!(node.on_heartbeat(9, 50, Some(9), 0).is_empty());
    assert!(node.on_send_failed(9, 0).is_empty());
    assert_eq!(node.epoch(), 0);
}

#[test]
fn the_log_tells_how_the_last_election_went() {
    let mut cluster = TestCluster::new(3, Algorithm::Ring);
    cluster.elect(1);
    let log = cluster.node(1).last_election().unwrap().clone();
    assert_eq!((log.algorithm, log.leader), (Algorithm::Ring, Some(3)));
    assert!(log.is_finished());
    let kinds: Vec<MessageKind> = log.messages.iter().map(|m| m.kind).collect();
    assert_eq!(
        kinds[..3],
        [
            MessageKind::RingToken,
            MessageKind::RingToken,
            MessageKind::Victory
        ]
    );
    assert!(kinds.contains(&MessageKind::Coordinator) && kinds.contains(&MessageKind::Ack));
}

#[test]
fn every_node_that_took_part_shows_the_last_election() {
    // A Bully election, then a Ring one that keeps the same leader: the nodes
    // that only passed the token on, and the leader told of its victory, must
    // show the Ring election, not the Bully one before it.
    let mut cluster = TestCluster::new(3, Algorithm::Bully);
    cluster.elect(1);
    assert_eq!(cluster.node(2).leader().map(|(id, _)| id), Some(3));
    for id in 1..=3 {
        cluster.node(id).set_algorithm(Algorithm::Ring);
    }
    cluster.elect(1);
    for id in 1..=3 {
        let log = cluster.node(id).last_election().unwrap();
        assert_eq!(log.algorithm, Algorithm::Ring, "node {id}");
        assert!(log.is_finished(), "node {id}");
        assert_eq!(log.leader, Some(3), "node {id}");
    }
    let kinds = |log: &ElectionLog| log.messages.iter().map(|m| m.kind).collect::<Vec<_>>();
    let forwarder = kinds(cluster.node(2).last_election().unwrap());
    assert_eq!(
        forwarder[..2],
        [MessageKind::RingToken, MessageKind::RingToken]
    );
    let leader = kinds(cluster.node(3).last_election().unwrap());
    assert!(leader.contains(&MessageKind::Victory), "{leader:?}");
}

#[test]
fn the_algorithm_can_be_switched() {
    let mut node = fresh(1, &[1, 2, 3], Algorithm::Bully);
    node.set_algorithm(Algorithm::Ring);
    assert_eq!(node.algorithm(), Algorithm::Ring);
    let out = node.start_election(0);
    assert!(matches!(
        messages(&out)[..],
        [(2, ElectionMessage::RingToken { .. })]
    ));
    assert_eq!(
        (node.self_id(), node.majority(), node.members()),
        (1, 2, &[1, 2, 3][..])
    );
}

#[test]
fn the_whole_cluster_agrees_after_an_election() {
    for algorithm in [Algorithm::Bully, Algorithm::Ring] {
        let mut cluster = TestCluster::new(4, algorithm);
        cluster.run_for(1_000);
        let leader = cluster.node(1).leader();
        assert_eq!(leader.map(|(id, _)| id), Some(4), "{algorithm:?}");
        for id in 2..=4 {
            assert_eq!(cluster.node(id).leader(), leader);
        }
        assert!(cluster.events_of(4).contains(&&ElectionEvent::Elected {
            leader: 4,
            epoch: leader.unwrap().1
        }));
    }
}
