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

#[component]
pub fn ErrorNotice(error: ApiError) -> impl IntoView {
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
