//! The browser entry point: hydrates the server-rendered page into the live app.

#[wasm_bindgen::prelude::wasm_bindgen]
pub fn hydrate() {
    console_error_panic_hook::set_once();
    // Asynchronously: a page on a lazily loaded route first fetches its
    // chunk. Only then is the whole page live, and marked so.
    let Some(body) = leptos::prelude::document().body() else {
        return;
    };
    wasm_bindgen_futures::spawn_local(async {
        let app = leptos::mount::hydrate_from_async(body, app::App).await;
        app::mark_hydrated();
        app.forget();
    });
}

/// Room in the read-only data for the WASM splitter (`build-site`,
/// `site/`). It gives each chunk's data a place of its own in this
/// segment, aligned; when the aligned layout comes out longer than the
/// segment the linker wrote, it gives up and puts all of the app's data in
/// the first chunk, which the home page loads (about 80 KB more). The
/// linker keeps these bytes (`#[used]`), and no code reads them, so the
/// splitter places them nowhere: they are the slack its layout needs.
#[used]
static WASM_SPLIT_DATA_SLACK: [u8; 4096] = [0x5a; 4096];
