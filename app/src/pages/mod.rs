//! One module per page of the app.

pub mod booking;
pub mod home;
mod lazy_page;
pub mod monitor;
pub mod movie;
pub mod my_bookings;
pub mod seats;

use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_params_map;

#[component]
pub fn NotFound() -> impl IntoView {
    #[cfg(feature = "ssr")]
    if let Some(response) = use_context::<leptos_axum::ResponseOptions>() {
        response.set_status(http::StatusCode::NOT_FOUND);
    }
    view! {
        <Title text=title("Not found")/>
        <section class="page">
            <h1>"Page not found"</h1>
            <p><a href="/">"Back to the movies"</a></p>
        </section>
    }
}

/// A page's title in the browser: "My bookings · MovieBook".
pub(crate) fn title(page: &str) -> String {
    format!("{page} · MovieBook")
}

/// The `:id` route parameter, as the text in the URL.
pub(crate) fn route_id() -> Memo<String> {
    let params = use_params_map();
    Memo::new(move |_| params.read().get("id").unwrap_or_default())
}
