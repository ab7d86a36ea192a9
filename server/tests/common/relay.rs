//! TCP relays the tests can cut: put one on a link and the test decides
//! what crosses it. `cut` silences the connections open now, as when the
//! far end vanishes without a word (half-open connections); `block` does
//! that and refuses new connections too, as a partition would, until
//! `heal`.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

pub struct Relay {
    pub address: String,
    cuts: Arc<AtomicU64>,
    blocked: Arc<AtomicBool>,
}

impl Relay {
    /// A relay on a free local port to `target` ("host:port").
    pub async fn start(target: String) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let cuts = Arc::new(AtomicU64::new(0));
        let blocked = Arc::new(AtomicBool::new(false));
        let (relay_cuts, relay_blocked) = (cuts.clone(), blocked.clone());
        tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                // Read before the block is looked at (`block` sets it, then
                // cuts): a block that comes while the relay connects to the
                // target silences this connection too, instead of leaving
                // it open across the partition.
                let born = relay_cuts.load(Ordering::SeqCst);
                if relay_blocked.load(Ordering::SeqCst) {
                    drop(inbound);
                    continue;
                }
                let Ok(outbound) = tokio::net::TcpStream::connect(&target).await else {
                    continue;
                };
                let (in_read, in_write) = inbound.into_split();
                let (out_read, out_write) = outbound.into_split();
                tokio::spawn(pipe(in_read, out_write, relay_cuts.clone(), born));
                tokio::spawn(pipe(out_read, in_write, relay_cuts.clone(), born));
            }
        });
        Relay {
            address,
            cuts,
            blocked,
        }
    }

    /// Silences every connection open now; new ones relay as usual.
    pub fn cut(&self) {
        self.cuts.fetch_add(1, Ordering::SeqCst);
    }

    /// Silences every connection open now and refuses new ones.
    pub fn block(&self) {
        self.blocked.store(true, Ordering::SeqCst);
        self.cut();
    }

    /// Relays new connections again.
    pub fn heal(&self) {
        self.blocked.store(false, Ordering::SeqCst);
    }
}

/// Copies bytes until the connection is cut; after that, reads and drops
/// them, so the writer never hears that nobody listens.
async fn pipe(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    cuts: Arc<AtomicU64>,
    born: u64,
) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut buffer = vec![0u8; 16 * 1024];
    loop {
        let Ok(read) = from.read(&mut buffer).await else {
            return;
        };
        if read == 0 {
            // Keep our side open, as a vanished peer would.
            std::future::pending::<()>().await;
        }
        if cuts.load(Ordering::SeqCst) == born && to.write_all(&buffer[..read]).await.is_err() {
            return;
        }
    }
}

/// A cluster whose every link (from one node to another) runs through a
/// relay of its own, so a test can cut any node off from any other.
pub struct Links {
    relays: std::collections::BTreeMap<(u32, u32), Relay>,
}

impl Links {
    /// Specs for an `n`-node cluster whose nodes reach each other only
    /// through relays, and the relays.
    pub async fn cluster(test_name: &str, n: u32) -> (Vec<super::NodeSpec>, Links) {
        // Held while the relays bind, so that none is given a node's port.
        let held = super::hold_free_ports(n as usize);
        let ports = super::ports_of(&held);
        let mut relays = std::collections::BTreeMap::new();
        for from in 1..=n {
            for to in (1..=n).filter(|&to| to != from) {
                let target = format!("127.0.0.1:{}", ports[(to - 1) as usize]);
                relays.insert((from, to), Relay::start(target).await);
            }
        }
        drop(held);
        let specs = super::linked_specs(test_name, &ports, |from, to| {
            relays[&(from, to)].address.clone()
        });
        (specs, Links { relays })
    }

    /// Cuts node `id` off from every other node, both ways.
    pub fn isolate(&self, id: u32) {
        for ((from, to), relay) in &self.relays {
            if *from == id || *to == id {
                relay.block();
            }
        }
    }

    /// Cuts the link from node `from` to node `to` (one way).
    pub fn block(&self, from: u32, to: u32) {
        self.relays[&(from, to)].block();
    }

    /// Every link carries traffic again.
    pub fn heal(&self) {
        self.relays.values().for_each(Relay::heal);
    }
}
