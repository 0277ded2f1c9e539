//! Modules end to end: the two bundled modules and a deliberately misbehaving one are
//! built once (`cargo build -p …`), installed into a test data directory, and driven
//! through the real host: event delivery from the `events` table, filters, slots, routes
//! (in-process and through the real server), the inbound filter on a real IMAP fetch,
//! and `postdesk module list`.

use std::collections::{BTreeMap, VecDeque};
use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use diesel::prelude::*;
use hmac::{Hmac, Mac};
use postdesk::db::schema::{conversations, event_cursors};
use postdesk::db::types::ConversationStatus;
use postdesk::db::{self, Backend, DbPool};
use postdesk::hooks::filters::{InboundVerdict, OutgoingReply, StatusChange};
use postdesk::hooks::{HookOptions, Registry, RouteOutcome};
use postdesk::jobs::events;
use postdesk::mail::inbound::fetch::Fetcher;
use postdesk::models::event::{self as event_model, EventKind, NewEvent};
use postdesk_module_api::RouteRequest;
use serde_json::{Value, json};

use crate::support::{BACKENDS, TestDb};

/// Where `cargo build` put the module libraries; built once per test run.
fn module_libraries() -> &'static Path {
    static BUILT: OnceLock<PathBuf> = OnceLock::new();
    BUILT.get_or_init(|| {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = std::process::Command::new(cargo)
            .current_dir(root)
            .args([
                "build",
                "--quiet",
                "-p",
                "postdesk-webhooks",
                "-p",
                "postdesk-satisfaction-ratings",
                "-p",
                "postdesk-test-misbehaving",
            ])
            .status()
            .expect("run cargo build for the modules");
        assert!(status.success(), "building the modules failed");
        let target = std::env::var_os("CARGO_TARGET_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| root.join("target"));
        target.join("debug")
    })
}

/// Installs a built module: `<data>/modules/<name>/{module.toml, library}`.
pub(crate) fn install(data: &Path, name: &str, crate_lib: &str, manifest: &str) {
    let dir = data.join("modules").join(name);
    std::fs::create_dir_all(&dir).expect("module dir");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join(manifest)).expect("manifest");
    let text = text.replacen("name = \"misbehaving\"", &format!("name = \"{name}\""), 1);
    // The wrong-ABI copy: the same library, a manifest claiming another ABI.
    let text = if name == "wrong-abi" {
        text.replacen("abi_version = 1", "abi_version = 2", 1)
    } else {
        text
    };
    std::fs::write(dir.join("module.toml"), text).expect("write manifest");
    let file = format!("lib{crate_lib}.so");
    std::fs::copy(module_libraries().join(&file), dir.join(&file)).expect("copy library");
}

pub(crate) fn install_all(data: &Path) {
    install(
        data,
        "webhooks",
        "postdesk_webhooks",
        "modules/webhooks/module.toml",
    );
    install(
        data,
        "satisfaction-ratings",
        "postdesk_satisfaction_ratings",
        "modules/satisfaction-ratings/module.toml",
    );
    let bad = "tests/fixtures/modules/misbehaving/module.toml";
    install(data, "misbehaving", "postdesk_test_misbehaving", bad);
    install(data, "wrong-abi", "postdesk_test_misbehaving", bad);
}

fn options() -> HookOptions {
    HookOptions {
        call_timeout: Duration::from_millis(500),
        action_timeout: Duration::from_secs(10),
        max_failures: 3,
    }
}

/// A request the endpoint received: lower-cased headers and the body.
type Received = (BTreeMap<String, String>, String);

/// An HTTP endpoint that records requests and answers with queued statuses (200 after).
struct Endpoint {
    url: String,
    requests: Arc<Mutex<Vec<Received>>>,
    statuses: Arc<Mutex<VecDeque<u16>>>,
}

