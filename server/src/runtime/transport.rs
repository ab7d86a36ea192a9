//! Node-to-node messages over HTTP: envelopes sealed with the cluster
//! secret (`envelope.rs`), through the faults injected into this node's
//! links. One-way messages (heartbeats, elections, clock rounds) go to a
//! peer's `/internal/rpc`; calls that wait for an answer (replication) go
//! to `/internal/call`, and the answer, an envelope too, is opened as the
//! answer to that very call.

use super::envelope::{open_reply, seal, Envelope, SIGNATURE_HEADER};
use super::faults::SharedFaults;
use super::signer::Signer;
use app::error::ApiError;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// A peer that does not take a one-way message within this long counts as
/// unreachable.
const SEND_TIMEOUT: Duration = Duration::from_millis(500);
/// A call may wait on the callee's own calls (a forwarded booking waits for
/// its replication), so it gets longer.
const CALL_TIMEOUT: Duration = Duration::from_secs(4);

/// Why a call got no answer.
#[derive(Debug)]
pub enum CallError {
    /// The peer could not be reached or did not answer in time.
    Unreachable(String),
    /// The peer answered with an error.
    Refused(ApiError),
}

/// Sends envelopes to peers over HTTP, through the faults injected into
/// this node's links.
#[derive(Clone)]
pub struct Transport {
    client: reqwest::Client,
    signer: Signer,
    faults: SharedFaults,
}

impl Transport {
    pub fn new(signer: Signer, faults: SharedFaults) -> Self {
        let client = reqwest::Client::builder()
            .connect_timeout(SEND_TIMEOUT)
            .build()
            .unwrap_or_default();
        Transport {
            client,
            signer,
            faults,
        }
    }

    /// Posts `envelope` to the node at `address` (host:port); Err if it could
    /// not be delivered.
    pub async fn send(&self, address: &str, envelope: &Envelope) -> Result<(), String> {
        let response = self
            .post(address, "rpc", envelope, SEND_TIMEOUT)
            .await
            .map_err(|e| e.to_string())?;
        if response.status().is_success() {
            Ok(())
        } else {
            Err(format!("peer answered {}", response.status()))
        }
    }

    /// Posts `envelope` to the node at `address` and returns its answer. The
    /// answer is signed like a request: one that is not is refused.
    pub async fn call<Request: Serialize, Reply: DeserializeOwned>(
        &self,
        address: &str,
        envelope: &Envelope<Request>,
    ) -> Result<Envelope<Reply>, CallError> {
        let unreachable = |e: &dyn std::fmt::Display| CallError::Unreachable(e.to_string());
        let response = self
            .post(address, "call", envelope, CALL_TIMEOUT)
            .await
            .map_err(|e| unreachable(&e))?;
        let status = response.status();
        let signature = response
            .headers()
            .get(SIGNATURE_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body = response.bytes().await.map_err(|e| unreachable(&e))?;
        if status.is_success() {
            return open_reply(&self.signer, envelope, &body, &signature)
                .map_err(CallError::Unreachable);
        }
        #[derive(Deserialize)]
        struct ErrorBody {
            error: ApiError,
        }
        match serde_json::from_slice::<ErrorBody>(&body) {
            Ok(refusal) if status.is_client_error() || status.as_u16() == 503 => {
                Err(CallError::Refused(refusal.error))
            }
            _ => Err(unreachable(&format!("peer answered {status}"))),
        }
    }

    async fn post<Body: Serialize>(
        &self,
        address: &str,
        endpoint: &str,
        envelope: &Envelope<Body>,
        timeout: Duration,
    ) -> Result<reqwest::Response, String> {
        self.faults
            .pass(envelope.to)
            .await
            .map_err(|lost| lost.to_string())?;
        let sealed = seal(&self.signer, envelope).map_err(|e| e.to_string())?;
        let mut request = self
            .client
            .post(format!("http://{address}/internal/{endpoint}"))
            .timeout(timeout)
            .header(SIGNATURE_HEADER, sealed.signature)
            .header("content-type", "application/json");
        // The request this message serves, if any, for the peer's logs.
        if let Some(id) = crate::request_id::current() {
            request = request.header(crate::request_id::REQUEST_ID_HEADER, id);
        }
        request
            .body(sealed.json)
            .send()
            .await
            .map_err(|e| e.to_string())
    }
}
