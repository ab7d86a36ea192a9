//! Who calls: the sessions every node of the cluster accepts (`sessions`)
//! and issues (`accounts`: to moviegoers for a name, to operators for
//! their password, `passwords`). The middleware that tells every handler
//! who the caller is reads them, and is HTTP code: `http/identify.rs`.

pub mod accounts;
pub mod passwords;
pub mod sessions;

pub use accounts::SessionIssuer;
pub use sessions::SessionKeys;
