//! The service every caller goes through, REST handlers and server functions
//! alike, so each rule is written once. The server implements it; the pages
//! reach it through Leptos context.

use crate::access::{MoviegoerSession, OperatorSession};
use crate::error::ApiError;
use crate::model::{
    Booking, BookingRequest, ClusterStatus, Movie, MovieDetails, NewMovie, ReplicasView,
    ReplicationMode, SeatMap,
};
use std::sync::Arc;

#[async_trait::async_trait]
pub trait CinemaService: Send + Sync + 'static {
    async fn movies(&self) -> Result<Arc<Vec<Movie>>, ApiError>;
    async fn movie(&self, movie_id: i64) -> Result<MovieDetails, ApiError>;
    async fn add_movie(&self, movie: NewMovie) -> Result<Movie, ApiError>;
    /// The seat map as `viewer` sees it: their own seats are marked as theirs.
    async fn seat_map(&self, showtime_id: i64, viewer: Option<&str>) -> Result<SeatMap, ApiError>;
    async fn book(&self, request: BookingRequest) -> Result<Booking, ApiError>;
    async fn booking(&self, booking_id: &str) -> Result<Booking, ApiError>;
    async fn bookings_of(&self, user_id: &str) -> Result<Vec<Booking>, ApiError>;
    /// Cancels a booking held by `user_id` and frees its seats.
    async fn cancel(&self, booking_id: &str, user_id: &str) -> Result<Booking, ApiError>;
}

/// How the service is stored in Leptos context.
pub type SharedCinema = Arc<dyn CinemaService>;

/// The service from context, inside a server function.
pub fn cinema() -> Result<SharedCinema, ApiError> {
    leptos::prelude::use_context::<SharedCinema>().ok_or_else(ApiError::internal)
}

/// The cluster as the monitor sees and steers it. The server implements it
/// over the node's cluster runtime and replication.
#[async_trait::async_trait]
pub trait ClusterControl: Send + Sync + 'static {
    fn status(&self) -> ClusterStatus;
    /// Starts an election now with `algorithm` ("bully" or "ring").
    fn start_election(&self, algorithm: &str) -> Result<(), ApiError>;
    /// Switches the whole cluster's replication mode, at one agreed point.
    async fn switch_replication(
        &self,
        strategy: &str,
        consistency: &str,
    ) -> Result<ReplicationMode, ApiError>;
    /// Every node's replica, as this node finds it.
    async fn replicas(&self) -> Result<ReplicasView, ApiError>;
}

pub type SharedCluster = Arc<dyn ClusterControl>;

/// The cluster from context, inside a server function.
pub fn cluster() -> Result<SharedCluster, ApiError> {
    leptos::prelude::use_context::<SharedCluster>().ok_or_else(ApiError::internal)
}

/// The sessions the server issues, signed so that only it can: an
/// operator's on signing in, a moviegoer's on giving a name.
#[async_trait::async_trait]
pub trait Sessions: Send + Sync + 'static {
    /// A session for operator `name` if `password` is theirs; otherwise a
    /// 401 that does not say which of the two was wrong, given no sooner
    /// than a second after asking.
    async fn sign_in_operator(
        &self,
        name: &str,
        password: &str,
    ) -> Result<OperatorSession, ApiError>;

    /// A session for a moviegoer named `name`: for `user_id`, the id of
    /// their current session, or a new id the server chooses.
    fn moviegoer(&self, user_id: Option<&str>, name: &str) -> Result<MoviegoerSession, ApiError>;
}

pub type SharedSessions = Arc<dyn Sessions>;

/// The sessions from context, inside a server function.
pub fn sessions() -> Result<SharedSessions, ApiError> {
    leptos::prelude::use_context::<SharedSessions>().ok_or_else(ApiError::internal)
}
