//! What the integration tests share: nodes and clusters from the harness
//! (`moviebook::harness`), started the tests' way, and what tests ask of a
//! node. Each node of each test gets a fresh database of its own on the
//! PostgreSQL server in DATABASE_URL (scripts/test.sh starts a throwaway
//! one), and each test a cluster secret of its own. The nodes' logs are
//! kept for the tests to read; set MOVIEBOOK_TEST_LOGS to a log filter
//! (e.g. `info`) to see them too.

// Each test file is a crate of its own that uses only some of this.
#![allow(dead_code, unused_imports)]

pub mod gateway;
pub mod relay;

use moviebook::harness::NodeLog;
pub use moviebook::harness::{
    agreed_leader, eventually, free_ports, hold_free_ports, ports_of, NodeProcess, NodeSpec,
};
use std::time::Duration;

fn server_url() -> String {
    std::env::var("DATABASE_URL").expect(
        "DATABASE_URL must name a PostgreSQL server the tests may create databases on \
         (scripts/test.sh starts one)",
    )
}

/// Whether the processes' logs are shown as well as kept.
pub fn logs_shown() -> bool {
    std::env::var_os("MOVIEBOOK_TEST_LOGS").is_some()
}

/// How to start node `node_id` of test `test_name` on `port` (0: a port it
/// picks). Each test's nodes sign with a secret of their own, so clusters
/// never cross-talk, and the test can make sessions they accept.
pub fn node_spec(test_name: &str, node_id: u32, port: u16) -> NodeSpec {
    let filter =
        std::env::var("MOVIEBOOK_TEST_LOGS").unwrap_or_else(|_| "warn,moviebook::node=info".into());
    let database = format!("it_{test_name}_{node_id}_{}", std::process::id());
    NodeSpec::new(
        env!("CARGO_BIN_EXE_moviebook"),
        node_id,
        port,
        &server_url(),
        &database,
    )
    .log(
        &filter,
        NodeLog::Kept {
            echoed: logs_shown(),
        },
    )
    .env("CLUSTER_SECRET", format!("secret-of-{test_name}"))
}

/// Starts a lone node on a new, empty database named after the test. The
/// node picks its own port (0), so parallel tests can never collide.
pub async fn start_node(test_name: &str) -> NodeProcess {
    node_spec(test_name, 1, 0)
        .start()
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Starts every node of a cluster, one after the other; the test fails if
/// one does not come up.
pub async fn start_all(specs: &[NodeSpec]) -> Vec<NodeProcess> {
    moviebook::harness::start_all(specs)
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

/// Specs for an `n`-node cluster of test `test_name` on free ports, each
/// node knowing the others.
pub fn cluster_specs(test_name: &str, n: u32) -> Vec<NodeSpec> {
    moviebook::harness::local_specs(&free_ports(n as usize), |id, port| {
        node_spec(test_name, id, port)
    })
}

/// Specs for a cluster of test `test_name` on `ports`, where node `from`
/// reaches node `to` at `address(from, to)`.
pub fn linked_specs(
    test_name: &str,
    ports: &[u16],
    address: impl Fn(u32, u32) -> String,
) -> Vec<NodeSpec> {
    moviebook::harness::linked_specs(ports, address, |id, port| node_spec(test_name, id, port))
}

/// What tests ask of a node through its API; a request that gets no
/// answer fails the test.
pub trait NodeApi {
    /// The load this node reports for itself (HTTP requests in flight).
    async fn own_load(&self) -> u64;
    /// Reads `path` as an operator, who may read anything: the JSON
    /// answer, whatever its status.
    async fn get_json(&self, path: &str) -> serde_json::Value;
    /// The id of a showtime that has not started, for movie `movie_id`:
    /// the last one in a hall of at least 8 rows of 12 (tests book seats
    /// up to row H and seat 12), whichever halls the catalog's rotation
    /// gave the movie today.
    async fn future_showtime(&self, movie_id: i64) -> i64;
    /// The id of a showtime that has not started, in an auditorium with
    /// at least `seats` seats.
    async fn future_showtime_in_a_hall_of(&self, seats: i64) -> i64;
    /// Books as the moviegoer `body` names in `userId` (with a session of
    /// theirs), or as no one if it names none.
    async fn book(&self, body: serde_json::Value) -> (u16, serde_json::Value);
    /// `user` cancels booking `id`: the status and the JSON answer.
    async fn cancel(&self, id: &str, user: &str) -> (u16, serde_json::Value);
    /// Sends `body` as JSON; the status and the JSON answer (null if none).
    async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value);
    /// Sends `body` as JSON as a signed-in operator.
    async fn operator_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value);
    /// Sends `body` as JSON, with `token` as a bearer token if given.
    async fn send_json_as(
        &self,
        token: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value);
}

impl NodeApi for NodeProcess {
    async fn own_load(&self) -> u64 {
        let health = self.get_json("/api/health").await;
        health["nodes"]
            .as_array()
            .and_then(|nodes| nodes.iter().find(|n| n["isSelf"] == true))
            .and_then(|me| me["load"].as_u64())
            .expect("the node reports its own load")
    }

