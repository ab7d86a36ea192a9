//! This node's database as replication uses it: its ops numbered after
//! they commit, many at a time, with no gap and none twice, even when
//! writes fail or the node stops between a commit and its numbering; new
//! bookings written together decided one by one, and one that meets a
//! concurrent transaction's seat told the seat is taken; a contested copy
//! or a decision ending the quiet a writer answers by, a copy that settles
//! alone not; a peer's digest
//! answered with everything it lacks, however many ops it holds past a
//! gap; copies of rival bookings, cancelled ones among them, settled the
//! same way whatever order they arrive in, one by one or together, a claim
//! refused among them changing nothing, two peers' copies merged at once
//! never failing, the set-based fast path answering and settling exactly
//! as the per-copy rules do over random batches; the counts of bookings by
//! status that the writes keep equal to the bookings counted, after own
//! writes, merges and decisions; and a connection the
//! database dropped while it sat idle never handed to a write, one it
//! drops in use reported as a database out of reach.

use app::model::BookingStatus;
use chrono::Utc;
use cluster::replication::{Applied, Frontier, Mode, OpId};
use moviebook::store::{
    url_with_database, BookingReplica, Decider, NewBookingRecord, StatusCounts, Store, StoreError,
};
use std::collections::{BTreeMap, BTreeSet};
use uuid::Uuid;

const NODE: u32 = 1;

/// A fresh, migrated database with the catalog, and one upcoming showtime.
async fn fresh_store(name: &str) -> (Store, String, i64) {
    let server = std::env::var("DATABASE_URL").expect("DATABASE_URL (see scripts/test.sh)");
    let name = format!("it_ops_{name}_{}", std::process::id());
    moviebook::store::ensure_database(&server, &name)
        .await
        .unwrap();
    let url = url_with_database(&server, &name);
    let store = Store::connect(&url, 20).await.unwrap();
    store.migrate().await.unwrap();
    store.seed_catalog(Utc::now().date_naive()).await.unwrap();
    let showtime: i64 =
        sqlx::query_scalar("SELECT id FROM showtimes WHERE starts_at > now() ORDER BY id LIMIT 1")
            .fetch_one(store.pool())
            .await
            .unwrap();
    (store, url, showtime)
}

fn record(showtime_id: i64, seat: &str) -> NewBookingRecord {
    NewBookingRecord {
        id: Uuid::new_v4(),
        user_id: "ops-test".into(),
        user_name: "Ops Test".into(),
        showtime_id,
        seats: vec![(seat.to_string(), 1000)],
        logical_clock: 1,
        vector_clock: Default::default(),
        processed_by: format!("node-{NODE}"),
        timestamp: Utc::now(),
        mode: Mode::DEFAULT,
        epoch: 1,
    }
}

async fn book(store: &Store, showtime: i64, seat: &str) -> Result<(Uuid, OpId), StoreError> {
    let deps = Frontier::default();
    let by = Decider {
        node: NODE,
        epoch: 1,
        deps: &deps,
    };
    let booking = record(showtime, seat);
    store
        .insert_booking(&booking, &by)
        .await
        .map(|op| (booking.id, op))
}

/// The counts the writes keep (`Store::status_counts`) are the bookings
/// counted.
async fn assert_counts_kept(store: &Store, context: &str) {
    let counted: Vec<(String, i64)> =
        sqlx::query_as("SELECT status, count(*) FROM bookings GROUP BY status")
            .fetch_all(store.pool())
            .await
            .unwrap();
    let of = |status: &str| {
        counted
            .iter()
            .find(|(counted_status, _)| counted_status == status)
            .map_or(0, |(_, count)| *count as u64)
    };
    let expected = StatusCounts {
        confirmed: of("confirmed"),
        cancelled: of("cancelled"),
        lost: of("lost"),
    };
    assert_eq!(store.status_counts().await.unwrap(), expected, "{context}");
}

fn numbers(ops: impl IntoIterator<Item = OpId>) -> BTreeSet<u64> {
    ops.into_iter().map(|op| op.number).collect()
}

