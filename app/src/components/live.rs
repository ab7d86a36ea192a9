//! The live cluster event feed in the browser: a WebSocket to `/ws/events`
//! that reconnects by itself, handing each event's JSON to a callback.

#[cfg(feature = "hydrate")]
use leptos::prelude::*;

/// Connects once the page is hydrated and follows the feed until the
/// component that asked is gone; on the server it does nothing.
pub fn on_cluster_event(handle: impl Fn(String) + 'static) {
    #[cfg(feature = "hydrate")]
    {
        use std::sync::atomic::{AtomicBool, Ordering};
        use std::sync::Arc;
        // The handler touches the component's signals, which die with it.
        let wanted = Arc::new(AtomicBool::new(true));
        on_cleanup({
            let wanted = wanted.clone();
            move || wanted.store(false, Ordering::Relaxed)
        });
        let still_wanted = move || wanted.load(Ordering::Relaxed);
        leptos::task::spawn_local(follow_feed(handle, still_wanted));
    }
    #[cfg(not(feature = "hydrate"))]
    let _ = handle;
}

#[cfg(feature = "hydrate")]
async fn follow_feed(handle: impl Fn(String) + 'static, still_wanted: impl Fn() -> bool + 'static) {
    use futures::StreamExt;
    use gloo_net::websocket::{futures::WebSocket, Message};
    const RECONNECT_AFTER_MS: u64 = 1000;
    let location = window().location();
    let scheme = if location.protocol().unwrap_or_default() == "https:" {
        "wss"
    } else {
        "ws"
    };
    let url = format!(
        "{scheme}://{}/ws/events",
        location.host().unwrap_or_default()
    );
    while still_wanted() {
        if let Ok(socket) = WebSocket::open(&url) {
            let (_, mut incoming) = socket.split();
            while let Some(Ok(message)) = incoming.next().await {
                if !still_wanted() {
                    return;
                }
                if let Message::Text(text) = message {
                    handle(text);
                }
            }
        }
        sleep_ms(RECONNECT_AFTER_MS).await;
    }
}

/// Waits `ms` milliseconds in the browser.
#[cfg(feature = "hydrate")]
pub(crate) async fn sleep_ms(ms: u64) {
    let (done, wait) = futures::channel::oneshot::channel::<()>();
    set_timeout(
        move || {
            let _ = done.send(());
        },
        std::time::Duration::from_millis(ms),
    );
    let _ = wait.await;
}

/// The value of the first `"key":` in a flat event's JSON, unquoted. Event
/// fields are plain numbers and names, so this reads them without a parser.
pub fn json_field(json: &str, key: &str) -> Option<String> {
    let marker = format!("\"{key}\":");
    let rest = json[json.find(&marker)? + marker.len()..].trim_start();
    let end = rest.find([',', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim_matches('"').to_string())
}

#[cfg(test)]
mod tests {
    use super::json_field;

    #[test]
    fn reads_fields_of_an_event() {
        let json = r#"{"node":2,"lamport":9,"event":{"kind":"booking","showtimeId":2026112710,"status":"confirmed"}}"#;
        assert_eq!(json_field(json, "node").as_deref(), Some("2"));
        assert_eq!(json_field(json, "kind").as_deref(), Some("booking"));
        assert_eq!(
            json_field(json, "showtimeId").as_deref(),
            Some("2026112710")
        );
        assert_eq!(json_field(json, "status").as_deref(), Some("confirmed"));
        assert_eq!(json_field(json, "missing"), None);
    }
}
