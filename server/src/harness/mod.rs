//! Real MovieBook processes for the code that checks the system from the
//! outside: the integration tests (`server/tests/`), the benchmarks and the
//! nemesis (`moviebook-bench`). It starts `moviebook node` processes, each
//! on a database of its own, and clusters of them; a `moviebook gateway` in
//! front of nodes; a whole `moviebook up`; waits until they answer; and
//! crashes, pauses and resumes them as the faults under test need. Written
//! once, so every check starts nodes with the same environment and waits
//! for them the same way.
//!
//! It lives in the library, not in a file each of them includes, because
//! the benchmarks and every test file are crates of their own that all link
//! the library. It is hidden from the library's documentation, being no
//! part of a node, and it sits at the top of the layers, beside the
//! launcher: nothing below imports it (docs/architecture.md). The
//! `moviebook` binary never calls it, so none of it is linked in there.

pub mod cluster;
pub mod gateway;
pub mod node;
pub mod ports;
pub mod process;
pub mod request;
pub mod up;
pub mod wait;

pub use cluster::{agreed_leader, linked_specs, local_specs, start_all};
pub use gateway::GatewayProcess;
pub use node::{NodeLog, NodeProcess, NodeSpec};
pub use ports::{consecutive_free_ports, free_ports, hold_free_ports, ports_of};
pub use process::moviebook_beside_this_program;
pub use request::get_json_as;
pub use up::{UpProcess, UpSpec};
pub use wait::{eventually, poll_until};
