//! The fault API as the monitor calls it from the browser: the gateway's
//! view of its nodes (`GET /gateway/status`), each node's link faults
//! (`GET /api/nodes/{id}/faults`), and the operator's actions with the
//! request each one makes. Everything goes to the page's own origin (the
//! gateway), so the operator's HttpOnly session cookie rides along and the
//! page's `connect-src 'self'` allows it. The requests are made in the
//! browser only; what they send and how an answer is read are plain
//! functions, tested here.

// Only the browser sends these requests: the server's build keeps the
// types and their rules for the controls' markup and for the tests.
#![cfg_attr(not(feature = "hydrate"), allow(dead_code))]

use crate::error::{ApiError, ErrorCode};
use serde::Deserialize;

pub type NodeId = u64;

/// How long a pause lasts.
pub const PAUSE_SECONDS: u64 = 10;
/// How long an isolation (every link of the node cut) lasts.
pub const ISOLATE_SECONDS: u64 = 30;
/// How long, how lossy and how slow a lossy fault makes the node's links.
pub const LOSSY_SECONDS: u64 = 30;
pub const LOSSY_DROP_SHARE: f64 = 0.3;
pub const LOSSY_DELAY_MS: u64 = 200;
/// The clock skew: a jump ahead, no drift, for a minute.
pub const SKEW_OFFSET_MS: i64 = 5000;
pub const SKEW_SECONDS: u64 = 60;

/// The gateway's answer to `GET /gateway/status`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayStatus {
    #[serde(default)]
    pub strategy: String,
    pub nodes: Vec<GatewayNode>,
}

/// One node as the gateway sees it.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayNode {
    pub node_id: NodeId,
    #[serde(default)]
    pub live: bool,
    /// None when the gateway does not run its nodes.
    #[serde(default)]
    pub process: Option<Process>,
    #[serde(default)]
    pub restarts: u64,
    /// How long a paused node stays paused.
    #[serde(default)]
    pub paused_for_ms: u64,
}

/// A node process, as the gateway that runs it says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Process {
    Running,
    Paused,
    Stopped,
    /// A state this page does not know yet.
    #[serde(other)]
    Other,
}

impl Process {
    pub fn word(self) -> &'static str {
        match self {
            Process::Running => "running",
            Process::Paused => "paused",
            Process::Stopped => "stopped",
            Process::Other => "unknown",
        }
    }
}

/// A node's answer to `GET /api/nodes/{id}/faults`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NodeFaults {
    pub node_id: NodeId,
    pub faults: Vec<LinkFault>,
}

/// A fault in force on a node's links to `peers`.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LinkFault {
    pub number: u64,
    pub peers: Vec<NodeId>,
    /// "cut" or "lossy".
    pub harm: String,
    #[serde(default)]
    pub drop_share: f64,
    #[serde(default)]
    pub delay_ms: u64,
    pub expires_in_ms: u64,
}

/// What the page knows of a node's link faults.
#[derive(Clone, Debug, PartialEq)]
pub enum Links {
    Known(Vec<LinkFault>),
    /// The node did not answer (it is down, paused, or too slow).
    Unreachable,
    /// It answered with an error, this one.
    Failed(String),
}

/// What an operator does to one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NodeAction {
    Kill,
    Restart,
    Pause,
    Isolate,
    Lossy,
    Skew,
}

impl NodeAction {
    pub const ALL: [NodeAction; 6] = [
        NodeAction::Kill,
        NodeAction::Restart,
        NodeAction::Pause,
        NodeAction::Isolate,
        NodeAction::Lossy,
        NodeAction::Skew,
    ];

