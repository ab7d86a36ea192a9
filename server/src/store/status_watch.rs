//! Whether any booking's status may have changed over a span of time. Only
//! two kinds of transaction change a status (a copy merged from a replica
//! that a rival contests, a decision of this node's: `replicas.rs`,
//! `decisions.rs`); each counts itself begun before its first statement
//! that may change one, and ended after its commit. A copy that settles
//! alone (`uncontested.rs`) changes no status but its own, so the many
//! copies a busy replica takes do not send its writers to read back. A
//! writer that took a mark before writing a booking, and finds no such
//! transaction begun since, knows nothing displaced the booking meanwhile,
//! and can answer with what it wrote rather than read it back.

use std::sync::atomic::{AtomicU64, Ordering::SeqCst};

#[derive(Debug, Default)]
pub(super) struct StatusWatch {
    begun: AtomicU64,
    ended: AtomicU64,
}

/// A moment when no status-changing transaction was under way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuietMark(u64);

/// A status-changing transaction under way; counted ended when dropped.
pub(super) struct StatusChange<'a>(&'a StatusWatch);

impl Drop for StatusChange<'_> {
    fn drop(&mut self) {
        self.0.ended.fetch_add(1, SeqCst);
    }
}

impl StatusWatch {
    /// Counts a status-changing transaction begun, until the guard drops.
    pub(super) fn change(&self) -> StatusChange<'_> {
        self.begun.fetch_add(1, SeqCst);
        StatusChange(self)
    }

    /// A mark, if no status-changing transaction is under way now.
    pub(super) fn mark(&self) -> Option<QuietMark> {
        // `ended` first: if it then equals `begun`, both held that value
        // when `begun` was read (neither goes down, and never more have
        // ended than begun).
        let ended = self.ended.load(SeqCst);
        let begun = self.begun.load(SeqCst);
        (begun == ended).then_some(QuietMark(begun))
    }

    /// Whether no status-changing transaction has begun since `mark`, so
    /// none ran at any moment since it.
    pub(super) fn quiet_since(&self, mark: QuietMark) -> bool {
        self.begun.load(SeqCst) == mark.0
    }
}

#[cfg(test)]
mod tests {
    use super::StatusWatch;

    #[test]
    fn quiet_only_while_no_change_runs_or_begins() {
        let watch = StatusWatch::default();
        let mark = watch.mark().expect("nothing under way");
        assert!(watch.quiet_since(mark));

        let change = watch.change();
        assert_eq!(watch.mark(), None, "a change is under way");
        assert!(!watch.quiet_since(mark), "a change began after the mark");
        drop(change);

        let later = watch.mark().expect("the change has ended");
        assert!(watch.quiet_since(later));
        assert!(!watch.quiet_since(mark));
    }
}
