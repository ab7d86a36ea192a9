//! MovieBook's distributed-systems algorithms, written as plain state machines
//! without I/O: clocks, membership, leader election, and a deterministic
//! simulation of a whole cluster that checks them.
//!
//! Nothing here sleeps, spawns, reads the real clock or touches a socket. The
//! node runtime feeds each state machine its inputs (a message, a timer that
//! fired, a failed send, the time) and carries out the outputs it gets back
//! (messages to send, timers to arm, events to publish).
//!
//! - [`clock`]: Lamport and vector clocks, a node's simulated physical clock,
//!   and the Berkeley algorithm that keeps the physical clocks together.
//! - [`membership`]: heartbeats and the timeout-based failure detector.
//! - [`election`]: Bully or Ring election with epochs and majority
//!   acknowledgment, so a minority partition never has a leader.
//! - [`replication`]: when a write is committed (a majority holds it) and how
//!   replicas that disagree settle it (last-write-wins, status moves forward).
//! - [`balancer`] and [`rate_limit`]: the gateway's choice of a node for
//!   each request, and the token buckets that bound each client's rate.
//! - [`sim`]: many nodes in one thread over a seeded, faulty network; the
//!   tests run it over thousands of seeds and check the invariants.
//!
//! # Driving them
//!
//! `now_ms` is always a monotonic millisecond count (e.g. since the process
//! started), never a node's skewed physical clock, except in Berkeley rounds.
//!
//! - **Boot**: `Membership::new(id, &all_ids, DEFAULT_FAILURE_TIMEOUT_MS)`,
//!   `Election::new(id, &all_ids, algorithm, ElectionConfig::default())`,
//!   then carry out `election.start(now)`.
//! - **Every heartbeat interval** (100 ms): send every `membership.peers()`
//!   a `Heartbeat { load, epoch: election.epoch(), leader:
//!   election.announced_leader() }`; call `membership.tick(now)`.
//! - **Any message from a peer**: `membership.on_heartbeat(..)` for a
//!   heartbeat, `membership.heard_from(from, now)` for anything else. Whenever
//!   membership reports a change, call `election.on_alive_changed(
//!   &membership.alive(), now)`. Then hand a heartbeat's epoch and leader to
//!   `election.on_heartbeat`, and an election message to `election.on_message`.
//! - **A send of an election message failed**: `election.on_send_failed(to, now)`.
//! - **Outputs**: `Send` goes to one node; `SetTimer` calls
//!   `election.on_timer(timer, now)` after `after_ms` (re-arming a kind
//!   replaces its pending timer; every timer must eventually fire); `Event`
//!   goes to the monitor's event feed.
//! - **Operator**: `election.start_election(now)`, `election.set_algorithm(..)`.
//! - **Clocks**: tick the Lamport and vector clocks on every send, merge them
//!   on every receive; the leader runs a [`clock::BerkeleyRound`] every few
//!   seconds, reading its own [`clock::PhysicalClock`] for every time it passes.

pub mod balancer;
pub mod clock;
pub mod election;
pub mod faults;
pub mod membership;
pub mod rate_limit;
pub mod replication;
pub mod rng;
pub mod sim;

/// A node's id: node-1 is 1. The cluster's members are known up front.
pub type NodeId = u32;

/// The highest node id. Ids a node makes up on its own (a movie added
/// through it) end in its id as three decimal digits, so that no two nodes
/// can ever make up the same one.
pub const MAX_NODE_ID: NodeId = 999;