impl Endpoint {
    fn start() -> Endpoint {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let statuses = Arc::new(Mutex::new(VecDeque::new()));
        let (reqs, stats) = (requests.clone(), statuses.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut raw = Vec::new();
                let mut buf = [0u8; 4096];
                let (head, body) = loop {
                    let n = stream.read(&mut buf).unwrap_or(0);
                    if n == 0 {
                        break (String::from_utf8_lossy(&raw).into_owned(), String::new());
                    }
                    raw.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&raw).into_owned();
                    if let Some((head, body)) = text.split_once("\r\n\r\n") {
                        let len: usize = head
                            .lines()
                            .find_map(|l| {
                                let (k, v) = l.split_once(':')?;
                                k.eq_ignore_ascii_case("content-length")
                                    .then(|| v.trim().parse().ok())?
                            })
                            .unwrap_or(0);
                        if body.len() >= len {
                            break (head.to_string(), body.to_string());
                        }
                    }
                };
                let headers = head
                    .lines()
                    .skip(1)
                    .filter_map(|l| l.split_once(':'))
                    .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                    .collect();
                reqs.lock().expect("lock").push((headers, body));
                let status = stats.lock().expect("lock").pop_front().unwrap_or(200);
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok"
                );
            }
        });
        Endpoint {
            url,
            requests,
            statuses,
        }
    }

    fn requests(&self) -> Vec<Received> {
        self.requests.lock().expect("lock").clone()
    }
}

fn record_event(pool: &DbPool, kind: EventKind, payload: Value) {
    let mut conn = pool.get().expect("conn");
    event_model::record(
        &mut conn,
        kind,
        NewEvent {
            payload,
            ..NewEvent::default()
        },
    )
    .expect("event");
}

