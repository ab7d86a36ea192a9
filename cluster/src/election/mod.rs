//! Leader election. Bully or Ring decides who should lead; the would-be
//! leader then needs a majority of the whole cluster to acknowledge its new
//! epoch before it counts as leader, so a minority partition never has one.
//!
//! An election starts when the failure detector loses the leader, when no
//! leader has made itself known for a while (`LeaderWait`), when an operator
//! asks, or (Bully) when a node sees a lower leader. Bully asks the higher
//! live nodes; Ring sends a token round the live ring. Either way the winner
//! *claims* an epoch: it sends `Coordinator { epoch }` to everyone, repeats it
//! to the silent, and leads once a majority has answered `Ack`. Heartbeats
//! carry each node's epoch and leader, so a restarted node learns who leads
//! and a stale leader learns that it no longer does.
//!
//! # At most one leader per epoch, without any disk
//!
//! Every epoch has exactly one *owner*: with the members sorted, epoch `e ≥ 1`
//! belongs to member `(e - 1) mod n` (Paxos-style ballot numbers). A node only
//! claims epochs it owns and only a claimant can become leader, so two
//! different nodes can never lead the same epoch, whatever they remember.
//!
//! "Ack each epoch at most once; any two majorities overlap" is not enough on
//! its own, because our nodes persist nothing: A leads epoch 5 with B's ack; B
//! restarts and forgets; C, cut off while 5 was decided, claims 5 and the
//! amnesic B acks it too. Two leaders for epoch 5. Owned epochs close that hole.
//!
//! The majority acknowledgment does the rest:
//! - a claim needs acks from a majority of *all* members (itself included), so
//!   a minority partition never elects anyone; a leader that stops seeing a
//!   majority steps down;
//! - a node acks only an epoch at least as high as any it has seen and answers
//!   `Stale` to anything older; a leader or claimant that hears of a higher
//!   epoch (in any message or heartbeat) steps down. Once epoch `e` has a
//!   leader, a majority has seen `e`, so an older claim can no longer win
//!   while those nodes remember it, and an old leader coming back steps down.
//!
//! A node restarted without memory can at worst help an *older* epoch's owner
//! lead again (never a second node for one epoch); everyone who knows the
//! newer epoch ignores that leader, and it steps down at the first heartbeat
//! carrying the newer epoch.

mod bully;
mod epochs;
#[cfg(test)]
mod following_tests;
mod leadership;
mod log;
mod ring;
mod state;
#[cfg(test)]
mod testkit;
#[cfg(test)]
mod tests;

pub use epochs::EpochOwners;
pub use log::{ElectionLog, LoggedMessage};
pub use state::Election;

use crate::NodeId;
use serde::{Deserialize, Serialize};

/// A leadership term. 0 means "no leader yet"; each claim uses a higher one.
pub type Epoch = u64;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum Algorithm {
    /// The highest live id wins; a higher node takes over from a lower leader.
    Bully,
    /// A token travels the ring collecting live ids; the highest one wins.
    Ring,
}

/// Messages between the election state machines of two nodes.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ElectionMessage {
    /// Bully: "I am holding an election; is anyone higher alive?"
    Election { epoch: Epoch },
    /// Bully: the answer of a higher live node, which then runs its own.
    Alive { epoch: Epoch },
    /// Ring: the token, collecting the ids of the live nodes it passes.
    RingToken {
        initiator: NodeId,
        round: u64,
        members: Vec<NodeId>,
        epoch: Epoch,
    },
    /// Ring: the initiator tells the highest id it has won; it claims an
    /// epoch above `epoch`, the highest the token saw.
    Victory { epoch: Epoch },
    /// "I claim `epoch` and will lead it": acknowledge, or answer `Stale`.
    Coordinator { epoch: Epoch },
    /// "I accept your claim to `epoch`."
    Ack { epoch: Epoch },
    /// "Your epoch is old: I have already seen `epoch`."
    Stale { epoch: Epoch },
}

/// A message's kind without its content, for logs and monitor events.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum MessageKind {
    Election,
    Alive,
    RingToken,
    Victory,
    Coordinator,
    Ack,
    Stale,
}

impl ElectionMessage {
    pub fn kind(&self) -> MessageKind {
        match self {
            ElectionMessage::Election { .. } => MessageKind::Election,
            ElectionMessage::Alive { .. } => MessageKind::Alive,
            ElectionMessage::RingToken { .. } => MessageKind::RingToken,
            ElectionMessage::Victory { .. } => MessageKind::Victory,
            ElectionMessage::Coordinator { .. } => MessageKind::Coordinator,
            ElectionMessage::Ack { .. } => MessageKind::Ack,
            ElectionMessage::Stale { .. } => MessageKind::Stale,
        }
    }

