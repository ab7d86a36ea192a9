//! The visual seat map: the screen at the top, rows lettered from the front,
//! aisles, premium rows, and a button per seat that a keyboard can reach.
//! Arrow keys move between seats; Enter or Space picks one.

use crate::model::{SeatMap, SeatState};
use crate::rules::{format_price, MAX_SEATS_PER_BOOKING};
use leptos::prelude::*;

#[component]
pub fn SeatMapView(
    map: SeatMap,
    selected: RwSignal<Vec<String>>,
    /// Set to a message when a click cannot be honoured (limit reached, seat taken).
    notice: RwSignal<Option<String>>,
) -> impl IntoView {
    let aisles = map.aisles_after.clone();
    let started = map.has_started;
    let rows = map
        .rows
        .into_iter()
        .map(|row| {
            let kind = if row.premium { "premium" } else { "standard" };
            let price = format_price(row.price_cents);
            let seats = row
                .seats
                .into_iter()
                .map(|seat| {
                    let label = seat.label.clone();
                    let is_selected = {
                        let label = label.clone();
                        move || selected.read().contains(&label)
                    };
                    let state_word = match seat.state {
                        SeatState::Available => "available",
                        SeatState::Taken => "taken",
                        SeatState::Yours => "yours",
                    };
                    let aria = {
                        let is_selected = is_selected.clone();
                        let base = format!(
                            "Row {}, seat {}, {kind}, {price}",
                            row.label, seat.number
                        );
                        move || {
                            let state = if is_selected() { "selected" } else { state_word };
                            format!("{base}, {state}")
                        }
                    };
                    let toggle = {
                        let label = label.clone();
                        move |_| toggle_seat(&label, seat.state, started, selected, notice)
                    };
                    let class = {
                        let is_selected = is_selected.clone();
                        move || {
                            let state = if is_selected() { "selected" } else { state_word };
                            format!("seat {state} {kind}")
                        }
                    };
                    let after_aisle = aisles.contains(&seat.number);
                    view! {
                        <button
                            type="button"
                            class=class
                            data-seat=label.clone()
                            aria-label=aria
                            aria-pressed=move || if is_selected() { "true" } else { "false" }
                            aria-disabled=(seat.state != SeatState::Available || started).to_string()
                            on:click=toggle
                            on:keydown=move |ev| move_focus(&ev)
                        >
                            {seat.number}
                        </button>
                        {after_aisle.then(|| view! { <span class="aisle" aria-hidden="true"></span> })}
                    }
                })
                .collect_view();
            view! {
                <div class="seat-row" role="group" aria-label=format!("Row {}", row.label)>
                    <span class="row-label" aria-hidden="true">{row.label.clone()}</span>
                    {seats}
                    <span class="row-label" aria-hidden="true">{row.label.clone()}</span>
                </div>
            }
        })
        .collect_view();

    view! {
        <div class="seat-map">
            <div class="screen" aria-hidden="true">"Screen"</div>
            <div class="seat-rows" data-testid="seat-map">{rows}</div>
            <SeatLegend/>
        </div>
    }
}

fn toggle_seat(
    label: &str,
    state: SeatState,
    started: bool,
    selected: RwSignal<Vec<String>>,
    notice: RwSignal<Option<String>>,
) {
    if started {
        notice.set(Some(
            "This showtime has started; seats can no longer be booked.".into(),
        ));
        return;
    }
    match state {
        SeatState::Taken => {
            notice.set(Some(format!("Seat {label} is already taken.")));
            return;
        }
        SeatState::Yours => {
            notice.set(Some(format!("Seat {label} is already yours.")));
            return;
        }
        SeatState::Available => {}
    }
    let mut seats = selected.get_untracked();
    if let Some(index) = seats.iter().position(|s| s == label) {
        seats.remove(index);
        notice.set(None);
    } else if seats.len() >= MAX_SEATS_PER_BOOKING {
        notice.set(Some(format!(
            "You can book at most {MAX_SEATS_PER_BOOKING} seats at once."
        )));
        return;
    } else {
        seats.push(label.to_string());
        notice.set(None);
    }
    selected.set(seats);
}

/// Arrow keys move focus to the neighbouring seat in that direction.
fn move_focus(ev: &leptos::ev::KeyboardEvent) {
    #[cfg(feature = "hydrate")]
    {
        use leptos::wasm_bindgen::JsCast;
        let (d_row, d_seat): (i32, i32) = match ev.key().as_str() {
            "ArrowLeft" => (0, -1),
            "ArrowRight" => (0, 1),
            "ArrowUp" => (-1, 0),
            "ArrowDown" => (1, 0),
            _ => return,
        };
        let Some(label) = ev
            .current_target()
            .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
            .and_then(|el| el.get_attribute("data-seat"))
        else {
            return;
        };
        let mut chars = label.chars();
        let (Some(row), Ok(number)) = (chars.next(), chars.as_str().parse::<i32>()) else {
            return;
        };
        let target_row = char::from_u32((row as i32 + d_row) as u32).unwrap_or(row);
        let target = format!("{target_row}{}", number + d_seat);
        if let Ok(Some(el)) = document().query_selector(&format!("[data-seat=\"{target}\"]")) {
            if let Ok(el) = el.dyn_into::<web_sys::HtmlElement>() {
                ev.prevent_default();
                let _ = el.focus();
            }
        }
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = ev;
}

#[component]
fn SeatLegend() -> impl IntoView {
    let items = [
        ("available", "Available"),
        ("selected", "Selected"),
        ("taken", "Taken"),
        ("yours", "Yours"),
        ("available premium", "Premium"),
    ];
    view! {
        <ul class="legend" aria-label="Seat legend">
            {items.into_iter().map(|(class, text)| view! {
                <li><span class=format!("seat swatch {class}") aria-hidden="true"></span>{text}</li>
            }).collect_view()}
        </ul>
    }
}
