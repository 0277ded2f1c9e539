//! `GET /search?q=`: conversations the user may see that match, in the list's look.

use actix_web::{HttpRequest, HttpResponse, web};

use crate::AppState;
use crate::conversations::folders::Cursor;
use crate::error::AppError;
use crate::web::mailbox_view::{PAGE_SIZE, query_value, row_views};
use crate::web::page::render;
use crate::web::session::CurrentUser;

/// The threads searches run on, one per core (at most four): a text search reads up to
/// [`crate::search::BODY_WINDOW`] message bodies, so more at once would only share the
/// cores, hold pool connections the other pages need, and spread the memory they churn
/// over every blocking thread's allocator arena (resident memory after 64 concurrent
/// searches: about 200 MiB on the shared blocking threads; see docs/BENCHMARKS.md).
fn search_lane() -> Result<&'static crate::db::Lane, AppError> {
    static LANE: std::sync::OnceLock<Result<crate::db::Lane, String>> = std::sync::OnceLock::new();
    LANE.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
        crate::db::Lane::new("search", cores.min(4)).map_err(|e| e.to_string())
    })
    .as_ref()
    .map_err(|e| AppError::Internal(format!("cannot start the search threads: {e}")))
}

/// `GET /search?q=&after=`: the results, newest first, a page at a time.
pub async fn page(
    state: web::Data<AppState>,
    req: HttpRequest,
    me: CurrentUser,
) -> Result<HttpResponse, AppError> {
    let q = query_value(&req, "q").unwrap_or_default();
    let after = query_value(&req, "after").and_then(|s| Cursor::from_param(&s));
    let user = me.user.clone();
    let query = q.clone();
    let (rows, next) = search_lane()?
        .run(&state.pool, move |c| {
            Ok(crate::search::search(
                c,
                &user,
                &query,
                after.as_ref(),
                PAGE_SIZE,
            )?)
        })
        .await?;
    let lang = crate::web::page::language(&req, Some(&me));
    let mut ctx = tera::Context::new();
    ctx.insert("q", q.trim());
    ctx.insert(
        "rows",
        &row_views(lang, &crate::web::clock::Clock::of(&me.user), rows),
    );
    ctx.insert(
        "next_url",
        &next.map(|c| {
            let query = serde_urlencoded::to_string([("q", q.trim()), ("after", &c.to_param())])
                .unwrap_or_default();
            format!("/search?{query}")
        }),
    );
    ctx.insert("first_page", &after.is_none());
    ctx.insert(
        "first_url",
        &format!(
            "/search?{}",
            serde_urlencoded::to_string([("q", q.trim())]).unwrap_or_default()
        ),
    );
    ctx.insert("bulk", &false);
    ctx.insert("can_change", &false);
    render(&state, &req, Some(&me), "search.html", ctx)
}
