//! Ports for the processes to listen on, free when they are chosen.

use std::net::TcpListener;

/// `n` distinct free ports, found by holding all of them open at once.
pub fn free_ports(n: usize) -> Vec<u16> {
    ports_of(&hold_free_ports(n))
}

/// `n` distinct free ports, held open until the listeners are dropped, so
/// nothing else in this process (a relay, say) can be given one meanwhile.
pub fn hold_free_ports(n: usize) -> Vec<TcpListener> {
    (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect()
}

/// The ports the listeners are bound to.
pub fn ports_of(listeners: &[TcpListener]) -> Vec<u16> {
    listeners
        .iter()
        .map(|l| l.local_addr().expect("a bound address").port())
        .collect()
}

/// The first of `n` consecutive ports that are free now, for a process
/// that numbers its ports from one (`moviebook up`: the gateway's, then
/// one per node). The search starts at a place of its own for each
/// process, so that runs side by side rarely try the same ports.
pub fn consecutive_free_ports(n: u16) -> anyhow::Result<u16> {
    let start = 20_000 + (std::process::id() % 20_000) as u16;
    (start..60_000)
        .step_by(usize::from(n) + 3)
        .find(|&base| {
            let held: Vec<_> = (base..base + n)
                .map_while(|port| TcpListener::bind(("127.0.0.1", port)).ok())
                .collect();
            held.len() == usize::from(n)
        })
        .ok_or_else(|| anyhow::anyhow!("no {n} consecutive free ports"))
}
