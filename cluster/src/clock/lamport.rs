//! A Lamport clock: a counter that ticks on every local event and send, and
//! jumps past any timestamp it receives, so that if event a happened before
//! event b then L(a) < L(b).

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LamportClock {
    time: u64,
}

impl LamportClock {
    /// A clock that resumes after `time` (e.g. the highest value persisted).
    pub fn starting_after(time: u64) -> Self {
        LamportClock { time }
    }

    pub fn now(&self) -> u64 {
        self.time
    }

    /// A local event or a send: the clock advances by one.
    pub fn tick(&mut self) -> u64 {
        self.time += 1;
        self.time
    }

    /// A receive: the clock moves past both its own time and the sender's.
    pub fn observe(&mut self, received: u64) -> u64 {
        self.time = self.time.max(received) + 1;
        self.time
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticks_on_local_events() {
        let mut clock = LamportClock::default();
        assert_eq!(clock.tick(), 1);
        assert_eq!(clock.tick(), 2);
        assert_eq!(clock.now(), 2);
    }

    #[test]
    fn receive_moves_past_sender_and_self() {
        let mut clock = LamportClock::starting_after(5);
        assert_eq!(clock.observe(2), 6, "own time is larger");
        assert_eq!(clock.observe(40), 41, "sender's time is larger");
    }

    #[test]
    fn message_chain_respects_causality() {
        let (mut a, mut b, mut c) = (
            LamportClock::default(),
            LamportClock::default(),
            LamportClock::default(),
        );
        let sent_by_a = a.tick();
        let received_by_b = b.observe(sent_by_a);
        let sent_by_b = b.tick();
        let received_by_c = c.observe(sent_by_b);
        assert!(
            sent_by_a < received_by_b && received_by_b < sent_by_b && sent_by_b < received_by_c
        );
    }
}
