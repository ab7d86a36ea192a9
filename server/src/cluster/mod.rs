//! The distributed side of a node. For now: the logical clocks every booking
//! is stamped with. Each algorithm here is a plain state machine without I/O.

pub mod clock;
