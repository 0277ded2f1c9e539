//! The REST API against a running server on every backend: each endpoint and filter,
//! compared field by field with FreeScout's documented examples; key authentication in
//! its three forms; permissions (an agent's key sees only that agent's mailboxes); the
//! error body, 413, 415, 405 and 429; webhooks signed and retried; the settings page.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::mpsc;
use std::time::Duration;

use base64::Engine;
use diesel::prelude::*;
use hmac::{Hmac, Mac};
use postdesk::db::Backend;
use postdesk::db::schema::outbox;
use postdesk::db::types::MailboxAccess;
use postdesk::models::{mailbox, mailbox_user};
use serde_json::{Value, json};

use crate::app::{ADMIN_EMAIL, ADMIN_PASSWORD, TestApp, run_cli};
use crate::authz_matrix::add_user;
use crate::support::BACKENDS;

/// An answer: status, JSON body (Null when none), headers asked for.
#[derive(Debug)]
pub(crate) struct Answer {
    pub status: u16,
    pub body: Value,
    pub resource_id: Option<i64>,
    pub retry_after: Option<String>,
    pub content_type: String,
}

/// How a call authenticates.
#[derive(Clone, Copy)]
pub(crate) enum Auth<'a> {
    None,
    Header(&'a str),
    Query(&'a str),
    Basic(&'a str),
}

pub(crate) fn call(
    base: &str,
    method: &str,
    path: &str,
    auth: Auth<'_>,
    body: Option<&Value>,
) -> Answer {
    let agent = ureq::AgentBuilder::new()
        .redirects(0)
        .timeout(Duration::from_secs(30))
        .build();
    let mut url = format!("{base}{path}");
    if let Auth::Query(k) = auth {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("api_key={k}"));
    }
    let mut req = agent.request(method, &url);
    match auth {
        Auth::Header(k) => req = req.set("X-FreeScout-API-Key", k),
        Auth::Basic(k) => {
            let enc =
                base64::engine::general_purpose::STANDARD.encode(format!("{k}:randompassword"));
            req = req.set("Authorization", &format!("Basic {enc}"));
        }
        _ => {}
    }
    let r = match body {
        Some(b) => req
            .set("Content-Type", "application/json")
            .send_string(&b.to_string()),
        None => req.call(),
    };
    answer(r)
}

fn answer(r: Result<ureq::Response, ureq::Error>) -> Answer {
    let r = match r {
        Ok(r) => r,
        Err(ureq::Error::Status(_, r)) => r,
        Err(e) => panic!("request failed: {e}"),
    };
    let status = r.status();
    let resource_id = r.header("resource-id").and_then(|v| v.parse().ok());
    let retry_after = r.header("retry-after").map(str::to_string);
    let content_type = r.content_type().to_string();
    let text = r.into_string().unwrap_or_default();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        body,
        resource_id,
        retry_after,
        content_type,
    }
}

/// The keys of an object, recursively (`a`, `a.b`, `list[].c`), to compare shapes.
fn shape(v: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                out.insert(p.clone());
                shape(v, &p, out);
            }
        }
        Value::Array(list) => {
            for item in list {
                shape(item, &format!("{prefix}[]"), out);
            }
        }
        _ => {}
    }
}

fn keys_of(v: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    shape(v, "", &mut out);
    out
}

/// FreeScout's documented Get Conversation example (values trimmed; the shape is
/// what matters), minus the Time Tracking and Tags modules' `timelogs` and `tags`.
fn documented_conversation() -> Value {
    let person = json!({"id": 9, "type": "user", "firstName": "John", "lastName": "Doe", "photoUrl": null, "email": "j@example.org"});
    json!({
        "id": 1, "number": 3, "threadsCount": 2, "type": "email", "folderId": 11,
        "status": "closed", "state": "published", "subject": "Refund", "preview": "Could you",
        "mailboxId": 15, "assignee": person, "createdBy": person,
        "createdAt": "2020-03-15T22:46:22Z", "updatedAt": "2020-03-15T22:46:22Z",
        "closedBy": 14, "closedByUser": person, "closedAt": "2020-03-16T14:07:23Z",
        "userUpdatedAt": "2020-03-16T14:07:23Z",
        "customerWaitingSince": {"time": "2020-07-24T20:18:33Z", "friendly": "10 hours ago", "latestReplyFrom": "customer"},
        "source": {"type": "email", "via": "customer"},
        "cc": ["fox@example.org"], "bcc": ["fox@example.org"],
        "customer": person,
        "customFields": [],
        "_embedded": {"threads": [documented_thread(&person)]}
    })
}

/// The thread inside the documented conversation example.
fn documented_thread(person: &Value) -> Value {
    let files = json!([{"id": 71, "fileName": "example.pdf", "fileUrl": "https://x", "mimeType": "application/pdf", "size": 2331}]);
    json!({
        "id": 17, "type": "customer", "status": "active", "state": "published",
        "action": {"type": "changed-ticket-assignee", "text": "x", "associatedEntities": []},
        "body": "Thank you", "source": {"type": "email", "via": "customer"},
        "customer": person, "createdBy": person, "assignedTo": person,
        "to": ["test@example.org"], "cc": [], "bcc": [],
        "createdAt": "2020-06-05T20:18:33Z", "openedAt": "2020-06-07T10:01:25Z",
        "_embedded": {"attachments": files}
    })
}

