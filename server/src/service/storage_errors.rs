//! What a storage failure is to a caller of the service. The mapping lives
//! here once, as `From<StoreError> for ApiError`, so every layer above
//! storage reports a failure with `?` and none can report it differently.
//! It belongs to the service, not to storage: storage says what went wrong
//! in the database; the service decides what a caller may see of it.

use crate::store::StoreError;
use app::error::ApiError;

/// Maps a storage failure to what the caller may see: "not found" keeps its
/// meaning, with `not_found_message` as what it says, a database out of
/// reach is a 503 to try again, anything else is logged here and reported
/// without details.
pub(super) fn storage_error(error: StoreError, not_found_message: &str) -> ApiError {
    match error {
        StoreError::NotFound => ApiError::not_found(not_found_message),
        StoreError::SeatsTaken(seats) => ApiError::seats_taken(seats),
        out_of_reach if out_of_reach.is_unreachable() => {
            tracing::warn!(error = %out_of_reach, "database out of reach");
            ApiError::unavailable()
        }
        other => {
            tracing::error!(error = %other, "storage failure");
            ApiError::internal()
        }
    }
}

/// A storage failure where no message says what was not found: "not found"
/// then says nothing more.
impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        storage_error(error, "")
    }
}
