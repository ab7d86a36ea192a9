//! A `moviebook gateway` process in front of nodes that run already.

use super::process::listening_address;
use std::path::Path;
use std::process::{Child, Command, Stdio};

/// A `moviebook gateway` process; killed when dropped.
pub struct GatewayProcess {
    pub base_url: String,
    process: Child,
}

impl Drop for GatewayProcess {
    fn drop(&mut self) {
        let _ = self.process.kill();
        let _ = self.process.wait();
    }
}

impl GatewayProcess {
    /// Starts the gateway of `binary` on a port it picks, over the nodes
    /// at `addresses` ("host:port", numbered 1, 2, ... in order), with
    /// `flags` added, logging at level info; returns once it listens. Its
    /// log is copied to this process's standard error when `echoed`.
    pub fn start(
        binary: &Path,
        addresses: &[&str],
        flags: &[&str],
        echoed: bool,
    ) -> anyhow::Result<Self> {
        let members: Vec<String> = addresses
            .iter()
            .enumerate()
            .map(|(i, address)| format!("{}={address}", i + 1))
            .collect();
        let mut process = Command::new(binary)
            .args(["gateway", "--port", "0", "--nodes", &members.join(",")])
            .args(flags)
            .env("RUST_LOG", "info")
            // Its log is read for its address: colours would get in the way.
            .env("NO_COLOR", "1")
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| anyhow::anyhow!("cannot start the gateway: {e}"))?;
        match listening_address(&mut process, echoed) {
            Ok((address, _)) => Ok(GatewayProcess {
                base_url: format!("http://{address}"),
                process,
            }),
            Err(e) => {
                let _ = process.kill();
                let _ = process.wait();
                anyhow::bail!("the gateway: {e}")
            }
        }
    }
}