    /// The epoch the message carries.
    pub fn epoch(&self) -> Epoch {
        match self {
            ElectionMessage::Election { epoch }
            | ElectionMessage::Alive { epoch }
            | ElectionMessage::RingToken { epoch, .. }
            | ElectionMessage::Victory { epoch }
            | ElectionMessage::Coordinator { epoch }
            | ElectionMessage::Ack { epoch }
            | ElectionMessage::Stale { epoch } => *epoch,
        }
    }
}

/// The timers an election arms. Arming a kind again replaces the pending one;
/// a fire before the latest deadline of its kind is ignored, so a runtime
/// that cannot cancel timers may simply let old ones fire.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum TimerKind {
    /// No leader known for this long: start an election (also the retry).
    LeaderWait,
    /// Bully: no `Alive` from a higher node: claim leadership ourselves.
    AliveWait,
    /// A higher node (Bully) or the ring's winner should have announced
    /// itself (the winner is told again before the election starts over).
    CoordinatorWait,
    /// Ring: our token should have come back.
    TokenWait,
    /// Our claim should have gathered a majority of acks: repeat it to the
    /// silent nodes, or give up after the last attempt.
    ClaimWait,
}

/// Why an election started, for the monitor.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StartReason {
    Operator,
    LeaderLost,
    NoLeader,
    /// Bully: a lower node asked whether anyone higher is alive.
    LowerNodeAsked,
    /// Bully: a higher node sees a lower leader and takes over.
    TakeOver,
    /// The previous attempt timed out (lost token, silent winner).
    Timeout,
    /// Replication refused this node's epoch: a majority promised a later
    /// one (remembered across restarts), so a new election must go past it.
    EpochPromised,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum StepDownReason {
    HigherEpoch,
    LostQuorum,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ClaimFailure {
    /// Too few acks after the last attempt.
    NoMajority,
    HigherEpoch,
}

/// What an election tells the monitor.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ElectionEvent {
    /// `epoch` is the highest known when it started; the winner's is higher.
    ElectionStarted {
        algorithm: Algorithm,
        epoch: Epoch,
        reason: StartReason,
    },
    /// An election was due but fewer than a majority are alive.
    NoQuorum {
        alive: usize,
        needed: usize,
    },
    /// This node asked the cluster to acknowledge it as leader of `epoch`.
    Claiming {
        epoch: Epoch,
    },
    /// This node is the leader: a majority acknowledged `epoch`.
    Elected {
        leader: NodeId,
        epoch: Epoch,
    },
    /// This node follows `leader` in `epoch`.
    Following {
        leader: NodeId,
        epoch: Epoch,
    },
    ClaimFailed {
        epoch: Epoch,
        reason: ClaimFailure,
    },
    SteppedDown {
        epoch: Epoch,
        reason: StepDownReason,
    },
    /// The leader stopped answering (or stopped leading).
    LeaderLost {
        leader: NodeId,
        epoch: Epoch,
    },
    MessageSent {
        to: NodeId,
        kind: MessageKind,
        epoch: Epoch,
    },
}

/// What the runtime must do after an input.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Output {
    Send {
        to: NodeId,
        message: ElectionMessage,
    },
    /// Call `on_timer(timer, ..)` after `after_ms`, replacing a pending one.
    SetTimer {
        timer: TimerKind,
        after_ms: u64,
    },
    Event(ElectionEvent),
}

/// Timeouts, in milliseconds. The defaults suit a 100 ms heartbeat and a
/// 1000 ms failure timeout: failover takes the detection time plus a few
/// round trips, a little over 1 s.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ElectionConfig {
    /// No leader known for this long starts an election; also the retry delay.
    pub leader_wait_ms: u64,
    /// Added to `leader_wait_ms` for each member above this node, so higher
    /// nodes retry first and retries do not all collide.
    pub stagger_ms: u64,
    pub alive_wait_ms: u64,
    pub coordinator_wait_ms: u64,
    pub token_wait_ms: u64,
    /// How long a claim waits for acks before repeating itself to the silent
    /// nodes (and the ring's initiator for its winner to claim before telling
    /// it again), and how many times in all before giving up.
    pub claim_wait_ms: u64,
    pub claim_attempts: u32,
}

impl Default for ElectionConfig {
    fn default() -> Self {
        ElectionConfig {
            leader_wait_ms: 300,
            stagger_ms: 40,
            alive_wait_ms: 200,
            coordinator_wait_ms: 600,
            token_wait_ms: 300,
            claim_wait_ms: 150,
            claim_attempts: 3,
        }
    }
}
