//! Server functions: what the pages call. Each one is a thin door into the
//! shared `CinemaService`, adding only who the caller is (from the cookie),
//! and for operators' actions, that they are one (`access`).

use crate::error::ApiError;
use crate::model::{Booking, ClusterStatus, Movie, MovieDetails, SeatMap, User};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::{
    access, model::BookingRequest, service::cinema, service::cluster, service::sessions, session,
};

#[server(prefix = "/sfn")]
pub async fn list_movies() -> Result<Vec<Movie>, ApiError> {
    Ok(cinema()?.movies().await?.as_ref().clone())
}

#[server(prefix = "/sfn")]
pub async fn get_movie(movie_id: i64) -> Result<MovieDetails, ApiError> {
    cinema()?.movie(movie_id).await
}

#[server(prefix = "/sfn")]
pub async fn get_seat_map(showtime_id: i64) -> Result<SeatMap, ApiError> {
    let viewer = access::caller().await?.moviegoer;
    cinema()?.seat_map(showtime_id, viewer.as_deref()).await
}

#[server(prefix = "/sfn")]
pub async fn current_user() -> Result<Option<User>, ApiError> {
    session::current_user().await
}

#[server(prefix = "/sfn")]
pub async fn sign_in(name: String) -> Result<User, ApiError> {
    session::sign_in(&name).await
}

#[server(prefix = "/sfn")]
pub async fn book_seats(showtime_id: i64, seats: Vec<String>) -> Result<Booking, ApiError> {
    let user = session::require_user().await?;
    cinema()?
        .book(BookingRequest {
            user_id: user.id,
            user_name: Some(user.name),
            showtime_id,
            seats,
        })
        .await
}

#[server(prefix = "/sfn")]
pub async fn get_booking(booking_id: String) -> Result<Booking, ApiError> {
    let booking = cinema()?.booking(&booking_id).await?;
    access::caller().await?.require_owner(&booking.user_id)?;
    Ok(booking)
}

#[server(prefix = "/sfn")]
pub async fn my_bookings() -> Result<Vec<Booking>, ApiError> {
    match session::current_user().await? {
        Some(user) => cinema()?.bookings_of(&user.id).await,
        None => Ok(Vec::new()),
    }
}

#[server(prefix = "/sfn")]
pub async fn cancel_booking(booking_id: String) -> Result<Booking, ApiError> {
    let user = session::require_user().await?;
    cinema()?.cancel(&booking_id, &user.id).await
}

#[server(prefix = "/sfn")]
pub async fn get_cluster_status() -> Result<ClusterStatus, ApiError> {
    Ok(cluster()?.status())
}

#[server(prefix = "/sfn")]
pub async fn start_election(algorithm: String) -> Result<(), ApiError> {
    access::caller().await?.require_operator()?;
    cluster()?.start_election(&algorithm)
}

#[server(prefix = "/sfn")]
pub async fn switch_replication(
    strategy: String,
    consistency: String,
) -> Result<crate::model::ReplicationMode, ApiError> {
    access::caller().await?.require_operator()?;
    cluster()?.switch_replication(&strategy, &consistency).await
}

/// The signed-in operator's name, if the caller is one.
#[server(prefix = "/sfn")]
pub async fn current_operator() -> Result<Option<String>, ApiError> {
    Ok(access::caller().await?.operator)
}

/// Signs an operator in: the session goes to the browser as a cookie.
#[server(prefix = "/sfn")]
pub async fn operator_sign_in(name: String, password: String) -> Result<String, ApiError> {
    let session = sessions()?.sign_in_operator(&name, &password).await?;
    session::set_cookie(&access::operator_cookie(&session))?;
    Ok(session.name)
}

#[server(prefix = "/sfn")]
pub async fn operator_sign_out() -> Result<(), ApiError> {
    session::set_cookie(&access::cleared_operator_cookie())
}

#[server(prefix = "/sfn")]
pub async fn get_replicas() -> Result<crate::model::ReplicasView, ApiError> {
    cluster()?.replicas().await
}
