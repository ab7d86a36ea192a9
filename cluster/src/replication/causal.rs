//! Causal delivery: in what order a replica takes copies so that it never
//! holds an effect without its cause. A copy carries a booking's latest
//! state, the ops that made it, and what its latest op depended on (a
//! `Frontier`); it goes in once this replica has applied all of that, or
//! it comes with the copy itself or the others taken with it.
//!
//! A copy carries only a booking's latest state, so copies can wait for
//! each other: a cancellation made after seeing a booking that was made
//! after seeing the cancelled one; or an earlier decision on a booking that
//! travels only inside the copy of its latest one, which waits for ops
//! whose copies wait for that earlier decision. The largest part of the
//! copies waiting that brings everything it waits for then goes in
//! together. Otherwise each booking goes in as it was made, once what its
//! making depended on is here, and its later decision waits. What still
//! waits is held back until more copies arrive; a sync that brings only
//! copies that must wait asks for a larger page (the nodes'
//! `anti_entropy.rs`, the simulation's syncs), until the copies that can go
//! in together come in one, so delivery always moves on.
//!
//! The nodes (`server/src/replication/replica.rs`, merging into their
//! database) and the simulation (merging into its replicas) both take
//! copies step by step as `next_step` says.

use super::ops::{Applied, Frontier, OpId};
use std::collections::BTreeSet;

/// A copy as causal delivery sees it.
pub trait CausalCopy: Sized {
    /// Every op that changed the booking, the copy's latest among them.
    fn ops(&self) -> &[OpId];
    /// What its latest op depended on.
    fn deps(&self) -> &Frontier;
    /// The booking as it was made: its making op alone, with what that
    /// depended on (None if its making is not among its ops).
    fn as_made(&self) -> Option<Self>;
}

/// What a replica does next with copies waiting to go in.
#[derive(Debug, PartialEq, Eq)]
pub enum Next<C> {
    /// Merge `now` at once, in its order, then ask again about `later`;
    /// `step` says why `now` may go in.
    Merge {
        now: Vec<C>,
        later: Vec<C>,
        step: Step,
    },
    /// Nothing of these can go in until more copies arrive.
    HoldBack(Vec<C>),
    /// Nothing waits.
    Done,
}

/// Why copies may go in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Each after its causes (or with no causal order asked for).
    InOrder,
    /// Together: they bring everything they wait for among themselves.
    Together,
    /// Bookings as they were made; their later decisions wait.
    AsMade,
}

/// The next step of taking `pending` on a replica that has applied
/// `applied`. Without causal consistency every copy goes in at once.
pub fn next_step<C: CausalCopy>(applied: &Applied, pending: Vec<C>, causal: bool) -> Next<C> {
    if pending.is_empty() {
        return Next::Done;
    }
    if !causal {
        return merge(pending, Vec::new(), Step::InOrder);
    }
    // Copies whose causes are here, then those whose causes are here or
    // among those, and so on: a causal order, so the whole of it can go in
    // at once, each copy after its causes. A node's copies arrive a batch of
    // its writes after another, each depending on the last; taken pass by
    // pass, each pass a transaction, they would go in a few at a time.
    let mut ready: Vec<C> = Vec::new();
    let mut brought: BTreeSet<OpId> = BTreeSet::new();
    let mut waiting = pending;
    loop {
        let (now, still): (Vec<C>, Vec<C>) = waiting.into_iter().partition(|copy| {
            let with_own = |op: &OpId| brought.contains(op) || copy.ops().contains(op);
            met(applied, copy.deps(), with_own)
        });
        waiting = still;
        if now.is_empty() {
            break;
        }
        brought.extend(now.iter().flat_map(CausalCopy::ops).copied());
        ready.extend(now);
    }
    if !ready.is_empty() {
        return merge(ready, waiting, Step::InOrder);
    }
    let (together, waiting) = self_sufficient(applied, waiting);
    if !together.is_empty() {
        return merge(together, waiting, Step::Together);
    }
    let makings: Vec<C> = waiting
        .iter()
        .filter_map(CausalCopy::as_made)
        .filter(|made| {
            let new_here = made.ops().iter().all(|op| !applied.contains(*op));
            new_here && applied.covers(made.deps())
        })
        .collect();
    if makings.is_empty() {
        Next::HoldBack(waiting)
    } else {
        merge(makings, waiting, Step::AsMade)
    }
}

