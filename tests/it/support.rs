//! Test databases: a fresh database per test on each backend, dropped afterwards.

use std::sync::atomic::{AtomicU32, Ordering};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use postdesk::db::{self, AnyConnection, Backend};

/// Every backend the suite runs against.
pub const BACKENDS: [Backend; 3] = [Backend::Sqlite, Backend::Postgres, Backend::Mysql];

/// Where the PostgreSQL test server is (tests/run starts it).
pub fn postgres_admin_url() -> String {
    std::env::var("POSTDESK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// Where the MariaDB test server is (tests/run starts it).
pub fn mysql_admin_url() -> String {
    std::env::var("POSTDESK_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh, empty database on one backend.
pub struct TestDb {
    /// The URL Postdesk connects to.
    pub url: String,
    /// Which backend.
    pub backend: Backend,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// Creates a fresh database; panics naming the server when it cannot be reached.
    pub fn new(backend: Backend) -> TestDb {
        let name = format!(
            "pdtest_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            chrono::Utc::now().timestamp_subsec_micros()
        );
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir for SQLite");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                TestDb {
                    url,
                    backend,
                    name,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let mut c = diesel::PgConnection::establish(&format!("{admin}/postgres"))
                    .unwrap_or_else(|e| {
                        panic!("PostgreSQL is not reachable at {admin} (tests/run starts it): {e}")
                    });
                c.batch_execute(&format!("CREATE DATABASE {name}"))
                    .expect("create pg database");
                TestDb {
                    url: format!("{admin}/{name}"),
                    backend,
                    name,
                    _dir: None,
                }
            }
            Backend::Mysql => {
                let admin = mysql_admin_url();
                let mut c = diesel::MysqlConnection::establish(&format!("{admin}/mysql"))
                    .unwrap_or_else(|e| {
                        panic!("MariaDB is not reachable at {admin} (tests/run starts it): {e}")
                    });
                c.batch_execute(&format!(
                    "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                ))
                .expect("create mysql database");
                TestDb {
                    url: format!("{admin}/{name}"),
                    backend,
                    name,
                    _dir: None,
                }
            }
        }
    }

    /// A connection with every migration applied.
    pub fn migrated(&self) -> AnyConnection {
        let mut conn = db::establish(&self.url).expect("connect to test database");
        db::run_migrations(&mut conn).expect("migrations run");
        conn
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match self.backend {
            Backend::Sqlite => {}
            Backend::Postgres => {
                if let Ok(mut c) =
                    diesel::PgConnection::establish(&format!("{}/postgres", postgres_admin_url()))
                {
                    let _ = c.batch_execute(&format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        self.name
                    ));
                }
            }
            Backend::Mysql => {
                if let Ok(mut c) =
                    diesel::MysqlConnection::establish(&format!("{}/mysql", mysql_admin_url()))
                {
                    let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {}", self.name));
                }
            }
        }
    }
}

/// One private IMAP account on the Dovecot instance that tests/run starts.
pub struct ImapAccount {
    /// Login name (`pdN`).
    pub user: String,
    /// Its password.
    pub password: String,
    /// Plain/STARTTLS port.
    pub port: u16,
    /// Implicit TLS port.
    pub tls_port: u16,
    /// The server's certificate (PEM), for TLS verification.
    pub cert: String,
}

static IMAP_USER: AtomicU32 = AtomicU32::new(0);

fn env_port(name: &str) -> u16 {
    std::env::var(name)
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| {
            panic!("{name} is not set: run the suite with tests/run, which starts Dovecot")
        })
}

impl ImapAccount {
    /// A fresh account (each test gets its own Maildir).
    pub fn new() -> ImapAccount {
        let n = IMAP_USER.fetch_add(1, Ordering::SeqCst) + 1;
        assert!(n <= 64, "tests/run creates 64 IMAP users; raise it there");
        ImapAccount {
            user: format!("pd{n}"),
            password: "secret".into(),
            port: env_port("POSTDESK_TEST_IMAP_PORT"),
            tls_port: env_port("POSTDESK_TEST_IMAPS_PORT"),
            cert: std::env::var("POSTDESK_TEST_IMAP_CERT").unwrap_or_default(),
        }
    }

    /// A logged-in session over plain IMAP.
    pub fn session(&self) -> imap::Session<imap::Connection> {
        imap::ClientBuilder::new("127.0.0.1", self.port)
            .mode(imap::ConnectionMode::Plaintext)
            .connect()
            .expect("connect to Dovecot")
            .login(&self.user, &self.password)
            .map_err(|(e, _)| e)
            .expect("log in to Dovecot")
    }

    /// Delivers raw messages into `folder` with APPEND (creating the folder if needed).
    pub fn append(&self, folder: &str, messages: &[Vec<u8>]) {
        let mut s = self.session();
        if folder != "INBOX" {
            let _ = s.create(folder);
        }
        for m in messages {
            s.append(folder, m).finish().expect("APPEND");
        }
        let _ = s.logout();
    }

    /// UIDs in `folder` carrying the \Seen flag.
    pub fn seen_uids(&self, folder: &str) -> Vec<u32> {
        let mut s = self.session();
        s.select(folder).expect("select");
        let mut v: Vec<u32> = s.uid_search("SEEN").expect("search").into_iter().collect();
        v.sort_unstable();
        let _ = s.logout();
        v
    }

    /// How many messages `folder` holds.
    pub fn count(&self, folder: &str) -> u32 {
        let mut s = self.session();
        let n = s.examine(folder).expect("examine").exists;
        let _ = s.logout();
        n
    }
}

/// A simple message from `from` with the given id and optional In-Reply-To.
pub fn message(
    from: &str,
    subject: &str,
    id: &str,
    in_reply_to: Option<&str>,
    body: &str,
) -> Vec<u8> {
    let mut m = format!(
        "From: {from}\r\nTo: Support <support@company.test>\r\nSubject: {subject}\r\nMessage-ID: <{id}>\r\nDate: Mon, 6 Jan 2025 10:00:00 +0300\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
    );
    if let Some(r) = in_reply_to {
        m.push_str(&format!("In-Reply-To: <{r}>\r\nReferences: <{r}>\r\n"));
    }
    m.push_str("\r\n");
    m.push_str(body);
    m.push_str("\r\n");
    m.into_bytes()
}

/// A capture SMTP server (tests/smtp_capture.py) on a free loopback port.
pub struct SmtpCapture {
    /// Its port.
    pub port: u16,
    /// Where captured messages land as NNNN.eml.
    pub dir: tempfile::TempDir,
    child: std::process::Child,
}

impl SmtpCapture {
    /// Starts one on a free port.
    pub fn start() -> SmtpCapture {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        Self::start_on(port)
    }

    /// Starts one that wants `mode` ("starttls" or "tls") with Dovecot's test certificate
    /// (`POSTDESK_TEST_IMAP_CERT`, for `localhost`) and AUTH as agent / secret.
    pub fn start_secure(mode: &str) -> SmtpCapture {
        let cert = std::env::var("POSTDESK_TEST_IMAP_CERT").unwrap_or_else(|_| {
            panic!("POSTDESK_TEST_IMAP_CERT is not set: run the suite with tests/run")
        });
        let key = std::path::Path::new(&cert).with_file_name("key.pem");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("port")
            .port();
        Self::spawn(port, &[mode, &cert, &key.display().to_string()])
    }

    /// Starts one on `port` (e.g. where a server was "down" before).
    pub fn start_on(port: u16) -> SmtpCapture {
        Self::spawn(port, &[])
    }

    fn spawn(port: u16, extra: &[&str]) -> SmtpCapture {
        let python = std::env::var("POSTDESK_TEST_PYTHON")
            .unwrap_or_else(|_| panic!("POSTDESK_TEST_PYTHON is not set: run the suite with tests/run (it needs python3-aiosmtpd)"));
        let dir = tempfile::tempdir().expect("capture dir");
        let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_capture.py");
        let child = std::process::Command::new(python)
            .arg(script)
            .arg(dir.path())
            .arg(port.to_string())
            .args(extra)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start the capture SMTP server");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        while !dir.path().join("ready").exists() {
            assert!(
                std::time::Instant::now() < deadline,
                "the capture SMTP server did not start on port {port}"
            );
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        SmtpCapture { port, dir, child }
    }

    /// Waits for the `n`-th message and returns it as text.
    pub fn wait_for(&self, n: usize) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
        loop {
            let all = self.messages();
            if all.len() >= n {
                return String::from_utf8_lossy(&all[n - 1]).into_owned();
            }
            assert!(
                std::time::Instant::now() < deadline,
                "message {n} did not arrive; have {}",
                all.len()
            );
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    }

    /// The captured messages, in order.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut files: Vec<std::path::PathBuf> = std::fs::read_dir(self.dir.path())
            .expect("read capture dir")
            .map(|e| e.expect("entry").path())
            .filter(|p| p.extension().is_some_and(|e| e == "eml"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|p| std::fs::read(p).expect("read captured"))
            .collect()
    }
}

impl Drop for SmtpCapture {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
