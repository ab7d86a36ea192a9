//! The MovieBook web app: routes, pages, components and server functions,
//! compiled for the server (`ssr`) and for the browser (`hydrate`).

// The lazily loaded pages hydrate asynchronously, and the type of the
// monitor's async hydration is deeper than the default limit allows.
#![recursion_limit = "256"]

pub mod access;
pub mod api;
mod components;
mod deferred;
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
use leptos_meta::{provide_meta_context, MetaTags};
use leptos_router::components::{Route, Router, Routes, A};
use leptos_router::{path, Lazy, SsrMode};

/// The content security policy of a page whose inline scripts carry
/// `nonce`: scripts from this site and those inline ones only, WebAssembly
/// compiled from them, connections (the event feed's WebSocket too) to this
/// site only, inline style attributes (the seat map's and charts' sizes),
/// and no framing.
pub fn page_policy(nonce: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' 'nonce-{nonce}' 'wasm-unsafe-eval'; \
         style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
         object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )
}

/// Sets the page's policy on its response, with the nonce of this render.
#[cfg(feature = "ssr")]
fn set_page_policy() {
    use http::header::{HeaderValue, CONTENT_SECURITY_POLICY};
    let response = use_context::<leptos_axum::ResponseOptions>();
    if let (Some(nonce), Some(response)) = (leptos::nonce::use_nonce(), response) {
        if let Ok(policy) = HeaderValue::from_str(&page_policy(&nonce)) {
            response.insert_header(CONTENT_SECURITY_POLICY, policy);
        }
    }
}

/// The HTML document around the app, rendered on the server. The app's
/// bundle (`pkg/`) is linked under `bundle_root`, a path that names the
/// build, so browsers may keep its files.
pub fn shell(options: LeptosOptions, bundle_root: &str) -> impl IntoView {
    #[cfg(feature = "ssr")]
    set_page_policy();
    view! {
        <!DOCTYPE html>
        <html lang="en">
            <head>
                <meta charset="utf-8"/>
                <meta name="viewport" content="width=device-width, initial-scale=1"/>
                // In the server-rendered shell, not in the app: every page
                // has them, and the browser's WebAssembly need not.
                <link rel="stylesheet" id="leptos" href=format!("{bundle_root}/pkg/moviebook.css")/>
                <link rel="icon" href="/favicon.svg"/>
                <HydrationScripts options root=bundle_root.to_string()/>
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

    view! {
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
                // Each page is sent once its data is rendered in it (not
                // streamed out of order for a script to place): readable
                // with JavaScript off, and answered with the status its
                // data says (an unknown movie is a 404).
                <Routes fallback=pages::NotFound>
                    <Route path=path!("/") view=pages::home::HomePage ssr=SsrMode::Async/>
                    <Route path=path!("/movies/:id") view={Lazy::<pages::movie::MovieRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/showtimes/:id") view={Lazy::<pages::seats::SeatsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/bookings") view={Lazy::<pages::my_bookings::MyBookingsRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/bookings/:id") view={Lazy::<pages::booking::BookingRoute>::new()} ssr=SsrMode::Async/>
                    <Route path=path!("/monitor") view={Lazy::<pages::monitor::MonitorRoute>::new()} ssr=SsrMode::Async/>
                </Routes>
            </main>
            <footer class="footer">
                "MovieBook · all showtimes are in cinema time (UTC)"
            </footer>
        </Router>
    }
}

/// Marks `<body data-hydrated>` once the browser app has taken over the
/// server-rendered page, lazily loaded parts included, so tests and
/// scripts know clicks will be heard.
#[cfg(feature = "hydrate")]
pub fn mark_hydrated() {
    if let Some(body) = document().body() {
        let _ = body.set_attribute("data-hydrated", "true");
    }
}

#[cfg(test)]
mod tests {
    use super::page_policy;

    #[test]
    fn a_page_policy_runs_only_its_own_scripts_and_is_never_framed() {
        let policy = page_policy("abc123");
        assert!(policy.contains("script-src 'self' 'nonce-abc123' 'wasm-unsafe-eval';"));
        assert!(!policy.contains("script-src 'self' 'unsafe-inline'"));
        assert!(policy.contains("frame-ancestors 'none'"));
        assert!(policy.contains("object-src 'none'"));
    }
}