#[tokio::test]
async fn concurrent_writes_are_numbered_one_to_n_and_failed_ones_leave_no_gap() {
    let (store, _, showtime) = fresh_store("concurrent").await;
    // 80 writes at once, 20 of them for a seat another one wants too.
    let writes = (0..80).map(|i| {
        let store = store.clone();
        let seat = format!("A{}", i % 60 + 1);
        tokio::spawn(async move { book(&store, showtime, &seat).await })
    });
    let outcomes = futures::future::join_all(writes).await;
    let mut made = Vec::new();
    let mut taken = 0;
    for outcome in outcomes {
        match outcome.unwrap() {
            Ok((_, op)) => made.push(op),
            Err(StoreError::SeatsTaken(_)) => taken += 1,
            Err(e) => panic!("a write failed: {e}"),
        }
    }
    assert_eq!((made.len(), taken), (60, 20));
    assert!(made.iter().all(|op| op.origin == NODE));
    assert_eq!(numbers(made.iter().copied()), (1..=60).collect());
    let applied = store.applied_ops().await.unwrap();
    assert_eq!(applied.frontier(), Frontier::from([(NODE, 60)]));
    assert!(applied.ranges()[&NODE].above.is_empty());
}

#[tokio::test]
async fn a_connection_dropped_while_idle_is_replaced_before_a_write_uses_it() {
    let (store, url, showtime) = fresh_store("dropped").await;
    book(&store, showtime, "A1").await.unwrap();
    // PostgreSQL ends every connection of the pool (as a restart would),
    // while they sit idle.
    let database = url.rsplit('/').next().unwrap().to_string();
    let ended: Vec<bool> = sqlx::query_scalar(
        "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity WHERE datname = $1",
    )
    .bind(&database)
    .fetch_all(&server_admin().await)
    .await
    .unwrap();
    assert!(!ended.is_empty() && ended.iter().all(|&ended| ended));
    // Idle past the pool's recheck: taken again, each is found dead and
    // replaced, so every write succeeds.
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    for seat in ["A2", "A3", "A4"] {
        book(&store, showtime, seat).await.unwrap();
    }
}

#[tokio::test]
async fn a_connection_the_database_ends_is_a_database_out_of_reach_not_a_fault() {
    let (store, _, _) = fresh_store("ended").await;
    let mut connection = store.pool().acquire().await.unwrap();
    let pid: i32 = sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(&mut *connection)
        .await
        .unwrap();
    sqlx::query("SELECT pg_terminate_backend($1, 5000)")
        .bind(pid)
        .execute(&server_admin().await)
        .await
        .unwrap();
    let ended = sqlx::query("SELECT 1")
        .execute(&mut *connection)
        .await
        .unwrap_err();
    assert!(StoreError::from(ended).is_unreachable());
    // A statement the database refuses is no such thing.
    let refused = sqlx::query("SELECT * FROM no_such_table")
        .execute(store.pool())
        .await
        .unwrap_err();
    assert!(!StoreError::from(refused).is_unreachable());
}

/// A pool on the test server's own database, to act on others' connections.
async fn server_admin() -> sqlx::PgPool {
    let server = std::env::var("DATABASE_URL").unwrap();
    sqlx::PgPool::connect(&server).await.unwrap()
}

#[tokio::test]
async fn an_op_left_pending_by_a_stop_is_numbered_when_the_node_starts_again() {
    let (store, url, showtime) = fresh_store("leftover").await;
    let (booking, first) = book(&store, showtime, "B1").await.unwrap();
    assert_eq!(first.number, 1);
    // As if the node stopped after a write's commit, before its numbering.
    sqlx::query("INSERT INTO pending_ops (origin, booking_id) VALUES ($1, $2)")
        .bind(NODE as i32)
        .bind(booking)
        .execute(store.pool())
        .await
        .unwrap();
    assert_eq!(
        store.applied_ops().await.unwrap().frontier(),
        Frontier::from([(NODE, 1)])
    );

    let restarted = Store::connect(&url, 2).await.unwrap();
    restarted.migrate().await.unwrap();
    assert_eq!(
        restarted.applied_ops().await.unwrap().frontier(),
        Frontier::from([(NODE, 2)])
    );
    let (_, next) = book(&restarted, showtime, "B2").await.unwrap();
    assert_eq!(next.number, 3, "numbering goes on past the leftover");
}

