//! The rules of replication, without I/O. The node runtime sends the writes
//! and applies the rows; these decide:
//!
//! - [`mode`]: the strategies and consistency models, and which go together;
//! - [`quorum`]: when a write is committed (a majority of the cluster holds
//!   it);
//! - [`versions`]: how replicas that disagree settle it (a booking's status
//!   takes the latest leader's decision; the later stamp keeps a contested
//!   seat);
//! - [`seats`]: what a replica does with a booking whose seats a rival
//!   holds (last-write-wins, or the first claim holds);
//! - [`ops`]: every change numbered by the node that made it, and the
//!   digest of what a node has applied (anti-entropy, gossip, causal
//!   delivery and read frontiers all read it);
//! - [`causal`]: in what order a replica takes copies under causal
//!   consistency, so that it never holds an effect without its cause;
//! - [`lag`]: how long changes take to reach a replica;
//! - [`recovery`]: when a new leader holds everything a majority
//!   acknowledged, and may serve;
//! - [`repair`]: when an anti-entropy or gossip round moves copies (only
//!   what the pushes missed).

pub mod causal;
pub mod lag;
pub mod mode;
pub mod ops;
pub mod quorum;
pub mod recovery;
pub mod repair;
pub mod seats;
pub mod versions;

pub use lag::{percentile, LagHistogram, LagSummary, LagWindow};
pub use mode::{Consistency, Mode, ModeSetting, Strategy};
pub use ops::{making_op, Applied, Frontier, OpId, OpRange};
pub use quorum::{majority, QuorumState, WriteQuorum};
pub use recovery::{Fence, Recovery, RecoveryState};
pub use seats::{
    refuses_claim, settle, standing, uncontested, Arriving, Decided, SeatClaim, SeatMove, SeatRule,
    Standing,
};
pub use versions::{last_write_wins, takes_incoming, Lifecycle, StatusVersion, WriteStamp};
