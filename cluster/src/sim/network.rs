//! The simulated network: every send ticks the sender's clocks and stamps the
//! message, which then arrives after a random delay, is silently lost, or is
//! refused (the sender hears of it) if the receiver is down or cut off.

use super::world::{index, Body, Happening, Packet, World};
use crate::clock::VectorClock;
use crate::NodeId;

impl World {
    /// Every send ticks the sender's clocks and is stamped with them.
    pub(super) fn send(&mut self, from: NodeId, to: NodeId, body: Body) {
        let track_vectors = self.tracks_vector_clocks();
        let node = &mut self.nodes[index(from)];
        let lamport = node.lamport.tick();
        if track_vectors {
            node.vclock.tick(&node.name);
        }
        let vclock = if track_vectors {
            node.vclock.clone()
        } else {
            VectorClock::new()
        };
        let incarnation = node.incarnation;
        let stamp = track_vectors.then_some(&vclock);
        let send_event = self.causality.record(self.now, from, lamport, stamp, None);
        self.report.messages_sent += 1;
        if self.rng.chance(self.config.loss) {
            return;
        }
        let (low, high) = self.config.delay_ms;
        let mut delay = self.rng.between(low, high);
        if self.rng.chance(self.config.slow_chance) {
            delay += self
                .rng
                .between(self.config.slow_extra_ms.0, self.config.slow_extra_ms.1);
        }
        let packet = Box::new(Packet {
            lamport,
            vclock,
            send_event,
            body,
        });
        self.agenda.add(
            self.now + delay,
            Happening::Deliver {
                from,
                incarnation,
                to,
                packet,
            },
        );
    }

    /// Every receive merges the sender's clocks into the receiver's.
    pub(super) fn deliver(&mut self, from: NodeId, incarnation: u32, to: NodeId, packet: Packet) {
        let reachable = self.node(to).up && self.sides[index(from)] == self.sides[index(to)];
        if !reachable {
            if matches!(packet.body, Body::Election(_)) {
                let (low, high) = self.config.send_failure_notice_ms;
                let notice_at = self.now + self.rng.between(low, high);
                self.agenda.add(
                    notice_at,
                    Happening::SendFailed {
                        node: from,
                        incarnation,
                        to,
                    },
                );
            }
            return;
        }
        let track_vectors = self.tracks_vector_clocks();
        let node = &mut self.nodes[index(to)];
        let lamport = node.lamport.observe(packet.lamport);
        if track_vectors {
            node.vclock.merge(&packet.vclock);
            node.vclock.tick(&node.name);
        }
        let stamp = track_vectors.then_some(&node.vclock);
        self.causality
            .record(self.now, to, lamport, stamp, packet.send_event);
        self.receive(from, to, packet.body);
    }

    /// Vector clocks are stamped only while events are being recorded: they
    /// all start empty when recording starts, which is as good as starting
    /// at boot, since no causal path between two recorded events can pass
    /// through an earlier one. It keeps long runs cheap.
    fn tracks_vector_clocks(&self) -> bool {
        self.config.vector_clocks && self.causality.is_recording(self.now)
    }
}
