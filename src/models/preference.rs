//! Small per-user interface preferences (name → value); a missing row means the default.

use diesel::prelude::*;

use crate::db::schema::user_preferences;
use crate::db::{self, AnyConnection};

/// Conversation pages list threads newest first ("1") or oldest first (missing / "0").
pub const THREADS_NEWEST_FIRST: &str = "threads_newest_first";

/// One preference of a user, if set.
pub fn get(conn: &mut AnyConnection, user_id: i64, name: &str) -> QueryResult<Option<String>> {
    user_preferences::table
        .filter(user_preferences::user_id.eq(user_id))
        .filter(user_preferences::name.eq(name))
        .select(user_preferences::value)
        .first(conn)
        .optional()
}

/// Sets one preference of a user.
pub fn set(conn: &mut AnyConnection, user_id: i64, name: &str, value: &str) -> QueryResult<()> {
    conn.transaction(|c| {
        diesel::delete(
            user_preferences::table
                .filter(user_preferences::user_id.eq(user_id))
                .filter(user_preferences::name.eq(name)),
        )
        .execute(c)?;
        diesel::insert_into(user_preferences::table)
            .values((
                user_preferences::user_id.eq(user_id),
                user_preferences::name.eq(name),
                user_preferences::value.eq(value),
                user_preferences::updated_at.eq(db::now()),
            ))
            .execute(c)
            .map(|_| ())
    })
}
