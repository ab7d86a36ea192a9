//! Clocks: logical ones (Lamport timestamps, vector clocks), each node's
//! simulated physical clock, and the Berkeley algorithm that keeps those
//! physical clocks together.

pub mod berkeley;
pub mod lamport;
pub mod physical;
pub mod vector;

pub use berkeley::{
    average_without_outliers, BerkeleyFollower, BerkeleyMessage, BerkeleyResult, BerkeleyRound,
};
pub use lamport::LamportClock;
pub use physical::PhysicalClock;
pub use vector::{CausalOrder, VectorClock};
