//! Rate limits at the gateway: each client (by its address) has a token
//! bucket (`cluster::rate_limit`) for ordinary requests and a tighter one
//! for sensitive ones (signing in, and operators' actions: elections, mode
//! switches, new movies). A request beyond its rate gets a 429 in the usual
//! error shape, with `Retry-After`, and never reaches a node.

use super::Shared;
use crate::config::RateLimitFlags;
use crate::http::HttpError;
use app::error::{ApiError, ErrorCode};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::RETRY_AFTER;
use axum::http::{HeaderValue, Method};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cluster::rate_limit::{Rate, TokenBucket};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};

/// Buckets kept before full ones (idle clients) are forgotten.
const BUCKETS_KEPT: usize = 10_000;

/// The rates the gateway enforces, per client.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RateLimits {
    pub ordinary: Rate,
    pub sensitive: Rate,
}

impl RateLimits {
    /// The limits the flags ask for, or none if they turn them off.
    pub fn enforced(flags: &RateLimitFlags) -> Option<Self> {
        (!flags.no_rate_limit).then(|| flags.into())
    }

    fn of(&self, kind: Kind) -> Rate {
        match kind {
            Kind::Ordinary => self.ordinary,
            Kind::Sensitive => self.sensitive,
        }
    }
}

impl From<&RateLimitFlags> for RateLimits {
    /// The rates the flags set (whether or not they turn limits off).
    fn from(flags: &RateLimitFlags) -> Self {
        const SENSITIVE_BURST: f64 = 10.0;
        RateLimits {
            ordinary: Rate::new(flags.rate_limit, flags.rate_burst),
            sensitive: Rate::new(flags.sensitive_per_minute / 60.0, SENSITIVE_BURST),
        }
    }
}

/// Which bucket a request draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Kind {
    Ordinary,
    Sensitive,
}

/// Every client's buckets.
pub struct Limiter {
    limits: RateLimits,
    buckets: Mutex<HashMap<(IpAddr, Kind), TokenBucket>>,
}

impl Limiter {
    pub fn new(limits: RateLimits) -> Self {
        Limiter {
            limits,
            buckets: Mutex::default(),
        }
    }

    /// Takes a token for `client`'s request of `kind` at `now_ms`; if there
    /// is none, the milliseconds until there is.
    fn take(&self, client: IpAddr, kind: Kind, now_ms: u64) -> Result<(), u64> {
        let rate = self.limits.of(kind);
        // The map holds no invariant a panic elsewhere could break.
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        if buckets.len() >= BUCKETS_KEPT {
            let limits = self.limits;
            buckets.retain(|(_, kind), bucket| !bucket.is_full(limits.of(*kind), now_ms));
        }
        buckets
            .entry((client, kind))
            .or_insert_with(|| TokenBucket::full(rate, now_ms))
            .take(rate, now_ms)
    }
}

/// Signing in and operators' actions, through the REST API or the pages'
/// server functions; everything else is ordinary.
fn kind_of(method: &Method, path: &str) -> Kind {
    const SENSITIVE_FUNCTIONS: [&str; 4] = [
        "/sfn/sign_in",
        "/sfn/operator_sign_in",
        "/sfn/start_election",
        "/sfn/switch_replication",
    ];
    let sensitive = match *method {
        Method::POST => {
            matches!(
                path,
                "/api/election"
                    | "/api/movies"
                    | "/api/operator/session"
                    | "/api/faults"
                    | "/api/faults/clock"
            ) || SENSITIVE_FUNCTIONS.iter().any(|f| path.starts_with(f))
        }
        Method::PUT => path == "/api/replication" || path == "/gateway/strategy",
        Method::DELETE => path == "/api/faults",
        _ => false,
    };
    // Process controls, and whatever changes one chosen node.
    let aimed_at_a_node = path == "/api/heal" || path.starts_with("/api/nodes/");
    let sensitive =
        sensitive || (aimed_at_a_node && !matches!(*method, Method::GET | Method::HEAD));
    if sensitive {
        Kind::Sensitive
    } else {
        Kind::Ordinary
    }
}

/// The middleware: lets a request through, or answers 429.
pub async fn limit(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(client): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let Some(limiter) = &shared.limiter else {
        return next.run(request).await;
    };
    let kind = kind_of(request.method(), request.uri().path());
    let now_ms = crate::service::real_time_ms();
    match limiter.take(client.ip(), kind, now_ms) {
        Ok(()) => next.run(request).await,
        Err(wait_ms) => too_many(kind, wait_ms),
    }
}

fn too_many(kind: Kind, wait_ms: u64) -> Response {
    let seconds = wait_ms.div_ceil(1000).max(1);
    let what = match kind {
        Kind::Ordinary => "requests",
        Kind::Sensitive => "sign-ins and operator actions",
    };
    let error = ApiError::new(
        ErrorCode::TooManyRequests,
        format!("Too many {what} from your address. Please wait {seconds} s and try again."),
    );
    let mut response = HttpError(error).into_response();
    response
        .headers_mut()
        .insert(RETRY_AFTER, HeaderValue::from(seconds));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sign_ins_and_operator_actions_are_sensitive_and_reads_are_not() {
        let sensitive = [
            (Method::POST, "/api/election"),
            (Method::POST, "/api/movies"),
            (Method::PUT, "/api/replication"),
            (Method::POST, "/sfn/start_election1234"),
            (Method::POST, "/sfn/switch_replication99"),
            (Method::POST, "/sfn/sign_in42"),
            (Method::POST, "/api/operator/session"),
            (Method::POST, "/sfn/operator_sign_in5"),
            (Method::POST, "/api/faults"),
            (Method::DELETE, "/api/faults"),
            (Method::POST, "/api/nodes/2/kill"),
            (Method::POST, "/api/nodes/2/faults"),
            (Method::DELETE, "/api/nodes/2/faults"),
            (Method::POST, "/api/heal"),
            (Method::PUT, "/gateway/strategy"),
        ];
        for (method, path) in sensitive {
            assert_eq!(kind_of(&method, path), Kind::Sensitive, "{method} {path}");
        }
        let ordinary = [
            (Method::GET, "/api/election"),
            (Method::GET, "/api/replication"),
            (Method::POST, "/api/bookings"),
            (Method::POST, "/api/sessions"),
            (Method::POST, "/sfn/book_seats7"),
            (Method::GET, "/api/nodes/2/faults"),
            (Method::GET, "/"),
        ];
        for (method, path) in ordinary {
            assert_eq!(kind_of(&method, path), Kind::Ordinary, "{method} {path}");
        }
    }

    #[test]
    fn each_client_and_kind_has_a_bucket_of_its_own() {
        let limiter = Limiter::new(RateLimits {
            ordinary: Rate::new(1.0, 2.0),
            sensitive: Rate::new(1.0, 1.0),
        });
        let (alice, bob): (IpAddr, IpAddr) =
            ("10.0.0.1".parse().unwrap(), "10.0.0.2".parse().unwrap());
        assert!(limiter.take(alice, Kind::Sensitive, 0).is_ok());
        assert_eq!(limiter.take(alice, Kind::Sensitive, 0), Err(1000));
        assert!(limiter.take(alice, Kind::Ordinary, 0).is_ok());
        assert!(limiter.take(bob, Kind::Sensitive, 0).is_ok());
    }

    #[test]
    fn a_refusal_says_how_long_to_wait() {
        let response = too_many(Kind::Sensitive, 1500);
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()[RETRY_AFTER], "2");
    }
}
