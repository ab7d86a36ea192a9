//! The rules of replication, without I/O. The node runtime sends the writes
//! and applies the rows; these decide:
//!
//! - [`quorum`]: when a write is committed (a majority of the cluster holds
//!   it);
//! - [`versions`]: how replicas that disagree settle it (a booking's status
//!   takes the latest leader's decision; the later stamp keeps a contested
//!   seat);
//! - [`cursor`]: how far a node has read a peer's changes, so that
//!   anti-entropy never skips one;
//! - [`recovery`]: when a new leader holds everything a majority
//!   acknowledged, and may serve.

pub mod cursor;
pub mod quorum;
pub mod recovery;
pub mod versions;

pub use cursor::PullCursor;
pub use quorum::{majority, QuorumState, WriteQuorum};
pub use recovery::{Fence, Recovery, RecoveryState};
pub use versions::{last_write_wins, takes_incoming, Lifecycle, StatusVersion, WriteStamp};