fn sign(secret: &str, body: &str) -> String {
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(body.as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256={hex}")
}

fn get(path: &str, query: &str) -> RouteRequest {
    RouteRequest {
        method: "GET".into(),
        path: path.into(),
        query: url_query(query),
        ..RouteRequest::default()
    }
}

fn url_query(query: &str) -> BTreeMap<String, String> {
    query
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn modules_load_fire_filter_render_and_bad_ones_are_stopped_on_every_backend() {
    for backend in BACKENDS {
        exercise_modules(backend);
    }
}

fn exercise_modules(backend: Backend) {
    let db = TestDb::new(backend);
    let data = tempfile::tempdir().expect("data dir");
    install_all(data.path());
    let pool = db::connect_pool(&db.url, 4).expect("pool");
    db::run_migrations(&mut pool.get().expect("conn")).expect("migrate");
    let reg = Registry::load(
        pool.clone(),
        data.path(),
        "https://desk.example.test",
        options(),
    )
    .expect("load");

    // Loading: the wrong ABI is refused with a reason, the rest are active.
    let statuses = reg.statuses();
    let names: Vec<&str> = statuses.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "misbehaving",
            "satisfaction-ratings",
            "webhooks",
            "wrong-abi"
        ]
    );
    let wrong = reg.status("wrong-abi").expect("wrong-abi");
    assert!(!wrong.active);
    let err = wrong.load_error.expect("load error");
    assert!(
        err.contains("built for module ABI 2") && err.contains("speaks ABI 1"),
        "{err}"
    );
    for name in ["misbehaving", "satisfaction-ratings", "webhooks"] {
        assert!(reg.status(name).expect(name).active, "{backend:?} {name}");
    }

    // The settings form comes from the manifest, with current values.
    let form = reg.settings_form("satisfaction-ratings");
    let question = form.iter().find(|f| f.name == "question").expect("field");
    assert_eq!(question.label, "Question under each reply");
    assert_eq!(question.value, "How did we do?");
    assert!(
        reg.set_setting("webhooks", "max_attempts", &json!("many"))
            .is_err()
    );
    assert!(reg.set_setting("webhooks", "no_such", &json!("1")).is_err());

    // Webhooks: an event committed after start is POSTed once, signed.
    let endpoint = Endpoint::start();
    let line = format!(
        "{} conversation_after_created,mail_after_fetched",
        endpoint.url
    );
    reg.set_setting("webhooks", "endpoints", &json!(line))
        .expect("endpoints");
    reg.set_setting("webhooks", "secret", &json!("s3cret"))
        .expect("signing secret");
    reg.set_setting("webhooks", "retry_base_secs", &json!("0"))
        .expect("retry");
    record_event(
        &pool,
        EventKind::ConversationCreated,
        json!({"customer_id": 5}),
    );
    record_event(&pool, EventKind::CustomerReplied, json!({}));
    let worker = "test-worker";
    let calls = events::deliver_round(&reg, &pool, worker).expect("deliver");
    assert_eq!(
        calls, 2,
        "{backend:?}: both hooks are declared by the module"
    );
    let got = endpoint.requests();
    assert_eq!(
        got.len(),
        1,
        "{backend:?}: only the event the endpoint chose: {got:?}"
    );
    let (headers, body) = &got[0];
    assert_eq!(headers["x-postdesk-event"], "conversation_after_created");
    assert_eq!(headers["x-postdesk-signature"], sign("s3cret", body));
    let sent: Value = serde_json::from_str(body).expect("json body");
    assert_eq!(sent["event"], "conversation_after_created");
    assert_eq!(sent["payload"]["kind"], "conversation_created");
    assert_eq!(sent["payload"]["hook"], "conversation_after_created");
    assert_eq!(sent["payload"]["data"]["customer_id"], 5);
    assert!(
        sent["payload"]["event_id"]
            .as_i64()
            .is_some_and(|id| id > 0)
    );
    // Delivered means the cursor moved: nothing is sent twice, and the lease is free.
    assert_eq!(
        events::deliver_round(&reg, &pool, worker).expect("again"),
        0
    );
    assert_eq!(endpoint.requests().len(), 1);
    let locked: Option<String> = event_cursors::table
        .filter(event_cursors::consumer.eq("module:webhooks"))
        .select(event_cursors::locked_by)
        .first(&mut pool.get().expect("conn"))
        .expect("cursor");
    assert_eq!(locked, None);
    // Another process holding the lease blocks delivery; nothing is sent twice.
    {
        let mut conn = pool.get().expect("conn");
        assert!(
            events::claim(&mut conn, "module:webhooks", "other-process")
                .expect("claim")
                .is_some()
        );
        record_event(&pool, EventKind::MailFetched, json!({}));
        assert_eq!(events::deliver_round(&reg, &pool, worker).expect("held"), 0);
        events::release(&mut conn, "module:webhooks", "other-process").expect("release");
        // A holder that was a process on this machine and is gone blocks nothing.
        let mut gone = std::process::Command::new("true").spawn().expect("spawn");
        let pid = gone.id();
        gone.wait().expect("wait");
        let this = postdesk::lease::worker_name();
        let host = this.rsplitn(3, '/').last().expect("host");
        let dead = format!("{host}/{pid}/gone");
        assert!(
            events::claim(&mut conn, "module:webhooks", &dead)
                .expect("claim")
                .is_some()
        );
        assert!(
            events::claim(&mut conn, "module:webhooks", worker)
                .expect("take over")
                .is_some()
        );
        events::release(&mut conn, "module:webhooks", worker).expect("release");
    }
    // A failing endpoint is retried on the tick, with the outcome in the log.
    endpoint.statuses.lock().expect("lock").push_back(500);
    assert_eq!(
        events::deliver_round(&reg, &pool, worker).expect("deliver"),
        1
    );
    assert_eq!(endpoint.requests().len(), 2);
    {
        // While another process runs the module's tick, this one does not.
        let mut conn = pool.get().expect("conn");
        assert_eq!(events::tick(&reg, &pool, worker).expect("tick"), 1);
        assert_eq!(endpoint.requests().len(), 3, "the due retry ran once");
        assert!(
            events::claim(&mut conn, "tick:webhooks", "other-process")
                .expect("claim")
                .is_some()
        );
        assert_eq!(events::tick(&reg, &pool, worker).expect("held"), 0);
        events::release(&mut conn, "tick:webhooks", "other-process").expect("release");
    }
    let got = endpoint.requests();
    assert_eq!(got.len(), 3, "{backend:?}: retried once");
    assert_eq!(got[1].1, got[2].1, "the retry sends the same body");
    let log = match reg.route("webhooks", get("log", ""), true) {
        RouteOutcome::Response(r) => serde_json::from_str::<Value>(&r.body).expect("log json"),
        other => panic!("{backend:?}: {other:?}"),
    };
    let deliveries = log["endpoints"][0]["deliveries"]
        .as_array()
        .expect("list")
        .clone();
    assert_eq!(deliveries.len(), 2, "{log}");
    assert_eq!(deliveries[0]["hook"], "mail_after_fetched");
    assert_eq!(deliveries[0]["state"], "delivered");
    assert_eq!(deliveries[0]["attempts"], 2);
    assert_eq!(
        reg.route("webhooks", get("log", ""), false),
        RouteOutcome::LoginRequired
    );

    // Satisfaction ratings: the before-send filter appends signed rating links.
    let reply = reg.reply_before_enqueue(OutgoingReply {
        conversation_id: 7,
        mailbox_id: 1,
        thread_id: 9,
        html: "<p>Hello</p>".into(),
        ..OutgoingReply::default()
    });
    assert!(reply.html.starts_with("<p>Hello</p>"), "{}", reply.html);
    assert!(reply.html.contains("How did we do?"), "{}", reply.html);
    let link_start = reply
        .html
        .find("https://desk.example.test/m/satisfaction-ratings/rate?")
        .expect("link");
    let link: String = reply.html[link_start..]
        .split('"')
        .next()
        .expect("href")
        .replace("&amp;", "&");
    assert!(link.ends_with("&r=great"), "{link}");
    let query = link.split_once('?').expect("query").1;
    // The public route records the click and offers a comment form.
    let RouteOutcome::Response(page) = reg.route("satisfaction-ratings", get("rate", query), false)
    else {
        panic!("{backend:?}: rate route did not answer");
    };
    assert_eq!(page.status, 200);
    assert!(
        page.body.contains("You rated our reply: Great"),
        "{}",
        page.body
    );
    assert!(page.body.contains("<textarea"), "{}", page.body);
    let comment = RouteRequest {
        method: "POST".into(),
        path: "rate".into(),
        query: url_query(&query.replace("&r=great", "")),
        form: [(
            "comment".to_string(),
            "Fast <script>alert(1)</script> answer".to_string(),
        )]
        .into(),
        ..RouteRequest::default()
    };
    assert!(matches!(
        reg.route("satisfaction-ratings", comment, false),
        RouteOutcome::Response(r) if r.status == 200
    ));
    let forged = query.replace("c=7", "c=8");
    assert!(matches!(
        reg.route("satisfaction-ratings", get("rate", &forged), false),
        RouteOutcome::Response(r) if r.status == 400
    ));
    // The sidebar slot shows it, sanitized.
    let slot = reg.render_slot("conversation_sidebar", &json!({"conversation_id": 7}));
    assert_eq!(slot.len(), 1, "{slot:?}");
    assert_eq!(slot[0].module, "satisfaction-ratings");
    assert!(
        slot[0].html.contains("Customer rating:"),
        "{}",
        slot[0].html
    );
    assert!(slot[0].html.contains("Great"));
    assert!(!slot[0].html.contains("<script"), "{}", slot[0].html);
    // The report counts it (a staff route: refused without a login).
    assert_eq!(
        reg.route("satisfaction-ratings", get("report", ""), false),
        RouteOutcome::LoginRequired
    );
    let RouteOutcome::Response(page) = reg.route("satisfaction-ratings", get("report", ""), true)
    else {
        panic!("report");
    };
    assert!(
        page.body.contains("<td>Great</td><td>1</td><td>100%</td>"),
        "{}",
        page.body
    );
    assert!(page.body.contains("Fast &lt;script&gt;"), "{}", page.body);
    let json_report = get("report", "format=json");
    let RouteOutcome::Response(report) = reg.route("satisfaction-ratings", json_report, true)
    else {
        panic!("report");
    };
    let report: Value = serde_json::from_str(&report.body).expect("report json");
    assert_eq!(report["total"], 1);
    assert_eq!(report["counts"]["great"], 1);

    // The host sanitizes what a module puts in a slot.
    reg.set_setting("misbehaving", "mode", &json!("answer"))
        .expect("mode");
    reg.set_setting(
        "misbehaving",
        "answer",
        &json!("<b>bold</b><script>alert(1)</script><img src=x onerror=alert(1)>"),
    )
    .expect("answer");
    let slot = reg.render_slot("conversation_sidebar", &json!({"conversation_id": 1}));
    let bad = slot
        .iter()
        .find(|f| f.module == "misbehaving")
        .expect("fragment");
    assert!(bad.html.contains("<b>bold</b>"), "{}", bad.html);
    assert!(
        !bad.html.contains("script") && !bad.html.contains("onerror"),
        "{}",
        bad.html
    );

    // A filter can veto a status change.
    reg.set_setting(
        "misbehaving",
        "answer",
        &json!(r#"{"allow": false, "reason": "needs a rating"}"#),
    )
    .expect("answer");
    let veto = reg
        .conversation_before_status_change(&StatusChange {
            conversation_id: 7,
            mailbox_id: 1,
            from: 1,
            to: 3,
            user_id: None,
        })
        .expect_err("veto");
    assert_eq!(veto.module, "misbehaving");
    assert_eq!(veto.reason, "needs a rating");

    // The misbehaving module: a panic, garbage and a timeout in a row disable it; the
    // other modules keep working throughout.
    for (mode, expect) in [
        (
            "panic",
            "module panicked: misbehaving module panics on purpose",
        ),
        ("garbage", "answer of the wrong shape"),
        ("sleep", "did not answer within 500 ms"),
    ] {
        reg.set_setting("misbehaving", "mode", &json!(mode))
            .expect("mode");
        reg.set_setting("misbehaving", "sleep_ms", &json!("4000"))
            .expect("sleep");
        let started = std::time::Instant::now();
        let reply = reg.reply_before_enqueue(OutgoingReply {
            conversation_id: 8,
            thread_id: 10,
            html: "<p>Hi</p>".into(),
            ..OutgoingReply::default()
        });
        assert!(
            started.elapsed() < Duration::from_millis(3000),
            "{mode}: the timeout bounds the call"
        );
        assert!(
            reply.html.contains("How did we do?"),
            "{mode}: the others still ran"
        );
        let status = reg.status("misbehaving").expect("status");
        if mode == "sleep" {
            assert!(!status.active, "{backend:?}: disabled after three failures");
            assert!(
                status.disabled_reason.contains("3 failures in a row"),
                "{}",
                status.disabled_reason
            );
            assert!(
                status.disabled_reason.contains(expect),
                "{}",
                status.disabled_reason
            );
        } else {
            assert!(status.active, "{mode}");
        }
    }
    // A disabled module is not called, and its routes are gone.
    assert_eq!(reg.handlers("reply_before_enqueue").len(), 1);
    assert_eq!(
        reg.route("misbehaving", get("boom", ""), false),
        RouteOutcome::NotFound
    );
    // The reason survives a restart; activating it again clears it.
    let again = Registry::load(pool.clone(), data.path(), "", options()).expect("reload");
    let status = again.status("misbehaving").expect("status");
    assert!(!status.active);
    assert!(
        status.disabled_reason.contains("did not answer"),
        "{}",
        status.disabled_reason
    );
    again.set_active("misbehaving", true).expect("activate");
    reg.refresh().expect("refresh");
    assert!(
        reg.status("misbehaving").expect("status").active,
        "{backend:?}"
    );
    assert!(
        reg.status("misbehaving")
            .expect("status")
            .disabled_reason
            .is_empty()
    );
}

#[test]
fn inbound_filter_marks_spam_and_drops_on_a_real_fetch() {
    use crate::support::message;

    let env = crate::inbound::Env::new(Backend::Sqlite);
    install_all(env.data.path());
    let reg =
        Arc::new(Registry::load(env.pool.clone(), env.data.path(), "", options()).expect("load"));
    let fetcher = Fetcher {
        hooks: Some(reg.clone()),
        ..env.fetcher()
    };
    let (account, mailbox_id) = (&env.account, env.mailbox_id);
    let mut conn = env.pool.get().expect("conn");
    let verdict = |v: InboundVerdict| {
        reg.set_setting("misbehaving", "mode", &json!("answer"))
            .expect("mode");
        reg.set_setting(
            "misbehaving",
            "answer",
            &json!(serde_json::to_string(&v).expect("json")),
        )
        .expect("answer");
    };

    verdict(InboundVerdict::Spam {
        reason: "looks like spam".into(),
    });
    account.append(
        "INBOX",
        &[message(
            "buy@spam.test",
            "Cheap pills",
            "spam1@x.test",
            None,
            "buy",
        )],
    );
    let report = fetcher.fetch_mailbox(mailbox_id, &|_| {}).expect("fetch");
    assert_eq!(report.stored, 1, "{report:?}");
    let status: i16 = conversations::table
        .filter(conversations::subject.eq("Cheap pills"))
        .select(conversations::status)
        .first(&mut conn)
        .expect("conversation");
    assert_eq!(status, ConversationStatus::Spam.as_i16());

    verdict(InboundVerdict::Drop {
        reason: "blocked sender".into(),
    });
    account.append(
        "INBOX",
        &[message(
            "bad@spam.test",
            "Dropped",
            "drop1@x.test",
            None,
            "x",
        )],
    );
    let report = fetcher.fetch_mailbox(mailbox_id, &|_| {}).expect("fetch");
    assert_eq!(report.failed, 0, "{report:?}");
    let dropped: i64 = conversations::table
        .filter(conversations::subject.eq("Dropped"))
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(dropped, 0, "a dropped message is not stored");

    // Keep: stored as usual, active; the module wrote its storage during the filter
    // (inside the fetch's transaction, which must still commit on SQLite).
    verdict(InboundVerdict::Keep);
    reg.set_setting("misbehaving", "count_in", &json!("calls"))
        .expect("count");
    account.append(
        "INBOX",
        &[message("ann@x.test", "Kept", "keep1@x.test", None, "hi")],
    );
    fetcher.fetch_mailbox(mailbox_id, &|_| {}).expect("fetch");
    let status: i16 = conversations::table
        .filter(conversations::subject.eq("Kept"))
        .select(conversations::status)
        .first(&mut conn)
        .expect("conversation");
    assert_eq!(status, ConversationStatus::Active.as_i16());
    let calls =
        postdesk::hooks::store::storage_get(&mut conn, "misbehaving", "calls").expect("storage");
    assert_eq!(calls.as_deref(), Some("1"));
}

#[test]
fn server_answers_module_routes_and_module_list_tells_why() {
    use crate::server::{http_get, start};

    let db = TestDb::new(Backend::Sqlite);
    let data = tempfile::tempdir().expect("data dir");
    install_all(data.path());
    {
        // The misbehaving module panics in every call of this server.
        let pool = db::connect_pool(&db.url, 2).expect("pool");
        db::run_migrations(&mut pool.get().expect("conn")).expect("migrate");
        let reg = Registry::load(pool, data.path(), "", options()).expect("load");
        reg.set_setting("misbehaving", "mode", &json!("panic"))
            .expect("mode");
    }
    let server = start(data.path(), &db.url);
    let (status, body) = http_get(
        &server.addr,
        "/m/satisfaction-ratings/rate?c=1&t=2&s=forged&r=great",
    );
    assert_eq!(status, 400, "{body}");
    assert!(body.contains("This rating link is not valid."), "{body}");
    let (status, body) = http_get(&server.addr, "/m/satisfaction-ratings/report");
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("login_required"), "{body}");
    assert_eq!(http_get(&server.addr, "/m/nothing-here/x").0, 404);
    assert_eq!(
        http_get(&server.addr, "/m/satisfaction-ratings/undeclared").0,
        404
    );
    for _ in 0..3 {
        let (status, body) = http_get(&server.addr, "/m/misbehaving/boom");
        assert_eq!(status, 502, "{body}");
        assert!(body.contains("module_failed"), "{body}");
        assert_eq!(
            http_get(&server.addr, "/healthz").0,
            200,
            "the server keeps answering"
        );
    }
    assert_eq!(
        http_get(&server.addr, "/m/misbehaving/boom").0,
        404,
        "disabled"
    );
    assert_eq!(http_get(&server.addr, "/healthz").0, 200);

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_postdesk"))
        .args([
            "--data",
            &data.path().display().to_string(),
            "module",
            "list",
        ])
        .env("POSTDESK_DATABASE_URL", &db.url)
        .output()
        .expect("module list");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let line = |name: &str| {
        text.lines()
            .find(|l| l.starts_with(&format!("{name} ")))
            .unwrap_or_else(|| panic!("no line for {name}: {text}"))
            .to_string()
    };
    assert!(
        line("webhooks").contains("0.1.0") && line("webhooks").ends_with("active"),
        "{text}"
    );
    assert!(line("satisfaction-ratings").ends_with("active"), "{text}");
    assert!(
        line("misbehaving").contains("inactive: disabled after 3 failures in a row")
            && line("misbehaving").contains("panicked"),
        "{text}"
    );
    assert!(
        line("wrong-abi").contains("failed to load: built for module ABI 2"),
        "{text}"
    );
}

