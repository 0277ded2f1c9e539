//! Outbox throughput: N replies enqueued in SQLite, sent by 4 workers (env WORKERS) to a capture SMTP
//! server on loopback: the tests' tests/smtp_capture.py (Debian's python3-aiosmtpd), or
//! with `SINK=threads` a minimal SMTP sink in this process (a thread per connection,
//! each message written to a file), which costs far less per message than aiosmtpd, so
//! the figure is Postdesk's rather than the Python server's.
//! Run: `[SINK=threads] cargo bench --bench outbox_throughput [-- N]` (default 2000).
//! Figures go to docs/BENCHMARKS.md.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use postdesk::conversations::reply::{self, ReplyInput, SendContext};
use postdesk::crypto::Secrets;
use postdesk::db::types::{
    ConversationState, ConversationStatus, ConversationType, MailSecurity, OutMethod,
};
use postdesk::db::{self, DbError};
use postdesk::jobs::outbox::Sender;
use postdesk::mail::outbound::transport::Transports;
use postdesk::models::mailbox::{self, OutboundChanges};
use postdesk::models::{conversation, user};
use postdesk::storage::FileStore;

fn workers() -> usize {
    std::env::var("WORKERS")
        .ok()
        .and_then(|w| w.parse().ok())
        .unwrap_or(4)
}

fn main() -> Result<(), DbError> {
    let n: usize = std::env::args()
        .filter_map(|a| a.parse().ok())
        .next()
        .unwrap_or(2000);
    let dir = tempfile::tempdir().map_err(|e| DbError::Migration(e.to_string()))?;
    let capture = dir.path().join("capture");
    let (port, mut server) = if std::env::var("SINK").is_ok_and(|s| s == "threads") {
        (start_sink(capture.clone())?, None)
    } else {
        let (port, child) = start_aiosmtpd(&capture)?;
        (port, Some(child))
    };
    let url = format!("sqlite://{}", dir.path().join("bench.db").display());
    let pool = db::connect_pool(&url, 8)?;
    let mut conn = pool.get().map_err(DbError::Pool)?;
    db::run_migrations(&mut conn)?;
    let now = db::now();
    let mb = mailbox::create(
        &mut conn,
        &mailbox::NewMailbox {
            name: "Bench",
            email: "support@company.test",
            created_at: now,
            updated_at: now,
        },
    )?;
    mailbox::update_outbound(
        &mut conn,
        mb,
        OutboundChanges {
            out_method: Some(OutMethod::Smtp.as_i16()),
            out_host: Some("127.0.0.1".into()),
            out_port: Some(i32::from(port)),
            out_security: Some(MailSecurity::None.as_i16()),
            ..OutboundChanges::default()
        },
    )?;
    let agent = user::create(
        &mut conn,
        &user::NewUser {
            first_name: "Bench",
            last_name: "Agent",
            email: "agent@company.test",
            password_hash: "",
            role: 1,
            status: 1,
            locale: "en",
            timezone: "UTC",
            created_at: now,
            updated_at: now,
        },
    )?;
    let secrets = Secrets::from_bytes([5; 32]);
    let files = FileStore::new(dir.path());
    let ctx = SendContext {
        secrets: &secrets,
        files: &files,
        undo_seconds: 0,
        hooks: None,
    };
    for i in 0..n {
        let (conv, _) = conversation::create(
            &mut conn,
            &conversation::NewConversation {
                mailbox_id: mb,
                customer_id: None,
                customer_email: &format!("customer{i}@example.test"),
                created_by_user_id: None,
                conversation_type: ConversationType::Email,
                status: ConversationStatus::Active,
                state: ConversationState::Published,
                subject: "Where is my order?",
                created_at: now,
            },
        )?;
        reply::reply(
            &mut conn,
            &ctx,
            &ReplyInput {
                conversation_id: conv,
                user_id: agent,
                body_html: "<p>It ships today. Tracking: 123</p>".into(),
                ..ReplyInput::default()
            },
        )
        .map_err(|e| DbError::Migration(e.to_string()))?;
    }
    drop(conn);
    let started = Instant::now();
    let handles: Vec<_> = (0..workers())
        .map(|w| {
            let sender = Sender {
                pool: pool.clone(),
                secrets: secrets.clone(),
                files: files.clone(),
                worker: format!("bench/{}/{w}", std::process::id()),
                hooks: None,
            };
            std::thread::spawn(move || {
                let mut transports = Transports::default();
                while sender.process_due(&mut transports, 20).unwrap_or(0) > 0 {}
            })
        })
        .collect();
    for h in handles {
        let _ = h.join();
    }
    let took = started.elapsed();
    let sent = std::fs::read_dir(&capture)
        .map(|d| {
            d.filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "eml"))
            })
            .count()
        })
        .unwrap_or(0);
    if let Some(server) = &mut server {
        let _ = server.kill();
    }
    println!(
        "outbox: {sent}/{n} messages sent to {} by {} workers in {:.2}s = {:.0} messages/s",
        if server.is_some() {
            "aiosmtpd"
        } else {
            "the thread sink"
        },
        workers(),
        took.as_secs_f64(),
        sent as f64 / took.as_secs_f64()
    );
    Ok(())
}

