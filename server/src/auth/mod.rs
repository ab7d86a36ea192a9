//! Who calls: operators' accounts and their passwords (`accounts`,
//! `passwords`), the sessions every node of the cluster accepts
//! (`sessions`), and the middleware that tells every handler who the
//! caller is (`identify`).

pub mod accounts;
mod identify;
pub mod passwords;
pub mod sessions;

pub use accounts::OperatorAccounts;
pub use identify::{identify, SignedInOperator};
pub use sessions::SessionKeys;