    /// The first part of its buttons' test ids (`kill-3`).
    pub fn test_id(self) -> &'static str {
        match self {
            NodeAction::Kill => "kill",
            NodeAction::Restart => "restart",
            NodeAction::Pause => "pause",
            NodeAction::Isolate => "isolate",
            NodeAction::Lossy => "lossy",
            NodeAction::Skew => "skew",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            NodeAction::Kill => "Kill",
            NodeAction::Restart => "Restart",
            NodeAction::Pause => "Pause 10 s",
            NodeAction::Isolate => "Isolate 30 s",
            NodeAction::Lossy => "Lossy 30 s",
            NodeAction::Skew => "Skew clock +5 s",
        }
    }

    /// Its button's text while its request runs.
    pub fn pending_label(self) -> &'static str {
        match self {
            NodeAction::Kill => "Killing…",
            NodeAction::Restart => "Restarting…",
            NodeAction::Pause => "Pausing…",
            NodeAction::Isolate => "Isolating…",
            NodeAction::Lossy => "Making lossy…",
            NodeAction::Skew => "Skewing…",
        }
    }

    /// What it does, said in full (its button's tooltip, and the opening
    /// of its error).
    pub fn describe(self, node: NodeId) -> String {
        match self {
            NodeAction::Kill => format!("Kill node-{node}"),
            NodeAction::Restart => format!("Restart node-{node}"),
            NodeAction::Pause => format!("Pause node-{node} for {PAUSE_SECONDS} s"),
            NodeAction::Isolate => {
                format!("Cut node-{node} off from every other node for {ISOLATE_SECONDS} s")
            }
            NodeAction::Lossy => format!(
                "Make node-{node}'s links lossy ({:.0} % dropped, {LOSSY_DELAY_MS} ms delay) for {LOSSY_SECONDS} s",
                LOSSY_DROP_SHARE * 100.0
            ),
            NodeAction::Skew => format!(
                "Skew node-{node}'s clock by +{} s for {SKEW_SECONDS} s",
                SKEW_OFFSET_MS / 1000
            ),
        }
    }

    /// Whether the node's process must be running (it takes the request
    /// itself, or is paused): a stopped or paused node could not answer.
    pub fn needs_a_running_node(self) -> bool {
        matches!(
            self,
            NodeAction::Pause | NodeAction::Isolate | NodeAction::Lossy | NodeAction::Skew
        )
    }

    /// Whether the gateway must run the node's process.
    pub fn needs_supervision(self) -> bool {
        matches!(
            self,
            NodeAction::Kill | NodeAction::Restart | NodeAction::Pause
        )
    }
}

/// How the gateway spreads requests over the nodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Balance {
    RoundRobin,
    LeastConnections,
    WeightedRoundRobin,
}

impl Balance {
    pub const ALL: [Balance; 3] = [
        Balance::RoundRobin,
        Balance::LeastConnections,
        Balance::WeightedRoundRobin,
    ];

    /// Its name in the gateway's API.
    pub fn wire(self) -> &'static str {
        match self {
            Balance::RoundRobin => "round_robin",
            Balance::LeastConnections => "least_connections",
            Balance::WeightedRoundRobin => "weighted_round_robin",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Balance::RoundRobin => "Round robin",
            Balance::LeastConnections => "Least connections",
            Balance::WeightedRoundRobin => "Weighted round robin",
        }
    }
}

/// An operator's action: on one node, healing everything, or switching
/// the gateway's balancing.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    Node(NodeId, NodeAction),
    HealEverything,
    Balance(Balance),
}

impl Action {
    /// The node it is done to, if one.
    pub fn node(self) -> Option<NodeId> {
        match self {
            Action::Node(node, _) => Some(node),
            Action::HealEverything | Action::Balance(_) => None,
        }
    }

    pub fn describe(self) -> String {
        match self {
            Action::Node(node, action) => action.describe(node),
            Action::HealEverything => "Heal everything".to_string(),
            Action::Balance(balance) => format!("Balance by {}", balance.label().to_lowercase()),
        }
    }

