//! Refusing replayed node messages. The HMAC proves who sent an envelope,
//! not when: anyone who saw one on the wire could send it again. So every
//! envelope carries, inside what is signed, the sender's incarnation (the
//! time its process started), a sequence number that the sender counts up
//! for each addressee, and the time it was sent; this guard admits each
//! (sender, incarnation, number) once, within a window of numbers (for
//! envelopes that overtake each other on separate connections) and of time.
//! It is the anti-replay window of IPsec (RFC 4303, 3.4.3) plus two time
//! rules: nothing older than `MAX_AGE_MS`, and nothing sent before this
//! node started, since a restarted node has forgotten what it had seen.
//! Pure bookkeeping, no I/O: the caller passes the times in.

use cluster::NodeId;
use std::collections::HashMap;

/// How far apart two nodes' real clocks, plus a message's time in transit,
/// may be.
pub const MAX_AGE_MS: u64 = 30_000;
/// How many sequence numbers behind the newest an envelope may be and
/// still be taken, if it was not seen.
const WINDOW: u64 = 4096;

/// Why an envelope was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// This very envelope was taken before.
    Seen,
    /// Sent too long ago, too far in the future, or before this node started.
    OutOfTime,
    /// From an earlier incarnation of the sender than one already heard.
    OldIncarnation,
    /// So far behind the sender's newest that it can no longer be told apart
    /// from a replay.
    BehindWindow,
}

impl Refusal {
    pub fn explain(self) -> &'static str {
        match self {
            Refusal::Seen => "This message was received already.",
            Refusal::OutOfTime => {
                "This message was sent too long ago, or before this node started."
            }
            Refusal::OldIncarnation => "This message comes from an earlier run of its sender.",
            Refusal::BehindWindow => "This message is too old to be told apart from a replay.",
        }
    }
}

/// The numbers seen from one sender's current incarnation.
#[derive(Debug)]
struct SenderWindow {
    incarnation: u64,
    newest: u64,
    /// Bit i set: number `newest - i` was seen.
    seen: Box<[u64; (WINDOW / 64) as usize]>,
}

impl SenderWindow {
    fn starting_at(incarnation: u64, seq: u64) -> Self {
        let mut window = SenderWindow {
            incarnation,
            newest: seq,
            seen: Box::new([0; (WINDOW / 64) as usize]),
        };
        window.mark(0);
        window
    }

    fn mark(&mut self, behind: u64) {
        self.seen[(behind / 64) as usize] |= 1 << (behind % 64);
    }

    fn is_marked(&self, behind: u64) -> bool {
        self.seen[(behind / 64) as usize] & (1 << (behind % 64)) != 0
    }

    /// Moves the window forward so that `seq` becomes the newest number.
    fn advance_to(&mut self, seq: u64) {
        let shift = seq - self.newest;
        self.newest = seq;
        if shift >= WINDOW {
            self.seen.fill(0);
            return;
        }
        // Shift the whole bitmap up by `shift` bits: bit i moves to i + shift.
        let words = (shift / 64) as usize;
        let bits = (shift % 64) as u32;
        let len = self.seen.len();
        for i in (0..len).rev() {
            let from = i.checked_sub(words);
            let high = from.map_or(0, |f| self.seen[f] << bits);
            let low = match from.and_then(|f| f.checked_sub(1)) {
                Some(f) if bits > 0 => self.seen[f] >> (64 - bits),
                _ => 0,
            };
            self.seen[i] = high | low;
        }
    }
}

/// What one node has taken from each sender.
#[derive(Debug)]
pub struct ReplayGuard {
    started_ms: u64,
    senders: HashMap<NodeId, SenderWindow>,
}

impl ReplayGuard {
    /// A guard for a node whose process started at `started_ms` (real time).
    pub fn new(started_ms: u64) -> Self {
        ReplayGuard {
            started_ms,
            senders: HashMap::new(),
        }
    }

