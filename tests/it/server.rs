//! The real binary: start it on each backend, ask /healthz, stop it.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{BACKENDS, TestDb};

/// A running `postdesk serve`, stopped when dropped.
pub struct Server {
    child: Child,
    /// Its listen address.
    pub addr: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Starts `postdesk serve` on a free port and waits until it answers.
pub fn start(data: &std::path::Path, database_url: &str) -> Server {
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .args(["--data", &data.display().to_string()])
        .env("POSTDESK_LISTEN", &addr)
        .env("POSTDESK_DATABASE_URL", database_url)
        .env("POSTDESK_INSTALLED", "true")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start postdesk");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let line = rx
        .recv_timeout(Duration::from_secs(30))
        .expect("postdesk printed its URL");
    assert!(
        line.starts_with("Postdesk is running: open http://"),
        "{line}"
    );
    Server { child, addr }
}

/// A minimal HTTP/1.0 GET; returns (status, body).
pub fn http_get(addr: &str, path: &str) -> (u16, String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut stream = loop {
        match TcpStream::connect(addr) {
            Ok(s) => break s,
            Err(e) if Instant::now() < deadline => {
                let _ = e;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(e) => panic!("cannot connect to {addr}: {e}"),
        }
    };
    write!(stream, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").expect("send request");
    let mut raw = String::new();
    stream.read_to_string(&mut raw).expect("read response");
    let status = raw
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = raw
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default();
    (status, body)
}

#[test]
fn binary_serves_healthz_on_every_backend() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let data = tempfile::tempdir().expect("data dir");
        let server = start(data.path(), &db.url);
        let (status, body) = http_get(&server.addr, "/healthz");
        assert_eq!(status, 200, "{backend:?}: {body}");
        assert!(body.contains(backend.name()), "{backend:?}: {body}");
        let (status, css) = http_get(&server.addr, "/static/css/app.css");
        assert_eq!(status, 200);
        assert!(css.contains("Postdesk"));
        assert_eq!(http_get(&server.addr, "/static/../Cargo.toml").0, 404);
    }
}

#[test]
fn fresh_data_dir_starts_the_installer() {
    let data = tempfile::tempdir().expect("data dir");
    let addr = format!("127.0.0.1:{}", free_port());
    let mut child = Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .args(["--data", &data.path().display().to_string(), "serve"])
        .env("POSTDESK_LISTEN", &addr)
        .env_remove("POSTDESK_DATABASE_URL")
        .env_remove("POSTDESK_INSTALLED")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start postdesk");
    let mut banner = String::new();
    if let Some(out) = child.stdout.take() {
        let _ = BufReader::new(out).read_line(&mut banner);
    }
    let (status, body) = http_get(&addr, "/healthz");
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        banner.starts_with(&format!(
            "Postdesk is not installed yet: open http://{addr}/install?token="
        )),
        "{banner}"
    );
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("not installed yet"), "{body}");
}

#[test]
fn bad_config_is_reported_without_a_panic() {
    let data = tempfile::tempdir().expect("data dir");
    std::fs::write(
        data.path().join("postdesk.toml"),
        "[database]\npool_size = \"lots\"\n",
    )
    .expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .args(["--data", &data.path().display().to_string(), "check"])
        .output()
        .expect("run check");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("postdesk.toml") && stderr.contains("`database.pool_size`"),
        "{stderr}"
    );
    assert!(stderr.contains("expected an integer"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn unreachable_database_names_the_server() {
    let data = tempfile::tempdir().expect("data dir");
    let out = Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .args(["--data", &data.path().display().to_string(), "check"])
        .env(
            "POSTDESK_DATABASE_URL",
            format!("postgres://postdesk:pw@127.0.0.1:{}/x", free_port()),
        )
        .output()
        .expect("run check");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        stderr.contains("cannot connect to the PostgreSQL database"),
        "{stderr}"
    );
    assert!(
        stderr.contains("postdesk:***@"),
        "the password is hidden: {stderr}"
    );
}

#[test]
fn check_and_migrate_report_what_they_found() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let data = tempfile::tempdir().expect("data dir");
        let run = |cmd: &str| {
            let out = Command::new(env!("CARGO_BIN_EXE_postdesk"))
                .args(["--data", &data.path().display().to_string(), cmd])
                .env("POSTDESK_DATABASE_URL", &db.url)
                .output()
                .expect("run postdesk");
            assert!(
                out.status.success(),
                "{cmd} on {backend:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).into_owned()
        };
        let n = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/migrations/sqlite"))
            .expect("migrations")
            .count();
        let before = run("check");
        assert!(before.contains(&format!("{n} pending")), "{before}");
        let migrated = run("migrate");
        assert!(
            migrated.contains(&format!("[{n}/{n}]")) && migrated.contains(&format!("applied {n}")),
            "{migrated}"
        );
        let after = run("check");
        assert!(after.contains("migrations: up to date"), "{after}");
        assert!(after.contains("database server:"), "{after}");
    }
}
