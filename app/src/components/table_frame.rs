//! The frame a wide table scrolls sideways in on a narrow screen, so the
//! page itself never does. The frame is a named region that takes focus:
//! someone without a pointer can reach it and scroll it with the arrow
//! keys, and a screen reader says what it holds.

use leptos::prelude::*;

#[component]
pub fn TableFrame(
    /// What the table shows, read out for the region.
    label: &'static str,
    children: Children,
) -> impl IntoView {
    view! {
        <div class="table-frame" role="region" aria-label=label tabindex="0">
            {children()}
        </div>
    }
}
