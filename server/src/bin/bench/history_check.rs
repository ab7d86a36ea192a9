//! Checking a recorded history of booking and cancellation requests
//! against what the replicas hold once the faults are healed, without I/O:
//! every acknowledged booking still there on every node (and confirmed, in
//! strong consistency, unless its owner asked to cancel it), every
//! acknowledged cancellation kept, no seat acknowledged to two bookings
//! (strong), no server error but the documented 503, and every replica the
//! same.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// What a request of the history asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Request {
    /// A booking of `seat`.
    Book,
    /// The cancellation of booking `booking_id`, of `seat`, by its owner.
    Cancel,
}

/// One request of the history, and its answer.
#[derive(Clone, Debug)]
pub struct Attempt {
    pub request: Request,
    pub node: u32,
    pub showtime: i64,
    pub seat: String,
    /// The HTTP status, or None if no answer came.
    pub status: Option<u16>,
    /// The booking an acknowledgment named, or the one to cancel.
    pub booking_id: Option<String>,
}

impl Attempt {
    fn acknowledged(&self, request: Request, status: u16) -> bool {
        self.request == request && self.status == Some(status) && self.booking_id.is_some()
    }
}

/// What one node holds at the end.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct NodeView {
    /// The status of each acknowledged booking here, or None if it is not
    /// here at all.
    pub statuses: BTreeMap<String, Option<String>>,
    /// The seats taken, per showtime.
    pub taken: BTreeMap<i64, BTreeSet<String>>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Anomaly {
    /// An acknowledged booking a node does not hold, or holds in a status
    /// the consistency model and its owner's requests do not allow.
    NotKept {
        booking: String,
        node: u32,
        status: Option<String>,
    },
    /// A seat acknowledged to two bookings or more (strong consistency).
    SoldTwice {
        showtime: i64,
        seat: String,
        bookings: Vec<String>,
    },
    /// A server error other than the documented 503.
    ServerError { node: u32, status: u16 },
    /// Two replicas that disagree once everything is healed.
    Diverged { node: u32, other: u32, what: String },
}

impl fmt::Display for Anomaly {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Anomaly::NotKept {
                booking,
                node,
                status,
            } => write!(
                f,
                "acknowledged booking {booking} is {} on node {node}",
                status.as_deref().unwrap_or("missing")
            ),
            Anomaly::SoldTwice {
                showtime,
                seat,
                bookings,
            } => write!(
                f,
                "seat {seat} of showtime {showtime} acknowledged to {}",
                bookings.join(" and ")
            ),
            Anomaly::ServerError { node, status } => {
                write!(f, "node {node} answered {status}")
            }
            Anomaly::Diverged { node, other, what } => {
                write!(f, "nodes {node} and {other} differ: {what}")
            }
        }
    }
}

