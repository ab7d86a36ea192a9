//! `moviebook-bench merge`: a replica's merge alone, with no network and no
//! node around it. Copies of bookings made elsewhere (new bookings of free
//! seats, as nearly every copy a replica takes is) are merged into a
//! prepared node database through `Store::merge_replicas`, the call a
//! replica makes, with 1, 50 or 200 copies a call, one call at a time, for
//! a few seconds each: copies merged per second, to set beside
//! `insert_own_bookings`, the origin's own write, timed the same way.

use chrono::Utc;
use clap::Parser;
use cluster::replication::{Frontier, OpId};
use moviebook::store::{BookingReplica, NewBookingRecord, Store};
use std::time::{Duration, Instant};
use uuid::Uuid;

#[derive(Parser)]
pub struct MergeArgs {
    /// A node's database, migrated and seeded (`moviebook db prepare`).
    #[arg(long)]
    database_url: String,
    /// Copies per call, one timing each.
    #[arg(long, value_delimiter = ',', default_value = "1,50,200")]
    copies_per_call: Vec<usize>,
    /// Seconds each timing lasts.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
}

pub async fn run(args: MergeArgs) -> anyhow::Result<()> {
    let store = Store::connect(&args.database_url, 4).await?;
    // Not the latest showtime: bench.sh times insert_own_bookings on that.
    let showtime: i64 =
        sqlx::query_scalar("SELECT id FROM showtimes ORDER BY id DESC OFFSET 1 LIMIT 1")
            .fetch_one(store.pool())
            .await?;
    // Ops of a node that does not exist here, so none is held already.
    let mut copies = CopyMaker {
        showtime,
        origin: 99,
        next: 0,
    };
    for &per_call in &args.copies_per_call {
        let per_call = per_call.max(1);
        let until = Instant::now() + Duration::from_secs(args.seconds);
        let (started, mut merged) = (Instant::now(), 0usize);
        while Instant::now() < until {
            let batch: Vec<BookingReplica> = (0..per_call).map(|_| copies.next()).collect();
            let refs: Vec<&BookingReplica> = batch.iter().collect();
            let outcomes = store.merge_replicas(&refs).await?;
            merged += outcomes.iter().filter(|outcome| outcome.is_ok()).count();
        }
        let rate = merged as f64 / started.elapsed().as_secs_f64();
        println!("merge alone, {per_call} copies per call, one caller: {rate:.0} copies/s");
    }
    Ok(())
}

/// New bookings of one seat each, on seats no auditorium has (five digits:
/// so no copy meets another), each an op of `origin`.
struct CopyMaker {
    showtime: i64,
    origin: u32,
    next: u64,
}

impl CopyMaker {
    fn next(&mut self) -> BookingReplica {
        self.next += 1;
        let n = self.next;
        let seat = format!("{}{}", char::from(b'A' + (n % 26) as u8), 10_000 + n / 26);
        BookingReplica {
            record: NewBookingRecord {
                id: Uuid::new_v4(),
                user_id: "bench".into(),
                user_name: "Bench".into(),
                showtime_id: self.showtime,
                seats: vec![(seat, 1000)],
                logical_clock: n,
                vector_clock: Default::default(),
                processed_by: format!("node-{}", self.origin),
                timestamp: Utc::now(),
                mode: "master-slave/strong".parse().unwrap_or_default(),
                epoch: 1,
            },
            status: app::model::BookingStatus::Confirmed,
            status_epoch: 1,
            ops: vec![OpId {
                origin: self.origin,
                number: n,
            }],
            deps: Frontier::default(),
            made_with: Frontier::default(),
            lost_to: None,
            written_at: Some(Utc::now()),
        }
    }
}