/// FreeScout's documented Get Customer example.
fn documented_customer() -> Value {
    json!({
        "id": 75, "firstName": "Mark", "lastName": "Morrison", "company": "Example, Inc",
        "jobTitle": "Secretary", "photoType": "unknown", "photoUrl": "https://x",
        "createdAt": "2020-07-23T12:34:12Z", "updatedAt": "2020-07-24T20:18:33Z",
        "notes": "Nothing special to say.",
        "customerFields": [],
        "_embedded": {
            "emails": [{"id": 1, "value": "mark@example.org", "type": "home"}],
            "phones": [], "social_profiles": [], "websites": [],
            "address": {"city": null, "state": null, "zip": null, "country": null, "address": null}
        }
    })
}

/// FreeScout's documented Get User example.
fn documented_user() -> Value {
    json!({
        "id": 1, "firstName": "John", "lastName": "Doe", "email": "johndoe@example.org",
        "role": "admin", "alternateEmails": "", "jobTitle": "Support agent", "phone": "+1867342345",
        "timezone": "Etc/GMT-3", "photoUrl": null, "language": "en",
        "createdAt": "2018-08-09T10:08:53Z", "updatedAt": "2020-12-22T14:54:35Z"
    })
}

fn documented_page() -> Value {
    json!({"size": 50, "totalElements": 1, "totalPages": 1, "number": 1})
}

/// A key (generous rate) acting as `email`.
pub(crate) fn key_for(app: &TestApp, email: &str) -> String {
    new_key(app, email, "100000")
}

fn new_key(app: &TestApp, email: &str, rate: &str) -> String {
    let (ok, out, err) = run_cli(
        app.data.path(),
        &[
            "api-key", "create", "--user", email, "--name", "test", "--rate", rate,
        ],
    );
    assert!(ok, "{out}{err}");
    let key = out.trim().to_string();
    assert_eq!(key.len(), 64, "{out}");
    key
}

struct World {
    app: TestApp,
    a: i64,
    b: i64,
    agent_id: i64,
    admin: String,
    agent: String,
    outsider: String,
}

fn world(backend: Backend) -> World {
    let app = TestApp::installed(backend);
    let mut conn = app.conn();
    let now = postdesk::db::now();
    let new_box = |name: &'static str, email: &'static str| mailbox::NewMailbox {
        name,
        email,
        created_at: now,
        updated_at: now,
    };
    let a = mailbox::create(&mut conn, &new_box("Alpha", "alpha@example.com")).expect("A");
    let b = mailbox::create(&mut conn, &new_box("Beta", "beta@example.com")).expect("B");
    let agent_id = add_user(&app, "agent@example.com", "agent");
    add_user(&app, "outsider@example.com", "agent");
    mailbox_user::replace_grants(&mut conn, agent_id, &[(a, MailboxAccess::Reply)], now)
        .expect("grant");
    let admin = new_key(&app, ADMIN_EMAIL, "100000");
    let agent = new_key(&app, "agent@example.com", "100000");
    let outsider = new_key(&app, "outsider@example.com", "100000");
    World {
        app,
        a,
        b,
        agent_id,
        admin,
        agent,
        outsider,
    }
}

#[test]
fn every_endpoint_and_filter_answers_freescout_shapes_on_every_backend() {
    for backend in BACKENDS {
        endpoints_on(backend);
    }
}

