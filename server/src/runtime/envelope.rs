//! The envelope protocol between nodes, both halves of it: sealing an
//! envelope (stamping it with the sender's clocks, incarnation and a
//! number per addressee, then signing its JSON with the cluster secret)
//! and opening one (checking the signature, the addressee, the sender, and
//! that it was never taken before, `replay.rs`). The sender of a request
//! (`transport.rs`) and its receiver (`http::cluster`) both come here, so
//! what one seals is what the other opens, and a change to either half is
//! made beside the other.
//!
//! On the wire an envelope is JSON, `{from, to, incarnation, seq,
//! sentAtMs, inReplyTo?, lamport, vclock, body}`, and its signature, the
//! hex HMAC-SHA256 of exactly those bytes, travels beside it in
//! `SIGNATURE_HEADER`. One-way messages (heartbeats, elections, clock
//! rounds) carry a `WireMessage`; calls and their answers carry
//! replication's requests and replies.

use super::replay::ReplayGuard;
use super::signer::Signer;
use crate::service::{real_time_ms, SharedClocks};
use app::error::{ApiError, ErrorCode};
use cluster::clock::{BerkeleyMessage, VectorClock};
use cluster::election::ElectionMessage;
use cluster::membership::Heartbeat;
use cluster::NodeId;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// The header carrying the hex HMAC of the envelope's JSON.
pub const SIGNATURE_HEADER: &str = "x-moviebook-signature";

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

/// What a one-way message carries.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", content = "message", rename_all = "camelCase")]
pub enum WireMessage {
    Heartbeat(Heartbeat),
    Election(ElectionMessage),
    Berkeley(BerkeleyMessage),
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

/// An envelope ready for the wire: its JSON, and the signature of exactly
/// those bytes, which travels beside them in `SIGNATURE_HEADER`.
pub struct Sealed {
    pub json: Vec<u8>,
    pub signature: String,
}

/// Seals a stamped envelope (a request or an answer) with the cluster
/// secret.
pub fn seal<Body: Serialize>(
    signer: &Signer,
    envelope: &Envelope<Body>,
) -> Result<Sealed, serde_json::Error> {
    let json = serde_json::to_vec(envelope)?;
    let signature = signer.sign(&json);
    Ok(Sealed { json, signature })
}

/// What a node opens its peers' requests with: the cluster secret, who it
/// is, who its peers are, and what it has taken from each of them.
pub struct Opener {
    signer: Signer,
    node: NodeId,
    peers: BTreeSet<NodeId>,
    replays: Mutex<ReplayGuard>,
}

impl Opener {
    /// An opener for `node`, whose process started at `started_ms` (real
    /// time), with `peers` the other members of its cluster.
    pub fn new(
        signer: Signer,
        node: NodeId,
        peers: impl IntoIterator<Item = NodeId>,
        started_ms: u64,
    ) -> Self {
        Opener {
            signer,
            node,
            peers: peers.into_iter().collect(),
            replays: Mutex::new(ReplayGuard::new(started_ms)),
        }
    }

    /// Opens a request that came as `json` with `signature`, at real time
    /// `now_ms`: signed with the cluster secret, well formed, addressed to
    /// this node, from a peer, not an answer, and never taken before.
    /// Anything else is refused, with the error the sender is answered, and
    /// leaves no trace: only an envelope opened counts as taken.
    pub fn open<Body: DeserializeOwned>(
        &self,
        json: &[u8],
        signature: &str,
        now_ms: u64,
    ) -> Result<Envelope<Body>, ApiError> {
        if !self.signer.verify(json, signature) {
            return Err(ApiError::new(
                ErrorCode::BadSignature,
                "The message is not signed with the cluster secret.",
            ));
        }
        let envelope: Envelope<Body> = serde_json::from_slice(json).map_err(|e| {
            ApiError::bad_request(format!("The message is not a valid envelope: {e}"))
        })?;
        if envelope.to != self.node {
            return Err(ApiError::invalid(
                "The message is addressed to another node.",
            ));
        }
        if !self.peers.contains(&envelope.from) {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                "The sender is not a member.",
            ));
        }
        if envelope.in_reply_to.is_some() {
            return Err(ApiError::invalid(
                "An answer to a call cannot be sent as a request.",
            ));
        }
        self.replays
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .admit(
                envelope.from,
                envelope.incarnation,
                envelope.seq,
                envelope.sent_at_ms,
                now_ms,
            )
            .map_err(|refusal| ApiError::new(ErrorCode::StaleMessage, refusal.explain()))?;
        Ok(envelope)
    }
}