#[test]
fn refused_modules_say_why_without_running_their_code() {
    let db = TestDb::new(Backend::Sqlite);
    let data = tempfile::tempdir().expect("data dir");
    let bad = "tests/fixtures/modules/misbehaving/module.toml";
    install(data.path(), "misbehaving", "postdesk_test_misbehaving", bad);
    let modules = data.path().join("modules");
    let manifest = std::fs::read_to_string(modules.join("misbehaving/module.toml")).expect("read");
    let variant = |folder: &str, text: String, with_library: bool| {
        let dir = modules.join(folder);
        std::fs::create_dir_all(&dir).expect("dir");
        std::fs::write(dir.join("module.toml"), text).expect("write");
        if with_library {
            std::fs::copy(
                modules.join("misbehaving/libpostdesk_test_misbehaving.so"),
                dir.join("libpostdesk_test_misbehaving.so"),
            )
            .expect("copy");
        }
    };
    let named =
        |name: &str| manifest.replacen("name = \"misbehaving\"", &format!("name = \"{name}\""), 1);
    variant("no-library", named("no-library"), false);
    variant("elsewhere", named("misnamed"), true);
    variant(
        "too-new",
        named("too-new").replacen(
            "min_postdesk_version = \"0.1.0\"",
            "min_postdesk_version = \"99.0.0\"",
            1,
        ),
        true,
    );
    variant("broken", "name = [".into(), true);
    let pool = db::connect_pool(&db.url, 2).expect("pool");
    db::run_migrations(&mut pool.get().expect("conn")).expect("migrate");
    let reg = Registry::load(pool, data.path(), "", options()).expect("load");
    let error = |name: &str| {
        reg.status(name)
            .unwrap_or_else(|| panic!("{name} listed"))
            .load_error
            .unwrap_or_else(|| panic!("{name} refused"))
    };
    assert!(
        error("no-library").contains("cannot load the library"),
        "{}",
        error("no-library")
    );
    assert!(
        error("elsewhere").contains("they must match"),
        "{}",
        error("elsewhere")
    );
    assert!(
        error("too-new").contains("needs Postdesk 99.0.0 or newer"),
        "{}",
        error("too-new")
    );
    assert!(
        error("broken").starts_with("module.toml:"),
        "{}",
        error("broken")
    );
    assert!(reg.status("misbehaving").expect("good one").active);
}

