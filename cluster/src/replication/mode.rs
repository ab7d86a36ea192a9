//! How the cluster replicates: a strategy (who coordinates a write) and a
//! consistency model (when it is acknowledged, and what reads may show).
//!
//! | strategy | strong | causal, eventual |
//! | --- | --- | --- |
//! | master-slave | the leader orders every write, acknowledged once a majority holds it | the leader writes, acknowledges, and replicates in the background |
//! | multi-master | the node that takes a write wins its seats at a majority (`seats.rs`), then acknowledges | the node that takes a write commits it, acknowledges, and replicates in the background |
//! | gossip | (refused) | any node writes and acknowledges; gossip rounds spread it |
//!
//! Causal adds, to eventual: a replica applies a change only once it holds
//! everything the change depends on, and a client's reads never go back
//! in time (each carries its read frontier, what it has seen).

use super::seats::SeatRule;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Strategy {
    MasterSlave,
    MultiMaster,
    Gossip,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Consistency {
    Strong,
    Causal,
    Eventual,
}

/// A strategy and a consistency model that make sense together.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "ModeFields", into = "ModeFields")]
pub struct Mode {
    strategy: Strategy,
    consistency: Consistency,
}

#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct ModeFields {
    strategy: Strategy,
    consistency: Consistency,
}

impl Mode {
    pub const DEFAULT: Mode = Mode {
        strategy: Strategy::MasterSlave,
        consistency: Consistency::Strong,
    };

    /// The mode, or why the two do not go together.
    pub fn new(strategy: Strategy, consistency: Consistency) -> Result<Mode, String> {
        if strategy == Strategy::Gossip && consistency == Consistency::Strong {
            return Err(
                "Gossip cannot be strong: a node acknowledges a write before any other \
                        node holds it, so a crash can lose it and two nodes can sell one seat. \
                        Choose master-slave or multi-master for strong consistency, or causal \
                        or eventual for gossip."
                    .into(),
            );
        }
        Ok(Mode {
            strategy,
            consistency,
        })
    }

    pub fn strategy(self) -> Strategy {
        self.strategy
    }

    pub fn consistency(self) -> Consistency {
        self.consistency
    }

    /// Whether a write is acknowledged only once a majority holds it.
    pub fn is_strong(self) -> bool {
        self.consistency == Consistency::Strong
    }

    /// Whether a client's reads wait for its read frontier, what it has
    /// already seen (read your writes, monotonic reads). Eventual reads
    /// take any replica as it is.
    pub fn keeps_read_frontiers(self) -> bool {
        self.consistency != Consistency::Eventual
    }

    /// How a replica settles a confirmed booking made in this mode whose
    /// seats a rival holds (`seats.rs`).
    pub fn seat_rule(self) -> SeatRule {
        if self.strategy == Strategy::MultiMaster && self.is_strong() {
            SeatRule::FirstClaimHolds
        } else {
            SeatRule::LastWriteWins
        }
    }

    /// Whether one leader orders every write.
    pub fn has_leader_writes(self) -> bool {
        self.strategy == Strategy::MasterSlave
    }
}

impl Default for Mode {
    fn default() -> Self {
        Mode::DEFAULT
    }
}

impl TryFrom<ModeFields> for Mode {
    type Error = String;

    fn try_from(fields: ModeFields) -> Result<Self, String> {
        Mode::new(fields.strategy, fields.consistency)
    }
}

impl From<Mode> for ModeFields {
    fn from(mode: Mode) -> Self {
        ModeFields {
            strategy: mode.strategy,
            consistency: mode.consistency,
        }
    }
}

/// The mode in force on a node, and the number of the switch that set it
/// (0: the node's own flags). The cluster numbers its switches, so of two
/// settings the higher number is the later, and a node that missed a switch
/// takes it from any peer that has it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModeSetting {
    pub mode: Mode,
    pub version: u64,
}

