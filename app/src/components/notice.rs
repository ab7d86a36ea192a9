//! Loading, empty and error states, so every page shows them the same way.

use crate::error::ApiError;
use leptos::prelude::*;

#[component]
pub fn Loading(#[prop(into)] what: String) -> impl IntoView {
    view! {
        <div class="notice loading" role="status" aria-live="polite">
            <span class="spinner" aria-hidden="true"></span>
            {format!("Loading {what}…")}
        </div>
    }
}

/// An error in place of what could not be shown. Rendered on the server,
/// as a page's data, it sets the page's status to the error's (an unknown
/// movie: 404; a booking of someone else: 403; a cluster without a
/// majority: 503).
#[component]
pub fn ErrorNotice(error: ApiError) -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        if let Ok(status) = http::StatusCode::from_u16(error.code.http_status()) {
            response.set_status(status);
        }
    }
    view! {
        <div class="notice error" role="alert">
            <strong>"Sorry. "</strong>
            {error.message}
        </div>
    }
}

#[component]
pub fn Empty(children: Children) -> impl IntoView {
    view! { <div class="notice empty">{children()}</div> }
}
