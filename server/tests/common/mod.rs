//! Test harness: real `moviebook node` processes against a real PostgreSQL.
//! The server comes from DATABASE_URL (scripts/test.sh starts a throwaway
//! one); each node of each test gets its own fresh database. Set
//! MOVIEBOOK_TEST_LOGS to a log filter (e.g. `info`) to see the nodes' logs.

#![allow(dead_code)]

pub mod gateway;
pub mod relay;

use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub struct TestNode {
    pub base_url: String,
    pub client: reqwest::Client,
    /// The cluster secret it signs messages and sessions with.
    pub secret: String,
    process: Child,
    /// Everything the process wrote to its standard output (its log).
    pub output: Arc<Mutex<String>>,
}

impl Drop for TestNode {
    fn drop(&mut self) {
        self.kill();
    }
}

fn server_url() -> String {
    std::env::var("DATABASE_URL").expect(
        "DATABASE_URL must name a PostgreSQL server the tests may create databases on \
         (scripts/test.sh starts one)",
    )
}

/// `n` distinct free ports, found by holding all of them open at once.
pub fn free_ports(n: usize) -> Vec<u16> {
    ports_of(&hold_free_ports(n))
}

/// `n` distinct free ports, held open until the listeners are dropped, so
/// nothing else in this process (a relay, say) can be given one meanwhile.
pub fn hold_free_ports(n: usize) -> Vec<std::net::TcpListener> {
    (0..n)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect()
}

pub fn ports_of(listeners: &[std::net::TcpListener]) -> Vec<u16> {
    listeners
        .iter()
        .map(|l| l.local_addr().expect("a bound address").port())
        .collect()
}

/// Starts a lone node on a new, empty database named after the test. The
/// node picks its own port (0), so parallel tests can never collide.
pub async fn start_node(test_name: &str) -> TestNode {
    NodeSpec::new(test_name, 1, 0).start().await
}

/// How to start (and restart) one node of a test.
#[derive(Clone)]
pub struct NodeSpec {
    pub node_id: u32,
    pub port: u16,
    database: String,
    env: Vec<(String, String)>,
}

impl NodeSpec {
    /// Each test's nodes sign with a secret of their own, so clusters
    /// never cross-talk, and the test can make sessions they accept.
    pub fn new(test_name: &str, node_id: u32, port: u16) -> Self {
        NodeSpec {
            node_id,
            port,
            database: format!("it_{test_name}_{node_id}_{}", std::process::id()),
            env: vec![("CLUSTER_SECRET".into(), format!("secret-of-{test_name}"))],
        }
    }

    fn secret(&self) -> String {
        let set = self
            .env
            .iter()
            .rev()
            .find(|(key, _)| key == "CLUSTER_SECRET");
        set.map(|(_, secret)| secret.clone()).unwrap_or_default()
    }

    pub fn env(mut self, key: &str, value: impl ToString) -> Self {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// The URL of this node's own database.
    pub fn database_url(&self) -> String {
        moviebook::store::url_with_database(&server_url(), &self.database)
    }

    /// Starts the node process and waits until it answers.
    pub async fn start(&self) -> TestNode {
        moviebook::store::ensure_database(&server_url(), &self.database)
            .await
            .expect("create the test database");
        let mut process = Command::new(env!("CARGO_BIN_EXE_moviebook"))
            .args(["node", "--node-id", &self.node_id.to_string()])
            .args(["--port", &self.port.to_string()])
            .env("DATABASE_URL", self.database_url())
            .env(
                "RUST_LOG",
                std::env::var("MOVIEBOOK_TEST_LOGS")
                    .unwrap_or_else(|_| "warn,moviebook::node=info".into()),
            )
            .env("NO_COLOR", "1")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::piped())
            .spawn()
            .expect("start moviebook node");
        let (address, output) = listening_address(&mut process);
        let node = TestNode {
            base_url: format!("http://{address}"),
            client: reqwest::Client::new(),
            secret: self.secret(),
            process,
            output,
        };
        let up = eventually(Duration::from_secs(60), || async {
            let response = node.client.get(node.url("/api/movies")).send().await.ok()?;
            response.status().is_success().then_some(())
        })
        .await;
        assert!(
            up.is_some(),
            "node {} did not come up in 60 s",
            self.node_id
        );
        node
    }
}

/// The address a process says it listens on, read from its log, and all
/// of its output, kept as it is read in the background (so the pipe never
/// fills).
pub fn listening_address(process: &mut Child) -> (String, Arc<Mutex<String>>) {
    use std::io::BufRead;
    let stdout = process.stdout.take().expect("piped stdout");
    let (found, address) = std::sync::mpsc::channel();
    let output = Arc::new(Mutex::new(String::new()));
    let kept = output.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if std::env::var_os("MOVIEBOOK_TEST_LOGS").is_some() {
                eprintln!("{line}");
            }
            if let Ok(mut kept) = kept.lock() {
                kept.push_str(&line);
                kept.push('\n');
            }
            if let Some((_, rest)) = line.split_once("listening on http://") {
                // Plain text ends the address with a space, JSON with a quote.
                let address = rest
                    .split(|c: char| c.is_whitespace() || c == '"')
                    .next()
                    .unwrap_or_default();
                let _ = found.send(address.to_string());
            }
        }
    });
    let address = address
        .recv_timeout(Duration::from_secs(60))
        .expect("the node says where it listens within 60 s");
    (address, output)
}

/// Specs for an `n`-node cluster on free ports, each node knowing the others.
pub fn cluster_specs(test_name: &str, n: u32) -> Vec<NodeSpec> {
    let ports = free_ports(n as usize);
    linked_specs(test_name, &ports, |_, to| {
        format!("127.0.0.1:{}", ports[(to - 1) as usize])
    })
}

