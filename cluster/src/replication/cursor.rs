//! How far a node has read a peer's change sequence, for anti-entropy.

use std::collections::VecDeque;

/// How far a node has pulled one peer's changes (anti-entropy). A change
/// takes its sequence number when its transaction writes, but becomes
/// visible when it commits, so a lower number can show up after a higher one
/// was read. A number read at time T therefore counts as settled only after
/// a later pull, made at least `overlap_ms` after T, has read everything
/// below it again. Merging is idempotent, so reading a change twice is
/// harmless; missing one is not.
#[derive(Clone, Debug)]
pub struct PullCursor {
    overlap_ms: u64,
    /// (when read, highest sequence number read then), oldest first.
    read: VecDeque<(u64, i64)>,
    settled: i64,
}

impl PullCursor {
    pub fn new(overlap_ms: u64) -> Self {
        PullCursor {
            overlap_ms,
            read: VecDeque::new(),
            settled: 0,
        }
    }

    /// The sequence number to ask for changes after.
    pub fn since(&self) -> i64 {
        self.settled
    }

    /// Records a complete pull at `now_ms` from `since()` up to `highest`.
    pub fn advance(&mut self, now_ms: u64, highest: i64) {
        // This pull re-read everything after `settled`, so every earlier
        // read old enough for its stragglers to have committed is settled.
        while let Some(&(at, seq)) = self.read.front() {
            if now_ms.saturating_sub(at) < self.overlap_ms {
                break;
            }
            self.settled = self.settled.max(seq);
            self.read.pop_front();
        }
        self.read.push_back((now_ms, highest));
    }

    /// The peer's sequence restarted (its database was recreated): read it
    /// all again.
    pub fn reset(&mut self) {
        self.read.clear();
        self.settled = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pull_cursor_settles_a_number_only_after_rereading_below_it() {
        let mut cursor = PullCursor::new(3000);
        assert_eq!(cursor.since(), 0);
        cursor.advance(0, 10);
        assert_eq!(
            cursor.since(),
            0,
            "10 may still hide uncommitted lower numbers"
        );
        cursor.advance(1000, 25);
        assert_eq!(cursor.since(), 0);
        // However long nobody pulls, nothing settles without a new pull.
        cursor.advance(9000, 30);
        assert_eq!(cursor.since(), 25);
        cursor.advance(9500, 31);
        assert_eq!(cursor.since(), 25);
        cursor.advance(12000, 31);
        assert_eq!(cursor.since(), 30);
        // A pull that saw nothing new never moves the cursor back.
        cursor.advance(20000, 7);
        assert_eq!(cursor.since(), 31);
        cursor.reset();
        assert_eq!(cursor.since(), 0);
    }
}
