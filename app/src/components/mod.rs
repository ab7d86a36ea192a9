//! Pieces of UI shared by several pages.

pub mod fault_api;
pub mod fault_controls;
pub mod fault_watch;
pub mod live;
pub mod node_clocks;
pub mod notice;
pub mod operator;
pub mod replication;
pub mod seat_map;
pub mod session;
pub mod table_frame;
pub mod timeline;
pub mod traffic;