fn endpoints_on(backend: Backend) {
    let w = world(backend);
    let base = w.app.base.clone();
    let admin = Auth::Header(&w.admin);
    let agent = Auth::Header(&w.agent);
    let go = |m: &str, p: &str, auth: Auth<'_>, b: Option<&Value>| call(&base, m, p, auth, b);

    // Customers: create, get, list, update.
    let made = go(
        "POST",
        "/api/customers",
        admin,
        Some(&json!({
            "firstName": "Mark", "lastName": "Morrison", "company": "Example, Inc",
            "jobTitle": "Secretary", "notes": "Nothing special to say.",
            "emails": [{"value": "Mark@Example.org", "type": "home"}],
            "phones": [{"value": "777-777-777", "type": "home"}], "somethingUnknown": 1
        })),
    );
    assert_eq!(made.status, 201, "{backend:?} {:?}", made.body);
    let mark = made.resource_id.expect("Resource-ID");
    let got = go("GET", &format!("/api/customers/{mark}"), admin, None);
    assert_eq!(got.status, 200);
    assert_eq!(
        keys_of(&got.body),
        keys_of(&documented_customer()),
        "{backend:?} customer shape"
    );
    assert_eq!(got.body["firstName"], "Mark");
    assert_eq!(
        got.body["_embedded"]["emails"][0]["value"],
        "mark@example.org"
    );
    assert_eq!(got.body["_embedded"]["emails"][0]["type"], "home");
    assert_eq!(got.body["jobTitle"], "Secretary");
    let dup = go(
        "POST",
        "/api/customers",
        admin,
        Some(&json!({"emails": [{"value": "mark@example.org"}]})),
    );
    assert_eq!(dup.status, 409, "{:?}", dup.body);
    let list = go("GET", "/api/customers?email=mark@example.org", agent, None);
    assert_eq!(list.status, 200);
    assert_eq!(keys_of(&list.body["page"]), keys_of(&documented_page()));
    assert_eq!(list.body["page"]["totalElements"], 1);
    assert_eq!(list.body["_embedded"]["customers"][0]["id"], mark);
    assert_eq!(
        go("GET", "/api/customers?firstName=Nobody", agent, None).body["page"]["totalElements"],
        0
    );
    assert_eq!(
        go("GET", "/api/customers?phone=777", agent, None).body["page"]["totalElements"],
        0
    );
    let upd = go(
        "PUT",
        &format!("/api/customers/{mark}"),
        agent,
        Some(&json!({
            "lastName": "Moss", "emails_add": ["mark2@example.org"]
        })),
    );
    assert_eq!(upd.status, 204, "{:?}", upd.body);
    let got = go("GET", &format!("/api/customers/{mark}"), agent, None).body;
    assert_eq!(got["lastName"], "Moss");
    assert_eq!(got["_embedded"]["emails"].as_array().map(Vec::len), Some(2));
    let sorted = go(
        "GET",
        "/api/customers?sortField=lastName&sortOrder=asc&pageSize=1",
        agent,
        None,
    )
    .body;
    assert_eq!(sorted["page"]["size"], 1);

    // Conversations: a customer message in A (mail comes in), an imported closed one in B.
    let created = go(
        "POST",
        "/api/conversations",
        admin,
        Some(&json!({
            "type": "email", "mailboxId": w.a, "subject": "Refund please",
            "customer": {"email": "mark@example.org"},
            "threads": [
                {"type": "note", "text": "Checking the order.", "user": null},
                {"type": "customer", "text": "Could you please refund my recent payment?", "cc": ["fox@example.org"]}
            ],
            "assignTo": w.agent_id
        })),
    );
    assert_eq!(created.status, 201, "{backend:?} {:?}", created.body);
    let c1 = created.resource_id.expect("Resource-ID");
    let imported = go(
        "POST",
        "/api/conversations",
        admin,
        Some(&json!({
            "type": "email", "mailboxId": w.b, "subject": "Old matter",
            "customer": {"email": "old@example.org", "firstName": "Olga"},
            "imported": true, "status": "closed",
            "createdAt": "2020-03-16T14:07:23Z", "closedAt": "2020-03-17T10:00:00Z",
            "threads": [
                {"type": "message", "text": "Done.", "createdAt": "2020-03-17T09:00:00Z"},
                {"type": "customer", "text": "Help", "createdAt": "2020-03-16T14:07:23Z"}
            ]
        })),
    );
    assert_eq!(imported.status, 201, "{:?}", imported.body);
    let c2 = imported.resource_id.expect("id");
    let old = go("GET", &format!("/api/conversations/{c2}"), admin, None).body;
    assert_eq!(old["createdAt"], "2020-03-16T14:07:23Z");
    assert_eq!(old["closedAt"], "2020-03-17T10:00:00Z");
    assert_eq!(old["status"], "closed");
    assert_eq!(
        old["_embedded"]["threads"][0]["type"], "message",
        "newest first"
    );
    assert_eq!(
        old["_embedded"]["threads"][1]["createdAt"],
        "2020-03-16T14:07:23Z"
    );
    let mut conn = w.app.conn();
    let queued: i64 = outbox::table
        .filter(outbox::conversation_id.eq(c2))
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(queued, 0, "imported replies are never sent");

    let got = go("GET", &format!("/api/conversations/{c1}"), agent, None);
    assert_eq!(got.status, 200);
    let mut want = keys_of(&documented_conversation());
    let have = keys_of(&got.body);
    // closedByUser and assignedTo are null here and there are no attachments yet:
    // their subkeys are absent (the attachment's are checked after the reply below).
    let attachment_keys: BTreeSet<String> = want
        .iter()
        .filter_map(|k| k.split_once("attachments[].").map(|(_, f)| f.to_string()))
        .collect();
    want.retain(|k| {
        !k.starts_with("closedByUser.")
            && !k.contains("assignedTo.")
            && !k.contains("attachments[].")
    });
    assert_eq!(have, want, "{backend:?} conversation shape");
    let v = &got.body;
    assert_eq!(v["type"], "email");
    assert_eq!(v["status"], "active");
    assert_eq!(v["state"], "published");
    assert_eq!(v["mailboxId"], w.a);
    assert_eq!(v["threadsCount"], 2);
    assert_eq!(v["customer"]["email"], "mark@example.org");
    assert_eq!(v["customer"]["type"], "customer");
    assert_eq!(v["assignee"]["id"], w.agent_id);
    assert_eq!(v["createdBy"]["type"], "customer");
    assert_eq!(v["source"], json!({"type": "email", "via": "customer"}));
    assert_eq!(v["customerWaitingSince"]["latestReplyFrom"], "customer");
    let all = v["_embedded"]["threads"].as_array().expect("threads");
    let assigned = all
        .iter()
        .find(|t| t["type"] == "lineitem")
        .expect("the assignment's line item");
    assert_eq!(assigned["action"]["type"], "changed-ticket-assignee");
    let threads: Vec<&Value> = all.iter().filter(|t| t["type"] != "lineitem").collect();
    assert_eq!(threads.len(), 2);
    assert_eq!(threads[0]["type"], "note");
    assert_eq!(threads[1]["type"], "customer");
    assert_eq!(threads[1]["cc"], json!(["fox@example.org"]));
    assert!(
        threads[1]["body"]
            .as_str()
            .unwrap_or_default()
            .contains("refund")
    );
    let number = v["number"].as_i64().expect("number");
    let no_threads = go(
        "GET",
        &format!("/api/conversations/{c1}?embed=none"),
        agent,
        None,
    )
    .body;
    assert_eq!(no_threads["_embedded"]["threads"], json!([]));

    // Lists and every filter.
    let count = |q: &str, auth: Auth<'_>| {
        let a = go("GET", &format!("/api/conversations{q}"), auth, None);
        assert_eq!(a.status, 200, "{q}: {:?}", a.body);
        a.body["page"]["totalElements"].as_i64().expect("total")
    };
    let page = go("GET", "/api/conversations", admin, None).body;
    assert_eq!(
        page["page"],
        json!({"size": 50, "totalElements": 1, "totalPages": 1, "number": 1}),
        "default: active only"
    );
    assert_eq!(page["_embedded"]["conversations"][0]["id"], c1);
    assert_eq!(
        page["_embedded"]["conversations"][0]["_embedded"]["threads"],
        json!([])
    );
    let embedded = go("GET", "/api/conversations?embed=threads", admin, None).body;
    assert_eq!(
        embedded["_embedded"]["conversations"][0]["_embedded"]["threads"]
            .as_array()
            .map(Vec::len),
        Some(3)
    );
    assert_eq!(count("?status=active,closed", admin), 2);
    assert_eq!(count("?status=closed", admin), 1);
    assert_eq!(
        count(&format!("?status=active,closed&mailboxId={}", w.b), admin),
        1
    );
    assert_eq!(
        count(
            &format!("?status=active,closed&mailboxId={},{}", w.a, w.b),
            admin
        ),
        2
    );
    assert_eq!(count("?type=phone", admin), 0);
    assert_eq!(count("?type=email", admin), 1);
    assert_eq!(count("?state=deleted", admin), 0);
    assert_eq!(count(&format!("?assignedTo={}", w.agent_id), admin), 1);
    assert_eq!(count("?assignedTo=", admin), 0);
    assert_eq!(count("?status=closed&assignedTo=", admin), 1);
    assert_eq!(count("?customerEmail=MARK@example.org", admin), 1);
    assert_eq!(count("?customerEmail=nobody@example.org", admin), 0);
    assert_eq!(count("?customerPhone=777", admin), 0);
    assert_eq!(count(&format!("?customerId={mark}"), admin), 1);
    assert_eq!(count(&format!("?number={number}"), admin), 1);
    assert_eq!(count("?subject=REFUND", admin), 1);
    assert_eq!(count("?subject=nothing-like-it", admin), 0);
    assert_eq!(count("?tag=overdue", admin), 0);
    assert_eq!(count(&format!("?createdByCustomerId={mark}"), admin), 1);
    assert_eq!(count("?status=closed&createdByUserId=1", admin), 0);
    assert_eq!(
        count(
            "?status=active,closed&createdSince=2021-01-07T12:00:03Z",
            admin
        ),
        1
    );
    assert_eq!(
        count(
            "?status=active,closed&updatedSince=2000-01-01T00:00:00Z",
            admin
        ),
        2
    );
    assert_eq!(
        count(&format!("?folderId={}", w.a * 1000 + 40), admin),
        1,
        "Assigned folder"
    );
    assert_eq!(
        count(&format!("?folderId={}", w.b * 1000 + 60), admin),
        1,
        "Closed folder"
    );
    let asc = go(
        "GET",
        "/api/conversations?status=active,closed&sortField=number&sortOrder=asc",
        admin,
        None,
    )
    .body;
    let desc = go(
        "GET",
        "/api/conversations?status=active,closed&sortField=number",
        admin,
        None,
    )
    .body;
    assert_eq!(asc["_embedded"]["conversations"][0]["id"], c1);
    assert_eq!(desc["_embedded"]["conversations"][0]["id"], c2);
    for field in [
        "createdAt",
        "mailboxId",
        "subject",
        "updatedAt",
        "waitingSince",
    ] {
        assert_eq!(
            count(&format!("?status=active,closed&sortField={field}"), admin),
            2
        );
    }
    let paged = go(
        "GET",
        "/api/conversations?status=active,closed&page=2&pageSize=1",
        admin,
        None,
    )
    .body;
    assert_eq!(
        paged["page"],
        json!({"size": 1, "totalElements": 2, "totalPages": 2, "number": 2})
    );
    assert_eq!(
        paged["_embedded"]["conversations"].as_array().map(Vec::len),
        Some(1)
    );

    // Permissions: the agent's key sees mailbox A only; the outsider's sees nothing.
    assert_eq!(count("?status=active,closed", agent), 1);
    assert_eq!(
        count(&format!("?status=active,closed&mailboxId={}", w.b), agent),
        0
    );
    assert_eq!(
        go("GET", &format!("/api/conversations/{c2}"), agent, None).status,
        404
    );
    assert_eq!(count("?status=active,closed", Auth::Header(&w.outsider)), 0);
    assert_eq!(
        go(
            "GET",
            &format!("/api/conversations/{c1}"),
            Auth::Header(&w.outsider),
            None
        )
        .status,
        404
    );
    let boxes = go("GET", "/api/mailboxes", agent, None).body;
    assert_eq!(
        boxes["_embedded"]["mailboxes"].as_array().map(Vec::len),
        Some(1)
    );
    assert_eq!(boxes["_embedded"]["mailboxes"][0]["id"], w.a);
    assert_eq!(
        keys_of(&boxes["_embedded"]["mailboxes"][0]),
        ["createdAt", "email", "id", "name", "updatedAt"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    assert_eq!(
        go("GET", "/api/mailboxes", admin, None).body["page"]["totalElements"],
        2
    );
    assert_eq!(
        go(
            "GET",
            &format!("/api/mailboxes?userId={}", w.agent_id),
            admin,
            None
        )
        .body["page"]["totalElements"],
        1
    );
    assert_eq!(
        go("GET", &format!("/api/mailboxes/{}", w.b), agent, None).status,
        404
    );
    let folders = go(
        "GET",
        &format!("/api/mailboxes/{}/folders", w.a),
        agent,
        None,
    );
    assert_eq!(folders.status, 200);
    let list = folders.body["_embedded"]["folders"]
        .as_array()
        .expect("folders")
        .clone();
    assert_eq!(list.len(), 8);
    assert_eq!(
        keys_of(&list[0]),
        [
            "activeCount",
            "id",
            "meta",
            "name",
            "totalCount",
            "type",
            "userId"
        ]
        .iter()
        .map(|s| s.to_string())
        .collect()
    );
    let assigned = list.iter().find(|f| f["type"] == 40).expect("Assigned");
    assert_eq!(assigned["totalCount"], 1);
    let mine = list.iter().find(|f| f["type"] == 20).expect("Mine");
    assert_eq!(mine["userId"], w.agent_id);
    assert_eq!(mine["totalCount"], 1);
    assert_eq!(
        go(
            "GET",
            &format!("/api/mailboxes/{}/folders", w.b),
            agent,
            None
        )
        .status,
        404
    );
    let webhook = go(
        "POST",
        "/api/webhooks",
        agent,
        Some(&json!({"url": "http://127.0.0.1:9/x", "events": ["convo.created"]})),
    );
    assert_eq!(webhook.status, 403);
    assert_eq!(webhook.body["errorCode"], "FORBIDDEN");

    // Users.
    let users = go("GET", "/api/users", agent, None).body;
    assert_eq!(users["page"]["totalElements"], 3);
    let ada = go(
        "GET",
        &format!("/api/users?email={ADMIN_EMAIL}"),
        agent,
        None,
    )
    .body;
    let ada = &ada["_embedded"]["users"][0];
    assert_eq!(keys_of(ada), keys_of(&documented_user()));
    assert_eq!(ada["role"], "admin");
    let one = go("GET", &format!("/api/users/{}", w.agent_id), agent, None).body;
    assert_eq!(one["role"], "user");
    assert_eq!(one["email"], "agent@example.com");
    assert_eq!(go("GET", "/api/users/999999", agent, None).status, 404);
    assert_eq!(go("GET", "/api/me", agent, None).body["id"], w.agent_id);

    // Threads: an agent reply goes through the outbox, a note does not, a customer
    // message reopens the conversation.
    let reply = go(
        "POST",
        &format!("/api/conversations/{c1}/threads"),
        agent,
        Some(&json!({
            "type": "message", "text": "Refunded.", "status": "closed",
            "attachments": [{"fileName": "r.txt", "mimeType": "text/plain", "data": "ZmlsZQ=="}]
        })),
    );
    assert_eq!(reply.status, 201, "{:?}", reply.body);
    let reply_id = reply.resource_id.expect("id");
    let queued: i64 = outbox::table
        .filter(outbox::thread_id.eq(reply_id))
        .count()
        .get_result(&mut conn)
        .expect("count");
    assert_eq!(queued, 1, "the reply is in the outbox like a UI reply");
    let after = go("GET", &format!("/api/conversations/{c1}"), agent, None).body;
    assert_eq!(after["status"], "closed");
    assert_eq!(after["_embedded"]["threads"][0]["type"], "message");
    assert_eq!(
        after["_embedded"]["threads"][0]["createdBy"]["id"],
        w.agent_id
    );
    let file = &after["_embedded"]["threads"][0]["_embedded"]["attachments"][0];
    assert_eq!(file["fileName"], "r.txt");
    assert_eq!(file["size"], 4);
    assert_eq!(keys_of(file), attachment_keys, "attachment shape");
    let note = go(
        "POST",
        &format!("/api/conversations/{c1}/threads"),
        agent,
        Some(&json!({"type": "note", "text": "internal"})),
    );
    assert_eq!(note.status, 201);
    let back = go(
        "POST",
        &format!("/api/conversations/{c1}/threads"),
        agent,
        Some(&json!({
            "type": "customer", "text": "Thanks, one more thing", "customer": {"email": "mark@example.org"}
        })),
    );
    assert_eq!(back.status, 201);
    assert_eq!(
        go("GET", &format!("/api/conversations/{c1}"), agent, None).body["status"],
        "active"
    );
    let as_other = go(
        "POST",
        &format!("/api/conversations/{c1}/threads"),
        agent,
        Some(&json!({"type": "note", "text": "x", "user": 1})),
    );
    assert_eq!(
        as_other.status, 403,
        "an agent's key cannot write as someone else"
    );

    // Update and delete.
    let put = go(
        "PUT",
        &format!("/api/conversations/{c1}"),
        agent,
        Some(&json!({
            "status": "pending", "subject": "Refund (order 7)", "customerId": mark
        })),
    );
    assert_eq!(put.status, 204, "{:?}", put.body);
    let after = go("GET", &format!("/api/conversations/{c1}"), agent, None).body;
    assert_eq!(after["status"], "pending");
    assert_eq!(after["subject"], "Refund (order 7)");
    let moved = go(
        "PUT",
        &format!("/api/conversations/{c1}"),
        agent,
        Some(&json!({"mailboxId": w.b})),
    );
    assert_eq!(
        moved.status, 400,
        "the agent cannot move into a mailbox it cannot see"
    );
    assert_eq!(moved.body["_embedded"]["errors"][0]["path"], "mailboxId");
    let moved = go(
        "PUT",
        &format!("/api/conversations/{c1}"),
        admin,
        Some(&json!({"mailboxId": w.b, "byUser": w.agent_id})),
    );
    assert_eq!(moved.status, 204, "{:?}", moved.body);
    assert_eq!(
        go("GET", &format!("/api/conversations/{c1}"), admin, None).body["mailboxId"],
        w.b
    );
    assert_eq!(
        go("GET", &format!("/api/conversations/{c1}"), agent, None).status,
        404,
        "moved out of the agent's sight"
    );
    assert_eq!(
        go("DELETE", &format!("/api/conversations/{c1}"), agent, None).status,
        404
    );
    assert_eq!(
        go("DELETE", &format!("/api/conversations/{c1}"), admin, None).status,
        204
    );
    assert_eq!(
        count("?state=published&status=active,pending,closed,spam", admin),
        1
    );

    // Errors: the documented body, field paths, unknown fields ignored.
    let bad = go(
        "POST",
        "/api/conversations",
        admin,
        Some(&json!({"type": "email"})),
    );
    assert_eq!(bad.status, 400);
    assert_eq!(bad.body["message"], "Bad request");
    assert_eq!(bad.body["errorCode"], "BAD REQUEST");
    assert_eq!(bad.body["_embedded"]["errors"][0]["path"], "mailboxId");
    assert_eq!(bad.body["_embedded"]["errors"][0]["source"], "JSON");
    let bad = go(
        "PUT",
        &format!("/api/conversations/{c2}"),
        admin,
        Some(&json!({"status": "Wrong", "extra": true})),
    );
    assert_eq!(bad.status, 400);
    let e = &bad.body["_embedded"]["errors"][0];
    assert_eq!(e["path"], "status");
    assert_eq!(e["rejectedValue"], "Wrong");
    assert_eq!(
        e["message"],
        "Expected one of these: 'active', 'pending', 'closed', 'spam'"
    );
    let bad = go(
        "GET",
        "/api/conversations?pageSize=1000&sortField=color",
        admin,
        None,
    );
    assert_eq!(bad.status, 400);
    let paths: BTreeSet<String> = bad.body["_embedded"]["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["path"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        paths,
        ["pageSize", "sortField"]
            .iter()
            .map(|s| s.to_string())
            .collect()
    );
    let bad = go(
        "POST",
        "/api/conversations",
        admin,
        Some(&json!({
            "type": "email", "mailboxId": w.a, "subject": "s", "customer": {"email": "x@example.org"},
            "threads": [{"type": "fax", "text": "t"}]
        })),
    );
    assert_eq!(
        bad.body["_embedded"]["errors"][0]["path"],
        "threads[0].type"
    );
    let wrong_type = go(
        "POST",
        "/api/customers",
        admin,
        Some(&json!({"firstName": 5})),
    );
    assert_eq!(wrong_type.status, 400);
    assert_eq!(
        wrong_type.body["_embedded"]["errors"][0]["path"],
        "firstName"
    );
    assert_eq!(
        go("GET", "/api/conversations/999999", admin, None).status,
        404
    );
    assert_eq!(go("GET", "/api/conversations/abc", admin, None).status, 404);
    let nope = go("PATCH", &format!("/api/conversations/{c2}"), admin, None);
    assert_eq!(nope.status, 405);
    assert_eq!(nope.body["errorCode"], "METHOD NOT ALLOWED");

    // Authentication: header, api_key parameter, HTTP Basic; none or a wrong key is 401.
    assert_eq!(
        go("GET", "/api/me", Auth::Query(&w.agent), None).body["id"],
        w.agent_id
    );
    assert_eq!(
        go("GET", "/api/me", Auth::Basic(&w.agent), None).body["id"],
        w.agent_id
    );
    let anon = go("GET", "/api/conversations", Auth::None, None);
    assert_eq!(anon.status, 401);
    assert_eq!(anon.body["errorCode"], "UNAUTHORIZED");
    assert_eq!(go("GET", "/api/me", Auth::Header("0000"), None).status, 401);
    assert_eq!(
        go("POST", "/api/customers", Auth::None, Some(&json!({}))).status,
        401
    );

    // The OpenAPI document lists every route.
    let doc = go("GET", "/api/openapi.json", Auth::None, None);
    assert_eq!(doc.status, 200);
    assert_eq!(doc.body["openapi"], "3.1.0");
    for route in postdesk::api::routes() {
        let path = route.path.to_string();
        assert!(
            doc.body["paths"][&path][route.method.as_str().to_lowercase()].is_object(),
            "{} {path} is documented",
            route.method
        );
    }
}

#[test]
fn huge_bodies_wrong_media_and_floods_are_refused() {
    let w = world(Backend::Sqlite);
    let base = w.app.base.clone();
    // 413: a body over the limit (sent for real, not only announced).
    let big = "x".repeat(postdesk::api::input::BODY_LIMIT + 10);
    let r = ureq::post(&format!("{base}/api/customers"))
        .set("X-FreeScout-API-Key", &w.admin)
        .set("Content-Type", "application/json")
        .send_string(&format!("{{\"notes\":\"{big}\"}}"));
    let a = answer(r);
    assert_eq!(a.status, 413);
    assert_eq!(a.body["errorCode"], "PAYLOAD TOO LARGE");
    // 415: not JSON.
    let r = ureq::post(&format!("{base}/api/customers"))
        .set("X-FreeScout-API-Key", &w.admin)
        .set("Content-Type", "text/plain")
        .send_string("{}");
    assert_eq!(answer(r).status, 415);
    // Malformed JSON is a 400 in the documented shape.
    let r = ureq::post(&format!("{base}/api/customers"))
        .set("X-FreeScout-API-Key", &w.admin)
        .set("Content-Type", "application/json")
        .send_string("{\"firstName\": ");
    let a = answer(r);
    assert_eq!(a.status, 400);
    assert!(a.content_type.contains("json"));
    // 429 with Retry-After once a key's bucket is empty; other keys are unaffected.
    let slow = new_key(&w.app, "agent@example.com", "3");
    for _ in 0..3 {
        assert_eq!(
            call(&base, "GET", "/api/me", Auth::Header(&slow), None).status,
            200
        );
    }
    let limited = call(&base, "GET", "/api/me", Auth::Header(&slow), None);
    assert_eq!(limited.status, 429);
    let wait: u64 = limited
        .retry_after
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!((1..=20).contains(&wait), "{wait}");
    assert_eq!(limited.body["errorCode"], "TOO MANY REQUESTS");
    assert_eq!(
        call(&base, "GET", "/api/me", Auth::Header(&w.agent), None).status,
        200
    );
    // Revoked keys stop working.
    let (ok, out, _) = run_cli(w.app.data.path(), &["api-key", "list"]);
    assert!(ok && out.contains("agent@example.com"), "{out}");
    let id = out
        .lines()
        .find(|l| l.contains(&slow[..8]))
        .and_then(|l| l.split('\t').next())
        .expect("listed")
        .to_string();
    let (ok, _, err) = run_cli(w.app.data.path(), &["api-key", "revoke", &id]);
    assert!(ok, "{err}");
    assert_eq!(
        call(&base, "GET", "/api/me", Auth::Header(&slow), None).status,
        401
    );
}

/// A one-connection-at-a-time HTTP server answering `codes` in turn, reporting each
/// request's headers and body.
fn receiver(codes: Vec<u16>) -> (String, mpsc::Receiver<(Vec<(String, String)>, String)>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let url = format!("http://{}/hook", listener.local_addr().expect("addr"));
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for (i, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().expect("clone"));
            let mut headers = Vec::new();
            let mut len = 0;
            loop {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
                if let Some((k, v)) = line.trim_end().split_once(": ") {
                    if k.eq_ignore_ascii_case("content-length") {
                        len = v.parse().unwrap_or(0);
                    }
                    headers.push((k.to_ascii_lowercase(), v.to_string()));
                }
            }
            let mut body = vec![0; len];
            let _ = reader.read_exact(&mut body);
            let code = codes.get(i).copied().unwrap_or(200);
            let _ = write!(
                stream,
                "HTTP/1.1 {code} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            let _ = tx.send((headers, String::from_utf8_lossy(&body).into_owned()));
        }
    });
    (url, rx)
}