/// Specs for a cluster of nodes on `ports`, where node `from` reaches node
/// `to` at `address(from, to)`.
pub fn linked_specs(
    test_name: &str,
    ports: &[u16],
    address: impl Fn(u32, u32) -> String,
) -> Vec<NodeSpec> {
    let n = ports.len() as u32;
    (1..=n)
        .map(|id| {
            let peers: Vec<String> = (1..=n)
                .filter(|&other| other != id)
                .map(|other| format!("{other}={}", address(id, other)))
                .collect();
            NodeSpec::new(test_name, id, ports[(id - 1) as usize]).env("PEERS", peers.join(","))
        })
        .collect()
}

/// Polls `check` every 50 ms until it gives Some, for at most `limit`.
pub async fn eventually<T, F, Fut>(limit: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

impl TestNode {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// Stops the process at once, as a crash would (SIGKILL).
    pub fn kill(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }

    /// Freezes the process (SIGSTOP), as a long pause would: its sockets stay
    /// open but it answers nothing.
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// Lets a paused process go on (SIGCONT).
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, signal: libc::c_int) {
        let pid = libc::pid_t::try_from(self.process.id()).expect("a pid");
        // SAFETY: sending a signal to our own child process.
        assert_eq!(unsafe { libc::kill(pid, signal) }, 0, "signal {signal}");
    }

    /// The load this node reports for itself (HTTP requests in flight).
    pub async fn own_load(&self) -> u64 {
        let health = self.get_json("/api/health").await;
        health["nodes"]
            .as_array()
            .and_then(|nodes| nodes.iter().find(|n| n["isSelf"] == true))
            .and_then(|me| me["load"].as_u64())
            .expect("the node reports its own load")
    }

    /// Reads `path` as an operator, who may read anything.
    pub async fn get_json(&self, path: &str) -> serde_json::Value {
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

    /// The id of a showtime that has not started, for movie `movie_id`: the
    /// last one in a hall of at least 8 rows of 12 (tests book seats up to
    /// row H and seat 12), whichever halls the catalog's rotation gave the
    /// movie today.
    pub async fn future_showtime(&self, movie_id: i64) -> i64 {
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

    /// The id of a showtime that has not started, in an auditorium with at
    /// least `seats` seats.
    pub async fn future_showtime_in_a_hall_of(&self, seats: i64) -> i64 {
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

    /// Books as the moviegoer `body` names in `userId` (with a session of
    /// theirs), or as no one if it names none.
    pub async fn book(&self, body: serde_json::Value) -> (u16, serde_json::Value) {
        let token = body["userId"].as_str().map(|user| self.user_token(user));
        self.send_json_as(
            token.as_deref(),
            reqwest::Method::POST,
            "/api/bookings",
            body,
        )
        .await
    }

    /// `user` cancels booking `id`: the status and the JSON answer.
    pub async fn cancel(&self, id: &str, user: &str) -> (u16, serde_json::Value) {
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

    /// A session of operator `tester`, as any node of this cluster would
    /// issue it on signing in.
    pub fn operator_token(&self) -> String {
        self.keys()
            .issue_operator("tester", chrono::Utc::now().timestamp())
            .token
    }

    /// A session of the moviegoer `user` (a user id), as any node of this
    /// cluster would issue it.
    pub fn user_token(&self, user: &str) -> String {
        self.keys()
            .issue_moviegoer(user, user, chrono::Utc::now().timestamp())
            .token
    }

    fn keys(&self) -> moviebook::auth::SessionKeys {
        moviebook::auth::SessionKeys::new(&moviebook::secret::Secret::new(&self.secret))
    }

    /// Sends `body` as JSON; the status and the JSON answer (null if none).
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        self.send_json_as(None, method, path, body).await
    }

    /// Sends `body` as JSON as a signed-in operator.
    pub async fn operator_json(
        &self,
        method: reqwest::Method,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let token = self.operator_token();
        self.send_json_as(Some(&token), method, path, body).await
    }

    /// Sends `body` as JSON, with `token` as a bearer token if given.
    pub async fn send_json_as(
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
pub async fn seat_states(node: &TestNode, showtime: i64, user: &str) -> Vec<(String, String)> {
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
pub async fn booking_on(node: &TestNode, id: &str) -> Option<serde_json::Value> {
    let response = node
        .client
        .get(node.url(&format!("/api/bookings?id={id}")))
        .bearer_auth(node.operator_token())
        .send()
        .await
        .ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}

/// The labels of the seats that are not available.
pub fn not_available(states: &[(String, String)]) -> Vec<String> {
    states
        .iter()
        .filter(|(_, s)| s != "available")
        .map(|(l, _)| l.clone())
        .collect()
}

/// Starts every node of a cluster, one after the other.
pub async fn start_all(specs: &[NodeSpec]) -> Vec<TestNode> {
    let mut nodes = Vec::new();
    for spec in specs {
        nodes.push(spec.start().await);
    }
    nodes
}

/// The leader and epoch every given node reports, if they all agree.
pub async fn agreed_leader(nodes: &[&TestNode]) -> Option<(u64, u64)> {
    let mut agreed = None;
    for node in nodes {
        let view = node.get_json("/api/election").await;
        let leader = (
            view["leader"]["id"].as_u64()?,
            view["leader"]["epoch"].as_u64()?,
        );
        if agreed.is_some_and(|a| a != leader) {
            return None;
        }
        agreed = Some(leader);
    }
    agreed
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
        node: &TestNode,
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
