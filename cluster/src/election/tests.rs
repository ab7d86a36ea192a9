//! Tests of the claim itself, shared by both algorithms: accepting and
//! refusing epochs, counting and repeating, stepping down, and why a restart
//! cannot give an epoch a second leader.

use super::testkit::{armed, events, fresh, leader_of_three, messages};
use super::*;

#[test]
fn a_follower_acknowledges_a_new_epoch() {
    let mut node = fresh(1, &[1, 2, 3], Algorithm::Bully);
    let out = node.on_message(3, ElectionMessage::Coordinator { epoch: 3 }, 10);
    assert_eq!(messages(&out), vec![(3, ElectionMessage::Ack { epoch: 3 })]);
    assert_eq!(
        events(&out),
        vec![ElectionEvent::Following {
            leader: 3,
            epoch: 3
        }]
    );
    assert_eq!(node.leader(), Some((3, 3)));
    assert!(!node.is_leader());
    let log = node.last_election().unwrap();
    assert_eq!(
        (log.leader, log.epoch, log.duration_ms()),
        (Some(3), Some(3), Some(0))
    );
    assert_eq!(
        log.messages.len(),
        2,
        "the Coordinator received and the Ack sent"
    );
}

#[test]
fn an_old_epoch_is_answered_with_stale() {
    let mut node = fresh(1, &[1, 2, 3], Algorithm::Bully);
    node.on_message(3, ElectionMessage::Coordinator { epoch: 6 }, 0);
    let out = node.on_message(2, ElectionMessage::Coordinator { epoch: 5 }, 1);
    assert_eq!(
        messages(&out),
        vec![(2, ElectionMessage::Stale { epoch: 6 })]
    );
    assert_eq!(node.leader(), Some((3, 6)));
}

#[test]
fn nobody_may_claim_an_epoch_it_does_not_own() {
    let mut node = fresh(1, &[1, 2, 3], Algorithm::Bully);
    assert!(node
        .on_message(2, ElectionMessage::Coordinator { epoch: 3 }, 0)
        .is_empty());
    assert_eq!(node.leader(), None);
    assert_eq!(node.epoch(), 0);
}

#[test]
fn a_repeated_announcement_is_acknowledged_again() {
    let mut node = fresh(1, &[1, 2, 3], Algorithm::Bully);
    node.on_message(3, ElectionMessage::Coordinator { epoch: 3 }, 0);
    let out = node.on_message(3, ElectionMessage::Coordinator { epoch: 3 }, 1);
    assert_eq!(messages(&out), vec![(3, ElectionMessage::Ack { epoch: 3 })]);
    assert!(events(&out).is_empty(), "nothing new to report");
}

#[test]
fn a_leader_steps_down_on_hearing_of_a_higher_epoch() {
    let mut node = leader_of_three(1);
    let out = node.on_heartbeat(1, 4, None, 5);
    assert_eq!(
        events(&out),
        vec![ElectionEvent::SteppedDown {
            epoch: 3,
            reason: StepDownReason::HigherEpoch
        }]
    );
    assert!(!node.is_leader());
    assert_eq!((node.epoch(), node.leader()), (4, None));
    let out = node.on_timer(TimerKind::LeaderWait, 300);
    assert!(
        messages(&out).contains(&(1, ElectionMessage::Coordinator { epoch: 6 })),
        "someone must lead"
    );
}

#[test]
fn a_returning_old_leader_follows_the_new_one() {
    let mut node = leader_of_three(1);
    let out = node.on_message(1, ElectionMessage::Coordinator { epoch: 4 }, 5);
    assert_eq!(
        events(&out),
        vec![
            ElectionEvent::SteppedDown {
                epoch: 3,
                reason: StepDownReason::HigherEpoch
            },
            ElectionEvent::Following {
                leader: 1,
                epoch: 4
            },
            ElectionEvent::ElectionStarted {
                algorithm: Algorithm::Bully,
                epoch: 4,
                reason: StartReason::TakeOver
            },
            ElectionEvent::Claiming { epoch: 6 },
        ],
        "and, being the highest (Bully), takes over again"
    );
}

#[test]
fn a_claim_is_abandoned_for_a_higher_epoch() {
    let mut node = fresh(3, &[1, 2, 3], Algorithm::Bully);
    node.start_election(0);
    let out = node.on_message(1, ElectionMessage::Stale { epoch: 7 }, 1);
    assert_eq!(
        events(&out),
        vec![ElectionEvent::ClaimFailed {
            epoch: 3,
            reason: ClaimFailure::HigherEpoch
        }]
    );
    assert!(!node.is_electing());
    assert!(
        node.on_message(1, ElectionMessage::Ack { epoch: 3 }, 2)
            .is_empty(),
        "a late ack counts for nothing"
    );
    assert!(!node.is_leader());
}

