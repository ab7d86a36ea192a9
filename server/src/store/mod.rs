//! Storage: one node's PostgreSQL database, reached through one pool. Every
//! SQL statement of the project lives in this folder.

mod booking_record;
mod booking_writer;
mod bookings;
mod catalog;
mod decisions;
mod numbering;
mod operators;
mod ops;
mod replica;
mod replicas;
pub mod seed;
mod status_watch;
mod tallies;
mod uncontested;

pub use booking_record::NewBookingRecord;
pub use bookings::TakenSeat;
pub use catalog::ShowtimeRecord;
pub use decisions::Decider;
pub use replica::{BookingReplica, MergeOutcome};
pub use status_watch::QuietMark;
pub use tallies::StatusCounts;

use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};
use sqlx::{ConnectOptions, Connection};
use std::str::FromStr;
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("seats already held: {0:?}")]
    SeatsTaken(Vec<String>),
    /// A booking with this id is held here already (a retried write).
    #[error("a booking with this id is held already")]
    AlreadyHeld,
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("this node's ops could not be numbered")]
    NumberingStopped,
    #[error("this node's booking writer has stopped")]
    WriterStopped,
    /// The call that was to write this booking, with others, failed.
    #[error("{0}")]
    CallFailed(std::sync::Arc<StoreError>),
    #[error("migration: {0}")]
    Migration(#[from] sqlx::migrate::MigrateError),
}