    /// Takes envelope number `seq` of `sender`'s incarnation `incarnation`,
    /// sent at `sent_at_ms`, at real time `now_ms`, or says why not. An
    /// envelope refused leaves the guard as it was.
    pub fn admit(
        &mut self,
        sender: NodeId,
        incarnation: u64,
        seq: u64,
        sent_at_ms: u64,
        now_ms: u64,
    ) -> Result<(), Refusal> {
        let too_old = now_ms.saturating_sub(sent_at_ms) > MAX_AGE_MS;
        let too_new = sent_at_ms.saturating_sub(now_ms) > MAX_AGE_MS;
        if too_old || too_new || sent_at_ms < self.started_ms {
            return Err(Refusal::OutOfTime);
        }
        let Some(window) = self.senders.get_mut(&sender) else {
            self.senders
                .insert(sender, SenderWindow::starting_at(incarnation, seq));
            return Ok(());
        };
        if incarnation < window.incarnation {
            return Err(Refusal::OldIncarnation);
        }
        if incarnation > window.incarnation {
            *window = SenderWindow::starting_at(incarnation, seq);
            return Ok(());
        }
        if seq > window.newest {
            window.advance_to(seq);
            window.mark(0);
            return Ok(());
        }
        let behind = window.newest - seq;
        if behind >= WINDOW {
            return Err(Refusal::BehindWindow);
        }
        if window.is_marked(behind) {
            return Err(Refusal::Seen);
        }
        window.mark(behind);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_000_000;

    #[test]
    fn each_envelope_is_taken_once() {
        let mut guard = ReplayGuard::new(T);
        assert_eq!(guard.admit(2, 7, 1, T, T), Ok(()));
        assert_eq!(guard.admit(2, 7, 1, T, T), Err(Refusal::Seen));
        // Another sender's number 1 is another envelope.
        assert_eq!(guard.admit(3, 7, 1, T, T), Ok(()));
    }

    #[test]
    fn envelopes_that_overtake_each_other_are_all_taken_once() {
        let mut guard = ReplayGuard::new(T);
        for seq in [5, 3, 9, 4, 1, 2, 8, 6, 7] {
            assert_eq!(guard.admit(2, 7, seq, T, T), Ok(()), "{seq}");
        }
        for seq in 1..=9 {
            assert_eq!(guard.admit(2, 7, seq, T, T), Err(Refusal::Seen), "{seq}");
        }
    }

    #[test]
    fn a_number_far_behind_the_newest_is_refused() {
        let mut guard = ReplayGuard::new(T);
        guard.admit(2, 7, 10, T, T).unwrap();
        guard.admit(2, 7, 10 + WINDOW, T, T).unwrap();
        assert_eq!(guard.admit(2, 7, 10, T, T), Err(Refusal::BehindWindow));
        assert_eq!(guard.admit(2, 7, 11, T, T), Ok(()));
        assert_eq!(guard.admit(2, 7, 11, T, T), Err(Refusal::Seen));
    }

    #[test]
    fn the_window_remembers_across_shifts_of_any_size() {
        let mut guard = ReplayGuard::new(T);
        let mut taken = Vec::new();
        let mut seq = 1;
        for step in [1, 63, 64, 65, 1, 127, 200, 3, 1000] {
            seq += step;
            guard.admit(2, 7, seq, T, T).unwrap();
            taken.push(seq);
        }
        let newest = seq;
        for &old in &taken {
            let expected = if newest - old >= WINDOW {
                Refusal::BehindWindow
            } else {
                Refusal::Seen
            };
            assert_eq!(guard.admit(2, 7, old, T, T), Err(expected), "{old}");
        }
        // The numbers skipped are still takeable, once.
        assert_eq!(guard.admit(2, 7, newest - 2, T, T), Ok(()));
        assert_eq!(guard.admit(2, 7, newest - 2, T, T), Err(Refusal::Seen));
    }

    #[test]
    fn a_restarted_sender_starts_afresh_and_its_old_run_is_refused() {
        let mut guard = ReplayGuard::new(T);
        guard.admit(2, 7, 500, T, T).unwrap();
        assert_eq!(guard.admit(2, 8, 1, T, T), Ok(()));
        assert_eq!(guard.admit(2, 7, 501, T, T), Err(Refusal::OldIncarnation));
        assert_eq!(guard.admit(2, 8, 1, T, T), Err(Refusal::Seen));
    }

    #[test]
    fn stale_future_and_pre_start_envelopes_are_refused() {
        let mut guard = ReplayGuard::new(T);
        let now = T + 100_000;
        assert_eq!(
            guard.admit(2, 7, 1, now - MAX_AGE_MS - 1, now),
            Err(Refusal::OutOfTime)
        );
        assert_eq!(
            guard.admit(2, 7, 1, now + MAX_AGE_MS + 1, now),
            Err(Refusal::OutOfTime)
        );
        // Sent before this node started: it may have been taken by the
        // node's previous run, which is forgotten.
        let mut restarted = ReplayGuard::new(T);
        assert_eq!(
            restarted.admit(2, 7, 1, T - 1, T + 10),
            Err(Refusal::OutOfTime)
        );
        assert_eq!(guard.admit(2, 7, 1, now - 5, now), Ok(()));
    }
}
