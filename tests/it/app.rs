//! A running Postdesk for account tests: the real binary on a fresh data directory and
//! database, an HTTP client with cookies, and a capture SMTP server.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

use postdesk::db::{self, AnyConnection, Backend};

use crate::support::TestDb;

/// The admin every installed test app has.
pub const ADMIN_EMAIL: &str = "ada@example.com";
/// Its password.
pub const ADMIN_PASSWORD: &str = "violet-kettle-42";

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// Runs `postdesk --data DIR ARGS…` to completion; returns (success, stdout, stderr).
pub fn run_cli(data: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("POSTDESK_INSTALLED")
        .env_remove("POSTDESK_DATABASE_URL")
        .output()
        .expect("run postdesk");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Writes a password file in `dir`.
pub fn password_file(dir: &Path, password: &str) -> PathBuf {
    let path = dir.join(format!("pw-{}", free_port()));
    std::fs::write(&path, format!("{password}\n")).expect("write password file");
    path
}

/// A running server.
pub struct TestApp {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub base: String,
    /// The data directory.
    pub data: tempfile::TempDir,
    /// The database (None for a fresh, not-installed app that will use SQLite).
    pub db: TestDb,
    /// The first line the server printed.
    pub banner: String,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn spawn(data: &Path, addr: &str) -> (Child, Receiver<String>) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .arg("--data")
        .arg(data)
        .arg("serve")
        .env("POSTDESK_LISTEN", addr)
        .env_remove("POSTDESK_INSTALLED")
        .env_remove("POSTDESK_DATABASE_URL")
        .env("RUST_LOG", "warn")
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
    (child, rx)
}

impl TestApp {
    /// Installed with `postdesk install` on `backend`, then serving.
    pub fn installed(backend: Backend) -> TestApp {
        let db = TestDb::new(backend);
        let data = tempfile::tempdir().expect("data dir");
        let addr = format!("127.0.0.1:{}", free_port());
        let pw = password_file(data.path(), ADMIN_PASSWORD);
        let (ok, out, err) = run_cli(
            data.path(),
            &[
                "install",
                "--database-url",
                &db.url,
                "--admin-email",
                ADMIN_EMAIL,
                "--admin-password-file",
                &pw.display().to_string(),
                "--app-url",
                &format!("http://{addr}"),
                "--admin-name",
                "Ada Admin",
            ],
        );
        assert!(ok, "install on {backend:?} failed: {out}{err}");
        Self::serve(db, data, &addr, "Postdesk is running: open http://")
    }

    /// Not installed: serving the installer (SQLite test database kept for later use).
    pub fn fresh(backend: Backend) -> TestApp {
        let db = TestDb::new(backend);
        let data = tempfile::tempdir().expect("data dir");
        let addr = format!("127.0.0.1:{}", free_port());
        Self::serve(
            db,
            data,
            &addr,
            "Postdesk is not installed yet: open http://",
        )
    }

    fn serve(db: TestDb, data: tempfile::TempDir, addr: &str, expect: &str) -> TestApp {
        let (child, rx) = spawn(data.path(), addr);
        let banner = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("postdesk printed its URL");
        assert!(banner.starts_with(expect), "{banner}");
        let app = TestApp {
            child,
            base: format!("http://{addr}"),
            data,
            db,
            banner,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(addr).is_err() {
            assert!(Instant::now() < deadline, "server did not listen on {addr}");
            std::thread::sleep(Duration::from_millis(50));
        }
        app
    }

    /// Stops the server and starts it again on the same data directory.
    pub fn restart(mut self, expect: &str) -> TestApp {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let addr = self.base.trim_start_matches("http://").to_string();
        let (child, rx) = spawn(self.data.path(), &addr);
        self.child = child;
        self.banner = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("postdesk printed its URL");
        assert!(self.banner.starts_with(expect), "{}", self.banner);
        self
    }

    /// The one-time setup URL from the banner.
    pub fn setup_url(&self) -> String {
        self.banner
            .split_whitespace()
            .find(|w| w.contains("/install?token="))
            .expect("setup URL in banner")
            .to_string()
    }

    /// A direct database connection (the installed app's database).
    pub fn conn(&self) -> AnyConnection {
        db::establish(&self.db.url).expect("connect to the app database")
    }

    /// A new browser-like client.
    pub fn client(&self) -> Client {
        Client::new(&self.base)
    }
}

/// An HTTP answer.
#[derive(Debug)]
pub struct Resp {
    /// Status code.
    pub status: u16,
    /// `Location`, if any.
    pub location: String,
    /// Every `Set-Cookie`.
    pub cookies: Vec<String>,
    /// Body.
    pub body: String,
}

impl Resp {
    /// The value a Set-Cookie gives `name`, if any.
    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.iter().find_map(|c| {
            c.strip_prefix(&format!("{name}="))
                .map(|rest| rest.split(';').next().unwrap_or_default().to_string())
        })
    }
}

/// A client with a cookie jar that does not follow redirects.
pub struct Client {
    agent: ureq::Agent,
    base: String,
    /// Sent as Accept-Language.
    pub language: String,
}

fn into_resp(r: Result<ureq::Response, ureq::Error>) -> Resp {
    let r = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("request failed: {e}"),
    };
    Resp {
        status: r.status(),
        location: r.header("location").unwrap_or_default().to_string(),
        cookies: r.all("set-cookie").iter().map(|s| s.to_string()).collect(),
        body: r.into_string().unwrap_or_default(),
    }
}

