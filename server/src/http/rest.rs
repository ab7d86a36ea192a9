//! The REST API under `/api`, with the original MovieBook's paths. Every
//! handler validates its input, checks the caller may do what it asks
//! (`app::access`: bookings are their owner's, or an operator's), calls
//! the shared `CinemaService`, and answers JSON in camelCase.

use super::error::HttpError;
use super::identify::{CallerOf, SignedInOperator};
use super::openapi::ErrorBody;
use app::error::ApiError;
use app::model::{Booking, BookingRequest, Movie, MovieDetails, NewMovie, SeatMap};
use app::service::SharedCinema;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

type ApiResult<T> = Result<T, HttpError>;

/// The API routes, with their state supplied, to nest in any router.
pub fn router<S: Clone + Send + Sync + 'static>(cinema: SharedCinema) -> OpenApiRouter<S> {
    OpenApiRouter::new()
        .routes(routes!(get_movies, post_movie))
        .routes(routes!(get_bookings, post_booking, delete_booking))
        .routes(routes!(get_seats))
        .with_state(cinema)
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct MovieQuery {
    /// One movie's id: answers it with its showtimes.
    id: Option<i64>,
}

/// Every movie, or one with its showtimes.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
enum MoviesAnswer {
    All(Arc<Vec<Movie>>),
    One(MovieDetails),
}

/// The movies showing; with `id`, one movie and its showtimes.
#[utoipa::path(get, path = "/movies", tag = "movies", params(MovieQuery), responses(
    (status = 200, description = "Every movie, or the one asked for with its showtimes", body = MoviesAnswer),
    (status = 400, description = "The query string is not valid", body = ErrorBody),
    (status = 404, description = "No movie has that id", body = ErrorBody),
))]
async fn get_movies(
    State(cinema): State<SharedCinema>,
    query: Result<Query<MovieQuery>, QueryRejection>,
) -> ApiResult<Json<MoviesAnswer>> {
    let Query(query) = query?;
    Ok(Json(match query.id {
        Some(id) => MoviesAnswer::One(cinema.movie(id).await?),
        None => MoviesAnswer::All(cinema.movies().await?),
    }))
}

/// Adds a movie to the catalog (operators).
#[utoipa::path(post, path = "/movies", tag = "movies", request_body = NewMovie,
    security(("operator" = [])), responses(
    (status = 201, description = "The movie, with its id", body = Movie),
    (status = 422, description = "A field breaks a rule (the message says which)", body = ErrorBody),
))]
async fn post_movie(
    State(cinema): State<SharedCinema>,
    _: SignedInOperator,
    body: Result<Json<NewMovie>, JsonRejection>,
) -> ApiResult<(StatusCode, Json<Movie>)> {
    let Json(movie) = body?;
    Ok((StatusCode::CREATED, Json(cinema.add_movie(movie).await?)))
}

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct BookingQuery {
    /// One booking's id (give this or `userId`).
    #[param(pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    id: Option<String>,
    /// A moviegoer's user id: their bookings (give this or `id`).
    #[param(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    user_id: Option<String>,
}

/// One booking, or every booking of a moviegoer.
#[derive(Serialize, ToSchema)]
#[serde(untagged)]
enum BookingsAnswer {
    One(Box<Booking>),
    All(Vec<Booking>),
}

