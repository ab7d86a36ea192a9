//! Anti-entropy: every second a node pulls the recent changes of one live
//! peer (bookings, and the movies added through the API), taking the peers
//! in turn, and merges them. A node that was down or cut off catches up this
//! way. A leader catching up (`recovery.rs`) pulls through the same cursors.

use super::wire::{ReplicationReply, ReplicationRequest};
use super::ReplicatedCinema;
use crate::runtime::transport::CallError;
use cluster::replication::PullCursor;
use cluster::NodeId;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;

/// Time between two pulls.
const PULL_EVERY: Duration = Duration::from_secs(1);
/// Changes re-read on every pull, to catch transactions that committed out
/// of sequence order (see `PullCursor`).
const OVERLAP_MS: u64 = 3000;
/// Most changes one answer carries.
pub const PAGE_SIZE: i64 = 500;

/// How far this node has read each peer; one pull per peer at a time.
pub struct PeerCursors {
    started: Instant,
    cursors: BTreeMap<NodeId, Mutex<PullCursor>>,
}

impl PeerCursors {
    pub fn new(peers: impl IntoIterator<Item = NodeId>) -> Self {
        PeerCursors {
            started: Instant::now(),
            cursors: peers
                .into_iter()
                .map(|peer| (peer, Mutex::new(PullCursor::new(OVERLAP_MS))))
                .collect(),
        }
    }
}

pub async fn run(cinema: Arc<ReplicatedCinema>) {
    let mut turn = 0usize;
    let mut every = tokio::time::interval(PULL_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let live = cinema.cluster.snapshot().live_peers();
        if live.is_empty() {
            continue;
        }
        let peer = live[turn % live.len()];
        turn = turn.wrapping_add(1);
        if let Err(reason) = pull_from(&cinema, peer).await {
            tracing::debug!(peer, %reason, "anti-entropy pull failed");
        }
    }
}

/// Reads every change of `peer` this node has not read yet, page by page,
/// and merges it.
pub(super) async fn pull_from(cinema: &ReplicatedCinema, peer: NodeId) -> Result<(), String> {
    let cursors = &cinema.cursors;
    let cursor = cursors
        .cursors
        .get(&peer)
        .ok_or_else(|| format!("node-{peer} is not a member"))?;
    let mut cursor = cursor.lock().await;
    let now_ms = u64::try_from(cursors.started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let mut since = cursor.since();
    let mut highest_read = since;
    loop {
        let request = ReplicationRequest::Pull {
            since,
            limit: PAGE_SIZE,
        };
        let reply = cinema.call(peer, request).await.map_err(|e| match e {
            CallError::Unreachable(reason) => reason,
            CallError::Refused(error) => error.message,
        })?;
        let ReplicationReply::Changes {
            rows,
            highest,
            movies,
        } = reply
        else {
            return Err("the peer answered something other than changes".into());
        };
        for movie in &movies {
            cinema
                .local
                .merge_movie(movie)
                .await
                .map_err(|e| e.message)?;
        }
        if highest < since {
            // The peer's database is younger than what we read of it.
            cursor.reset();
            return Ok(());
        }
        let page_full = i64::try_from(rows.len()).unwrap_or(i64::MAX) >= PAGE_SIZE;
        if let Some(last) = rows.iter().map(|row| row.change_seq).max() {
            highest_read = highest_read.max(last);
        }
        let news = cinema
            .store
            .not_yet_held(rows)
            .await
            .map_err(|e| e.to_string())?;
        for row in &news {
            cinema
                .merge(peer, row, "pull")
                .await
                .map_err(|e| e.message)?;
        }
        if !page_full {
            cursor.advance(now_ms, highest_read);
            return Ok(());
        }
        since = highest_read;
    }
}
