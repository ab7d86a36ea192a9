//! The home page: every movie as a card.

use crate::components::notice::{Empty, ErrorNotice, Loading};
use crate::deferred;
use crate::format;
use crate::model::Movie;
use leptos::prelude::*;
use leptos_meta::Title;

#[component]
pub fn HomePage() -> impl IntoView {
    let movies = Resource::new(|| (), |_| deferred::movies());
    view! {
        <Title text="MovieBook"/>
        <section class="page">
            <h1>"Now showing"</h1>
            <Suspense fallback=|| view! { <Loading what="movies"/> }>
                {move || movies.get().map(|result| match result {
                    Ok(list) if list.is_empty() => view! {
                        <Empty>"No movies are showing right now."</Empty>
                    }.into_any(),
                    Ok(list) => view! {
                        <ul class="movie-grid" data-testid="movie-list">
                            {list.into_iter().map(|m| view! { <MovieCard movie=m/> }).collect_view()}
                        </ul>
                    }.into_any(),
                    Err(e) => view! { <ErrorNotice error=e/> }.into_any(),
                })}
            </Suspense>
        </section>
    }
}

#[component]
fn MovieCard(movie: Movie) -> impl IntoView {
    let href = format!("/movies/{}", movie.id);
    view! {
        <li class="movie-card">
            <a href=href.clone() class="poster-link" tabindex="-1" aria-hidden="true">
                <img src=movie.poster_url.clone() alt="" width="300" height="450" loading="lazy"/>
            </a>
            <div class="movie-card-body">
                <h2><a href=href>{movie.title.clone()}</a></h2>
                <p class="meta">
                    <span class="rating" title="Audience rating">"★ " {format::rating(movie.rating)}</span>
                    <span>{format::duration(movie.duration_minutes)}</span>
                    <span class="certificate">{movie.certificate.clone()}</span>
                </p>
                <p class="genres">{movie.genres.join(" · ")}</p>
            </div>
        </li>
    }
}
