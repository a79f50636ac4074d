//! A real PostgreSQL for tests: Debian's PostgreSQL server binaries, `initdb` into a temporary
//! directory (as the `postgres` user when the tests run as root, since PostgreSQL refuses to
//! run as root), started on loopback only on a free port, no system service. Stopped (and its
//! directory removed) when the handle drops; the server also dies with the test process.
//!
//! When the binaries are missing the PostgreSQL cases are skipped with a message, unless
//! `CANDOR_REQUIRE_INTEGRATIONS=1` (set by `.ci/run`), which makes that a failure.
//! `CANDOR_PG_BIN` points at another `bin` directory.
#![allow(dead_code)]

use std::os::unix::fs::chown;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct Postgres {
    dir: tempfile::TempDir,
    port: u16,
    child: Child,
    bin: PathBuf,
    owner: Option<(u32, u32)>,
}

fn bin_dir() -> Option<PathBuf> {
    if let Ok(b) = std::env::var("CANDOR_PG_BIN") {
        return Some(PathBuf::from(b));
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists() && b.join("postgres").exists())
        .collect();
    found.sort();
    found.pop()
}

/// uid and gid of the `postgres` user, read from the account database.
fn postgres_user() -> Option<(u32, u32)> {
    let out = Command::new("id").arg("-u").arg("postgres").output().ok()?;
    let uid = String::from_utf8(out.stdout).ok()?.trim().parse().ok()?;
    let out = Command::new("id").arg("-g").arg("postgres").output().ok()?;
    let gid = String::from_utf8(out.stdout).ok()?.trim().parse().ok()?;
    Some((uid, gid))
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Postgres {
    /// Start a fresh server, or `None` (after saying why) when PostgreSQL is not installed.
    pub fn start() -> Option<Postgres> {
        let Some(bin) = bin_dir() else {
            if std::env::var("CANDOR_REQUIRE_INTEGRATIONS").as_deref() == Ok("1") {
                panic!("PostgreSQL server binaries not found (apt-get install postgresql-15)");
            }
            eprintln!("SKIPPED: PostgreSQL not installed (apt-get install postgresql-15)");
            return None;
        };
        let owner = if is_root() {
            Some(postgres_user().expect("running as root, but there is no postgres user"))
        } else {
            None
        };
        let dir = tempfile::Builder::new()
            .prefix("candor-pg")
            .tempdir()
            .unwrap();
        let data = dir.path().join("data");
        let sock = dir.path().join("sock");
        std::fs::create_dir(&data).unwrap();
        std::fs::create_dir(&sock).unwrap();
        if let Some((u, g)) = owner {
            for p in [dir.path(), &data, &sock] {
                chown(p, Some(u), Some(g)).unwrap();
            }
        }
        let run = |cmd: &mut Command| {
            if let Some((u, g)) = owner {
                cmd.uid(u).gid(g);
            }
            cmd.env_remove("PGDATA").env("LC_ALL", "C.UTF-8");
        };
        let mut initdb = Command::new(bin.join("initdb"));
        initdb
            .arg("-D")
            .arg(&data)
            .args(["-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"])
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        run(&mut initdb);
        let out = initdb.output().expect("initdb");
        assert!(
            out.status.success(),
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let child = spawn(&bin, dir.path(), port, owner);
        let mut pg = Postgres {
            dir,
            port,
            child,
            bin,
            owner,
        };
        pg.wait_ready();
        Some(pg)
    }

    fn wait_ready(&mut self) {
        if let Err(why) = self.try_ready() {
            panic!("{why}");
        }
    }

    /// Wait until the server answers; `Err` (with the end of its log) when it exited first
    /// or is not ready after 90 s.
    fn try_ready(&mut self) -> Result<(), String> {
        let t0 = Instant::now();
        loop {
            let ok = Command::new(self.bin.join("pg_isready"))
                .args(["-q", "-h", "127.0.0.1", "-p", &self.port.to_string()])
                .status()
                .map(|s| s.success())
                .unwrap_or(false);
            if ok {
                return Ok(());
            }
            let exited = self.child.try_wait().ok().flatten();
            if exited.is_some() || t0.elapsed() > Duration::from_secs(90) {
                let log =
                    std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(12).collect();
                return Err(format!(
                    "PostgreSQL did not start ({}); its log ends:\n{}",
                    match exited {
                        Some(status) => format!("the server exited: {status}"),
                        None => "not ready after 90 s".into(),
                    },
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Kill the server (SIGKILL: a crash) and start it again on the same data and port. The
    /// killed server's backends (each its own process group) exit on their own a moment later;
    /// until the last has, a new server refuses the data directory ("pre-existing shared
    /// memory block … is still in use"), so the start is retried for up to 30 s.
    pub fn restart(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let t0 = Instant::now();
        loop {
            self.child = spawn(&self.bin, self.dir.path(), self.port, self.owner);
            match self.try_ready() {
                Ok(()) => return,
                Err(why) if t0.elapsed() > Duration::from_secs(30) => panic!("{why}"),
                Err(_) => std::thread::sleep(Duration::from_millis(200)),
            }
        }
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn data_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Create database `name` and return its URL.
    pub fn create_db(&self, name: &str) -> String {
        let out = Command::new(self.bin.join("psql"))
            .args([
                "-q",
                "-h",
                "127.0.0.1",
                "-p",
                &self.port.to_string(),
                "-U",
                "postgres",
            ])
            .args(["-d", "postgres", "-c", &format!("CREATE DATABASE {name}")])
            .output()
            .expect("psql");
        assert!(
            out.status.success(),
            "create database: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        self.url(name)
    }

    pub fn url(&self, name: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{name}", self.port)
    }
}

fn spawn(bin: &Path, dir: &Path, port: u16, owner: Option<(u32, u32)>) -> Child {
    let mut server = Command::new(bin.join("postgres"));
    server
        .arg("-D")
        .arg(dir.join("data"))
        .arg("-p")
        .arg(port.to_string())
        .arg("-k")
        .arg(dir.join("sock"))
        .args([
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "shared_buffers=32MB",
            "-c",
            "max_connections=60",
        ])
        .env_remove("PGDATA")
        .stdout(Stdio::null())
        .stderr(server_log(dir));
    if let Some((u, g)) = owner {
        server.uid(u).gid(g);
    }
    // The server dies with the test process, even when it aborts.
    unsafe {
        server.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            Ok(())
        });
    }
    server.spawn().expect("postgres")
}

/// The server's own log (appended across restarts), read when it does not start.
fn server_log(dir: &Path) -> Stdio {
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .map(Stdio::from)
        .unwrap_or_else(|_| Stdio::null())
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
