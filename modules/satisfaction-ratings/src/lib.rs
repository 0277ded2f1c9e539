//! The satisfaction-ratings module: every outgoing reply ends with "How did we do? Great /
//! Okay / Not good" links (the `reply_before_enqueue` filter). A click lands on the public
//! `rate` route, which records the rating and offers an optional comment form; the rating
//! shows in the conversation sidebar (the `conversation_sidebar` slot), and the `report`
//! route counts them.
//!
//! Links carry an HMAC of `conversation.thread` with a secret kept in the module's
//! storage, so nobody can rate a conversation they were not sent. Storage keys: `secret`,
//! `rating/<conversation id, 12 digits>` (the latest rating of a conversation).

use std::collections::BTreeMap;
use std::hash::{BuildHasher, Hasher};
use std::time::{SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use postdesk_module_api::payloads::OutgoingReply;
use postdesk_module_api::{
    Context, Module, RouteRequest, RouteResponse, export_module, html_escape,
};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;

/// The three answers, as stored and as they appear in links.
pub const RATINGS: [&str; 3] = ["great", "okay", "bad"];
/// The longest comment kept.
const MAX_COMMENT: usize = 2000;

/// A recorded rating.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rating {
    /// `great`, `okay` or `bad`.
    pub rating: String,
    /// The reply that was rated.
    pub thread_id: i64,
    /// The customer's comment ("" if none).
    pub comment: String,
    /// When (seconds since the epoch).
    pub at: u64,
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The token in a rating link for one reply.
pub fn token(secret: &str, conversation_id: i64, thread_id: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of any length"));
    mac.update(format!("{conversation_id}.{thread_id}").as_bytes());
    hex(&mac.finalize().into_bytes())[..32].to_string()
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// 256 bits from the standard library's randomly seeded hashers (seeded from the OS).
fn random_secret() -> String {
    (0..4)
        .map(|i| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(i);
            h.write_u128(
                SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_nanos())
                    .unwrap_or(0),
            );
            format!("{:016x}", h.finish())
        })
        .collect()
}

fn rating_key(conversation_id: i64) -> String {
    format!("rating/{conversation_id:012}")
}

struct Ratings;

impl Ratings {
    fn secret(&self, ctx: &Context) -> Result<String, String> {
        if let Some(s) = ctx.storage_get("secret")? {
            return Ok(s);
        }
        ctx.storage_set("secret", &random_secret())?;
        ctx.storage_get("secret")?
            .ok_or_else(|| "the secret was not stored".to_string())
    }

    fn label(ctx: &Context, rating: &str) -> String {
        ctx.setting(rating)
    }

    fn links(&self, ctx: &Context, conversation_id: i64, thread_id: i64) -> Result<String, String> {
        let t = token(&self.secret(ctx)?, conversation_id, thread_id);
        let base = format!(
            "{}/m/satisfaction-ratings/rate?c={conversation_id}&t={thread_id}&s={t}",
            ctx.public_url()
        );
        let links: Vec<String> = RATINGS
            .iter()
            .map(|r| {
                format!(
                    "<a href=\"{}&amp;r={r}\">{}</a>",
                    html_escape(&base),
                    html_escape(&Self::label(ctx, r))
                )
            })
            .collect();
        Ok(format!(
            "<p class=\"satisfaction-ratings\">{} {}</p>",
            html_escape(&ctx.setting("question")),
            links.join(" · ")
        ))
    }

    /// The ids in a link, if its token is right.
    fn verify(
        &self,
        ctx: &Context,
        q: &BTreeMap<String, String>,
    ) -> Result<Option<(i64, i64)>, String> {
        let (Some(c), Some(t), Some(s)) = (
            q.get("c").and_then(|v| v.parse::<i64>().ok()),
            q.get("t").and_then(|v| v.parse::<i64>().ok()),
            q.get("s"),
        ) else {
            return Ok(None);
        };
        Ok((token(&self.secret(ctx)?, c, t) == *s).then_some((c, t)))
    }

    fn rate(&self, ctx: &Context, request: &RouteRequest) -> Result<RouteResponse, String> {
        let Some((conversation_id, thread_id)) = self.verify(ctx, &request.query)? else {
            return Ok(page(400, "This rating link is not valid.", ""));
        };
        let key = rating_key(conversation_id);
        if request.method == "POST" {
            let Some(mut rating) = ctx
                .storage_get(&key)?
                .and_then(|v| serde_json::from_str::<Rating>(&v).ok())
            else {
                return Ok(page(400, "Please choose a rating first.", ""));
            };
            let comment = request.form.get("comment").cloned().unwrap_or_default();
            rating.comment = comment.chars().take(MAX_COMMENT).collect();
            ctx.storage_set(
                &key,
                &serde_json::to_string(&rating).map_err(|e| e.to_string())?,
            )?;
            return Ok(page(200, "Thank you for your comment!", ""));
        }
        let Some(choice) = request
            .query
            .get("r")
            .filter(|r| RATINGS.contains(&r.as_str()))
        else {
            return Ok(page(400, "This rating link is not valid.", ""));
        };
        let rating = Rating {
            rating: choice.clone(),
            thread_id,
            comment: String::new(),
            at: now_secs(),
        };
        ctx.storage_set(
            &key,
            &serde_json::to_string(&rating).map_err(|e| e.to_string())?,
        )?;
        let action = format!(
            "{}/m/satisfaction-ratings/rate?c={conversation_id}&t={thread_id}&s={}",
            ctx.public_url(),
            request
                .query
                .get("s")
                .map(String::as_str)
                .unwrap_or_default()
        );
        let form = format!(
            "<form method=\"post\" action=\"{}\"><p><label for=\"comment\">Anything you would like to add?</label></p>\
             <p><textarea id=\"comment\" name=\"comment\" rows=\"5\" cols=\"50\" maxlength=\"{MAX_COMMENT}\"></textarea></p>\
             <p><button type=\"submit\">Send</button></p></form>",
            html_escape(&action)
        );
        let thanks = format!(
            "Thank you! You rated our reply: {}.",
            Self::label(ctx, choice)
        );
        Ok(page(200, &thanks, &form))
    }

