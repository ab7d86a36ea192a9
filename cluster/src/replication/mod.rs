//! The rules of replication, without I/O. The node runtime sends the writes
//! and applies the rows; these decide:
//!
//! - [`mode`]: the strategies and consistency models, and which go together;
//! - [`quorum`]: when a write is committed (a majority of the cluster holds
//!   it);
//! - [`versions`]: how replicas that disagree settle it (a booking's status
//!   takes the latest leader's decision; the later stamp keeps a contested
//!   seat);
//! - [`ops`]: every change numbered by the node that made it, and the
//!   digest of what a node has applied (anti-entropy, gossip, causal
//!   delivery and sessions all read it);
//! - [`recovery`]: when a new leader holds everything a majority
//!   acknowledged, and may serve.

pub mod mode;
pub mod ops;
pub mod quorum;
pub mod recovery;
pub mod versions;

pub use mode::{Consistency, Mode, ModeSetting, Strategy};
pub use ops::{Applied, Frontier, OpId, OpRange};
pub use quorum::{majority, QuorumState, WriteQuorum};
pub use recovery::{Fence, Recovery, RecoveryState};
pub use versions::{last_write_wins, takes_incoming, Lifecycle, StatusVersion, WriteStamp};
