//! The merged event feed: the gateway keeps a WebSocket open to every node's
//! `/ws/events` (pinging it, and reconnecting while a node is down or its
//! feed falls silent) and passes each event on,
//! unchanged, to every browser connected to its own `/ws/events`, together
//! with its own routing and health events.

use super::Shared;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::response::Response;
use cluster::NodeId;
use futures::{SinkExt, StreamExt};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast;
use tokio_tungstenite::WebSocketStream;

/// Wait before reconnecting to a node whose feed dropped.
const RECONNECT_AFTER: Duration = Duration::from_millis(500);
/// A node that does not take the feed's connection within this long (a host
/// that drops packets rather than refusing) is tried again later.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the gateway pings a node's feed.
const PING_EVERY: Duration = Duration::from_secs(2);
/// A feed silent this long (no event, no answer to a ping) is dead even if
/// its connection looks open, as a half-open TCP connection does after its
/// far end vanished: the gateway drops it and connects again.
const SILENCE_LIMIT: Duration = Duration::from_secs(6);

/// Follows every node's feed until `stop`.
pub fn follow_nodes(shared: Arc<Shared>, stop: broadcast::Receiver<()>) {
    for (&node, address) in &shared.nodes {
        let (shared, address, mut stop) = (shared.clone(), address.clone(), stop.resubscribe());
        tokio::spawn(async move {
            tokio::select! {
                _ = follow(&shared, node, &address) => {}
                _ = stop.recv() => {}
            }
        });
    }
}

async fn follow(shared: &Shared, node: NodeId, address: &str) {
    let url = format!("ws://{address}/ws/events");
    loop {
        let connecting = tokio_tungstenite::connect_async(url.as_str());
        match tokio::time::timeout(CONNECT_TIMEOUT, connecting).await {
            Err(_) => tracing::debug!(node, "node's event feed did not answer"),
            Ok(Err(e)) => tracing::debug!(node, error = %e, "node's event feed unreachable"),
            Ok(Ok((socket, _))) => {
                tracing::debug!(node, "following the node's event feed");
                relay(shared, node, socket).await;
            }
        }
        tokio::time::sleep(RECONNECT_AFTER).await;
    }
}

/// Passes a node's events on until its feed closes or falls silent.
async fn relay<S>(shared: &Shared, node: NodeId, socket: WebSocketStream<S>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use tokio_tungstenite::tungstenite::Message as NodeMessage;
    let (mut pings, mut messages) = socket.split();
    let mut ping_timer = tokio::time::interval(PING_EVERY);
    let mut last_heard = Instant::now();
    loop {
        tokio::select! {
            message = messages.next() => match message {
                Some(Ok(message)) => {
                    last_heard = Instant::now();
                    if let NodeMessage::Text(text) = message {
                        let _ = shared.feed.send(text.to_string());
                    }
                }
                _ => return,
            },
            _ = ping_timer.tick() => {
                if last_heard.elapsed() > SILENCE_LIMIT {
                    tracing::warn!(node, "node's event feed fell silent; reconnecting");
                    return;
                }
                let ping = pings.send(NodeMessage::Ping(Vec::new().into()));
                if !matches!(tokio::time::timeout(PING_EVERY, ping).await, Ok(Ok(()))) {
                    return;
                }
            }
        }
    }
}

/// `GET /ws/events` on the gateway.
pub async fn serve(State(shared): State<Arc<Shared>>, upgrade: WebSocketUpgrade) -> Response {
    upgrade.on_upgrade(move |socket| stream(socket, shared.feed.subscribe()))
}

async fn stream(socket: WebSocket, mut events: broadcast::Receiver<String>) {
    let (mut sender, mut receiver) = socket.split();
    loop {
        tokio::select! {
            event = events.recv() => match event {
                Ok(text) => {
                    if sender.send(Message::Text(text.into())).await.is_err() {
                        return;
                    }
                }
                // A slow reader missed some events; it keeps the newer ones.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return,
            },
            // The browser went away (or sent a close frame).
            incoming = receiver.next() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}