    /// Counts per answer and the 50 latest ratings: an HTML page, or JSON with
    /// `?format=json`.
    fn report(&self, ctx: &Context, request: &RouteRequest) -> Result<RouteResponse, String> {
        let mut counts: BTreeMap<&str, u64> = RATINGS.iter().map(|r| (*r, 0)).collect();
        let mut recent = Vec::new();
        for (key, value) in ctx.storage_list("rating/")? {
            let Ok(r) = serde_json::from_str::<Rating>(&value) else {
                continue;
            };
            if let Some(n) = counts.get_mut(r.rating.as_str()) {
                *n += 1;
            }
            let conversation_id: i64 = key.trim_start_matches("rating/").parse().unwrap_or(0);
            recent.push(json!({"conversation_id": conversation_id, "rating": r.rating, "comment": r.comment, "at": r.at}));
        }
        recent.sort_by_key(|v| std::cmp::Reverse(v["at"].as_u64().unwrap_or(0)));
        recent.truncate(50);
        let total: u64 = counts.values().sum();
        if request.query.get("format").is_some_and(|f| f == "json") {
            return Ok(RouteResponse::json(
                200,
                &json!({"total": total, "counts": counts, "recent": recent}),
            ));
        }
        let share = |n: u64| (n * 100).checked_div(total).unwrap_or(0);
        let rows: String = RATINGS
            .iter()
            .map(|r| {
                let n = counts.get(r).copied().unwrap_or(0);
                format!(
                    "<tr><td>{}</td><td>{n}</td><td>{}%</td></tr>",
                    html_escape(&Self::label(ctx, r)),
                    share(n)
                )
            })
            .collect();
        let latest: String = recent
            .iter()
            .map(|v| {
                format!(
                    "<tr><td>#{}</td><td>{}</td><td>{}</td></tr>",
                    v["conversation_id"],
                    html_escape(&Self::label(ctx, v["rating"].as_str().unwrap_or_default())),
                    html_escape(v["comment"].as_str().unwrap_or_default())
                )
            })
            .collect();
        Ok(RouteResponse::html(
            200,
            format!(
                "<!doctype html><html><head><meta charset=\"utf-8\"><title>Satisfaction ratings</title></head><body>\
                 <h1>Satisfaction ratings</h1><p>{total} ratings</p>\
                 <table><tr><th>Answer</th><th>Count</th><th>Share</th></tr>{rows}</table>\
                 <h2>Latest</h2><table><tr><th>Conversation</th><th>Answer</th><th>Comment</th></tr>{latest}</table>\
                 </body></html>"
            ),
        ))
    }
}

fn page(status: u16, message: &str, extra: &str) -> RouteResponse {
    RouteResponse::html(
        status,
        format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width\">\
             <title>Thank you</title></head><body><p>{}</p>{extra}</body></html>",
            html_escape(message)
        ),
    )
}

impl Module for Ratings {
    fn filter(&self, ctx: &Context, hook: &str, value: &Value) -> Result<Option<Value>, String> {
        if hook != "reply_before_enqueue" {
            return Ok(None);
        }
        let mut reply: OutgoingReply =
            serde_json::from_value(value.clone()).map_err(|e| e.to_string())?;
        if reply.html.contains("class=\"satisfaction-ratings\"") {
            return Ok(None);
        }
        let links = self.links(ctx, reply.conversation_id, reply.thread_id)?;
        reply.html = format!("{}\n{links}", reply.html);
        serde_json::to_value(reply)
            .map(Some)
            .map_err(|e| e.to_string())
    }

    fn slot(&self, ctx: &Context, slot: &str, data: &Value) -> Result<Option<String>, String> {
        match slot {
            "conversation_sidebar" => {}
            // A way to the report from the main menu and the settings menu.
            "main_menu" | "settings_menu" => {
                return Ok(Some(
                    "<a href=\"/m/satisfaction-ratings/report\">Ratings</a>".to_string(),
                ));
            }
            _ => return Ok(None),
        }
        let Some(id) = data.get("conversation_id").and_then(Value::as_i64) else {
            return Ok(None);
        };
        let Some(rating) = ctx
            .storage_get(&rating_key(id))?
            .and_then(|v| serde_json::from_str::<Rating>(&v).ok())
        else {
            return Ok(None);
        };
        let comment = if rating.comment.is_empty() {
            String::new()
        } else {
            format!("<blockquote>{}</blockquote>", html_escape(&rating.comment))
        };
        Ok(Some(format!(
            "<div><strong>Customer rating:</strong> {}{comment}</div>",
            html_escape(&Self::label(ctx, &rating.rating))
        )))
    }

    fn route(&self, ctx: &Context, request: &RouteRequest) -> Result<RouteResponse, String> {
        match request.path.as_str() {
            "rate" => self.rate(ctx, request),
            "report" => self.report(ctx, request),
            _ => Ok(RouteResponse::text(404, "not found")),
        }
    }
}

export_module!(Ratings, Ratings);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_bind_conversation_and_thread() {
        let a = token("k", 1, 2);
        assert_eq!(a.len(), 32);
        assert_eq!(a, token("k", 1, 2));
        assert_ne!(a, token("k", 1, 3));
        assert_ne!(a, token("other", 1, 2));
        assert_eq!(random_secret().len(), 64);
        assert_ne!(random_secret(), random_secret());
    }
}
