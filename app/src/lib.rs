//! The MovieBook web app: routes, pages, components and server functions,
//! compiled for the server (`ssr`) and for the browser (`hydrate`).

pub mod api;
mod components;
pub mod error;
mod format;
pub mod model;
mod pages;
pub mod rules;
#[cfg(feature = "ssr")]
pub mod service;
#[cfg(feature = "ssr")]
pub mod session;

use leptos::prelude::*;
use leptos_meta::{provide_meta_context, Link, MetaTags, Stylesheet, Title};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::path;

/// The HTML document around the app, rendered on the server.
pub fn shell(options: LeptosOptions) -> impl IntoView {
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                <HydrationScripts options/>
                <MetaTags/>
            </head>
            <body>
                <App/>
            </body>
        </html>
    }
}

#[component]
pub fn App() -> impl IntoView {
    provide_meta_context();
    components::session::provide_session();
    mark_hydrated();

    view! {
        <Stylesheet id="leptos" href="/pkg/moviebook.css"/>
        <Link rel="icon" href="/favicon.svg"/>
        <Title formatter=|page: String| {
            if page.is_empty() { "MovieBook".to_string() } else { format!("{page} · MovieBook") }
        }/>
        <Router>
            <header class="top-bar">
                <A href="/" attr:class="brand"><img src="/favicon.svg" alt="" width="24" height="24"/>"MovieBook"</A>
                <nav aria-label="Main">
                    <A href="/">"Movies"</A>
                    <A href="/bookings">"My bookings"</A>
                    <A href="/monitor">"System monitor"</A>
                </nav>
                <components::session::UserBadge/>
            </header>
            <main>
                <Routes fallback=pages::NotFound>
                    <Route path=path!("/") view=pages::home::HomePage/>
                    <Route path=path!("/movies/:id") view=pages::movie::MoviePage/>
                    <Route path=path!("/showtimes/:id") view=pages::seats::SeatsPage/>
                    <Route path=path!("/bookings") view=pages::my_bookings::MyBookingsPage/>
                    <Route path=path!("/bookings/:id") view=pages::booking::BookingPage/>
                    <Route path=path!("/monitor") view=pages::monitor::MonitorPage/>
                </Routes>
            </main>
            <footer class="footer">
                "MovieBook · all showtimes are in cinema time (UTC)"
            </footer>
        </Router>
    }
}

/// Marks `<body data-hydrated>` once the browser app has taken over the
/// server-rendered page, so tests and scripts know clicks will be heard.
fn mark_hydrated() {
    Effect::new(move |_| {
        #[cfg(feature = "hydrate")]
        if let Some(body) = document().body() {
            let _ = body.set_attribute("data-hydrated", "true");
        }
    });
}
