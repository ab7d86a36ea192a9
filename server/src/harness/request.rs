//! Requests the harness's users make of a running process as the
//! operator, written once for a node (`NodeProcess`) and for a whole `up`
//! behind its gateway (the nemesis).

use serde_json::Value;

/// A GET of `url` with `token` as the bearer: its JSON answer, if it
/// answered with a success status and JSON.
pub async fn get_json_as(client: &reqwest::Client, url: &str, token: &str) -> Option<Value> {
    let response = client.get(url).bearer_auth(token).send().await.ok()?;
    if !response.status().is_success() {
        return None;
    }
    response.json().await.ok()
}