    /// The method it is sent with: PUT for the balancing, which it sets,
    /// POST for the others.
    pub fn method(self) -> &'static str {
        match self {
            Action::Balance(_) => "PUT",
            _ => "POST",
        }
    }

    /// The path it is sent to and its JSON body, if it has one; `nodes`
    /// are every node of the cluster (the others are the links to harm).
    pub fn request(self, nodes: &[NodeId]) -> (String, Option<String>) {
        let (node, action) = match self {
            Action::Node(node, action) => (node, action),
            Action::HealEverything => return ("/api/heal".to_string(), None),
            Action::Balance(balance) => {
                let body = format!(r#"{{"strategy":"{}"}}"#, balance.wire());
                return ("/gateway/strategy".to_string(), Some(body));
            }
        };
        let others: Vec<NodeId> = nodes.iter().copied().filter(|&n| n != node).collect();
        let others = serde_json::to_string(&others).unwrap_or_else(|_| "[]".to_string());
        let at = |what: &str| format!("/api/nodes/{node}/{what}");
        match action {
            NodeAction::Kill => (at("kill"), None),
            NodeAction::Restart => (at("restart"), None),
            NodeAction::Pause => (
                at("pause"),
                Some(format!(r#"{{"seconds":{PAUSE_SECONDS}}}"#)),
            ),
            NodeAction::Isolate => (
                at("faults"),
                Some(format!(
                    r#"{{"peers":{others},"harm":"cut","seconds":{ISOLATE_SECONDS}}}"#
                )),
            ),
            NodeAction::Lossy => (
                at("faults"),
                Some(format!(
                    r#"{{"peers":{others},"harm":"lossy","dropShare":{LOSSY_DROP_SHARE},"delayMs":{LOSSY_DELAY_MS},"seconds":{LOSSY_SECONDS}}}"#
                )),
            ),
            NodeAction::Skew => (
                at("faults/clock"),
                Some(format!(
                    r#"{{"offsetMs":{SKEW_OFFSET_MS},"driftPpm":0,"seconds":{SKEW_SECONDS}}}"#
                )),
            ),
        }
    }
}

/// The error an answer with a failing `status` and this `body` carries:
/// the server's `{"error": {"code", "message"}}`, or, for an answer not in
/// that shape (a proxy's page, an empty body), what its status says.
pub fn answer_error(status: u16, body: &str) -> ApiError {
    let code = match status {
        400 => ErrorCode::BadRequest,
        401 => ErrorCode::SignInRequired,
        403 => ErrorCode::Forbidden,
        404 => ErrorCode::NotFound,
        409 => ErrorCode::Conflict,
        413 => ErrorCode::PayloadTooLarge,
        422 => ErrorCode::InvalidInput,
        429 => ErrorCode::TooManyRequests,
        502..=504 => ErrorCode::Unavailable,
        _ => ErrorCode::Internal,
    };
    let read: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let error = read.as_ref().map(|body| &body["error"]);
    let message = error
        .and_then(|e| e["message"].as_str())
        .map(str::to_string)
        .unwrap_or_else(|| match code {
            ErrorCode::Unavailable => ApiError::unavailable().message,
            _ => format!("The server answered {status}."),
        });
    let code = error
        .and_then(|e| serde_json::from_value(e["code"].clone()).ok())
        .unwrap_or(code);
    ApiError::new(code, message)
}

/// What a node's fault list answer says.
pub fn links_from(status: u16, body: &str) -> Links {
    match status {
        200..=299 => match serde_json::from_str::<NodeFaults>(body) {
            Ok(read) => Links::Known(read.faults),
            Err(_) => Links::Failed("its answer could not be read".to_string()),
        },
        502..=504 => Links::Unreachable,
        _ => Links::Failed(answer_error(status, body).message),
    }
}

#[cfg(feature = "hydrate")]
pub use browser::{read_links, read_status, send};

#[cfg(feature = "hydrate")]
mod browser {
    use super::*;
    use gloo_net::http::Request;

    /// A node slower than this to list its faults is shown as unreachable
    /// (a paused one would hold the request until the gateway gives up).
    const LINKS_TIMEOUT_MS: u64 = 3000;

    fn unreachable() -> ApiError {
        ApiError::new(
            ErrorCode::Unavailable,
            "Could not reach MovieBook. Check your connection and try again.",
        )
    }

    /// Sends `action`; Ok when the server did it.
    pub async fn send(action: Action, nodes: &[NodeId]) -> Result<(), ApiError> {
        let (path, body) = action.request(nodes);
        let request = match action.method() {
            "PUT" => Request::put(&path),
            _ => Request::post(&path),
        };
        let request = match body {
            Some(body) => request
                .header("Content-Type", "application/json")
                .body(body),
            None => request.build(),
        }
        .map_err(|_| ApiError::internal())?;
        let answer = request.send().await.map_err(|_| unreachable())?;
        if answer.ok() {
            return Ok(());
        }
        let body = answer.text().await.unwrap_or_default();
        Err(answer_error(answer.status(), &body))
    }

    pub async fn read_status() -> Result<GatewayStatus, ApiError> {
        let answer = Request::get("/gateway/status")
            .send()
            .await
            .map_err(|_| unreachable())?;
        let body = answer.text().await.unwrap_or_default();
        if answer.status() == 404 {
            // A node answers for itself; only the gateway knows them all.
            return Err(ApiError::not_found(
                "Open the monitor through the gateway to see and control every node's faults.",
            ));
        }
        if !answer.ok() {
            return Err(answer_error(answer.status(), &body));
        }
        serde_json::from_str(&body).map_err(|_| {
            ApiError::new(
                ErrorCode::Internal,
                "The gateway's status could not be read.",
            )
        })
    }

    /// The faults on `node`'s links, given up on after a while.
    pub async fn read_links(node: NodeId) -> Links {
        use futures::future::{select, Either};
        let ask = Box::pin(async move {
            let url = format!("/api/nodes/{node}/faults");
            let Ok(answer) = Request::get(&url).send().await else {
                return Links::Unreachable;
            };
            let body = answer.text().await.unwrap_or_default();
            links_from(answer.status(), &body)
        });
        let give_up = Box::pin(crate::components::live::sleep_ms(LINKS_TIMEOUT_MS));
        match select(ask, give_up).await {
            Either::Left((links, _)) => links,
            Either::Right(_) => Links::Unreachable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn switching_the_balancing_puts_its_api_name() {
        let action = Action::Balance(Balance::LeastConnections);
        assert_eq!(action.method(), "PUT");
        assert_eq!(Action::HealEverything.method(), "POST");
        let (path, body) = action.request(&[1, 2, 3]);
        assert_eq!(path, "/gateway/strategy");
        let body: serde_json::Value = serde_json::from_str(&body.unwrap()).unwrap();
        assert_eq!(body, serde_json::json!({"strategy": "least_connections"}));
        assert_eq!(action.node(), None);
    }

    #[test]
    fn each_action_posts_the_body_the_api_expects() {
        let nodes = [1, 2, 3];
        let body = |action| {
            let (path, body) = Action::Node(3, action).request(&nodes);
            let body: Option<serde_json::Value> = body.map(|b| serde_json::from_str(&b).unwrap());
            (path, body)
        };
        assert_eq!(body(NodeAction::Kill), ("/api/nodes/3/kill".into(), None));
        assert_eq!(
            body(NodeAction::Restart),
            ("/api/nodes/3/restart".into(), None)
        );
        assert_eq!(
            body(NodeAction::Pause),
            (
                "/api/nodes/3/pause".into(),
                Some(serde_json::json!({"seconds": 10}))
            )
        );
        assert_eq!(
            body(NodeAction::Isolate),
            (
                "/api/nodes/3/faults".into(),
                Some(serde_json::json!({"peers": [1, 2], "harm": "cut", "seconds": 30}))
            )
        );
        assert_eq!(
            body(NodeAction::Lossy),
            (
                "/api/nodes/3/faults".into(),
                Some(serde_json::json!({
                    "peers": [1, 2], "harm": "lossy", "dropShare": 0.3, "delayMs": 200, "seconds": 30
                }))
            )
        );
        assert_eq!(
            body(NodeAction::Skew),
            (
                "/api/nodes/3/faults/clock".into(),
                Some(serde_json::json!({"offsetMs": 5000, "driftPpm": 0, "seconds": 60}))
            )
        );
        assert_eq!(
            Action::HealEverything.request(&nodes),
            ("/api/heal".into(), None)
        );
    }

    #[test]
    fn errors_keep_the_servers_message_and_fall_back_on_the_status() {
        let body = r#"{"error":{"code":"forbidden","message":"Only an operator may do this."}}"#;
        let error = answer_error(403, body);
        assert_eq!(error.code, ErrorCode::Forbidden);
        assert_eq!(error.message, "Only an operator may do this.");
        // A code this page does not know keeps its message.
        let error = answer_error(409, r#"{"error":{"code":"new_code","message":"Busy."}}"#);
        assert_eq!(
            (error.code, error.message.as_str()),
            (ErrorCode::Conflict, "Busy.")
        );
        let error = answer_error(502, "<html>Bad gateway</html>");
        assert_eq!(error.code, ErrorCode::Unavailable);
        assert_eq!(answer_error(500, "").message, "The server answered 500.");
    }

    #[test]
    fn status_and_fault_lists_are_read_from_the_documented_shapes() {
        let status: GatewayStatus = serde_json::from_str(
            r#"{"strategy":"round_robin","nodes":[
                {"nodeId":1,"address":"127.0.0.1:3001","live":true,"inFlight":0,"weight":1.0,
                 "forwarded":12,"process":"running","restarts":0,"pausedForMs":0},
                {"nodeId":2,"address":"127.0.0.1:3002","live":false,"inFlight":0,"weight":1.0,
                 "forwarded":3,"process":"paused","restarts":1,"pausedForMs":7000},
                {"nodeId":3,"address":"127.0.0.1:3003","live":true,"inFlight":0,"weight":1.0,
                 "forwarded":3,"process":null,"restarts":0,"pausedForMs":0}]}"#,
        )
        .unwrap();
        let processes: Vec<_> = status.nodes.iter().map(|n| n.process).collect();
        assert_eq!(
            processes,
            [Some(Process::Running), Some(Process::Paused), None]
        );
        assert_eq!(status.nodes[1].paused_for_ms, 7000);

        let links = links_from(
            200,
            r#"{"nodeId":1,"faults":[{"number":1,"peers":[2,3],"harm":"cut",
                "dropShare":1.0,"delayMs":0,"expiresInMs":29000}]}"#,
        );
        let Links::Known(faults) = links else {
            panic!("{links:?}")
        };
        assert_eq!(
            (faults[0].peers.as_slice(), faults[0].expires_in_ms),
            (&[2, 3][..], 29000)
        );
        assert_eq!(links_from(503, ""), Links::Unreachable);
        assert_eq!(
            links_from(
                404,
                r#"{"error":{"code":"not_found","message":"There is no node 9."}}"#
            ),
            Links::Failed("There is no node 9.".into())
        );
    }
}
