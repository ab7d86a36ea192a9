//! What the harness does to any process it starts: find the `moviebook`
//! binary, read the process's log for where it listens (keeping the log),
//! and send it signals.

use std::path::PathBuf;
use std::process::Child;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a process may take to say where it listens (a node migrates
/// its database first).
const ADDRESS_PATIENCE: Duration = Duration::from_secs(60);

/// The `moviebook` binary in the folder of the program running now, where
/// cargo builds it beside `moviebook-bench`. (An integration test names
/// its own: `env!("CARGO_BIN_EXE_moviebook")`.)
pub fn moviebook_beside_this_program() -> anyhow::Result<PathBuf> {
    Ok(std::env::current_exe()?.with_file_name("moviebook"))
}

/// Everything a process wrote to its standard output, as it is read.
pub type KeptLog = Arc<Mutex<String>>;

/// The address a process says it listens on, read from its log (its piped
/// standard output), and all of that log, kept as it is read in the
/// background so the pipe never fills; every line is copied to this
/// process's standard error too when `echoed`.
pub fn listening_address(process: &mut Child, echoed: bool) -> anyhow::Result<(String, KeptLog)> {
    use std::io::BufRead;
    let stdout = process
        .stdout
        .take()
        .ok_or_else(|| anyhow::anyhow!("the process's standard output is not piped"))?;
    let (found, address) = std::sync::mpsc::channel();
    let output = KeptLog::default();
    let kept = output.clone();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if echoed {
                eprintln!("{line}");
            }
            if let Ok(mut kept) = kept.lock() {
                kept.push_str(&line);
                kept.push('\n');
            }
            if let Some((_, rest)) = line.split_once("listening on http://") {
                // Plain text ends the address with a space, JSON with a quote.
                let address = rest
                    .split(|c: char| c.is_whitespace() || c == '"')
                    .next()
                    .unwrap_or_default();
                let _ = found.send(address.to_string());
            }
        }
    });
    let address = address.recv_timeout(ADDRESS_PATIENCE).map_err(|_| {
        anyhow::anyhow!("the process did not say where it listens within {ADDRESS_PATIENCE:?}")
    })?;
    Ok((address, output))
}

/// Sends `signal` to `process`, a child of this process: its pid stays its
/// own until it is waited for, so the signal reaches it or it has ended.
pub fn signal(process: &Child, signal: libc::c_int) -> std::io::Result<()> {
    let pid = libc::pid_t::try_from(process.id()).map_err(std::io::Error::other)?;
    // SAFETY: kill(2) on our own child has no memory effects.
    if unsafe { libc::kill(pid, signal) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