fn merge<C>(now: Vec<C>, later: Vec<C>, step: Step) -> Next<C> {
    Next::Merge { now, later, step }
}

/// The largest part of `copies` that brings, with what is applied,
/// everything its copies' latest ops depended on, and the rest. Such a
/// part can go in together, whatever its copies wait for among
/// themselves; the rest must wait. Copies whose causes are missing are
/// dropped until none is left to drop: a copy that another needs is never
/// dropped before it, and the parts that could go in are never lost with
/// a copy that cannot.
fn self_sufficient<C: CausalCopy>(applied: &Applied, copies: Vec<C>) -> (Vec<C>, Vec<C>) {
    let mut together = copies;
    let mut left_out = Vec::new();
    loop {
        let brought: BTreeSet<OpId> = together.iter().flat_map(CausalCopy::ops).copied().collect();
        let (met_here, missing): (Vec<C>, Vec<C>) = together
            .into_iter()
            .partition(|copy| met(applied, copy.deps(), |op| brought.contains(op)));
        together = met_here;
        if missing.is_empty() {
            return (together, left_out);
        }
        left_out.extend(missing);
    }
}

/// Whether every op `deps` counts is applied or `brought`.
fn met(applied: &Applied, deps: &Frontier, brought: impl Fn(&OpId) -> bool) -> bool {
    deps.iter().all(|(origin, through)| {
        // The first op missing ends the search, so a replica far behind
        // does not walk its whole gap for each copy.
        let here = applied
            .ranges()
            .get(&origin)
            .map_or(0, |range| range.through);
        (here + 1..=through).all(|number| {
            let op = OpId { origin, number };
            applied.contains(op) || brought(&op)
        })
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Clone, Debug, PartialEq, Eq)]
    struct Copy {
        ops: Vec<OpId>,
        deps: Frontier,
        made_with: Frontier,
    }

    impl CausalCopy for Copy {
        fn ops(&self) -> &[OpId] {
            &self.ops
        }
        fn deps(&self) -> &Frontier {
            &self.deps
        }
        fn as_made(&self) -> Option<Self> {
            Some(Copy {
                ops: vec![*self.ops.first()?],
                deps: self.made_with.clone(),
                made_with: self.made_with.clone(),
            })
        }
    }

    fn op(origin: u32, number: u64) -> OpId {
        OpId { origin, number }
    }

    fn copy(ops: &[OpId], deps: Frontier, made_with: Frontier) -> Copy {
        Copy {
            ops: ops.to_vec(),
            deps,
            made_with,
        }
    }

    #[test]
    fn a_copy_goes_in_once_its_causes_are_here_and_the_rest_waits() {
        let cause = copy(&[op(1, 1)], Frontier::default(), Frontier::default());
        let effect = copy(&[op(2, 1)], [(1, 1)].into(), [(1, 1)].into());
        let elsewhere = copy(&[op(3, 1)], [(4, 1)].into(), [(4, 1)].into());
        let arriving = vec![effect.clone(), elsewhere.clone(), cause.clone()];
        let Next::Merge { now, later, step } = next_step(&Applied::default(), arriving, true)
        else {
            panic!("the cause goes in");
        };
        assert_eq!(now, [cause, effect], "each after its cause");
        assert_eq!(
            (later.clone(), step),
            (vec![elsewhere.clone()], Step::InOrder)
        );
        let mut applied = Applied::default();
        applied.insert(op(1, 1));
        applied.insert(op(2, 1));
        assert_eq!(
            next_step(&applied, later, true),
            Next::HoldBack(vec![elsewhere]),
            "node 4's op is still to come"
        );
        assert_eq!(next_step::<Copy>(&applied, Vec::new(), true), Next::Done);
    }

    /// A node's writes, each made after the one before: they arrive out
    /// of order, and all go in at once, each after its cause.
    #[test]
    fn a_chain_of_causes_goes_in_at_once_in_causal_order() {
        let chain: Vec<Copy> = (1..=4)
            .map(|n| copy(&[op(1, n)], [(1, n - 1)].into(), [(1, n - 1)].into()))
            .collect();
        let arriving = vec![
            chain[2].clone(),
            chain[0].clone(),
            chain[3].clone(),
            chain[1].clone(),
        ];
        match next_step(&Applied::default(), arriving, true) {
            Next::Merge {
                now,
                later,
                step: Step::InOrder,
            } => {
                assert_eq!(now, chain);
                assert!(later.is_empty());
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn without_causal_consistency_everything_goes_in_at_once() {
        let effect = copy(&[op(2, 1)], [(1, 1)].into(), [(1, 1)].into());
        assert_eq!(
            next_step(&Applied::default(), vec![effect.clone()], false),
            Next::Merge {
                now: vec![effect],
                later: Vec::new(),
                step: Step::InOrder,
            }
        );
    }

    /// A booking cancelled after its owner saw a second booking, made after
    /// seeing the first: each copy waits for the other, and together they
    /// bring all they wait for.
    #[test]
    fn copies_that_wait_for_each_other_go_in_together() {
        let first = copy(&[op(1, 1), op(1, 3)], [(1, 2)].into(), Frontier::default());
        let second = copy(&[op(1, 2)], [(1, 1)].into(), [(1, 1)].into());
        match next_step(
            &Applied::default(),
            vec![first.clone(), second.clone()],
            true,
        ) {
            Next::Merge {
                now,
                later,
                step: Step::Together,
            } => {
                assert_eq!((now, later), (vec![first, second], vec![]));
            }
            other => panic!("{other:?}"),
        }
    }

    /// Node 1's decision on a booking travels only inside the copy of
    /// node 2's later one, which waits for a booking that waits for node
    /// 1's decision; a copy whose cause is nowhere arrives with them. The
    /// two go in together, the stranger waits.
    #[test]
    fn copies_that_bring_each_others_causes_go_in_together_without_the_rest() {
        let needs_the_decision = copy(&[op(2, 1)], [(1, 1)].into(), [(1, 1)].into());
        let decided_twice = copy(
            &[op(3, 1), op(1, 1), op(2, 2)],
            [(2, 1)].into(),
            Frontier::default(),
        );
        let stranger = copy(&[op(4, 1)], [(5, 1)].into(), [(5, 1)].into());
        let arriving = vec![
            stranger.clone(),
            needs_the_decision.clone(),
            decided_twice.clone(),
        ];
        match next_step(&Applied::default(), arriving, true) {
            Next::Merge {
                now,
                later,
                step: Step::Together,
            } => {
                assert_eq!(now, [needs_the_decision, decided_twice]);
                assert_eq!(later, [stranger]);
            }
            other => panic!("{other:?}"),
        }
    }

    /// A cancellation that waits for a booking from elsewhere: the
    /// cancelled booking goes in as it was made, its cancellation waits.
    #[test]
    fn a_booking_goes_in_as_made_while_its_later_decision_waits() {
        let cancelled = copy(
            &[op(1, 1), op(1, 2)],
            [(1, 1), (3, 1)].into(),
            Frontier::default(),
        );
        match next_step(&Applied::default(), vec![cancelled.clone()], true) {
            Next::Merge {
                now,
                later,
                step: Step::AsMade,
            } => {
                assert_eq!(
                    now,
                    [copy(&[op(1, 1)], Frontier::default(), Frontier::default())]
                );
                assert_eq!(later, std::slice::from_ref(&cancelled));
            }
            other => panic!("{other:?}"),
        }
        let mut applied = Applied::default();
        applied.insert(op(1, 1));
        assert_eq!(
            next_step(&applied, vec![cancelled.clone()], true),
            Next::HoldBack(vec![cancelled]),
            "made here already: the cancellation waits for node 3's op"
        );
    }
}