impl StoreError {
    /// Whether the database could not be reached (down, restarting, out of
    /// connections, or it ended the connection), rather than refusing what
    /// was asked: worth trying again, and no fault of this node's.
    pub fn is_unreachable(&self) -> bool {
        match self {
            StoreError::Database(
                sqlx::Error::Io(_)
                | sqlx::Error::Tls(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::WorkerCrashed,
            ) => true,
            // SQLSTATE classes 08 (connection exception) and 57P (the
            // server shutting down or starting), and too many connections.
            StoreError::Database(sqlx::Error::Database(error)) => {
                error.code().is_some_and(|code| {
                    code.starts_with("08") || code.starts_with("57P") || code == "53300"
                })
            }
            StoreError::CallFailed(failure) => failure.is_unreachable(),
            _ => false,
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// How many times a transaction is made in all while it meets a concurrent
/// write, and how long it waits before the next.
const ATTEMPTS: u32 = 5;
const RETRY_AFTER: Duration = Duration::from_millis(5);

/// Makes a transaction (`attempt`) again while it fails only because it met
/// a concurrent write: a seat or an id another transaction was writing
/// (unique_violation), a deadlock, a serialization failure. Made again, it
/// sees that write and decides by it.
async fn again_while_racing<T, F, Fut>(mut attempt: F) -> StoreResult<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = StoreResult<T>>,
{
    let mut made = 1;
    loop {
        match attempt().await {
            Err(StoreError::Database(sqlx::Error::Database(db)))
                if made < ATTEMPTS
                    && matches!(db.code().as_deref(), Some("23505" | "40P01" | "40001")) =>
            {
                made += 1;
                tokio::time::sleep(RETRY_AFTER).await;
            }
            other => return other,
        }
    }
}

/// How long a pooled connection may sit idle before it is checked again
/// when taken.
const RECHECK_IDLE_AFTER: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct Store {
    pool: PgPool,
    numbering: numbering::Numbering,
    writer: booking_writer::BookingWriter,
    status_watch: std::sync::Arc<status_watch::StatusWatch>,
}

impl Store {
    /// Connects a pool of `max_connections` to `database_url`.
    pub async fn connect(database_url: &str, max_connections: u32) -> StoreResult<Self> {
        // Every statement here has one shape whatever its arguments (keys
        // and arrays of keys), so a plan made once per connection serves
        // them all. Left to choose, PostgreSQL planned a replica merge's
        // seat locks and its uncontested check again on every call, since
        // a plan for the arrays it was given looked cheaper: the planning
        // cost four times the statements' own work.
        let options = PgConnectOptions::from_str(database_url)?
            .options([("plan_cache_mode", "force_generic_plan")])
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_millis(500));
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(Duration::from_secs(5))
            // sqlx checks every connection when it is released; checking it
            // again when it is taken cost each query a second round trip.
            // Only a connection that sat idle a while is checked again.
            .test_before_acquire(false)
            .before_acquire(|connection, meta| {
                Box::pin(async move {
                    if meta.idle_for >= RECHECK_IDLE_AFTER {
                        connection.ping().await?;
                    }
                    Ok(true)
                })
            })
            .connect_with(options)
            .await?;
        let numbering = numbering::Numbering::start(pool.clone());
        let writer = booking_writer::BookingWriter::start(pool.clone());
        Ok(Store {
            pool,
            numbering,
            writer,
            status_watch: Default::default(),
        })
    }

    /// Brings the schema up to date with `migrations/`, and numbers the
    /// ops an earlier run left pending. Called before the first write.
    pub async fn migrate(&self) -> StoreResult<()> {
        sqlx::migrate!("../migrations").run(&self.pool).await?;
        let leftovers = numbering::number_leftovers(&self.pool).await?;
        if leftovers > 0 {
            tracing::info!(leftovers, "numbered ops left pending by the last run");
        }
        Ok(())
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// A mark to tell, later, whether any booking's status may have
    /// changed since (`quiet_since`); None if a change is under way now.
    pub fn quiet_mark(&self) -> Option<QuietMark> {
        self.status_watch.mark()
    }

    /// Whether no booking's status can have changed since `mark`.
    pub fn quiet_since(&self, mark: QuietMark) -> bool {
        self.status_watch.quiet_since(mark)
    }
}

/// Creates database `name` on the server `admin_url` points at, unless it exists.
pub async fn ensure_database(admin_url: &str, name: &str) -> StoreResult<()> {
    let pool = admin_pool(admin_url).await?;
    let exists: bool =
        sqlx::query_scalar("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)")
            .bind(name)
            .fetch_one(&pool)
            .await?;
    if !exists {
        // Identifiers cannot be bound as parameters; `name` is quoted instead.
        let quoted = format!("\"{}\"", name.replace('"', "\"\""));
        sqlx::query(&format!("CREATE DATABASE {quoted}"))
            .execute(&pool)
            .await?;
    }
    pool.close().await;
    Ok(())
}

/// The node databases on the server `admin_url` names (`moviebook up`
/// names them moviebook_node_<id>), in order.
pub async fn node_databases(admin_url: &str) -> StoreResult<Vec<String>> {
    let pool = admin_pool(admin_url).await?;
    let names = sqlx::query_scalar(
        "SELECT datname FROM pg_database WHERE datname ~ '^moviebook_node_[0-9]+$' \
         ORDER BY length(datname), datname",
    )
    .fetch_all(&pool)
    .await?;
    pool.close().await;
    Ok(names)
}

/// One connection to the server `admin_url` names, for server-wide work.
async fn admin_pool(admin_url: &str) -> StoreResult<PgPool> {
    Ok(PgPoolOptions::new()
        .max_connections(1)
        .connect(admin_url)
        .await?)
}

/// `base_url` with its database name replaced by `database`.
pub fn url_with_database(base_url: &str, database: &str) -> String {
    let (without_query, query) = match base_url.split_once('?') {
        Some((url, query)) => (url, Some(query)),
        None => (base_url, None),
    };
    let authority_start = without_query.find("://").map(|i| i + 3).unwrap_or(0);
    let root = match without_query[authority_start..].find('/') {
        Some(slash) => &without_query[..authority_start + slash],
        None => without_query,
    };
    match query {
        Some(query) => format!("{root}/{database}?{query}"),
        None => format!("{root}/{database}"),
    }
}

#[cfg(test)]
mod tests {
    use super::url_with_database;

    #[test]
    fn replaces_the_database_of_a_url() {
        assert_eq!(
            url_with_database("postgres://u@127.0.0.1:5432/postgres", "db1"),
            "postgres://u@127.0.0.1:5432/db1"
        );
        assert_eq!(
            url_with_database("postgres://u:p@h:1/x?sslmode=disable", "db2"),
            "postgres://u:p@h:1/db2?sslmode=disable"
        );
        assert_eq!(url_with_database("postgres://h", "db3"), "postgres://h/db3");
    }
}
