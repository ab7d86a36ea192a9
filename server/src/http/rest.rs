//! The REST API under `/api`, with the original MovieBook's paths. Every
//! handler validates its input, checks the caller may do what it asks
//! (`app::access`: bookings are their owner's, or an operator's), calls
//! the shared `CinemaService`, and answers JSON in camelCase.

use super::error::HttpError;
use crate::auth::{CallerOf, SignedInOperator};
use app::error::ApiError;
use app::model::{Booking, BookingRequest, Movie, NewMovie, SeatMap};
use app::service::SharedCinema;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::Deserialize;

type ApiResult<T> = Result<T, HttpError>;

/// The API routes, with their state supplied, to nest in any router.
pub fn router<S: Clone + Send + Sync + 'static>(cinema: SharedCinema) -> Router<S> {
    Router::new()
        .route("/movies", get(get_movies).post(post_movie))
        .route(
            "/bookings",
            get(get_bookings).post(post_booking).delete(delete_booking),
        )
        .route("/seats", get(get_seats))
        .with_state(cinema)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MovieQuery {
    id: Option<i64>,
}

/// `GET /api/movies` lists the movies; `?id=` answers one with its showtimes.
async fn get_movies(
    State(cinema): State<SharedCinema>,
    query: Result<Query<MovieQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(query) = query?;
    Ok(match query.id {
        Some(id) => Json(cinema.movie(id).await?).into_response(),
        None => Json(cinema.movies().await?.as_ref()).into_response(),
    })
}

async fn post_movie(
    State(cinema): State<SharedCinema>,
    _: SignedInOperator,
    body: Result<Json<NewMovie>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Movie>)> {
    let Json(movie) = body?;
    Ok((StatusCode::CREATED, Json(cinema.add_movie(movie).await?)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct BookingQuery {
    id: Option<String>,
    user_id: Option<String>,
}

/// `GET /api/bookings?userId=` lists a user's bookings; `?id=` answers one.
/// Either for its owner or an operator only.
async fn get_bookings(
    State(cinema): State<SharedCinema>,
    CallerOf(caller): CallerOf,
    query: Result<Query<BookingQuery>, QueryRejection>,
) -> ApiResult<Response> {
    let Query(query) = query?;
    Ok(match (query.id, query.user_id) {
        (Some(id), None) => {
            let booking = cinema.booking(&id).await?;
            caller.require_owner(&booking.user_id)?;
            Json(booking).into_response()
        }
        (None, Some(user_id)) => {
            caller.require_owner(&user_id)?;
            Json(cinema.bookings_of(&user_id).await?).into_response()
        }
        _ => return Err(ApiError::bad_request("Give exactly one of id or userId.").into()),
    })
}

/// A booking as a client asks for it: for the caller's own user id (which
/// it may repeat, as the original API had it, but not replace). Other
/// fields (a price, a total) are ignored: the server prices a booking.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BookingBody {
    #[serde(default)]
    user_id: Option<String>,
    #[serde(default)]
    user_name: Option<String>,
    showtime_id: i64,
    seats: Vec<String>,
}

async fn post_booking(
    State(cinema): State<SharedCinema>,
    CallerOf(caller): CallerOf,
    body: Result<Json<BookingBody>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Booking>)> {
    let Json(body) = body?;
    let user_id = caller.require_moviegoer()?.to_string();
    if let Some(named) = &body.user_id {
        caller.require_owner(named)?;
    }
    let request = BookingRequest {
        user_id,
        user_name: body.user_name,
        showtime_id: body.showtime_id,
        seats: body.seats,
    };
    Ok((StatusCode::CREATED, Json(cinema.book(request).await?)))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CancelQuery {
    id: String,
    #[serde(default)]
    user_id: Option<String>,
}

/// `DELETE /api/bookings?id=[&userId=]` cancels a booking and frees its
/// seats, for its owner or an operator.
async fn delete_booking(
    State(cinema): State<SharedCinema>,
    CallerOf(caller): CallerOf,
    query: Result<Query<CancelQuery>, QueryRejection>,
) -> ApiResult<Json<Booking>> {
    let Query(query) = query?;
    if let Some(named) = &query.user_id {
        caller.require_owner(named)?;
    }
    // A moviegoer cancels as themself, as the pages do: the node that
    // decides checks that the booking is theirs, so an answering node that
    // has not heard of it yet is no obstacle. An operator may cancel
    // anyone's, whose owner this node must then know.
    let owner = match (&caller.operator, &caller.moviegoer) {
        (None, Some(me)) => me.clone(),
        _ => {
            let booking = cinema.booking(&query.id).await?;
            caller.require_owner(&booking.user_id)?;
            booking.user_id
        }
    };
    Ok(Json(cinema.cancel(&query.id, &owner).await?))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SeatsQuery {
    showtime_id: i64,
    user_id: Option<String>,
}

/// `GET /api/seats?showtimeId=[&userId=]` answers the showtime's seat
/// map, with the caller's own seats marked (or `userId`'s, which must be
/// the caller's, unless an operator asks).
async fn get_seats(
    State(cinema): State<SharedCinema>,
    CallerOf(caller): CallerOf,
    query: Result<Query<SeatsQuery>, QueryRejection>,
) -> ApiResult<Json<SeatMap>> {
    let Query(query) = query?;
    if let Some(named) = &query.user_id {
        caller.require_owner(named)?;
    }
    let viewer = query.user_id.or(caller.moviegoer);
    Ok(Json(
        cinema
            .seat_map(query.showtime_id, viewer.as_deref())
            .await?,
    ))
}

pub async fn unknown_endpoint() -> HttpError {
    ApiError::not_found("There is no such API endpoint.").into()
}

pub async fn method_not_allowed() -> (StatusCode, HttpError) {
    let error = ApiError::bad_request("This endpoint does not accept that HTTP method.");
    (StatusCode::METHOD_NOT_ALLOWED, error.into())
}
