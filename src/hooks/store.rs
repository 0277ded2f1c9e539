//! The module host's tables: `module_state` (active or not, why it was disabled, failures
//! in a row, the admin's settings) and `module_storage` (each module's key-value store).
//! Written once in portable diesel: "upserts" are a delete and an insert in one
//! transaction, which every backend runs the same way.

use diesel::prelude::*;

use crate::db::schema::{module_state, module_storage};
use crate::db::{self, AnyConnection};

/// A module's persisted state.
#[derive(Debug, Clone, PartialEq, Queryable)]
pub struct ModuleState {
    /// Row id.
    pub id: i64,
    /// The module's name.
    pub name: String,
    /// Whether the host calls it.
    pub active: bool,
    /// Why it was disabled ("" when the admin turned it off, or when active).
    pub disabled_reason: String,
    /// Failures in a row since the last success.
    pub failures: i32,
    /// The admin's settings as a JSON object (defaults are not stored).
    pub settings: String,
    /// Last change.
    pub updated_at: chrono::NaiveDateTime,
}

/// The state of `name`, creating an active row on first sight.
pub fn state_or_create(conn: &mut AnyConnection, name: &str) -> QueryResult<ModuleState> {
    if let Some(s) = find_state(conn, name)? {
        return Ok(s);
    }
    let inserted = diesel::insert_into(module_state::table)
        .values((
            module_state::name.eq(name),
            module_state::active.eq(true),
            module_state::disabled_reason.eq(""),
            module_state::failures.eq(0),
            module_state::settings.eq("{}"),
            module_state::updated_at.eq(db::now()),
        ))
        .execute(conn);
    match inserted {
        // Another process made it first: read theirs.
        Ok(_)
        | Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => find_state(conn, name)?.ok_or(diesel::result::Error::NotFound),
        Err(e) => Err(e),
    }
}

/// The state of `name`, if it was ever loaded.
pub fn find_state(conn: &mut AnyConnection, name: &str) -> QueryResult<Option<ModuleState>> {
    module_state::table
        .filter(module_state::name.eq(name))
        .first(conn)
        .optional()
}

/// Turns a module on (clearing its failures and reason) or off (with a reason, "" when
/// the admin chose it).
pub fn set_active(
    conn: &mut AnyConnection,
    name: &str,
    active: bool,
    reason: &str,
) -> QueryResult<()> {
    state_or_create(conn, name)?;
    diesel::update(module_state::table.filter(module_state::name.eq(name)))
        .set((
            module_state::active.eq(active),
            module_state::disabled_reason.eq(reason),
            module_state::failures.eq(0),
            module_state::updated_at.eq(db::now()),
        ))
        .execute(conn)
        .map(|_| ())
}

/// Stores the failures-in-a-row count.
pub fn set_failures(conn: &mut AnyConnection, name: &str, failures: i32) -> QueryResult<()> {
    diesel::update(module_state::table.filter(module_state::name.eq(name)))
        .set(module_state::failures.eq(failures))
        .execute(conn)
        .map(|_| ())
}

/// Stores the admin's settings (a JSON object).
pub fn set_settings(conn: &mut AnyConnection, name: &str, settings: &str) -> QueryResult<()> {
    state_or_create(conn, name)?;
    diesel::update(module_state::table.filter(module_state::name.eq(name)))
        .set((
            module_state::settings.eq(settings),
            module_state::updated_at.eq(db::now()),
        ))
        .execute(conn)
        .map(|_| ())
}

/// One value of a module's storage.
pub fn storage_get(
    conn: &mut AnyConnection,
    module: &str,
    key: &str,
) -> QueryResult<Option<String>> {
    module_storage::table
        .filter(module_storage::module.eq(module))
        .filter(module_storage::storage_key.eq(key))
        .select(module_storage::value)
        .first(conn)
        .optional()
}

/// Sets one value of a module's storage.
pub fn storage_set(
    conn: &mut AnyConnection,
    module: &str,
    key: &str,
    value: &str,
) -> QueryResult<()> {
    crate::db::dialect::write_transaction(&mut *conn, |c| {
        storage_delete(c, module, key)?;
        diesel::insert_into(module_storage::table)
            .values((
                module_storage::module.eq(module),
                module_storage::storage_key.eq(key),
                module_storage::value.eq(value),
                module_storage::updated_at.eq(db::now()),
            ))
            .execute(c)
            .map(|_| ())
    })
}

/// Removes one key of a module's storage.
pub fn storage_delete(conn: &mut AnyConnection, module: &str, key: &str) -> QueryResult<()> {
    diesel::delete(
        module_storage::table
            .filter(module_storage::module.eq(module))
            .filter(module_storage::storage_key.eq(key)),
    )
    .execute(conn)
    .map(|_| ())
}

/// The `(key, value)` pairs of a module whose key starts with `prefix`, in key order.
pub fn storage_list(
    conn: &mut AnyConnection,
    module: &str,
    prefix: &str,
) -> QueryResult<Vec<(String, String)>> {
    // Filtered and sorted here rather than with LIKE and ORDER BY, whose escaping and
    // collation rules differ by backend; a module's store is small.
    let mut rows: Vec<(String, String)> = module_storage::table
        .filter(module_storage::module.eq(module))
        .select((module_storage::storage_key, module_storage::value))
        .load(conn)?;
    rows.retain(|(k, _)| k.starts_with(prefix));
    rows.sort();
    Ok(rows)
}
