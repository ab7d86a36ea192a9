//! My bookings: everything the current moviegoer booked, newest first, with
//! a way to cancel what is still to come.

use super::lazy_page::lazy_page_route;
use crate::api::{my_bookings, CancelBooking};
use crate::components::notice::{Empty, ErrorNotice, Loading};
use crate::components::session::{use_session, SignInForm};
use crate::format;
use crate::format::status_word;
use crate::model::{Booking, BookingStatus};
use crate::rules::format_price;
use leptos::prelude::*;
use leptos_meta::Title;

lazy_page_route!(MyBookingsRoute => MyBookingsPage, "My bookings");

#[component]
fn MyBookingsPage() -> impl IntoView {
    let session = use_session();
    let cancel = ServerAction::<CancelBooking>::new();
    let bookings = Resource::new(
        move || (cancel.version().get(), session.user.get().is_some()),
        |_| my_bookings(),
    );
    view! {
        <Title text=super::title("My bookings")/>
        <section class="page">
            <h1>"My bookings"</h1>
            {move || cancel.value().get().and_then(|r| r.err()).map(|e| view! { <ErrorNotice error=e/> })}
            <Transition fallback=|| view! { <Loading what="your bookings"/> }>
                {move || {
                    let signed_in = session.user().is_some();
                    bookings.get().map(|result| match result {
                        Ok(list) if list.is_empty() && !signed_in => view! {
                            <Empty>"Tell us your name and your bookings will show up here."</Empty>
                            <SignInForm/>
                        }.into_any(),
                        Ok(list) if list.is_empty() => view! {
                            <Empty>"No bookings yet. " <a href="/">"Find a movie"</a></Empty>
                        }.into_any(),
                        Ok(list) => view! {
                            <ul class="booking-list" data-testid="my-bookings">
                                {list.into_iter().map(|b| view! { <BookingRow booking=b cancel/> }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                    })
                }}
            </Transition>
        </section>
    }
}

#[component]
fn BookingRow(booking: Booking, cancel: ServerAction<CancelBooking>) -> impl IntoView {
    let id = booking.id.clone();
    let cancellable =
        booking.status == BookingStatus::Confirmed && booking.starts_at > chrono::Utc::now();
    let pending = cancel.pending();
    view! {
        <li class="booking-row" data-booking=booking.id.clone() data-status=status_word(booking.status)>
            <div>
                <a class="title" href=format!("/bookings/{}", booking.id)>{booking.movie_title.clone()}</a>
                <p class="meta">
                    <span>{format::date_and_time(booking.starts_at)}</span>
                    <span>{booking.auditorium_name.clone()}</span>
                    <span>"Seats " {booking.seats.join(", ")}</span>
                    <span>{format_price(booking.total_cents)}</span>
                    {booking.lost_to.as_deref().map(|winner| view! {
                        <span data-testid="lost-to">{format!("Seats went to booking {}, made at the same time", format::short_id(winner))}</span>
                    })}
                </p>
            </div>
            <span class=format!("status {}", status_word(booking.status))>{status_word(booking.status)}</span>
            {cancellable.then(|| view! {
                <button
                    type="button"
                    class="button danger"
                    disabled=move || pending.get()
                    on:click=move |_| { cancel.dispatch(CancelBooking { booking_id: id.clone() }); }
                >"Cancel"</button>
            })}
        </li>
    }
}
