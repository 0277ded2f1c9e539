//! `/api/users`: list and get. Any key may read the team (FreeScout's API does too);
//! disabled and deleted accounts are not listed.

use actix_web::{HttpResponse, web};
use diesel::prelude::*;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::auth::ApiUser;
use super::error::{ApiError, run};
use super::input::{ApiQuery, Checks, paging};
use super::views::{Page, UserRow, UserView};
use crate::AppState;
use crate::db::schema::users;
use crate::db::types::UserStatus;

/// Query of `GET /api/users`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ListQuery {
    /// Look up a user by email.
    email: Option<String>,
    /// Page number, from 1.
    #[schemars(with = "Option<u32>")]
    page: Option<String>,
    /// Page size (default 50, at most 100).
    #[schemars(with = "Option<u32>")]
    page_size: Option<String>,
}

/// `_embedded` of a user list.
#[derive(Debug, Serialize, JsonSchema)]
pub struct Users {
    /// The users.
    users: Vec<UserView>,
}

/// A page of users.
#[derive(Debug, Serialize, JsonSchema)]
pub struct UserList {
    /// The users.
    #[serde(rename = "_embedded")]
    embedded: Users,
    /// Paging.
    page: Page,
}

/// `GET /api/users`.
pub async fn list(
    state: web::Data<AppState>,
    _me: ApiUser,
    q: ApiQuery<ListQuery>,
) -> Result<HttpResponse, ApiError> {
    let q = q.0;
    let mut checks = Checks::default();
    let (number, size) = paging(&mut checks, &q.page, &q.page_size);
    checks.finish()?;
    let email = q
        .email
        .map(|e| e.trim().to_lowercase())
        .filter(|e| !e.is_empty());
    let out = run(&state.pool, move |c| {
        let base = || {
            let mut query = users::table
                .filter(users::status.ne(UserStatus::Deleted.as_i16()))
                .into_boxed();
            if let Some(e) = &email {
                query = query.filter(users::email.eq(e.clone()));
            }
            query
        };
        let total: i64 = base().count().get_result(c)?;
        let rows: Vec<UserRow> = base()
            .order(users::id)
            .offset(Page::offset(number, size))
            .limit(size)
            .select(UserRow::as_select())
            .load(c)?;
        Ok(UserList {
            embedded: Users {
                users: rows.iter().map(UserRow::view).collect(),
            },
            page: Page::new(number, size, total),
        })
    })
    .await?;
    Ok(HttpResponse::Ok().json(out))
}

/// `GET /api/users/{userId}`.
pub async fn get(
    state: web::Data<AppState>,
    _me: ApiUser,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let found = run(&state.pool, move |c| {
        Ok(users::table
            .find(id)
            .filter(users::status.ne(UserStatus::Deleted.as_i16()))
            .select(UserRow::as_select())
            .first(c)
            .optional()?)
    })
    .await?
    .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok().json(found.view()))
}

/// `GET /api/me`: the user the key acts as.
pub async fn me(state: web::Data<AppState>, me: ApiUser) -> Result<HttpResponse, ApiError> {
    let id = me.user.id;
    let row = run(&state.pool, move |c| {
        Ok(users::table
            .find(id)
            .select(UserRow::as_select())
            .first(c)?)
    })
    .await?;
    Ok(HttpResponse::Ok().json(row.view()))
}
