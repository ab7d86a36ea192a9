//! Writes straight to the leader. In master-slave replication only the
//! leader orders writes: a booking that reaches a follower is forwarded to
//! the leader, one more node-to-node round trip on every such booking. The
//! gateway's health checks already hear who leads and in which mode the
//! cluster replicates, so it sends the writes (booking, cancelling, adding
//! a movie) to that leader itself; everything else keeps the balancing
//! strategy. A wrong guess costs only the hop it meant to save: a stale
//! leader, one in the middle of an election or one that has just died
//! hands the write on, or refuses the connection and the balancer picks a
//! follower, whose forward reaches whoever leads by then.
//!
//! The decision is a pure function of what the last health round heard
//! (`ClusterView`), so it is tested here without a node.

use app::api::{BookSeats, CancelBooking};
use axum::http::Method;
use cluster::election::Epoch;
use cluster::replication::Strategy;
use cluster::NodeId;
use leptos::server_fn::ServerFn;

/// What a request does, as far as routing cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// Changes bookings or the catalogue: in master-slave, the leader's to order.
    Write,
    /// Anything else: pages, reads, sessions, the monitor's controls.
    Other,
}

impl Request {
    /// A booking (REST or the pages' server function), a cancellation
    /// (likewise), or a new movie.
    pub fn of(method: &Method, path: &str) -> Request {
        let write = match *method {
            Method::POST => {
                path == "/api/bookings"
                    || path == "/api/movies"
                    || path == BookSeats::PATH
                    || path == CancelBooking::PATH
            }
            Method::DELETE => path == "/api/bookings",
            _ => false,
        };
        if write {
            Request::Write
        } else {
            Request::Other
        }
    }
}

/// What one node said in a health round: the leader it follows in its
/// epoch, and the replication mode in force with that mode's version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NodeReport {
    pub leader: Option<NodeId>,
    pub epoch: Epoch,
    pub mode: Option<(Strategy, u64)>,
}

impl NodeReport {
    /// The leader and epoch from a node's `/api/health`, and the mode from
    /// its `/api/replication` when it answered that too.
    pub fn read(health: &serde_json::Value, mode: Option<&serde_json::Value>) -> NodeReport {
        let summary = &health["summary"];
        let mode = mode.and_then(|mode| {
            let strategy = mode["strategy"].as_str()?.parse().ok()?;
            Some((strategy, mode["version"].as_u64()?))
        });
        NodeReport {
            leader: summary["leader"]
                .as_u64()
                .and_then(|id| NodeId::try_from(id).ok()),
            epoch: summary["epoch"].as_u64().unwrap_or(0),
            mode,
        }
    }
}

/// The cluster as the gateway's last health round heard it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ClusterView {
    /// The leader of the newest epoch any node reported; None while that
    /// epoch has no leader yet (an election under way).
    pub leader: Option<NodeId>,
    /// The mode of the newest version any node reported.
    pub strategy: Option<Strategy>,
}

impl ClusterView {
    /// The view from one round's reports. Built afresh each round rather
    /// than merged over time, so that a cluster restarted from epoch 0 is
    /// believed at once.
    pub fn from_reports(reports: &[NodeReport]) -> ClusterView {
        // One leader per epoch at most: in the newest epoch, a node that
        // already knows its leader is better informed than one that does not.
        let newest = reports.iter().max_by_key(|r| (r.epoch, r.leader.is_some()));
        let strategy = reports
            .iter()
            .filter_map(|r| r.mode)
            .max_by_key(|&(_, version)| version)
            .map(|(strategy, _)| strategy);
        ClusterView {
            leader: newest.and_then(|r| r.leader),
            strategy,
        }
    }
}

/// Who takes a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route {
    /// The leader, straight away.
    Leader(NodeId),
    /// Whichever live node the balancing strategy picks.
    Balanced,
}

