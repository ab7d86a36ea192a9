//! The seat page: a showtime's seat map, the seats being chosen, the running
//! total, and the booking itself.

use super::lazy_page::lazy_page_route;
use super::route_id;
use crate::api::{book_seats, get_seat_map};
use crate::components::live::{json_field, on_cluster_event};
use crate::components::notice::{ErrorNotice, Loading};
use crate::components::seat_map::SeatMapView;
use crate::components::session::{use_session, SignInForm};
use crate::error::{ApiError, ErrorCode};
use crate::format;
use crate::model::{SeatMap, SeatState};
use crate::rules::{format_price, MAX_SEATS_PER_BOOKING};
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::hooks::use_navigate;

lazy_page_route!(SeatsRoute => SeatsPage, "The seat page");

#[component]
fn SeatsPage() -> impl IntoView {
    let id = route_id();
    let showtime_id = Memo::new(move |_| id.get().parse::<i64>().ok());
    let seat_map = Resource::new(
        move || showtime_id.get(),
        |id| async move {
            match id {
                Some(id) => get_seat_map(id).await,
                None => Err(ApiError::not_found("There is no such showtime.")),
            }
        },
    );
    let selected = RwSignal::new(Vec::<String>::new());
    let notice = RwSignal::new(None::<String>);

    // A new showtime starts with a clean selection.
    Effect::new(move |_| {
        showtime_id.track();
        selected.set(Vec::new());
        notice.set(None);
    });

    let book = Action::new(move |seats: &Vec<String>| {
        let seats = seats.clone();
        let id = showtime_id.get_untracked();
        async move {
            match id {
                Some(id) => book_seats(id, seats).await,
                None => Err(ApiError::not_found("There is no such showtime.")),
            }
        }
    });

    // Someone else's booking or cancellation of this showtime redraws the map.
    on_cluster_event(move |json| {
        let this_showtime = showtime_id.get_untracked().map(|id| id.to_string());
        if json_field(&json, "kind").as_deref() == Some("booking")
            && json_field(&json, "showtimeId") == this_showtime
        {
            seat_map.refetch();
        }
    });
    // A seat chosen here but taken meanwhile leaves the selection, with a word why.
    Effect::new(move |_| {
        let Some(Ok(map)) = seat_map.get() else {
            return;
        };
        let gone: Vec<String> = selected
            .get_untracked()
            .into_iter()
            .filter(|label| {
                map.rows
                    .iter()
                    .flat_map(|row| &row.seats)
                    .any(|seat| &seat.label == label && seat.state != SeatState::Available)
            })
            .collect();
        if !gone.is_empty() {
            selected.update(|seats| seats.retain(|s| !gone.contains(s)));
            notice.set(Some(format!(
                "Just taken by someone else: {}.",
                gone.join(", ")
            )));
        }
    });

    let navigate = use_navigate();
    Effect::new(move |_| match book.value().get() {
        Some(Ok(booking)) => {
            selected.set(Vec::new());
            navigate(&format!("/bookings/{}", booking.id), Default::default());
        }
        Some(Err(error)) if error.code == ErrorCode::SeatsTaken => {
            selected.update(|seats| seats.retain(|s| !error.seats.contains(s)));
            notice.set(Some(format!(
                "{} The seat map has been refreshed; please choose again.",
                error.message
            )));
            seat_map.refetch();
        }
        Some(Err(error)) => notice.set(Some(error.message)),
        None => {}
    });

    view! {
        <section class="page">
            <Transition fallback=|| view! { <Loading what="the seat map"/> }>
                {move || seat_map.get().map(|result| match result {
                    Ok(map) => view! {
                        <SeatPicker map selected notice book/>
                    }.into_any(),
                    Err(e) => view! { <Title text=super::title("Seats")/><ErrorNotice error=e/> }.into_any(),
                })}
            </Transition>
        </section>
    }
}

#[component]
fn SeatPicker(
    map: SeatMap,
    selected: RwSignal<Vec<String>>,
    notice: RwSignal<Option<String>>,
    book: Action<Vec<String>, Result<crate::model::Booking, ApiError>>,
) -> impl IntoView {
    let session = use_session();
    let show = map.showtime.clone();
    let started = map.has_started;
    let prices: Vec<(String, i64)> = map
        .rows
        .iter()
        .map(|row| (row.label.clone(), row.price_cents))
        .collect();
    let total = Memo::new(move |_| {
        selected
            .read()
            .iter()
            .filter_map(|seat| {
                let row = &seat[..1];
                prices
                    .iter()
                    .find(|(label, _)| label == row)
                    .map(|(_, p)| *p)
            })
            .sum::<i64>()
    });
    let count = move || selected.read().len();
    let pending = book.pending();

    view! {
        <Title text=super::title(&format!("Seats · {}", map.movie_title))/>
        <header class="showtime-header">
            <h1><a href=format!("/movies/{}", show.movie_id)>{map.movie_title.clone()}</a></h1>
            <p class="meta">
                <span>{format::date_and_time(show.starts_at)}</span>
                <span>{show.auditorium_name.clone()}</span>
                <span>{format_price(show.price_cents)} " · premium " {format_price(show.premium_price_cents)}</span>
            </p>
        </header>
        {started.then(|| view! {
            <div class="notice error" role="alert">"This showtime has already started; booking is closed."</div>
        })}
        <div class="booking-layout">
            <SeatMapView map selected notice/>
            <aside class="booking-panel" aria-label="Your selection">
                <h2>"Your seats"</h2>
                <noscript>
                    <p class="notice warn" data-testid="needs-javascript">
                        "Choosing and booking seats needs JavaScript: turn it on to book. The map shows which seats are free."
                    </p>
                </noscript>
                <p class="selection" data-testid="selection">
                    {move || {
                        let seats = selected.read();
                        if seats.is_empty() { "None yet: pick seats on the map.".to_string() } else { seats.join(", ") }
                    }}
                </p>
                <p class="count">{move || format!("{} of at most {MAX_SEATS_PER_BOOKING} seats", count())}</p>
                <p class="total">"Total " <strong data-testid="total">{move || format_price(total.get())}</strong></p>
                <p class="notice warn" role="status" aria-live="polite" data-testid="seat-notice">
                    {move || notice.get()}
                </p>
                <Transition fallback=|| ()>
                    {move || match session.user() {
                        None => view! { <SignInForm/> }.into_any(),
                        Some(user) => view! {
                            <p class="booking-as">"Booking as " <strong>{user.name}</strong></p>
                            <button
                                type="button"
                                class="button primary"
                                data-testid="book"
                                disabled=move || started || count() == 0 || pending.get()
                                on:click=move |_| { book.dispatch(selected.get_untracked()); }
                            >
                                {move || if pending.get() { "Booking…".to_string() } else { format!("Book {} for {}", plural_seats(count()), format_price(total.get())) }}
                            </button>
                        }.into_any(),
                    }}
                </Transition>
            </aside>
        </div>
    }
}

fn plural_seats(n: usize) -> String {
    if n == 1 {
        "1 seat".into()
    } else {
        format!("{n} seats")
    }
}