fn failed(what: &str, e: impl std::fmt::Display) -> DbError {
    DbError::Migration(format!("{what}: {e}"))
}

/// tests/smtp_capture.py on a free port.
fn start_aiosmtpd(capture: &Path) -> Result<(u16, std::process::Child), DbError> {
    let port = TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| failed("no free port", e))?;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/smtp_capture.py");
    let server = std::process::Command::new("/usr/bin/python3")
        .arg(script)
        .arg(capture)
        .arg(port.to_string())
        .spawn()
        .map_err(|e| {
            failed(
                "cannot start the capture server (apt-get install python3-aiosmtpd)",
                e,
            )
        })?;
    while !capture.join("ready").exists() {
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok((port, server))
}

/// A minimal SMTP server: greets, says 250 to every command, takes DATA up to the lone
/// ".", and writes each message to `capture`/NNNN-T.eml.
fn start_sink(capture: PathBuf) -> Result<u16, DbError> {
    std::fs::create_dir_all(&capture).map_err(|e| failed("capture dir", e))?;
    let listener = TcpListener::bind("127.0.0.1:0").map_err(|e| failed("sink", e))?;
    let port = listener.local_addr().map_err(|e| failed("sink", e))?.port();
    std::thread::spawn(move || {
        for (n, stream) in listener.incoming().enumerate() {
            let Ok(stream) = stream else { continue };
            let capture = capture.clone();
            std::thread::spawn(move || sink_session(n, stream, &capture));
        }
    });
    Ok(port)
}

fn sink_session(n: usize, stream: std::net::TcpStream, capture: &Path) -> std::io::Result<()> {
    let _ = stream.set_nodelay(true);
    let mut out = stream.try_clone()?;
    let mut lines = BufReader::new(stream);
    out.write_all(b"220 sink ESMTP\r\n")?;
    let mut line = Vec::new();
    let mut count = 0;
    loop {
        line.clear();
        if lines.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        let upper = line.to_ascii_uppercase();
        if upper.starts_with(b"EHLO") {
            out.write_all(b"250-sink\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n")?;
        } else if upper.starts_with(b"DATA") {
            out.write_all(b"354 go on\r\n")?;
            let mut message = Vec::new();
            loop {
                line.clear();
                if lines.read_until(b'\n', &mut line)? == 0 {
                    return Ok(());
                }
                if line == b".\r\n" {
                    break;
                }
                message.extend_from_slice(&line);
            }
            count += 1;
            std::fs::write(capture.join(format!("{n:04}-{count}.eml")), &message)?;
            out.write_all(b"250 2.0.0 captured\r\n")?;
        } else if upper.starts_with(b"QUIT") {
            out.write_all(b"221 bye\r\n")?;
            return Ok(());
        } else {
            out.write_all(b"250 ok\r\n")?;
        }
    }
}