/// A booking (`id`), or a moviegoer's bookings (`userId`): for their owner
/// or an operator.
#[utoipa::path(get, path = "/bookings", tag = "bookings", params(BookingQuery),
    security(("moviegoer" = []), ("operator" = [])), responses(
    (status = 200, description = "The booking, or the moviegoer's bookings, newest first", body = BookingsAnswer),
    (status = 400, description = "Not exactly one of id and userId, or a bad query string", body = ErrorBody),
    (status = 401, description = "No session", body = ErrorBody),
    (status = 403, description = "Someone else's booking", body = ErrorBody),
    (status = 404, description = "No booking has that id", body = ErrorBody),
    (status = 422, description = "An id that is not a booking id, or a userId that is not a moviegoer's", body = ErrorBody),
))]
async fn get_bookings(
    State(cinema): State<SharedCinema>,
    CallerOf(caller): CallerOf,
    query: Result<Query<BookingQuery>, QueryRejection>,
) -> ApiResult<Json<BookingsAnswer>> {
    let Query(query) = query?;
    Ok(Json(match (query.id, query.user_id) {
        (Some(id), None) => {
            let booking = cinema.booking(&id).await?;
            caller.require_owner(&booking.user_id)?;
            BookingsAnswer::One(Box::new(booking))
        }
        (None, Some(user_id)) => {
            caller.require_owner(&user_id)?;
            BookingsAnswer::All(cinema.bookings_of(&user_id).await?)
        }
        _ => return Err(ApiError::bad_request("Give exactly one of id or userId.").into()),
    }))
}

/// A booking as a client asks for it: for the caller's own user id (which
/// it may repeat, as the original API had it, but not replace). Other
/// fields (a price, a total) are ignored: the server prices a booking.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
struct BookingBody {
    /// The caller's own user id, if given.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    user_id: Option<String>,
    /// The name on the booking (the session's if not given).
    #[serde(default)]
    user_name: Option<String>,
    showtime_id: i64,
    /// Seat labels such as "C7", in any order.
    #[schema(min_items = 1, max_items = 10)]
    seats: Vec<String>,
}

/// Books seats of a showtime for the caller, who must have a moviegoer's
/// session.
#[utoipa::path(post, path = "/bookings", tag = "bookings", request_body = BookingBody,
    security(("moviegoer" = [])), responses(
    (status = 201, description = "The booking, confirmed", body = Booking),
    (status = 401, description = "No moviegoer's session", body = ErrorBody),
    (status = 403, description = "userId is not the caller's", body = ErrorBody),
    (status = 404, description = "No showtime has that id", body = ErrorBody),
    (status = 409, description = "A seat is taken (`seats` lists them)", body = ErrorBody),
    (status = 422, description = "Seats that do not exist, repeated, none or too many; a bad name; or the showtime has started", body = ErrorBody),
))]
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

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct CancelQuery {
    /// The booking's id.
    #[param(pattern = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")]
    id: String,
    /// Its owner's user id, if given: the caller's.
    #[serde(default)]
    #[param(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    user_id: Option<String>,
}

/// Cancels a booking and frees its seats, for its owner or an operator.
#[utoipa::path(delete, path = "/bookings", tag = "bookings", params(CancelQuery),
    security(("moviegoer" = []), ("operator" = [])), responses(
    (status = 200, description = "The booking, cancelled", body = Booking),
    (status = 400, description = "The query string is not valid", body = ErrorBody),
    (status = 401, description = "No session", body = ErrorBody),
    (status = 403, description = "Someone else's booking", body = ErrorBody),
    (status = 404, description = "No booking has that id", body = ErrorBody),
    (status = 409, description = "The booking is not active (cancelled already, or lost its seats)", body = ErrorBody),
    (status = 422, description = "The showtime has started", body = ErrorBody),
))]
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

#[derive(Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
struct SeatsQuery {
    showtime_id: i64,
    /// Whose seats to mark as theirs: the caller's (or anyone's, for an
    /// operator).
    #[param(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    user_id: Option<String>,
}

/// A showtime's seat map, with the caller's own seats marked.
#[utoipa::path(get, path = "/seats", tag = "bookings", params(SeatsQuery), responses(
    (status = 200, description = "The seat map, front row first", body = SeatMap),
    (status = 400, description = "The query string is not valid", body = ErrorBody),
    (status = 401, description = "userId given without a session", body = ErrorBody),
    (status = 403, description = "userId is not the caller's", body = ErrorBody),
    (status = 404, description = "No showtime has that id", body = ErrorBody),
))]
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
