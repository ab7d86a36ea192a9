//! MovieBook's server: a node (HTTP, service, storage, cluster) and the
//! launcher that runs the whole system on one machine.

pub mod auth;
pub mod config;
pub mod gateway;
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
