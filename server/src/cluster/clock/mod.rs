//! Logical clocks: Lamport timestamps and vector clocks.

pub mod lamport;
pub mod vector;

pub use lamport::LamportClock;
pub use vector::{CausalOrder, VectorClock};