#[tokio::test]
async fn a_digest_with_ops_past_a_gap_is_sent_everything_it_lacks() {
    let (store, _, showtime) = fresh_store("lacking").await;
    let mut bookings = Vec::new();
    for seat in 1..=10 {
        let (id, op) = book(&store, showtime, &format!("C{seat}")).await.unwrap();
        bookings.push((op.number, id));
    }
    let op = |number| OpId {
        origin: NODE,
        number,
    };
    let ids_of = |wanted: &[u64]| -> BTreeSet<Uuid> {
        bookings
            .iter()
            .filter(|(number, _)| wanted.contains(number))
            .map(|(_, id)| *id)
            .collect()
    };
    let lacking = |digest: Applied| {
        let store = store.clone();
        async move {
            let (rows, more) = store.lacking(&digest, &[NODE], 5).await.unwrap();
            (
                rows.into_iter()
                    .map(|r| r.record.id)
                    .collect::<BTreeSet<_>>(),
                more,
            )
        }
    };

    // A peer holding 1 and 3 to 7: it lacks 2 and 8 to 10.
    let mut digest = Applied::default();
    for number in [1, 3, 4, 5, 6, 7] {
        digest.insert(op(number));
    }
    assert_eq!(
        lacking(digest.clone()).await,
        (ids_of(&[2, 8, 9, 10]), false)
    );

    // A peer holding 2 to 7, past a gap at 1.
    let mut digest = Applied::default();
    for number in 2..=7 {
        digest.insert(op(number));
    }
    assert_eq!(lacking(digest).await, (ids_of(&[1, 8, 9, 10]), false));

    // A page holds at most the limit of lacking ops, and says there is more.
    let (first_page, more) = lacking(Applied::default()).await;
    assert_eq!((first_page, more), (ids_of(&[1, 2, 3, 4, 5]), true));
}

/// A copy of a booking made on node `origin` at Lamport time `lamport`
/// (multi-master eventual: last-write-wins), of `seats` of `showtime`, as
/// that node's op `number`.
fn copy(
    showtime: i64,
    seats: &[u32],
    (origin, number): (u32, u64),
    lamport: u64,
) -> BookingReplica {
    BookingReplica {
        record: NewBookingRecord {
            id: Uuid::new_v4(),
            processed_by: format!("node-{origin}"),
            seats: seats.iter().map(|n| (format!("A{n}"), 1000)).collect(),
            logical_clock: lamport,
            mode: "multi-master/eventual".parse().unwrap(),
            epoch: 0,
            ..record(showtime, "A1")
        },
        status: BookingStatus::Confirmed,
        status_epoch: 0,
        ops: vec![OpId { origin, number }],
        deps: Frontier::default(),
        made_with: Frontier::default(),
        lost_to: None,
        written_at: None,
    }
}

/// Every order of `items`.
fn orders<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut all = Vec::new();
    for (i, first) in items.iter().enumerate() {
        let mut rest = items.to_vec();
        rest.remove(i);
        for mut order in orders(&rest) {
            order.insert(0, first.clone());
            all.push(order);
        }
    }
    all
}

