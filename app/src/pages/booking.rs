//! One booking: the confirmation a moviegoer sees right after booking, with
//! the node and the clocks that processed it.

use super::lazy_page::lazy_page_route;
use super::route_id;
use crate::api::get_booking;
use crate::components::notice::{ErrorNotice, Loading};
use crate::format;
use crate::model::{Booking, BookingStatus};
use crate::rules::format_price;
use leptos::prelude::*;
use leptos_meta::Title;

lazy_page_route!(BookingRoute => BookingPage, "A booking's page");

#[component]
fn BookingPage() -> impl IntoView {
    let id = route_id();
    let booking = Resource::new(move || id.get(), get_booking);
    view! {
        <Title text=super::title("Your booking")/>
        <section class="page">
            <Suspense fallback=|| view! { <Loading what="your booking"/> }>
                {move || booking.get().map(|result| match result {
                    Ok(booking) => view! { <BookingCard booking/> }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                })}
            </Suspense>
            <p><a href="/bookings">"See all my bookings"</a></p>
        </section>
    }
}

#[component]
pub fn BookingCard(booking: Booking) -> impl IntoView {
    let heading = match booking.status {
        BookingStatus::Confirmed => "Booking confirmed",
        BookingStatus::Cancelled => "Booking cancelled",
        BookingStatus::Lost => "Booking lost to a concurrent booking",
    };
    view! {
        <article class="booking-card" data-testid="booking" data-status=format::status_word(booking.status)>
            <h1>{heading}</h1>
            <dl class="facts">
                <dt>"Movie"</dt>
                <dd><a href=format!("/movies/{}", booking.movie_id)>{booking.movie_title.clone()}</a></dd>
                <dt>"When"</dt><dd>{format::date_and_time(booking.starts_at)}</dd>
                <dt>"Where"</dt><dd>{booking.auditorium_name.clone()}</dd>
                <dt>"Seats"</dt><dd data-testid="booking-seats">{booking.seats.join(", ")}</dd>
                <dt>"Total"</dt><dd>{format_price(booking.total_cents)}</dd>
                <dt>"Booking number"</dt><dd class="mono">{booking.id.clone()}</dd>
                {booking.lost_to.clone().map(|winner| view! {
                    <dt>"Seats went to"</dt>
                    <dd class="mono" data-testid="lost-to">{format!("booking {winner}, made at the same time on another node")}</dd>
                })}
            </dl>
            <details class="processing" open>
                <summary>"How the cluster processed it"</summary>
                <dl class="facts">
                    <dt>"Processed by"</dt><dd data-testid="processed-by">{booking.processed_by.clone()}</dd>
                    <dt>"Replication"</dt><dd data-testid="mode">{booking.mode.replace('/', ", ")}</dd>
                    <dt>"Lamport clock"</dt><dd data-testid="lamport">{booking.logical_clock}</dd>
                    <dt>"Vector clock"</dt><dd class="mono">{format_vector(&booking)}</dd>
                    <dt>"Node time"</dt><dd class="mono">{booking.timestamp.format("%Y-%m-%d %H:%M:%S%.3f UTC").to_string()}</dd>
                </dl>
            </details>
        </article>
    }
}

fn format_vector(booking: &Booking) -> String {
    let entries: Vec<String> = booking
        .vector_clock
        .iter()
        .map(|(node, count)| format!("{node}: {count}"))
        .collect();
    format!("{{{}}}", entries.join(", "))
}
