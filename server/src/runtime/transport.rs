//! Node-to-node messages: JSON envelopes `{from, to, lamport, vclock, body}`
//! signed with an HMAC-SHA256 of the cluster secret so that nobody without
//! the secret can forge one. One-way messages (heartbeats, elections, clock
//! rounds) go to a peer's `/internal/rpc`; calls that wait for an answer
//! (replication) go to `/internal/call`, and the answer is an envelope too,
//! bound to its request. Each envelope is unique (see `Stamper`), so the
//! receiver can refuse one it has seen (`replay.rs`).

use super::faults::SharedFaults;
use super::signer::Signer;
use crate::service::{real_time_ms, SharedClocks};
use app::error::ApiError;
use cluster::clock::{BerkeleyMessage, VectorClock};
use cluster::election::ElectionMessage;
use cluster::membership::Heartbeat;
use cluster::NodeId;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The header carrying the hex HMAC of the body.
pub const SIGNATURE_HEADER: &str = "x-moviebook-signature";
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

/// One message between nodes. Everything in it is signed, so the fields
/// that make it unique (`incarnation`, `seq`, `sent_at_ms`, see
/// `replay.rs`) cannot be changed to pass a replay off as a new message.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Envelope<Body = WireMessage> {
    pub from: NodeId,
    pub to: NodeId,
    /// When the sender's process started (real time, ms): a restarted
    /// sender counts `seq` afresh under a new incarnation.
    pub incarnation: u64,
    /// The sender's count of envelopes to this addressee.
    pub seq: u64,
    /// The sender's real time when it sent this, in ms since the Unix epoch.
    pub sent_at_ms: u64,
    /// On an answer to a call: the `seq` of the request it answers, so an
    /// old answer can never pass for the answer to a new request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub in_reply_to: Option<u64>,
    pub lamport: u64,
    pub vclock: VectorClock,
    pub body: Body,
}

/// Stamps this node's envelopes: its id, its clocks (every send ticks
/// them), its incarnation and a sequence number per addressee.
#[derive(Clone)]
pub struct Stamper {
    node: NodeId,
    clocks: SharedClocks,
    incarnation: u64,
    sequences: Arc<Mutex<BTreeMap<NodeId, u64>>>,
}

impl Stamper {
    /// A stamper for `node`, whose process started at `incarnation` (real
    /// time, ms).
    pub fn new(node: NodeId, clocks: SharedClocks, incarnation: u64) -> Self {
        Stamper {
            node,
            clocks,
            incarnation,
            sequences: Arc::default(),
        }
    }

    pub fn incarnation(&self) -> u64 {
        self.incarnation
    }

    /// A new envelope for `to`.
    pub fn envelope<Body>(&self, to: NodeId, body: Body) -> Envelope<Body> {
        self.stamp(to, None, body)
    }

    /// The answer to the call numbered `call_seq` from `caller`.
    pub fn reply<Body>(&self, caller: NodeId, call_seq: u64, body: Body) -> Envelope<Body> {
        self.stamp(caller, Some(call_seq), body)
    }

    fn stamp<Body>(&self, to: NodeId, in_reply_to: Option<u64>, body: Body) -> Envelope<Body> {
        let seq = {
            let mut sequences = self.sequences.lock().unwrap_or_else(|e| e.into_inner());
            let next = sequences.entry(to).or_insert(0);
            *next += 1;
            *next
        };
        let (lamport, vclock) = self.clocks.lock().stamp_send();
        Envelope {
            from: self.node,
            to,
            incarnation: self.incarnation,
            seq,
            sent_at_ms: real_time_ms(),
            in_reply_to,
            lamport,
            vclock,
            body,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "message", rename_all = "camelCase")]
pub enum WireMessage {
    Heartbeat(Heartbeat),
    Election(ElectionMessage),
    Berkeley(BerkeleyMessage),
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
            if !self.signer.verify(&body, &signature) {
                return Err(unreachable(
                    &"the answer is not signed with the cluster secret",
                ));
            }
            let reply: Envelope<Reply> =
                serde_json::from_slice(&body).map_err(|e| unreachable(&e))?;
            let answers_this_call = reply.from == envelope.to
                && reply.to == envelope.from
                && reply.in_reply_to == Some(envelope.seq);
            if !answers_this_call {
                return Err(unreachable(&"the answer is not the answer to this call"));
            }
            return Ok(reply);
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
        let body = serde_json::to_vec(envelope).map_err(|e| e.to_string())?;
        let signature = self.signer.sign(&body);
        let mut request = self
            .client
            .post(format!("http://{address}/internal/{endpoint}"))
            .timeout(timeout)
            .header(SIGNATURE_HEADER, signature)
            .header("content-type", "application/json");
        // The request this message serves, if any, for the peer's logs.
        if let Some(id) = crate::request_id::current() {
            request = request.header(crate::request_id::REQUEST_ID_HEADER, id);
        }
        request.body(body).send().await.map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn envelopes_round_trip_as_json() {
        let envelope = Envelope {
            from: 1,
            to: 2,
            incarnation: 5,
            seq: 1,
            sent_at_ms: 6,
            in_reply_to: None,
            lamport: 7,
            vclock: VectorClock::new(),
            body: WireMessage::Election(ElectionMessage::Coordinator { epoch: 3 }),
        };
        let json = serde_json::to_string(&envelope).unwrap();
        assert!(json.contains(r#""kind":"election""#), "{json}");
        assert_eq!(serde_json::from_str::<Envelope>(&json).unwrap(), envelope);
        assert!(serde_json::from_str::<Envelope>(r#"{"from":1}"#).is_err());
    }
}