#[test]
fn menu_slots_appear_in_pages_with_links_to_the_module_only() {
    let app = crate::app::TestApp::installed(Backend::Sqlite);
    install(
        app.data.path(),
        "satisfaction-ratings",
        "postdesk_satisfaction_ratings",
        "modules/satisfaction-ratings/module.toml",
    );
    let app = app.restart("Postdesk is running: open http://");
    let admin = app.client();
    assert_eq!(
        admin
            .login(crate::app::ADMIN_EMAIL, crate::app::ADMIN_PASSWORD)
            .status,
        303
    );
    let home = admin.get("/");
    assert_eq!(home.status, 200);
    assert!(
        home.body
            .contains(r#"data-module="satisfaction-ratings"><a href="/m/satisfaction-ratings/report" rel="noopener noreferrer">Ratings</a>"#),
        "main menu slot: {}",
        home.body
    );
    let settings = admin.get("/settings/mailboxes");
    let menu = settings
        .body
        .split(r#"id="settings-menu""#)
        .nth(1)
        .and_then(|rest| rest.split("</nav>").next())
        .unwrap_or_default();
    assert!(
        menu.contains(r#"href="/m/satisfaction-ratings/report""#),
        "settings menu slot: {menu}"
    );
    // The report it links to answers a signed-in user.
    let report = admin.get("/m/satisfaction-ratings/report");
    assert_eq!(report.status, 200, "{}", report.body);
}