/// Four bookings of overlapping seats, one of them cancelled by its owner,
/// reach a replica in each of the 120 orders their five copies can come
/// in, merged one by one and then in one transaction: every order ends the
/// same, as `cluster::replication::standing` has it. The latest booking
/// holds its seats; the others lose to the claim that first beat them, a
/// cancelled one too (the seat it beat another to stays free).
#[tokio::test]
async fn rival_and_cancelled_copies_settle_the_same_in_every_order() {
    let (store, _, showtime) = fresh_store("settle").await;
    let every_order = orders(&[0, 1, 2, 3, 4]);
    let one_by_one = every_order.iter().map(|order| (order, false));
    let together = every_order.iter().map(|order| (order, true));
    for (run, (order, in_one_transaction)) in one_by_one.chain(together).enumerate() {
        let seat = |n: u32| 3 * run as u32 + n;
        let op = |n: u64| 2 * run as u64 + n;
        let held = copy(showtime, &[seat(1), seat(2)], (1, op(1)), 5);
        let beaten = copy(showtime, &[seat(2), seat(3)], (2, op(1)), 3);
        let earlier = copy(showtime, &[seat(1)], (2, op(2)), 4);
        let cancelled_confirmed = copy(showtime, &[seat(3)], (3, op(1)), 7);
        let mut cancelled = cancelled_confirmed.clone();
        cancelled.status = BookingStatus::Cancelled;
        cancelled.ops.push(OpId {
            origin: 3,
            number: op(2),
        });
        let copies = [&held, &beaten, &earlier, &cancelled_confirmed, &cancelled];
        if in_one_transaction {
            let batch: Vec<&BookingReplica> = order.iter().map(|&i| copies[i]).collect();
            let outcomes = store.merge_replicas(&batch).await.unwrap();
            assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
        } else {
            for &index in order {
                store.merge_replica(copies[index]).await.unwrap();
            }
        }

        let outcome = |replica: &BookingReplica| {
            let store = store.clone();
            let id = replica.record.id;
            async move {
                let booking = store.booking(id).await.unwrap();
                (booking.status, booking.lost_to)
            }
        };
        let named = |replica: &BookingReplica| Some(replica.record.id.to_string());
        let expected = [
            (BookingStatus::Confirmed, None),
            (BookingStatus::Lost, named(&held)),
            (BookingStatus::Lost, named(&held)),
            (BookingStatus::Cancelled, None),
        ];
        let got = [
            outcome(&held).await,
            outcome(&beaten).await,
            outcome(&earlier).await,
            outcome(&cancelled).await,
        ];
        assert_eq!(
            got, expected,
            "arrival order {order:?}, together: {in_one_transaction}"
        );
        let taken: BTreeMap<String, String> = store
            .taken_seats(showtime)
            .await
            .unwrap()
            .into_iter()
            .filter(|t| {
                [seat(1), seat(2), seat(3)]
                    .map(|n| format!("A{n}"))
                    .contains(&t.seat_label)
            })
            .map(|t| (t.seat_label, t.user_id))
            .collect();
        let labels: Vec<&String> = taken.keys().collect();
        assert_eq!(
            labels,
            [format!("A{}", seat(1)), format!("A{}", seat(2))]
                .iter()
                .collect::<Vec<_>>(),
            "arrival order {order:?}, together: {in_one_transaction}: the latest booking's seats \
             and no others are taken"
        );
        let context = format!("arrival order {order:?}, together: {in_one_transaction}");
        assert_counts_kept(&store, &context).await;
    }
}

/// In one transaction of copies, a claim (multi-master strong) on a seat
/// another booking holds is refused in its place, changing nothing, and
/// the copies around it go in.
#[tokio::test]
async fn a_claim_refused_among_copies_merged_together_leaves_the_others_in() {
    let (store, _, showtime) = fresh_store("refused_in_batch").await;
    let claim = |seats: &[u32], number: u64| {
        let mut replica = copy(showtime, seats, (2, number), number);
        replica.record.mode = "multi-master/strong".parse().unwrap();
        replica
    };
    let holder = claim(&[1], 1);
    store.merge_replica(&holder).await.unwrap();

    let (before, rival, after) = (claim(&[2], 2), claim(&[1, 3], 3), claim(&[4], 4));
    let batch = [&before, &rival, &after];
    let outcomes = store.merge_replicas(&batch).await.unwrap();
    assert!(outcomes[0].is_ok() && outcomes[2].is_ok(), "{outcomes:?}");
    assert!(
        matches!(&outcomes[1], Err(StoreError::SeatsTaken(seats)) if seats == &["A1"]),
        "{outcomes:?}"
    );
    assert!(
        store.booking(rival.record.id).await.is_err(),
        "the refused claim is not here"
    );
    for held in [&holder, &before, &after] {
        let booking = store.booking(held.record.id).await.unwrap();
        assert_eq!(booking.status, BookingStatus::Confirmed);
    }
    let taken: BTreeSet<String> = store
        .taken_seats(showtime)
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.seat_label)
        .collect();
    assert_eq!(taken, ["A1", "A2", "A4"].map(String::from).into());
}