    async fn get_json(&self, path: &str) -> serde_json::Value {
        self.client
            .get(self.url(path))
            .bearer_auth(self.operator_token())
            .send()
            .await
            .expect("request")
            .json()
            .await
            .expect("JSON answer")
    }

    async fn future_showtime(&self, movie_id: i64) -> i64 {
        const ROOMY: i64 = 8 * 12;
        let details = self.get_json(&format!("/api/movies?id={movie_id}")).await;
        details["showtimes"]
            .as_array()
            .and_then(|showtimes| {
                showtimes
                    .iter()
                    .rev()
                    .find(|s| s["seatsTotal"].as_i64() >= Some(ROOMY))
            })
            .and_then(|s| s["id"].as_i64())
            .expect("an upcoming showtime in a roomy hall")
    }

    async fn future_showtime_in_a_hall_of(&self, seats: i64) -> i64 {
        for movie_id in 1..=8 {
            let details = self.get_json(&format!("/api/movies?id={movie_id}")).await;
            let found = details["showtimes"].as_array().and_then(|showtimes| {
                showtimes
                    .iter()
                    .rev()
                    .find(|s| s["seatsTotal"].as_i64() >= Some(seats))
                    .and_then(|s| s["id"].as_i64())
            });
            if let Some(id) = found {
                return id;
            }
        }
        panic!("no upcoming showtime in a hall of {seats} seats")
    }

    async fn book(&self, body: serde_json::Value) -> (u16, serde_json::Value) {
        let token = body["userId"].as_str().map(|user| self.user_token(user));
        self.send_json_as(
            token.as_deref(),
            reqwest::Method::POST,
            "/api/bookings",
            body,
        )
        .await
    }

    async fn cancel(&self, id: &str, user: &str) -> (u16, serde_json::Value) {
        let path = format!("/api/bookings?id={id}&userId={user}");
        let token = self.user_token(user);
        self.send_json_as(
            Some(&token),
            reqwest::Method::DELETE,
            &path,
            serde_json::Value::Null,
        )
        .await
    }

    async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        self.send_json_as(None, method, path, body).await
    }

    async fn operator_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let token = self.operator_token();
        self.send_json_as(Some(&token), method, path, body).await
    }

    async fn send_json_as(
        &self,
        token: Option<&str>,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let mut request = self.client.request(method, self.url(path)).json(&body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.unwrap();
        let status = response.status().as_u16();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }
}

/// Every seat of a showtime with its state ("available", "taken", "yours"),
/// as `user` sees it on `node`.
pub async fn seat_states(node: &NodeProcess, showtime: i64, user: &str) -> Vec<(String, String)> {
    let map: serde_json::Value = node
        .get_json(&format!("/api/seats?showtimeId={showtime}&userId={user}"))
        .await;
    map["rows"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row["seats"].as_array().unwrap().clone())
        .map(|s| {
            (
                s["label"].as_str().unwrap().to_string(),
                s["state"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

/// Booking `id` as `node` holds it, if it does.
pub async fn booking_on(node: &NodeProcess, id: &str) -> Option<serde_json::Value> {
    node.get_as_operator(&format!("/api/bookings?id={id}"))
        .await
}

/// The labels of the seats that are not available.
pub fn not_available(states: &[(String, String)]) -> Vec<String> {
    states
        .iter()
        .filter(|(_, s)| s != "available")
        .map(|(l, _)| l.clone())
        .collect()
}

/// A test that speaks to real nodes as member `id` of their cluster would:
/// envelopes stamped, numbered and signed with the cluster's secret. Only
/// use it for an id with no real process behind it.
pub struct FakePeer {
    stamper: moviebook::runtime::envelope::Stamper,
    transport: moviebook::runtime::transport::Transport,
}

impl FakePeer {
    pub fn new(id: u32, secret: &str) -> Self {
        use moviebook::service::{real_time_ms, NodeClocks, SharedClocks};
        let clocks = SharedClocks::new(NodeClocks::resume(
            format!("node-{id}"),
            0,
            Default::default(),
            cluster::clock::PhysicalClock::new(0.0, 0.0, real_time_ms()),
        ));
        let signer = moviebook::runtime::signer::Signer::new(secret);
        FakePeer {
            stamper: moviebook::runtime::envelope::Stamper::new(id, clocks, real_time_ms()),
            transport: moviebook::runtime::transport::Transport::new(signer, Default::default()),
        }
    }

    /// A replication call to `node` (member `to`), as `/internal/call`.
    pub async fn call(
        &self,
        node: &NodeProcess,
        to: u32,
        request: moviebook::replication::wire::ReplicationRequest,
        timeout: Duration,
    ) -> Result<moviebook::replication::wire::ReplicationReply, String> {
        let envelope = self.stamper.envelope(to, request);
        let address = node.base_url.trim_start_matches("http://");
        match tokio::time::timeout(timeout, self.transport.call(address, &envelope)).await {
            Err(_) => Err("gave up waiting".into()),
            Ok(Err(moviebook::runtime::transport::CallError::Refused(e))) => {
                Err(format!("{:?}: {}", e.code, e.message))
            }
            Ok(Err(moviebook::runtime::transport::CallError::Unreachable(e))) => Err(e),
            Ok(Ok(reply)) => Ok(reply.body),
        }
    }
}
