//! Who calls: the sessions every node of the cluster accepts (`sessions`)
//! and issues (`accounts`: to moviegoers for a name, to operators for
//! their password, `passwords`), and the middleware that tells every
//! handler who the caller is (`identify`).

pub mod accounts;
mod identify;
pub mod passwords;
pub mod sessions;

pub use accounts::SessionIssuer;
pub use identify::{identify, CallerOf, SignedInOperator};
pub use sessions::SessionKeys;