impl Client {
    /// A client for `base`.
    pub fn new(base: &str) -> Client {
        Client {
            agent: ureq::AgentBuilder::new()
                .redirects(0)
                .timeout(Duration::from_secs(30))
                .build(),
            base: base.to_string(),
            language: "en".into(),
        }
    }

    /// GET.
    pub fn get(&self, path: &str) -> Resp {
        into_resp(
            self.agent
                .get(&format!("{}{path}", self.base))
                .set("Accept-Language", &self.language)
                .call(),
        )
    }

    /// POST a form as is.
    pub fn post(&self, path: &str, form: &[(&str, &str)]) -> Resp {
        into_resp(
            self.agent
                .post(&format!("{}{path}", self.base))
                .set("Accept-Language", &self.language)
                .send_form(form),
        )
    }

    /// POST a form with the CSRF token in the `X-CSRF-Token` header (as scripts do).
    pub fn post_with_header(&self, path: &str, token: &str, form: &[(&str, &str)]) -> Resp {
        into_resp(
            self.agent
                .post(&format!("{}{path}", self.base))
                .set("X-CSRF-Token", token)
                .send_form(form),
        )
    }

    /// POST raw bytes as a script does an upload: type, percent-encoded file name and the
    /// CSRF token (empty: none) in headers.
    pub fn post_bytes(
        &self,
        path: &str,
        token: &str,
        content_type: &str,
        name: &str,
        body: &[u8],
    ) -> Resp {
        let mut req = self
            .agent
            .post(&format!("{}{path}", self.base))
            .set("Content-Type", content_type)
            .set("X-File-Name", name);
        if !token.is_empty() {
            req = req.set("X-CSRF-Token", token);
        }
        into_resp(req.send_bytes(body))
    }

    /// POST a form with the CSRF token of the page `from`.
    pub fn post_from(&self, from: &str, path: &str, form: &[(&str, &str)]) -> Resp {
        let token = csrf_in(&self.get(from).body);
        let mut fields = vec![("csrf_token", token.as_str())];
        fields.extend_from_slice(form);
        self.post(path, &fields)
    }

    /// Logs in; returns the answer to the POST.
    pub fn login(&self, email: &str, password: &str) -> Resp {
        self.post_from(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
    }

    /// GET with only the given session cookie (a fresh jar): replays an old session id.
    pub fn get_with_session(&self, path: &str, session: &str) -> Resp {
        let agent = ureq::AgentBuilder::new().redirects(0).build();
        into_resp(
            agent
                .get(&format!("{}{path}", self.base))
                .set("Cookie", &format!("pd_session={session}"))
                .call(),
        )
    }
}

/// The CSRF token in a page's forms.
pub fn csrf_in(body: &str) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    body.split(marker)
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no CSRF token in page: {body}"))
        .to_string()
}

/// The first link in a mail that contains `path`, decoded from quoted-printable soft breaks.
pub fn link_in(mail: &str, path: &str) -> String {
    let unfolded = mail.replace("=\r\n", "").replace("=\n", "");
    unfolded
        .split_whitespace()
        .find(|w| w.contains(path))
        .map(|w| {
            let start = w.find(path).unwrap_or(0);
            w[start..].to_string()
        })
        .unwrap_or_else(|| panic!("no {path} link in mail:\n{mail}"))
}