/// Two peers' pushes of the same rival bookings, listed in opposite orders,
/// merged at the same moment again and again: both transactions go in,
/// neither fails (their seats are locked in one order), and each seat ends
/// with the latest claim on it.
#[tokio::test]
async fn copies_merged_together_from_two_peers_at_once_settle_without_failing() {
    let (store, _, showtime) = fresh_store("batches_at_once").await;
    for round in 0..20u32 {
        let seat = |n: u32| 10 * round + n;
        let op = |n: u64| 10 * u64::from(round) + n;
        // Pairs of rivals on one seat each, and one booking across them all.
        let mut copies: Vec<BookingReplica> = (1..=4)
            .flat_map(|n| {
                [
                    copy(showtime, &[seat(n)], (2, op(u64::from(n))), 3),
                    copy(showtime, &[seat(n)], (3, op(u64::from(n))), 5),
                ]
            })
            .collect();
        copies.push(copy(showtime, &[seat(1), seat(4)], (4, op(1)), 4));
        let in_order: Vec<&BookingReplica> = copies.iter().collect();
        let reversed: Vec<&BookingReplica> = copies.iter().rev().collect();
        let (first, second) = tokio::join!(
            store.merge_replicas(&in_order),
            store.merge_replicas(&reversed)
        );
        for outcomes in [first.unwrap(), second.unwrap()] {
            assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
        }
        // The later of each pair holds its seat; the earlier, and the one
        // across them (later than the first of each pair only), lose.
        for (index, replica) in copies.iter().enumerate() {
            let later_of_a_pair = index < 8 && index % 2 == 1;
            let status = store.booking(replica.record.id).await.unwrap().status;
            let expected = if later_of_a_pair {
                BookingStatus::Confirmed
            } else {
                BookingStatus::Lost
            };
            assert_eq!(status, expected, "round {round}, copy {index}");
        }
    }
}

/// Two bookings that share seats, listing them in opposite orders, made at
/// the same moment again and again: one takes the seats and the other is
/// told they are taken, never an error of the database's (two writers
/// taking the same seats in opposite orders would wait for each other).
#[tokio::test]
async fn bookings_sharing_seats_in_opposite_orders_never_deadlock() {
    let (store, _, showtime) = fresh_store("opposite_orders").await;
    let booking = |seats: [&str; 2]| {
        let store = store.clone();
        let seats: Vec<(String, i64)> = seats.iter().map(|s| (s.to_string(), 1000)).collect();
        async move {
            let deps = Frontier::default();
            let by = Decider {
                node: NODE,
                epoch: 1,
                deps: &deps,
            };
            let record = NewBookingRecord {
                seats,
                ..record(showtime, "A1")
            };
            store.insert_booking(&record, &by).await
        }
    };
    let rows = ["A", "B", "C", "D", "E", "F", "G", "H"];
    for row in rows {
        for number in (1..=18).step_by(2) {
            let (first, second) = (format!("{row}{number}"), format!("{row}{}", number + 1));
            let (one, other) = tokio::join!(booking([&first, &second]), booking([&second, &first]));
            let won = [&one, &other].iter().filter(|r| r.is_ok()).count();
            for result in [&one, &other] {
                assert!(
                    matches!(result, Ok(_) | Err(StoreError::SeatsTaken(_))),
                    "{first}+{second}: {result:?}"
                );
            }
            assert_eq!(won, 1, "{first}+{second}: {one:?} / {other:?}");
        }
    }
}

/// Bookings asked for at the same moment are written together, in one
/// call: each is decided against the others as if written one by one.
#[tokio::test]
async fn bookings_written_together_are_decided_one_by_one() {
    let (store, _, showtime) = fresh_store("together").await;
    let deps = Frontier::default();
    let by = Decider {
        node: NODE,
        epoch: 1,
        deps: &deps,
    };
    let first = record(showtime, "D1");
    let same_seat = record(showtime, "D1");
    let retried = NewBookingRecord {
        seats: vec![("D2".to_string(), 1000)],
        ..first.clone()
    };
    let other = record(showtime, "D3");
    let (first_op, same_seat, retried, other_op) = tokio::join!(
        store.insert_booking(&first, &by),
        store.insert_booking(&same_seat, &by),
        store.insert_booking(&retried, &by),
        store.insert_booking(&other, &by),
    );
    assert!(matches!(same_seat, Err(StoreError::SeatsTaken(ref seats)) if seats == &["D1"]));
    assert!(
        matches!(retried, Err(StoreError::AlreadyHeld)),
        "{retried:?}"
    );
    assert_eq!(
        numbers([first_op.unwrap(), other_op.unwrap()]),
        BTreeSet::from([1, 2])
    );
    let held = store.taken_seats(showtime).await.unwrap();
    let mut labels: Vec<&str> = held.iter().map(|seat| seat.seat_label.as_str()).collect();
    labels.sort_unstable();
    assert_eq!(labels, ["D1", "D3"]);
    assert_counts_kept(&store, "bookings written together").await;
}