impl ModeSetting {
    /// Whether `other` was set by a later switch than this.
    pub fn is_superseded_by(&self, other: &ModeSetting) -> bool {
        other.version > self.version
    }
}

impl Strategy {
    pub fn name(self) -> &'static str {
        match self {
            Strategy::MasterSlave => "master-slave",
            Strategy::MultiMaster => "multi-master",
            Strategy::Gossip => "gossip",
        }
    }
}

impl Consistency {
    pub fn name(self) -> &'static str {
        match self {
            Consistency::Strong => "strong",
            Consistency::Causal => "causal",
            Consistency::Eventual => "eventual",
        }
    }
}

impl FromStr for Strategy {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let all = [
            Strategy::MasterSlave,
            Strategy::MultiMaster,
            Strategy::Gossip,
        ];
        named(text, all, Strategy::name, "a strategy")
    }
}

impl FromStr for Consistency {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let all = [
            Consistency::Strong,
            Consistency::Causal,
            Consistency::Eventual,
        ];
        named(text, all, Consistency::name, "a consistency model")
    }
}

/// The one of `all` whose name is `text`, or an error that lists them.
fn named<T: Copy, const N: usize>(
    text: &str,
    all: [T; N],
    name: fn(T) -> &'static str,
    what: &str,
) -> Result<T, String> {
    all.into_iter().find(|&t| name(t) == text).ok_or_else(|| {
        let names: Vec<&str> = all.into_iter().map(name).collect();
        let (last, rest) = names.split_last().unwrap_or((&"", &[]));
        format!("{text:?} is not {what}: {} or {last}", rest.join(", "))
    })
}

/// "master-slave/strong": how a booking records the mode it was made under.
impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.strategy.name(), self.consistency.name())
    }
}

impl FromStr for Mode {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        let (strategy, consistency) = text
            .split_once('/')
            .ok_or_else(|| format!("{text:?} is not strategy/consistency"))?;
        Mode::new(strategy.parse()?, consistency.parse()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_combination_but_strong_gossip_is_a_mode() {
        let strategies = [
            Strategy::MasterSlave,
            Strategy::MultiMaster,
            Strategy::Gossip,
        ];
        let models = [
            Consistency::Strong,
            Consistency::Causal,
            Consistency::Eventual,
        ];
        for strategy in strategies {
            for consistency in models {
                let mode = Mode::new(strategy, consistency);
                let refused = strategy == Strategy::Gossip && consistency == Consistency::Strong;
                assert_eq!(mode.is_err(), refused, "{strategy:?} {consistency:?}");
                if let Ok(mode) = mode {
                    assert_eq!(mode.to_string().parse::<Mode>(), Ok(mode));
                }
            }
        }
        assert!(Mode::new(Strategy::Gossip, Consistency::Strong)
            .unwrap_err()
            .contains("Gossip cannot be strong"));
        let claims = Mode::new(Strategy::MultiMaster, Consistency::Strong).unwrap();
        assert_eq!(claims.seat_rule(), SeatRule::FirstClaimHolds);
        assert_eq!(Mode::DEFAULT.seat_rule(), SeatRule::LastWriteWins);
    }

    #[test]
    fn modes_read_and_refuse_json() {
        let mode: Mode =
            serde_json::from_str(r#"{"strategy":"multi-master","consistency":"causal"}"#).unwrap();
        assert_eq!(mode.to_string(), "multi-master/causal");
        assert!(
            serde_json::from_str::<Mode>(r#"{"strategy":"gossip","consistency":"strong"}"#)
                .is_err()
        );
        assert!(
            serde_json::from_str::<Mode>(r#"{"strategy":"paxos","consistency":"strong"}"#).is_err()
        );
        assert_eq!(
            serde_json::to_string(&Mode::DEFAULT).unwrap(),
            r#"{"strategy":"master-slave","consistency":"strong"}"#
        );
    }
}
