//! MovieBook's server: a node (HTTP, service, storage, cluster), the
//! launcher that runs the whole system on one machine, and the harness
//! that starts real processes for the tests and the benchmarks.

pub mod auth;
pub mod batching;
pub mod config;
pub mod gateway;
#[doc(hidden)]
pub mod harness;
pub mod http;
pub mod launcher;
pub mod metrics;
pub mod node;
pub mod replication;
pub mod request_id;
pub mod runtime;
pub mod secret;
pub mod service;
pub mod shutdown;
pub mod store;