/// Every anomaly of the history. `strong`: whether it was made in strong
/// consistency, where an acknowledged booking stays confirmed and a seat is
/// acknowledged once; elsewhere an acknowledged booking may have lost its
/// seat to a concurrent one, but is never dropped. A booking whose owner
/// asked to cancel it may be cancelled, whatever the answer (one that never
/// came may have gone through), and must be if the cancellation was
/// acknowledged; its seat may then be sold again.
pub fn check(strong: bool, attempts: &[Attempt], views: &BTreeMap<u32, NodeView>) -> Vec<Anomaly> {
    let mut anomalies = Vec::new();
    let acknowledged: Vec<&Attempt> = attempts
        .iter()
        .filter(|a| a.acknowledged(Request::Book, 201))
        .collect();
    let cancel_asked: BTreeSet<&str> = attempts
        .iter()
        .filter(|a| a.request == Request::Cancel)
        .filter_map(|a| a.booking_id.as_deref())
        .collect();
    let cancelled: BTreeSet<&str> = attempts
        .iter()
        .filter(|a| a.acknowledged(Request::Cancel, 200))
        .filter_map(|a| a.booking_id.as_deref())
        .collect();

    for attempt in attempts {
        if let Some(status) = attempt.status.filter(|s| *s >= 500 && *s != 503) {
            anomalies.push(Anomaly::ServerError {
                node: attempt.node,
                status,
            });
        }
    }

    let allowed: &[&str] = if strong {
        &["confirmed"]
    } else {
        &["confirmed", "lost"]
    };
    for attempt in &acknowledged {
        let booking = attempt.booking_id.clone().unwrap_or_default();
        let allowed_here = |status: &str| {
            if cancelled.contains(booking.as_str()) {
                status == "cancelled"
            } else {
                allowed.contains(&status)
                    || (status == "cancelled" && cancel_asked.contains(booking.as_str()))
            }
        };
        for (&node, view) in views {
            let status = view.statuses.get(&booking).cloned().flatten();
            if !status.as_deref().is_some_and(allowed_here) {
                anomalies.push(Anomaly::NotKept {
                    booking: booking.clone(),
                    node,
                    status,
                });
            }
        }
    }

    if strong {
        let mut sold: BTreeMap<(i64, &str), Vec<String>> = BTreeMap::new();
        let resellable =
            |a: &&&Attempt| !cancel_asked.contains(a.booking_id.as_deref().unwrap_or_default());
        for attempt in acknowledged.iter().filter(resellable) {
            sold.entry((attempt.showtime, attempt.seat.as_str()))
                .or_default()
                .extend(attempt.booking_id.clone());
        }
        for ((showtime, seat), bookings) in sold {
            if bookings.len() > 1 {
                anomalies.push(Anomaly::SoldTwice {
                    showtime,
                    seat: seat.to_string(),
                    bookings,
                });
            }
        }
    }

    let mut nodes = views.iter();
    if let Some((&first, reference)) = nodes.next() {
        for (&node, view) in nodes {
            for (booking, status) in &reference.statuses {
                let theirs = view.statuses.get(booking).cloned().flatten();
                if &theirs != status {
                    anomalies.push(Anomaly::Diverged {
                        node: first,
                        other: node,
                        what: format!("booking {booking}: {status:?} against {theirs:?}"),
                    });
                }
            }
            if view.taken != reference.taken {
                anomalies.push(Anomaly::Diverged {
                    node: first,
                    other: node,
                    what: "the seats taken".into(),
                });
            }
        }
    }
    anomalies
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attempt(node: u32, seat: &str, status: Option<u16>, id: Option<&str>) -> Attempt {
        Attempt {
            request: Request::Book,
            node,
            showtime: 7,
            seat: seat.into(),
            status,
            booking_id: id.map(str::to_string),
        }
    }

    fn view(statuses: &[(&str, Option<&str>)], taken: &[&str]) -> NodeView {
        NodeView {
            statuses: statuses
                .iter()
                .map(|(id, s)| (id.to_string(), s.map(str::to_string)))
                .collect(),
            taken: [(7, taken.iter().map(|s| s.to_string()).collect())].into(),
        }
    }

    fn views(all: &[NodeView]) -> BTreeMap<u32, NodeView> {
        (1..).zip(all.iter().cloned()).collect()
    }

    #[test]
    fn a_clean_history_has_no_anomaly() {
        let history = [
            attempt(1, "A1", Some(201), Some("b1")),
            attempt(2, "A1", Some(409), None),
            attempt(3, "A2", Some(503), None),
            attempt(2, "A3", None, None),
        ];
        let same = view(&[("b1", Some("confirmed"))], &["A1"]);
        assert_eq!(
            check(true, &history, &views(&[same.clone(), same.clone(), same])),
            vec![]
        );
    }

    #[test]
    fn an_acknowledged_booking_missing_or_lost_in_strong_consistency_is_found() {
        let history = [attempt(1, "A1", Some(201), Some("b1"))];
        let kept = view(&[("b1", Some("confirmed"))], &["A1"]);
        let lost = view(&[("b1", Some("lost"))], &[]);
        let missing = view(&[("b1", None)], &[]);
        let found = check(true, &history, &views(&[kept, lost.clone(), missing]));
        assert!(found.contains(&Anomaly::NotKept {
            booking: "b1".into(),
            node: 2,
            status: Some("lost".into())
        }));
        assert!(found.contains(&Anomaly::NotKept {
            booking: "b1".into(),
            node: 3,
            status: None
        }));
        assert!(found.iter().any(|a| matches!(a, Anomaly::Diverged { .. })));
        // Eventual: a booking lost to a concurrent one was kept, and said so.
        assert_eq!(
            check(false, &history, &views(&[lost.clone(), lost])),
            vec![]
        );
    }

    #[test]
    fn a_seat_acknowledged_twice_is_found_in_strong_consistency_only() {
        let history = [
            attempt(1, "A1", Some(201), Some("b1")),
            attempt(2, "A1", Some(201), Some("b2")),
        ];
        let both = view(
            &[("b1", Some("confirmed")), ("b2", Some("confirmed"))],
            &["A1"],
        );
        let found = check(true, &history, &views(std::slice::from_ref(&both)));
        assert_eq!(
            found,
            vec![Anomaly::SoldTwice {
                showtime: 7,
                seat: "A1".into(),
                bookings: vec!["b1".into(), "b2".into()]
            }]
        );
        let settled = view(&[("b1", Some("lost")), ("b2", Some("confirmed"))], &["A1"]);
        assert_eq!(check(false, &history, &views(&[settled])), vec![]);
    }

    #[test]
    fn server_errors_but_503_and_replicas_that_differ_are_found() {
        let history = [
            attempt(2, "A1", Some(500), None),
            attempt(1, "A2", Some(503), None),
        ];
        let found = check(
            true,
            &history,
            &views(&[view(&[], &["A9"]), view(&[], &[])]),
        );
        assert_eq!(
            found,
            vec![
                Anomaly::ServerError {
                    node: 2,
                    status: 500
                },
                Anomaly::Diverged {
                    node: 1,
                    other: 2,
                    what: "the seats taken".into()
                }
            ]
        );
    }

    fn cancel(node: u32, seat: &str, status: Option<u16>, id: &str) -> Attempt {
        Attempt {
            request: Request::Cancel,
            ..attempt(node, seat, status, Some(id))
        }
    }

    #[test]
    fn a_cancellation_asked_for_may_go_through_and_one_acknowledged_must() {
        let booked = attempt(1, "A1", Some(201), Some("b1"));
        let is = |status: &str| view(&[("b1", Some(status))], &[]);
        // Asked for, with no answer: either outcome is right.
        let unanswered = [booked.clone(), cancel(2, "A1", None, "b1")];
        for status in ["cancelled", "confirmed"] {
            let held = if status == "confirmed" {
                &["A1"][..]
            } else {
                &[]
            };
            let same = view(&[("b1", Some(status))], held);
            assert_eq!(check(true, &unanswered, &views(&[same])), vec![]);
        }
        // Acknowledged: it must be cancelled everywhere.
        let acknowledged = [booked.clone(), cancel(2, "A1", Some(200), "b1")];
        assert_eq!(
            check(true, &acknowledged, &views(&[is("cancelled")])),
            vec![]
        );
        let found = check(
            false,
            &acknowledged,
            &views(&[view(&[("b1", Some("confirmed"))], &["A1"])]),
        );
        assert_eq!(
            found,
            vec![Anomaly::NotKept {
                booking: "b1".into(),
                node: 1,
                status: Some("confirmed".into())
            }]
        );
        // Never asked for: a cancelled booking was not kept.
        assert_eq!(check(false, &[booked], &views(&[is("cancelled")])).len(), 1);
    }

    #[test]
    fn a_seat_freed_by_a_cancellation_may_be_sold_again_in_strong_consistency() {
        let history = [
            attempt(1, "A1", Some(201), Some("b1")),
            cancel(1, "A1", Some(200), "b1"),
            attempt(2, "A1", Some(201), Some("b2")),
        ];
        let settled = view(
            &[("b1", Some("cancelled")), ("b2", Some("confirmed"))],
            &["A1"],
        );
        assert_eq!(check(true, &history, &views(&[settled])), vec![]);
    }
}
