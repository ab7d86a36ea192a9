//! A movie's page: its details and its showtimes, grouped by day.

use super::lazy_page::lazy_page_route;
use super::route_id;
use crate::api::get_movie;
use crate::components::notice::{Empty, ErrorNotice, Loading};
use crate::error::ApiError;
use crate::format;
use crate::model::{MovieDetails, Showtime};
use crate::rules::format_price;
use leptos::prelude::*;
use leptos_meta::Title;

lazy_page_route!(MovieRoute => MoviePage, "A movie's page");

#[component]
fn MoviePage() -> impl IntoView {
    let id = route_id();
    let details = Resource::new(
        move || id.get(),
        |id| async move {
            match id.parse::<i64>() {
                Ok(id) => get_movie(id).await,
                Err(_) => Err(ApiError::not_found("There is no such movie.")),
            }
        },
    );
    view! {
        <section class="page">
            <Suspense fallback=|| view! { <Loading what="the movie"/> }>
                {move || details.get().map(|result| match result {
                    Ok(details) => view! { <MovieDetailsView details/> }.into_any(),
                    Err(e) => view! { <Title text=super::title("Movie")/><ErrorNotice error=e/> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn MovieDetailsView(details: MovieDetails) -> impl IntoView {
    let MovieDetails { movie, showtimes } = details;
    let days = group_by_day(showtimes);
    view! {
        <Title text=super::title(&movie.title)/>
        <article class="movie-details">
            <img class="poster" src=movie.poster_url.clone() alt=format!("Poster of {}", movie.title) width="300" height="450"/>
            <div>
                <h1>{movie.title.clone()}</h1>
                <p class="meta">
                    <span class="rating">"★ " {format::rating(movie.rating)}</span>
                    <span>{format::duration(movie.duration_minutes)}</span>
                    <span>{movie.release_year}</span>
                    <span class="certificate">{movie.certificate.clone()}</span>
                </p>
                <p class="genres">{movie.genres.join(" · ")}</p>
                <p class="description">{movie.description.clone()}</p>
            </div>
        </article>
        <h2>"Showtimes"</h2>
        {if days.is_empty() {
            view! { <Empty>"No upcoming showtimes for this movie."</Empty> }.into_any()
        } else {
            view! {
                <div class="showtime-days" data-testid="showtimes">
                    {days.into_iter().map(|(day, shows)| view! {
                        <section class="showtime-day">
                            <h3>{format::day_heading(day)}</h3>
                            <ul class="showtime-list">
                                {shows.into_iter().map(|s| view! { <ShowtimeChip showtime=s/> }).collect_view()}
                            </ul>
                        </section>
                    }).collect_view()}
                </div>
            }.into_any()
        }}
    }
}

#[component]
fn ShowtimeChip(showtime: Showtime) -> impl IntoView {
    let sold_out = showtime.seats_available == 0;
    let seats = if sold_out {
        "Sold out".to_string()
    } else {
        format!("{} seats left", showtime.seats_available)
    };
    view! {
        <li>
            <a class="showtime" href=format!("/showtimes/{}", showtime.id) data-showtime=showtime.id>
                <span class="time">{format::time_of_day(showtime.starts_at)}</span>
                <span class="hall">{showtime.auditorium_name.clone()}</span>
                <span class="price">"from " {format_price(showtime.price_cents)}</span>
                <span class=if sold_out { "left sold-out" } else { "left" }>{seats}</span>
            </a>
        </li>
    }
}

/// Showtimes in order, split into days.
fn group_by_day(mut showtimes: Vec<Showtime>) -> Vec<(chrono::NaiveDate, Vec<Showtime>)> {
    showtimes.sort_by_key(|s| s.starts_at);
    let mut days: Vec<(chrono::NaiveDate, Vec<Showtime>)> = Vec::new();
    for show in showtimes {
        let day = show.starts_at.date_naive();
        match days.last_mut() {
            Some((last, shows)) if *last == day => shows.push(show),
            _ => days.push((day, vec![show])),
        }
    }
    days
}
