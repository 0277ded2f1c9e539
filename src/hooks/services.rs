//! What a module may ask of the host during a call: its own key-value storage and an
//! HTTP POST. The host makes the HTTP request (with its TLS stack and a bounded timeout)
//! so a module needs no network code of its own and stays small.

use std::io::Read;
use std::time::Duration;

use postdesk_module_api::host::HostServices;
use postdesk_module_api::{HostReply, HostRequest, HttpResponse};
use serde_json::Value;

use super::store;
use crate::db::DbPool;

/// The longest a module may make the host wait for one HTTP request.
const MAX_HTTP_TIMEOUT: Duration = Duration::from_secs(30);
/// How much of an HTTP answer the module gets back.
const MAX_HTTP_BODY: u64 = 64 * 1024;
/// The largest value a module may store under one key.
const MAX_STORAGE_VALUE: usize = 1024 * 1024;

/// Services for one module.
pub struct Services {
    /// The database.
    pub pool: DbPool,
    /// Whose storage.
    pub module: String,
}

impl HostServices for Services {
    fn handle(&self, request: &[u8]) -> Vec<u8> {
        let reply = match serde_json::from_slice::<HostRequest>(request) {
            Ok(req) => match self.answer(req) {
                Ok(value) => HostReply::Ok { value },
                Err(message) => HostReply::Error { message },
            },
            Err(e) => HostReply::Error {
                message: format!("unknown request: {e}"),
            },
        };
        serde_json::to_vec(&reply).unwrap_or_default()
    }
}

impl Services {
    fn answer(&self, req: HostRequest) -> Result<Value, String> {
        if let HostRequest::HttpPost {
            url,
            headers,
            body,
            timeout_ms,
        } = req
        {
            return http_post(&url, &headers, &body, timeout_ms);
        }
        let mut conn = self.pool.get().map_err(|e| e.to_string())?;
        let conn = &mut *conn;
        let m = self.module.as_str();
        let done = match req {
            HostRequest::StorageGet { key } => {
                store::storage_get(conn, m, &key).map(|v| v.map_or(Value::Null, Value::String))
            }
            HostRequest::StorageSet { key, value } => {
                if key.is_empty() || key.len() > 191 {
                    return Err("storage keys are 1-191 bytes".into());
                }
                if value.len() > MAX_STORAGE_VALUE {
                    return Err("storage values are at most 1 MiB".into());
                }
                store::storage_set(conn, m, &key, &value).map(|()| Value::Null)
            }
            HostRequest::StorageDelete { key } => {
                store::storage_delete(conn, m, &key).map(|()| Value::Null)
            }
            HostRequest::StorageList { prefix } => store::storage_list(conn, m, &prefix)
                .map(|rows| serde_json::to_value(rows).unwrap_or_default()),
            HostRequest::HttpPost { .. } => return Err("unreachable".into()),
        };
        done.map_err(|e| format!("storage: {e}"))
    }
}

/// POSTs `body` to `url` and returns the status and (the start of) the answer. Only a
/// failure to get any answer is an error.
fn http_post(
    url: &str,
    headers: &[(String, String)],
    body: &str,
    timeout_ms: u64,
) -> Result<Value, String> {
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) {
        return Err(format!(
            "only http:// and https:// URLs can be posted to, not {url:?}"
        ));
    }
    let timeout = Duration::from_millis(timeout_ms.max(1)).min(MAX_HTTP_TIMEOUT);
    let agent = ureq::AgentBuilder::new()
        .timeout(timeout)
        .redirects(0)
        .user_agent(concat!("Postdesk/", env!("CARGO_PKG_VERSION")))
        .build();
    let mut request = agent.post(url);
    for (name, value) in headers {
        request = request.set(name, value);
    }
    let response = match request.send_string(body) {
        Ok(r) | Err(ureq::Error::Status(_, r)) => r,
        Err(e) => return Err(e.to_string()),
    };
    let status = response.status();
    let mut text = String::new();
    // A body that is not UTF-8 or fails half-way still leaves a useful status.
    let _ = response
        .into_reader()
        .take(MAX_HTTP_BODY)
        .read_to_string(&mut text);
    serde_json::to_value(HttpResponse { status, body: text }).map_err(|e| e.to_string())
}