#[test]
fn a_claim_is_repeated_to_the_silent_then_given_up() {
    let mut node = fresh(5, &[1, 2, 3, 4, 5], Algorithm::Bully);
    node.start_election(0);
    node.on_message(1, ElectionMessage::Ack { epoch: 5 }, 1);
    assert!(
        node.on_timer(TimerKind::LeaderWait, 300).is_empty(),
        "busy claiming"
    );
    let out = node.on_timer(TimerKind::ClaimWait, 150);
    let resent: Vec<NodeId> = messages(&out).iter().map(|(to, _)| *to).collect();
    assert_eq!(resent, vec![2, 3, 4], "not to 1, which acknowledged");
    assert!(armed(&out, TimerKind::ClaimWait));
    node.on_timer(TimerKind::ClaimWait, 300);
    let out = node.on_timer(TimerKind::ClaimWait, 450);
    assert_eq!(
        events(&out),
        vec![ElectionEvent::ClaimFailed {
            epoch: 5,
            reason: ClaimFailure::NoMajority
        }]
    );
    assert!(armed(&out, TimerKind::LeaderWait), "it will try again");
}

#[test]
fn a_leader_that_loses_sight_of_a_majority_steps_down() {
    let mut node = leader_of_three(1);
    let out = node.on_alive_changed(&[3], 10);
    assert_eq!(
        events(&out),
        vec![ElectionEvent::SteppedDown {
            epoch: 3,
            reason: StepDownReason::LostQuorum
        }]
    );
    assert!(!node.is_leader());
    let out = node.on_timer(TimerKind::LeaderWait, 10_000);
    assert_eq!(
        events(&out),
        vec![ElectionEvent::NoQuorum {
            alive: 1,
            needed: 2
        }]
    );
    assert!(messages(&out).is_empty(), "a minority does not even try");
}

#[test]
fn a_leader_reminds_a_late_ring_of_itself() {
    let mut node = leader_of_three(1);
    let out = node.on_message(1, ElectionMessage::Victory { epoch: 0 }, 5);
    assert_eq!(messages(&out).len(), 2, "Coordinator to 1 and 2");
    assert_eq!(node.leader(), Some((3, 3)));
}

/// The hole that owned epochs close: a restarted node forgets the epoch it
/// acknowledged, yet the next claim cannot reuse that epoch.
#[test]
fn amnesia_cannot_give_an_epoch_a_second_leader() {
    let members = [1, 2, 3];
    let mut three = leader_of_three(2);
    let mut forgetful_two = fresh(2, &members, Algorithm::Bully);
    let mut one = fresh(1, &members, Algorithm::Bully);
    one.on_alive_changed(&[1, 2], 0); // cut off from 3 while it was elected
    one.start_election(10_000);
    let claim = one.on_timer(TimerKind::AliveWait, 10_200);
    let epoch = one.epoch();
    assert_eq!(
        messages(&claim)[0],
        (2, ElectionMessage::Coordinator { epoch })
    );
    assert_ne!(epoch, 3);
    forgetful_two.on_message(1, ElectionMessage::Coordinator { epoch }, 10_001);
    one.on_message(2, ElectionMessage::Ack { epoch }, 10_002);
    assert!(
        one.is_leader() && three.is_leader(),
        "two leaders, in different epochs"
    );
    three.on_heartbeat(2, epoch, Some(1), 10_003);
    assert!(three.is_leader(), "epoch {epoch} is older than 3: ignored");
    one.on_heartbeat(3, 3, Some(3), 10_004);
    assert!(
        !one.is_leader(),
        "the older leader steps down as soon as it hears"
    );
}

#[test]
fn messages_serialize_with_a_type_tag() {
    let json = serde_json::to_string(&ElectionMessage::Coordinator { epoch: 4 }).unwrap();
    assert_eq!(json, r#"{"type":"coordinator","epoch":4}"#);
    let token = ElectionMessage::RingToken {
        initiator: 1,
        round: 2,
        members: vec![1, 3],
        epoch: 5,
    };
    let back: ElectionMessage =
        serde_json::from_str(&serde_json::to_string(&token).unwrap()).unwrap();
    assert_eq!(back, token);
    assert_eq!((token.kind(), token.epoch()), (MessageKind::RingToken, 5));
}

#[test]
fn events_serialize_with_a_type_tag() {
    let event = ElectionEvent::Elected {
        leader: 3,
        epoch: 6,
    };
    assert_eq!(
        serde_json::to_string(&event).unwrap(),
        r#"{"type":"elected","leader":3,"epoch":6}"#
    );
    let started = ElectionEvent::ElectionStarted {
        algorithm: Algorithm::Ring,
        epoch: 0,
        reason: StartReason::LeaderLost,
    };
    assert!(serde_json::to_string(&started)
        .unwrap()
        .contains(r#""reason":"leaderLost""#));
}
