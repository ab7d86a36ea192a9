//! Server calls that no first page load makes. A page's data arrives in its
//! HTML; the browser makes these calls only later (the movie list when it
//! comes back to the home page, the session after signing in), so their
//! client code, with the JSON reading and error handling behind it, is a
//! WebAssembly chunk fetched on the first such call instead of part of what
//! every page loads first. On the server they are the server functions.

use crate::error::ApiError;
use crate::model::{Movie, User};

/// Every movie showing, as the home page lists them.
pub async fn movies() -> Result<Vec<Movie>, ApiError> {
    #[cfg(feature = "hydrate")]
    return in_browser::movies().await;
    #[cfg(not(feature = "hydrate"))]
    crate::api::list_movies().await
}

/// Who is signed in, if anyone.
pub async fn current_user() -> Result<Option<User>, ApiError> {
    #[cfg(feature = "hydrate")]
    return in_browser::current_user().await;
    #[cfg(not(feature = "hydrate"))]
    crate::api::current_user().await
}

#[cfg(feature = "hydrate")]
mod in_browser {
    use super::*;
    use leptos::lazy;

    #[lazy]
    pub async fn movies() -> Result<Vec<Movie>, ApiError> {
        crate::api::list_movies().await
    }

    #[lazy]
    pub async fn current_user() -> Result<Option<User>, ApiError> {
        crate::api::current_user().await
    }
}