#[test]
fn webhooks_are_signed_retried_and_deleted() {
    let w = world(Backend::Sqlite);
    let base = w.app.base.clone();
    let admin = Auth::Header(&w.admin);
    // The first delivery fails (500); the retry 15 seconds later succeeds.
    let (url, got) = receiver(vec![500, 200, 200]);
    let hook = call(
        &base,
        "POST",
        "/api/webhooks",
        admin,
        Some(&json!({
            "url": url, "events": ["convo.created", "customer.created"]
        })),
    );
    assert_eq!(hook.status, 201, "{:?}", hook.body);
    let secret = hook.body["secret"].as_str().expect("secret").to_string();
    let hook_id = hook.resource_id.expect("Resource-ID");
    let bad = call(
        &base,
        "POST",
        "/api/webhooks",
        admin,
        Some(&json!({"url": "ftp://x", "events": ["convo.exploded"]})),
    );
    assert_eq!(bad.status, 400);
    assert_eq!(
        bad.body["_embedded"]["errors"].as_array().map(Vec::len),
        Some(2)
    );

    let made = call(
        &base,
        "POST",
        "/api/conversations",
        admin,
        Some(&json!({
            "type": "email", "mailboxId": w.a, "subject": "Hooked",
            "customer": {"email": "hook@example.org"},
            "threads": [{"type": "customer", "text": "Hello"}]
        })),
    );
    assert_eq!(made.status, 201);
    let conv = made.resource_id.expect("id");
    let verify = |headers: &[(String, String)], body: &str| {
        let header = |n: &str| {
            headers
                .iter()
                .find(|(k, _)| k == n)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        let mut mac = Hmac::<sha1::Sha1>::new_from_slice(secret.as_bytes()).expect("key");
        mac.update(body.as_bytes());
        let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        assert_eq!(
            header("x-freescout-signature"),
            want,
            "signed with the webhook secret"
        );
        header("x-freescout-event")
    };
    let mut seen = Vec::new();
    // customer.created and convo.created, the first delivery twice (failed, then retried).
    while seen.len() < 3 {
        let (headers, body) = got
            .recv_timeout(Duration::from_secs(40))
            .expect("a delivery");
        let event = verify(&headers, &body);
        let json: Value = serde_json::from_str(&body).expect("JSON body");
        if event == "convo.created" {
            assert_eq!(json["id"], conv);
            assert_eq!(json["subject"], "Hooked");
            assert_eq!(json["_embedded"]["threads"][0]["type"], "customer");
        } else {
            assert_eq!(event, "customer.created");
            assert_eq!(json["_embedded"]["emails"][0]["value"], "hook@example.org");
        }
        seen.push(event);
    }
    assert_eq!(
        seen.iter().filter(|e| **e == seen[0]).count(),
        2,
        "the failed one is retried: {seen:?}"
    );
    assert!(
        seen.contains(&"convo.created".to_string())
            && seen.contains(&"customer.created".to_string())
    );
    assert_eq!(
        call(
            &base,
            "DELETE",
            &format!("/api/webhooks/{hook_id}"),
            admin,
            None
        )
        .status,
        204
    );
    assert_eq!(
        call(
            &base,
            "DELETE",
            &format!("/api/webhooks/{hook_id}"),
            admin,
            None
        )
        .status,
        404
    );
}

#[test]
fn admins_create_and_revoke_keys_in_settings() {
    let w = world(Backend::Sqlite);
    let admin = w.app.client();
    assert_eq!(admin.login(ADMIN_EMAIL, ADMIN_PASSWORD).status, 303);
    let page = admin.get("/settings/api-keys");
    assert_eq!(page.status, 200);
    assert!(page.body.contains("id=\"api-key-form\""), "{}", page.body);
    let made = admin.post_from(
        "/settings/api-keys",
        "/settings/api-keys",
        &[
            ("name", "Zapier"),
            ("user_id", &w.agent_id.to_string()),
            ("rate", "60"),
        ],
    );
    assert_eq!(made.status, 200, "{}", made.body);
    let key = made
        .body
        .split("id=\"new-api-key-value\">")
        .nth(1)
        .and_then(|r| r.split('<').next())
        .expect("the key is shown once")
        .to_string();
    assert_eq!(
        call(&w.app.base, "GET", "/api/me", Auth::Header(&key), None).body["id"],
        w.agent_id
    );
    let again = admin.get("/settings/api-keys").body;
    assert!(
        again.contains("Zapier") && !again.contains(&key),
        "shown once only"
    );
    let bad = admin.post_from(
        "/settings/api-keys",
        "/settings/api-keys",
        &[("name", ""), ("user_id", "1"), ("rate", "60")],
    );
    assert_eq!(bad.status, 422);
    let mut conn = w.app.conn();
    let id: i64 = postdesk::db::schema::api_keys::table
        .filter(postdesk::db::schema::api_keys::name.eq("Zapier"))
        .select(postdesk::db::schema::api_keys::id)
        .first(&mut conn)
        .expect("key row");
    let hash: String = postdesk::db::schema::api_keys::table
        .find(id)
        .select(postdesk::db::schema::api_keys::key_hash)
        .first(&mut conn)
        .expect("hash");
    assert_ne!(hash, key, "stored hashed");
    let gone = admin.post_from(
        "/settings/api-keys",
        &format!("/settings/api-keys/{id}/revoke"),
        &[],
    );
    assert_eq!(gone.status, 303);
    assert_eq!(
        call(&w.app.base, "GET", "/api/me", Auth::Header(&key), None).status,
        401
    );
    let agent = w.app.client();
    assert_eq!(
        agent.login("agent@example.com", "blue-harbour-17").status,
        303
    );
    assert_eq!(agent.get("/settings/api-keys").status, 403);
}
