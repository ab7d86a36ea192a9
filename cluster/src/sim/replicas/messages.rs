//! What nodes say to each other (`Message`: claims and their answers, a
//! master-slave leader's pushes and promises, shared copies, anti-entropy's
//! digests and pages), and everything a run has falling due at a simulated
//! time (`Happening`: clients' requests, elections, deliveries, timers,
//! faults).

use super::copy::Copy;
use super::{BookingId, Seat};
use crate::replication::Applied;
use crate::NodeId;

/// What one node sends another.
pub(super) enum Message {
    Claim(Copy),
    ClaimAnswer {
        id: BookingId,
        taken: bool,
    },
    /// A master-slave leader's write, taken unless a later epoch was
    /// promised.
    Push {
        epoch: u64,
        copy: Copy,
    },
    /// A new leader asks for a promise of its epoch, and what is held.
    Promise {
        epoch: u64,
    },
    Promised {
        epoch: u64,
        copies: Vec<Copy>,
    },
    Share(Vec<Copy>),
    /// A round begins: the asker's digest, answered with the peer's.
    DigestAsk,
    Digest(Applied),
    /// What the asker has applied, and how many ops of each origin it
    /// lacks to send.
    SyncAsk {
        digest: Applied,
        page: usize,
    },
    /// A page of what the asker lacks; `more` if it lacks more.
    SyncReply {
        copies: Vec<Copy>,
        more: bool,
        page: usize,
    },
}

/// What the agenda holds: something due at a simulated time.
pub(super) enum Happening {
    Book {
        node: NodeId,
        seats: Vec<Seat>,
        client: usize,
    },
    Read {
        node: NodeId,
        client: usize,
    },
    Cancel {
        node: NodeId,
        client: usize,
    },
    Elect,
    /// A deposed leader learns that `epoch` has begun.
    Deposed {
        node: NodeId,
        epoch: u64,
    },
    /// A leader still catching up asks the peers not read yet again.
    AskPromises {
        node: NodeId,
        epoch: u64,
    },
    Deliver {
        from: NodeId,
        to: NodeId,
        message: Message,
    },
    ClaimTimeout {
        node: NodeId,
        id: BookingId,
    },
    AntiEntropy {
        node: NodeId,
    },
    SettleClaims {
        node: NodeId,
    },
    Crash {
        node: NodeId,
    },
    Restart {
        node: NodeId,
    },
    Cut {
        node: NodeId,
        for_ms: u64,
    },
    Mend {
        node: NodeId,
    },
    Heal,
}