/// A seat another transaction takes after the writer checked it, before
/// the writer's insert, ends the call; the call is made again, and the
/// booking is told the seat is taken, not that the database failed.
#[tokio::test]
async fn a_seat_taken_by_another_transaction_mid_call_is_reported_taken() {
    let (store, _, showtime) = fresh_store("mid_call").await;
    let mut rival = store.pool().begin().await.unwrap();
    let rival_id = Uuid::new_v4();
    sqlx::query(
        "INSERT INTO bookings (id, user_id, user_name, showtime_id, total_cents, status, \
             logical_clock, vector_clock, processed_by, \"timestamp\", made_in_epoch, made_with_deps) \
         VALUES ($1, 'rival', 'Rival', $2, 1000, 'confirmed', 1, '{}', 'node-2', now(), 1, '[]')",
    )
    .bind(rival_id)
    .bind(showtime)
    .execute(&mut *rival)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO booking_seats (booking_id, showtime_id, seat_label, price_cents) \
         VALUES ($1, $2, 'E5', 1000)",
    )
    .bind(rival_id)
    .bind(showtime)
    .execute(&mut *rival)
    .await
    .unwrap();
    // The writer's check cannot see the rival's seat yet; its insert waits
    // for the rival's transaction.
    let writing = tokio::spawn({
        let store = store.clone();
        async move { book(&store, showtime, "E5").await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(!writing.is_finished(), "the insert waits for the rival");
    rival.commit().await.unwrap();
    let outcome = writing.await.unwrap();
    assert!(
        matches!(outcome, Err(StoreError::SeatsTaken(ref seats)) if seats == &["E5"]),
        "{outcome:?}"
    );
    // Nothing of the refused booking was numbered: the next op is the first.
    let (_, next) = book(&store, showtime, "E6").await.unwrap();
    assert_eq!(next.number, 1);
}

/// A writer answers a new booking as written only while no booking's
/// status can have changed: its own writes keep the quiet, a copy merged
/// or a decision made ends it (and a new mark starts after them).
#[tokio::test]
async fn a_merged_copy_or_a_decision_ends_the_quiet_a_writer_answers_by() {
    let (store, _, showtime) = fresh_store("quiet").await;
    let mark = store.quiet_mark().expect("nothing under way");
    let (booked, _) = book(&store, showtime, "F1").await.unwrap();
    assert!(store.quiet_since(mark), "a new booking changes no status");

    store
        .merge_replica(&copy(showtime, &[7], (2, 1), 9))
        .await
        .unwrap();
    assert!(
        store.quiet_since(mark),
        "a copy that settles alone displaces no one"
    );
    let mut rival = copy(showtime, &[7], (2, 2), 10);
    rival.record.seats = vec![("F1".into(), 1000)];
    rival.record.epoch = 2;
    store.merge_replica(&rival).await.unwrap();
    assert!(
        !store.quiet_since(mark),
        "a copy a rival contests may displace a booking"
    );
    assert_eq!(
        store.booking(booked).await.unwrap().status,
        BookingStatus::Lost,
        "and did"
    );

    let (kept, _) = book(&store, showtime, "F2").await.unwrap();
    let mark = store.quiet_mark().expect("the merge has ended");
    let deps = Frontier::default();
    let by = Decider {
        node: NODE,
        epoch: 1,
        deps: &deps,
    };
    store.cancel_booking(kept, &by).await.unwrap().unwrap();
    assert!(!store.quiet_since(mark), "a decision changes a status");
    assert!(store.quiet_mark().is_some(), "and has ended");
    assert_counts_kept(&store, "a booking displaced, one cancelled").await;
}

/// The set-based fast path changes no outcome: random batches of rival,
/// duplicate, cancelled, withdrawn and uncontested copies (last-write-wins
/// and first-claim alike), merged batch by batch into one database as
/// replicas merge them and into another by the per-copy rules alone,
/// answer the same for every copy and leave the same bookings, ops and
/// seats held.
#[tokio::test]
async fn merging_set_based_or_by_the_rules_gives_the_same_result() {
    let (fast, _, showtime) = fresh_store("fast_path").await;
    let (by_rules, _, _) = fresh_store("by_rules").await;
    let mut rng = cluster::rng::SplitMix64::new(24);
    for run in 0..60u32 {
        let claims = run % 3 == 0;
        let copies = random_copies(&mut rng, showtime, run, claims);
        let mut rest: &[BookingReplica] = &copies;
        while !rest.is_empty() {
            let size = 1 + rng.index(rest.len().min(8));
            let (batch, later) = rest.split_at(size);
            rest = later;
            let batch: Vec<&BookingReplica> = batch.iter().collect();
            let answered = |outcomes: Vec<Result<_, StoreError>>| {
                outcomes
                    .into_iter()
                    .map(|outcome| format!("{outcome:?}"))
                    .collect::<Vec<_>>()
            };
            let set_based = answered(fast.merge_replicas(&batch).await.unwrap());
            let per_copy = answered(by_rules.merge_replicas_by_the_rules(&batch).await.unwrap());
            assert_eq!(set_based, per_copy, "run {run}: the answers differ");
        }
        for copy in &copies {
            let held = |store: &Store| {
                let store = store.clone();
                let id = copy.record.id;
                async move {
                    store.replica(id).await.unwrap().map(|mut replica| {
                        replica.written_at = None;
                        replica
                    })
                }
            };
            assert_eq!(held(&fast).await, held(&by_rules).await, "run {run}");
        }
        let context = format!("run {run}");
        assert_counts_kept(&fast, &format!("{context}, set-based")).await;
        assert_counts_kept(&by_rules, &format!("{context}, by the rules")).await;
    }
    let seats = |store: &Store| {
        let store = store.clone();
        async move {
            let mut taken: Vec<(String, String)> = store
                .taken_seats(showtime)
                .await
                .unwrap()
                .into_iter()
                .map(|t| (t.seat_label, t.user_id))
                .collect();
            taken.sort();
            taken
        }
    };
    let taken = seats(&fast).await;
    assert!(!taken.is_empty());
    assert_eq!(taken, seats(&by_rules).await);
}

/// Copies as replicas receive them: bookings of one to three of five seats
/// (numbered apart for each run), some on seats of their own, some coming
/// again later cancelled or withdrawn, in a random order.
fn random_copies(
    rng: &mut cluster::rng::SplitMix64,
    showtime: i64,
    run: u32,
    claims: bool,
) -> Vec<BookingReplica> {
    let seat = |n: u64| 1000 + 20 * run + n as u32;
    let mut copies = Vec::new();
    for k in 0..rng.between(4, 12) {
        let origin = rng.between(1, 3) as u32;
        let number = 1000 * u64::from(run) + 10 * k;
        let seats: Vec<u32> = if rng.chance(0.3) {
            vec![seat(10 + k)]
        } else {
            let mut seats: Vec<u32> = (0..rng.between(1, 3))
                .map(|_| seat(rng.between(1, 5)))
                .collect();
            seats.sort();
            seats.dedup();
            seats
        };
        let mut made = copy(showtime, &seats, (origin, number), rng.between(1, 50));
        if claims {
            made.record.mode = "multi-master/strong".parse().unwrap();
        }
        if rng.chance(0.25) {
            let mut decided = made.clone();
            decided.status = if rng.chance(0.5) {
                BookingStatus::Cancelled
            } else {
                BookingStatus::Lost
            };
            decided.status_epoch = 1;
            decided.ops.push(OpId {
                origin,
                number: number + 1,
            });
            copies.push(decided);
        }
        copies.push(made);
    }
    for i in (1..copies.len()).rev() {
        copies.swap(i, rng.index(i + 1));
    }
    copies
}