/// Opens the answer to `call`, which came as `json` with `signature`: it
/// must be signed with the cluster secret, well formed, and from the
/// callee to the caller in reply to this very call, so an old answer never
/// passes for a new one. Err says why it is no answer.
pub fn open_reply<Request, Reply: DeserializeOwned>(
    signer: &Signer,
    call: &Envelope<Request>,
    json: &[u8],
    signature: &str,
) -> Result<Envelope<Reply>, String> {
    if !signer.verify(json, signature) {
        return Err("the answer is not signed with the cluster secret".into());
    }
    let reply: Envelope<Reply> = serde_json::from_slice(json).map_err(|e| e.to_string())?;
    let answers_this_call =
        reply.from == call.to && reply.to == call.from && reply.in_reply_to == Some(call.seq);
    if !answers_this_call {
        return Err("the answer is not the answer to this call".into());
    }
    Ok(reply)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::NodeClocks;
    use cluster::clock::PhysicalClock;

    const SECRET: &str = "s3cret";

    fn stamper(node: NodeId) -> Stamper {
        let clocks = SharedClocks::new(NodeClocks::resume(
            format!("node-{node}"),
            0,
            Default::default(),
            PhysicalClock::new(0.0, 0.0, real_time_ms()),
        ));
        Stamper::new(node, clocks, 1)
    }

    /// Node 2 of a cluster of nodes 1, 2 and 3, started at time 0.
    fn node_two() -> Opener {
        Opener::new(Signer::new(SECRET), 2, [1, 3], 0)
    }

    fn election() -> WireMessage {
        WireMessage::Election(ElectionMessage::Coordinator { epoch: 3 })
    }

    fn refusal<Body: std::fmt::Debug>(opened: Result<Envelope<Body>, ApiError>) -> ErrorCode {
        opened.expect_err("opened").code
    }

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
            body: election(),
        };
        let json = serde_json::to_string(&envelope).unwrap();
        assert!(json.contains(r#""kind":"election""#), "{json}");
        assert_eq!(serde_json::from_str::<Envelope>(&json).unwrap(), envelope);
        assert!(serde_json::from_str::<Envelope>(r#"{"from":1}"#).is_err());
    }

    #[test]
    fn a_sealed_request_opens_once() {
        let envelope = stamper(1).envelope(2, election());
        let sealed = seal(&Signer::new(SECRET), &envelope).unwrap();
        let node = node_two();
        let now = envelope.sent_at_ms;
        let opened: Envelope = node.open(&sealed.json, &sealed.signature, now).unwrap();
        assert_eq!(opened, envelope);
        let again = node.open::<WireMessage>(&sealed.json, &sealed.signature, now);
        assert_eq!(refusal(again), ErrorCode::StaleMessage);
    }

    #[test]
    fn a_request_is_refused_unless_genuine_well_formed_and_meant_for_this_node() {
        let signer = Signer::new(SECRET);
        let node = node_two();
        let sender = stamper(1);
        let sealed = seal(&signer, &sender.envelope(2, election())).unwrap();
        let now = real_time_ms();
        let forged = seal(&Signer::new("guess"), &sender.envelope(2, election())).unwrap();
        assert_eq!(
            refusal(node.open::<WireMessage>(&forged.json, &forged.signature, now)),
            ErrorCode::BadSignature
        );
        assert_eq!(
            refusal(node.open::<WireMessage>(&sealed.json, "", now)),
            ErrorCode::BadSignature
        );
        let garbage = b"{not json";
        assert_eq!(
            refusal(node.open::<WireMessage>(garbage, &signer.sign(garbage), now)),
            ErrorCode::BadRequest
        );
        let misaddressed = seal(&signer, &sender.envelope(3, election())).unwrap();
        assert_eq!(
            refusal(node.open::<WireMessage>(&misaddressed.json, &misaddressed.signature, now)),
            ErrorCode::InvalidInput
        );
        let stranger = seal(&signer, &stamper(9).envelope(2, election())).unwrap();
        assert_eq!(
            refusal(node.open::<WireMessage>(&stranger.json, &stranger.signature, now)),
            ErrorCode::Forbidden
        );
        let answer = seal(&signer, &sender.reply(2, 1, election())).unwrap();
        assert_eq!(
            refusal(node.open::<WireMessage>(&answer.json, &answer.signature, now)),
            ErrorCode::InvalidInput
        );
        // None of the refusals counted as taken: the genuine one still opens.
        let opened = node.open::<WireMessage>(&sealed.json, &sealed.signature, now);
        assert!(opened.is_ok(), "{opened:?}");
    }

    #[test]
    fn a_reply_opens_only_as_the_answer_to_its_own_call() {
        let signer = Signer::new(SECRET);
        let (caller, callee) = (stamper(1), stamper(2));
        let call = caller.envelope(2, "ping");
        let answer = seal(&signer, &callee.reply(1, call.seq, "pong")).unwrap();
        let opened: Envelope<String> =
            open_reply(&signer, &call, &answer.json, &answer.signature).unwrap();
        assert_eq!(opened.body, "pong");
        let unsigned = open_reply::<_, String>(&signer, &call, &answer.json, "");
        assert!(unsigned.is_err());
        let next_call = caller.envelope(2, "ping");
        let old = open_reply::<_, String>(&signer, &next_call, &answer.json, &answer.signature);
        assert_eq!(
            old.unwrap_err(),
            "the answer is not the answer to this call"
        );
        let from_another = seal(&signer, &stamper(3).reply(1, call.seq, "pong")).unwrap();
        let other =
            open_reply::<_, String>(&signer, &call, &from_another.json, &from_another.signature);
        assert!(other.is_err());
    }
}
