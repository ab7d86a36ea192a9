//! The project-local PostgreSQL server: a cluster created with `initdb` in a
//! directory of the project and run with `pg_ctl` on a free local port.
//! PostgreSQL refuses to run as root, so as root it runs as the `postgres`
//! system user.

use anyhow::{anyhow, bail, Context};
use std::path::{Path, PathBuf};
use tokio::process::Command;

/// The superuser the cluster is created with; local connections are trusted.
const SUPERUSER: &str = "moviebook";
/// Where Debian installs the server binaries, one folder per major version.
const DEBIAN_POSTGRES_DIR: &str = "/usr/lib/postgresql";

pub struct LocalPostgres {
    bin_dir: PathBuf,
    data_dir: PathBuf,
    port: u16,
    run_as_postgres_user: bool,
    /// This process started the server (it was not running already).
    pub started_here: bool,
}

impl LocalPostgres {
    /// Creates the cluster in `data_dir` if it does not exist, starts it
    /// unless it is already running, and waits until it accepts connections.
    pub async fn start(data_dir: &Path) -> anyhow::Result<Self> {
        let bin_dir = find_binaries()?;
        let run_as_postgres_user = running_as_root();
        std::fs::create_dir_all(data_dir)
            .with_context(|| format!("cannot create {}", data_dir.display()))?;
        let data_dir = data_dir
            .canonicalize()
            .with_context(|| format!("cannot resolve {}", data_dir.display()))?;
        let mut pg = LocalPostgres {
            bin_dir,
            data_dir,
            port: 0,
            run_as_postgres_user,
            started_here: false,
        };
        if run_as_postgres_user {
            pg.hand_over_to_postgres_user().await?;
        }
        if !pg.data_dir.join("PG_VERSION").exists() {
            println!(
                "Creating a local PostgreSQL cluster in {}",
                pg.data_dir.display()
            );
            pg.run(
                "initdb",
                &[
                    "-D",
                    &pg.data_dir.to_string_lossy(),
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--locale=C",
                ],
            )
            .await?;
        }
        if let Some(port) = pg.running_port().await {
            pg.port = port;
            println!("Reusing the local PostgreSQL already running on port {port}");
            return Ok(pg);
        }
        pg.port = free_port()?;
        let options = format!(
            "-p {} -c listen_addresses=127.0.0.1 -c unix_socket_directories='' -c max_connections=300",
            pg.port
        );
        let log = pg.data_dir.join("server.log");
        pg.run(
            "pg_ctl",
            &[
                "-D",
                &pg.data_dir.to_string_lossy(),
                "-l",
                &log.to_string_lossy(),
                "-o",
                &options,
                "-w",
                "-t",
                "60",
                "start",
            ],
        )
        .await
        .with_context(|| format!("PostgreSQL did not start; see {}", log.display()))?;
        println!("Local PostgreSQL is running on port {}", pg.port);
        pg.started_here = true;
        Ok(pg)
    }

    /// A connection URL for `database` on this server.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{SUPERUSER}@127.0.0.1:{}/{database}", self.port)
    }

    /// Stops the server with a fast shutdown (open transactions roll back).
    pub async fn stop(&self) {
        let data_dir = self.data_dir.to_string_lossy().to_string();
        match self
            .run("pg_ctl", &["-D", &data_dir, "-m", "fast", "-w", "stop"])
            .await
        {
            Ok(()) => println!("Local PostgreSQL stopped"),
            Err(e) => eprintln!("Could not stop the local PostgreSQL: {e:#}"),
        }
    }

    /// Stops the server in `data_dir` if one is running there.
    pub async fn stop_in(data_dir: &Path) -> anyhow::Result<()> {
        let pg = LocalPostgres {
            bin_dir: find_binaries()?,
            data_dir: data_dir.canonicalize()?,
            port: 0,
            run_as_postgres_user: running_as_root(),
            started_here: false,
        };
        if pg.running_port().await.is_some() {
            pg.stop().await;
        }
        Ok(())
    }

    /// The port of a server already running on this cluster, if any.
    async fn running_port(&self) -> Option<u16> {
        let data_dir = self.data_dir.to_string_lossy().to_string();
        self.run("pg_ctl", &["-D", &data_dir, "status"])
            .await
            .ok()?;
        // Line 4 of postmaster.pid is the port the server listens on.
        let pid_file = std::fs::read_to_string(self.data_dir.join("postmaster.pid")).ok()?;
        pid_file.lines().nth(3)?.trim().parse().ok()
    }

    /// As root: the cluster directory must belong to `postgres`, and every
    /// directory above it must let `postgres` through.
    async fn hand_over_to_postgres_user(&self) -> anyhow::Result<()> {
        let status = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(&self.data_dir)
            .status()
            .await
            .context("cannot run chown")?;
        if !status.success() {
            bail!(
                "cannot give {} to the postgres user",
                self.data_dir.display()
            );
        }
        let reachable = Command::new("runuser")
            .args(["-u", "postgres", "--", "test", "-w"])
            .arg(&self.data_dir)
            .status()
            .await
            .map(|s| s.success())
            .unwrap_or(false);
        if !reachable {
            bail!(
                "the postgres user cannot reach {} (a parent directory is closed to it); \
                 put the project where other users can read it, or set DATABASE_URL",
                self.data_dir.display()
            );
        }
        Ok(())
    }

    async fn run(&self, program: &str, args: &[&str]) -> anyhow::Result<()> {
        let binary = self.bin_dir.join(program);
        let mut command = if self.run_as_postgres_user {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(&binary);
            c
        } else {
            Command::new(&binary)
        };
        let output = command
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .with_context(|| format!("cannot run {}", binary.display()))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(anyhow!(
                "{program} failed: {}{}",
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ))
        }
    }
}

/// The directory with `initdb` and `pg_ctl`: the newest Debian version, or
/// wherever `pg_config --bindir` says.
fn find_binaries() -> anyhow::Result<PathBuf> {
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir(DEBIAN_POSTGRES_DIR)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Ok(bin);
    }
    if let Ok(output) = std::process::Command::new("pg_config")
        .arg("--bindir")
        .output()
    {
        let bin = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
        if bin.join("initdb").exists() {
            return Ok(bin);
        }
    }
    bail!(
        "PostgreSQL server binaries not found: install them (Debian: `apt-get install postgresql`) \
         or set DATABASE_URL to a running server"
    )
}

fn running_as_root() -> bool {
    std::process::Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").context("no free local port")?;
    Ok(listener.local_addr()?.port())
}