/// A write goes to the leader when the cluster replicates master-slave and
/// that leader is live and has not already failed this request; anything
/// else, and a write with no such leader, goes by the balancer.
pub fn route(
    request: Request,
    cluster: &ClusterView,
    is_live: impl Fn(NodeId) -> bool,
    tried: &[NodeId],
) -> Route {
    match (request, cluster.strategy, cluster.leader) {
        (Request::Write, Some(Strategy::MasterSlave), Some(leader))
            if is_live(leader) && !tried.contains(&leader) =>
        {
            Route::Leader(leader)
        }
        _ => Route::Balanced,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const MASTER_SLAVE: ClusterView = ClusterView {
        leader: Some(3),
        strategy: Some(Strategy::MasterSlave),
    };

    fn all_live(_: NodeId) -> bool {
        true
    }

    #[test]
    fn a_write_in_master_slave_goes_to_a_live_leader() {
        assert_eq!(
            route(Request::Write, &MASTER_SLAVE, all_live, &[]),
            Route::Leader(3)
        );
    }

    #[test]
    fn reads_go_by_the_balancer() {
        assert_eq!(
            route(Request::Other, &MASTER_SLAVE, all_live, &[]),
            Route::Balanced
        );
    }

    #[test]
    fn where_any_node_takes_writes_they_go_by_the_balancer() {
        for strategy in [Strategy::MultiMaster, Strategy::Gossip] {
            let view = ClusterView {
                strategy: Some(strategy),
                ..MASTER_SLAVE
            };
            assert_eq!(route(Request::Write, &view, all_live, &[]), Route::Balanced);
        }
        let mode_unknown = ClusterView {
            strategy: None,
            ..MASTER_SLAVE
        };
        assert_eq!(
            route(Request::Write, &mode_unknown, all_live, &[]),
            Route::Balanced
        );
    }

    #[test]
    fn a_leader_down_unknown_or_already_tried_is_not_chosen() {
        let down = |node: NodeId| node != 3;
        assert_eq!(
            route(Request::Write, &MASTER_SLAVE, down, &[]),
            Route::Balanced
        );
        let no_leader = ClusterView {
            leader: None,
            ..MASTER_SLAVE
        };
        assert_eq!(
            route(Request::Write, &no_leader, all_live, &[]),
            Route::Balanced
        );
        // It refused the connection: the retry goes to a follower.
        assert_eq!(
            route(Request::Write, &MASTER_SLAVE, all_live, &[3]),
            Route::Balanced
        );
    }

    #[test]
    fn bookings_cancellations_and_new_movies_are_writes() {
        let writes = [
            (Method::POST, "/api/bookings"),
            (Method::DELETE, "/api/bookings"),
            (Method::POST, "/api/movies"),
            (Method::POST, BookSeats::PATH),
            (Method::POST, CancelBooking::PATH),
        ];
        for (method, path) in writes {
            assert_eq!(
                Request::of(&method, path),
                Request::Write,
                "{method} {path}"
            );
        }
        let others = [
            (Method::GET, "/api/bookings"),
            (Method::GET, "/api/movies"),
            (Method::GET, "/api/seats"),
            (Method::POST, "/api/sessions"),
            (Method::POST, "/api/election"),
            (Method::GET, "/"),
        ];
        for (method, path) in others {
            assert_eq!(
                Request::of(&method, path),
                Request::Other,
                "{method} {path}"
            );
        }
        assert!(BookSeats::PATH.starts_with("/sfn/book_seats"));
        assert!(CancelBooking::PATH.starts_with("/sfn/cancel_booking"));
    }

    #[test]
    fn a_nodes_report_is_read_from_its_health_and_mode() {
        let health = json!({"nodeId": 1, "nodes": [], "summary": {
            "total": 3, "healthy": 3, "down": 0, "leader": 2, "epoch": 4,
        }});
        let mode = json!({"strategy": "master-slave", "consistency": "strong", "version": 1});
        assert_eq!(
            NodeReport::read(&health, Some(&mode)),
            NodeReport {
                leader: Some(2),
                epoch: 4,
                mode: Some((Strategy::MasterSlave, 1)),
            }
        );
        let electing = json!({"summary": {"leader": null, "epoch": 5}});
        assert_eq!(
            NodeReport::read(&electing, None),
            NodeReport {
                leader: None,
                epoch: 5,
                mode: None,
            }
        );
    }

    #[test]
    fn the_newest_epoch_and_the_newest_mode_win() {
        let report = |leader, epoch, mode| NodeReport {
            leader,
            epoch,
            mode,
        };
        let view = ClusterView::from_reports(&[
            report(Some(1), 2, Some((Strategy::MultiMaster, 3))),
            report(Some(3), 3, Some((Strategy::MasterSlave, 4))),
            report(None, 3, None),
        ]);
        assert_eq!(
            view,
            ClusterView {
                leader: Some(3),
                strategy: Some(Strategy::MasterSlave),
            }
        );
        // A newer epoch with no leader yet: an election is under way.
        let electing = ClusterView::from_reports(&[
            report(Some(3), 3, None),
            report(None, 4, Some((Strategy::MasterSlave, 1))),
        ]);
        assert_eq!(electing.leader, None);
        assert_eq!(ClusterView::from_reports(&[]), ClusterView::default());
    }
}
