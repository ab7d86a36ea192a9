//! Test harness: real `moviebook node` processes against a real PostgreSQL.
//! The server comes from DATABASE_URL (scripts/test.sh starts a throwaway
//! one); each test gets its own fresh database.

#![allow(dead_code)]

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct TestNode {
    pub base_url: String,
    pub client: reqwest::Client,
    process: Child,
}

impl Drop for TestNode {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

fn server_url() -> String {
    std::env::var("DATABASE_URL").expect(
        "DATABASE_URL must name a PostgreSQL server the tests may create databases on \
         (scripts/test.sh starts one)",
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Starts a node on a new, empty database named after the test.
pub async fn start_node(test_name: &str) -> TestNode {
    let database = format!("it_{test_name}_{}", std::process::id());
    let server = server_url();
    moviebook::store::ensure_database(&server, &database)
        .await
        .expect("create the test database");
    let port = free_port();
    let process = Command::new(env!("CARGO_BIN_EXE_moviebook"))
        .args(["node", "--node-id", "1", "--port", &port.to_string()])
        .env(
            "DATABASE_URL",
            moviebook::store::url_with_database(&server, &database),
        )
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("start moviebook node");
    let node = TestNode {
        base_url: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::new(),
        process,
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(r) = node.client.get(node.url("/api/movies")).send().await {
            if r.status().is_success() {
                return node;
            }
        }
        assert!(Instant::now() < deadline, "node did not come up in 60 s");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl TestNode {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    /// The id of a showtime that has not started, for movie `movie_id`.
    pub async fn future_showtime(&self, movie_id: i64) -> i64 {
        let details: serde_json::Value = self
            .client
            .get(self.url(&format!("/api/movies?id={movie_id}")))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        details["showtimes"]
            .as_array()
            .and_then(|s| s.last())
            .and_then(|s| s["id"].as_i64())
            .expect("an upcoming showtime")
    }

    pub async fn book(&self, body: serde_json::Value) -> (u16, serde_json::Value) {
        let response = self
            .client
            .post(self.url("/api/bookings"))
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        (
            status,
            response.json().await.unwrap_or(serde_json::Value::Null),
        )
    }
}
