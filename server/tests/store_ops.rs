//! This node's ops in its own database: numbered after they commit, many
//! at a time, with no gap and none twice, even when writes fail or the node
//! stops between a commit and its numbering; and a peer's digest answered
//! with everything it lacks, however many ops it holds past a gap.

use chrono::Utc;
use cluster::replication::{Applied, Frontier, Mode, OpId};
use moviebook::store::{url_with_database, Decider, NewBookingRecord, Store, StoreError};
use std::collections::BTreeSet;
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
