//! A page as a lazily loaded route: its code, and what only it uses,
//! become a chunk of the browser app of their own (split by `build-site`,
//! `site/`), fetched the first time the page is shown. The app is cut at
//! each `#[lazy_route]` impl, and the chunk named after its route type, so
//! every lazy page needs a route type of its own: the helper is a macro
//! that writes one, not a function or a generic type, which would be one
//! cut for all the pages.

/// `lazy_page_route!(MovieRoute => MoviePage, "A movie's page")` declares
/// `pub struct MovieRoute`, a lazily loaded route that shows
/// `<MoviePage/>`, for `Lazy::<MovieRoute>` in the app's routes.
macro_rules! lazy_page_route {
    ($route:ident => $page:ident, $what:literal) => {
        // Lines of documentation join into one paragraph, so this reads
        // "<what> as a lazily loaded route: ...".
        #[doc = $what]
        #[doc = "as a lazily loaded route: its code is a chunk of its own,"]
        #[doc = "fetched the first time the page is shown."]
        pub struct $route;

        #[::leptos_router::lazy_route]
        impl ::leptos_router::LazyRoute for $route {
            fn data() -> Self {
                $route
            }

            fn view(_this: Self) -> ::leptos::prelude::AnyView {
                ::leptos::prelude::IntoAny::into_any(::leptos::view! { <$page/> })
            }
        }
    };
}

pub(crate) use lazy_page_route;
