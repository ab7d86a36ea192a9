//! A record of one election as this node saw it: when it started, the
//! messages it sent and received, and how it ended, for the monitor's
//! "last election" view.

use super::{Algorithm, ElectionMessage, Epoch, MessageKind};
use crate::NodeId;
use serde::{Deserialize, Serialize};

/// Enough for any election among a handful of nodes; more are counted only.
pub const MAX_LOGGED_MESSAGES: usize = 256;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ElectionLog {
    pub algorithm: Algorithm,
    pub started_at_ms: u64,
    pub finished_at_ms: Option<u64>,
    /// The leader and epoch the election ended with.
    pub leader: Option<NodeId>,
    pub epoch: Option<Epoch>,
    pub messages: Vec<LoggedMessage>,
    /// Messages not kept because the log was full.
    pub dropped_messages: usize,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LoggedMessage {
    pub at_ms: u64,
    pub from: NodeId,
    pub to: NodeId,
    pub kind: MessageKind,
    pub epoch: Epoch,
}

impl ElectionLog {
    pub fn new(algorithm: Algorithm, started_at_ms: u64) -> Self {
        ElectionLog {
            algorithm,
            started_at_ms,
            finished_at_ms: None,
            leader: None,
            epoch: None,
            messages: Vec::new(),
            dropped_messages: 0,
        }
    }

    pub fn record(&mut self, at_ms: u64, from: NodeId, to: NodeId, message: &ElectionMessage) {
        if self.messages.len() >= MAX_LOGGED_MESSAGES {
            self.dropped_messages += 1;
            return;
        }
        let (kind, epoch) = (message.kind(), message.epoch());
        self.messages.push(LoggedMessage {
            at_ms,
            from,
            to,
            kind,
            epoch,
        });
    }

    pub fn finish(&mut self, at_ms: u64, leader: NodeId, epoch: Epoch) {
        self.finished_at_ms = Some(at_ms);
        self.leader = Some(leader);
        self.epoch = Some(epoch);
    }

    pub fn is_finished(&self) -> bool {
        self.finished_at_ms.is_some()
    }

    /// From start to a known leader, once finished.
    pub fn duration_ms(&self) -> Option<u64> {
        Some(self.finished_at_ms?.saturating_sub(self.started_at_ms))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_messages_and_duration() {
        let mut log = ElectionLog::new(Algorithm::Bully, 1_000);
        log.record(1_001, 1, 3, &ElectionMessage::Election { epoch: 2 });
        assert_eq!(log.duration_ms(), None);
        assert!(!log.is_finished());
        log.finish(1_250, 3, 3);
        assert_eq!(log.duration_ms(), Some(250));
        assert_eq!((log.leader, log.epoch), (Some(3), Some(3)));
        let expected = LoggedMessage {
            at_ms: 1_001,
            from: 1,
            to: 3,
            kind: MessageKind::Election,
            epoch: 2,
        };
        assert_eq!(log.messages, vec![expected]);
    }

    #[test]
    fn stops_keeping_messages_when_full() {
        let mut log = ElectionLog::new(Algorithm::Ring, 0);
        for at in 0..(MAX_LOGGED_MESSAGES as u64 + 5) {
            log.record(at, 1, 2, &ElectionMessage::Ack { epoch: 1 });
        }
        assert_eq!(log.messages.len(), MAX_LOGGED_MESSAGES);
        assert_eq!(log.dropped_messages, 5);
    }
}
