//! Database access: one connection type over SQLite, PostgreSQL and MySQL/MariaDB, chosen
//! at run time by the URL scheme, behind an r2d2 pool.

pub mod dialect;
pub mod schema;
pub mod types;

use std::path::Path;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

/// Migrations for each backend, embedded in the binary. The three folders hold the same
/// migration names (a test enforces it).
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
/// PostgreSQL migrations.
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");
/// MySQL/MariaDB migrations.
pub const MYSQL_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/mysql");

/// One connection over the three backends. Only what all three share compiles against
/// it; the rest goes through [`dialect`].
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    /// PostgreSQL.
    Postgresql(diesel::PgConnection),
    /// MySQL or MariaDB.
    Mysql(diesel::MysqlConnection),
    /// Bundled SQLite; kept last so the derived `establish` cannot claim other URLs first.
    Sqlite(diesel::SqliteConnection),
}

/// The backend a database URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `sqlite://path` (or a bare path).
    Sqlite,
    /// `postgres://` or `postgresql://`.
    Postgres,
    /// `mysql://` or `mariadb://`.
    Mysql,
}

impl Backend {
    /// Picks the backend from the URL scheme. Anything without a known scheme is a SQLite path.
    pub fn from_url(url: &str) -> Backend {
        let lower = url.to_ascii_lowercase();
        if lower.starts_with("postgres://") || lower.starts_with("postgresql://") {
            Backend::Postgres
        } else if lower.starts_with("mysql://") || lower.starts_with("mariadb://") {
            Backend::Mysql
        } else {
            Backend::Sqlite
        }
    }

    /// A human name for messages.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
            Backend::Mysql => "MySQL/MariaDB",
        }
    }

    fn migrations(self) -> EmbeddedMigrations {
        match self {
            Backend::Sqlite => SQLITE_MIGRATIONS,
            Backend::Postgres => POSTGRES_MIGRATIONS,
            Backend::Mysql => MYSQL_MIGRATIONS,
        }
    }
}

/// Errors of the database layer, each naming what failed and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The server could not be reached or refused the login.
    #[error("cannot connect to the {backend} database at {url}: {cause}")]
    Connect {
        /// Which backend.
        backend: &'static str,
        /// The URL with any password hidden.
        url: String,
        /// The driver's own message.
        cause: String,
    },
    /// A migration failed.
    #[error("database migration failed: {0}")]
    Migration(String),
    /// The pool could not hand out a connection.
    #[error("no database connection available: {0}")]
    Pool(#[from] diesel::r2d2::PoolError),
    /// A query failed.
    #[error("database query failed: {0}")]
    Query(#[from] diesel::result::Error),
}

/// The r2d2 pool type used everywhere.
pub type DbPool = diesel::r2d2::Pool<ConnectionManager>;
/// A connection checked out of the pool.
pub type PooledConn = diesel::r2d2::PooledConnection<ConnectionManager>;

/// Opens connections by URL scheme so the real driver error reaches the admin (diesel's
/// derived `establish` tries each backend and reports only "invalid URL").
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    url: String,
    backend: Backend,
}

impl ConnectionManager {
    /// A manager for `url` (`sqlite://…`, `postgres://…`, `mysql://…`).
    pub fn new(url: &str) -> Self {
        ConnectionManager {
            url: url.to_string(),
            backend: Backend::from_url(url),
        }
    }
}

/// Opens one connection, dispatching on the URL scheme, and applies per-connection setup.
pub fn establish(url: &str) -> Result<AnyConnection, DbError> {
    let backend = Backend::from_url(url);
    let fail = |e: diesel::ConnectionError| DbError::Connect {
        backend: backend.name(),
        url: redact_url(url),
        cause: e.to_string().trim().to_string(),
    };
    let mut conn = match backend {
        Backend::Postgres => {
            AnyConnection::Postgresql(diesel::PgConnection::establish(url).map_err(fail)?)
        }
        Backend::Mysql => {
            let url = url.replacen("mariadb://", "mysql://", 1);
            AnyConnection::Mysql(diesel::MysqlConnection::establish(&url).map_err(fail)?)
        }
        Backend::Sqlite => {
            let path = sqlite_path(url);
            if let Some(parent) = Path::new(path)
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
            {
                std::fs::create_dir_all(parent).map_err(|e| DbError::Connect {
                    backend: backend.name(),
                    url: url.to_string(),
                    cause: format!("cannot create folder {}: {e}", parent.display()),
                })?;
            }
            AnyConnection::Sqlite(diesel::SqliteConnection::establish(path).map_err(fail)?)
        }
    };
    dialect::prepare_connection(&mut conn).map_err(|e| DbError::Connect {
        backend: backend.name(),
        url: redact_url(url),
        cause: format!("connection setup failed: {e}"),
    })?;
    Ok(conn)
}

/// The file path inside a `sqlite://` URL.
pub fn sqlite_path(url: &str) -> &str {
    url.strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .unwrap_or(url)
}

/// The URL with its password replaced by `***`, for logs and messages.
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

impl diesel::r2d2::ManageConnection for ConnectionManager {
    type Connection = AnyConnection;
    type Error = DbError;

    fn connect(&self) -> Result<AnyConnection, DbError> {
        establish(&self.url)
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), DbError> {
        conn.batch_execute("SELECT 1").map_err(DbError::Query)
    }

    fn has_broken(&self, _conn: &mut AnyConnection) -> bool {
        false
    }
}

/// Builds the pool. The first connection is opened at once so a wrong URL fails here,
/// with the driver's message, instead of on the first request.
pub fn connect_pool(url: &str, size: u32) -> Result<DbPool, DbError> {
    let manager = ConnectionManager::new(url);
    let backend = manager.backend;
    // SQLite allows one writer; a small pool avoids queueing on its lock.
    let size = if backend == Backend::Sqlite {
        size.min(8)
    } else {
        size
    }
    .max(1);
    // Surface the real error (r2d2 would only time out).
    drop(establish(url)?);
    diesel::r2d2::Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(10))
        .build(manager)
        .map_err(DbError::Pool)
}

/// Runs the pending migrations for the connection's backend and returns how many ran.
pub fn run_migrations(conn: &mut AnyConnection) -> Result<usize, DbError> {
    let set = dialect::backend(conn).migrations();
    conn.run_pending_migrations(set)
        .map(|done| done.len())
        .map_err(|e| DbError::Migration(e.to_string()))
}

/// Names of migrations embedded for `backend` that have not run on `conn` yet.
pub fn pending_migrations(conn: &mut AnyConnection) -> Result<Vec<String>, DbError> {
    let set = dialect::backend(conn).migrations();
    conn.pending_migrations(set)
        .map(|list| list.iter().map(|m| m.name().to_string()).collect())
        .map_err(|e| DbError::Migration(e.to_string()))
}

/// Runs blocking database work off the async executor (diesel is synchronous).
pub async fn run<T, F>(pool: &DbPool, work: F) -> Result<T, crate::error::AppError>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, crate::error::AppError> + Send + 'static,
    T: Send + 'static,
{
    let pool = pool.clone();
    actix_web::web::block(move || {
        let mut conn = pool.get().map_err(DbError::Pool)?;
        work(&mut conn)
    })
    .await
    .map_err(|e| crate::error::AppError::Internal(format!("blocking task failed: {e}")))?
}

type LaneJob = Box<dyn FnOnce() + Send>;

/// A few threads of their own for one kind of heavy database work (body search): at most
/// that many such jobs run at once, later ones wait without holding a thread or a pool
/// connection, and the memory they churn stays in those threads' allocator arenas instead
/// of raising the high-water mark of every blocking thread's arena.
pub struct Lane {
    jobs: std::sync::mpsc::Sender<LaneJob>,
}

impl Lane {
    /// Starts `threads` threads named `name-N`.
    pub fn new(name: &str, threads: usize) -> std::io::Result<Lane> {
        let (tx, rx) = std::sync::mpsc::channel::<LaneJob>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for n in 0..threads.max(1) {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{n}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                })?;
        }
        Ok(Lane { jobs: tx })
    }

    /// Runs `work` with a pooled connection on one of the lane's threads.
    pub async fn run<T, F>(&self, pool: &DbPool, work: F) -> Result<T, crate::error::AppError>
    where
        F: FnOnce(&mut AnyConnection) -> Result<T, crate::error::AppError> + Send + 'static,
        T: Send + 'static,
    {
        use crate::error::AppError;
        let pool = pool.clone();
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: LaneJob = Box::new(move || {
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut conn = pool.get().map_err(DbError::Pool)?;
                work(&mut conn)
            }))
            .unwrap_or_else(|_| Err(AppError::Internal("the database work panicked".into())));
            let _ = tx.send(outcome);
        });
        self.jobs
            .send(job)
            .map_err(|_| AppError::Internal("the work lane has stopped".into()))?;
        rx.await
            .map_err(|_| AppError::Internal("the work lane dropped a job".into()))?
    }
}

/// The current time in UTC, cut to microseconds: the precision all three backends keep, so
/// a value reads back exactly as it was written.
pub fn now() -> chrono::NaiveDateTime {
    use chrono::{SubsecRound, Utc};
    Utc::now().naive_utc().trunc_subsecs(6)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backend_is_chosen_by_scheme() {
        assert_eq!(Backend::from_url("postgres://x@h/db"), Backend::Postgres);
        assert_eq!(Backend::from_url("postgresql://x@h/db"), Backend::Postgres);
        assert_eq!(Backend::from_url("mysql://root@h/db"), Backend::Mysql);
        assert_eq!(Backend::from_url("mariadb://root@h/db"), Backend::Mysql);
        assert_eq!(Backend::from_url("sqlite://data/p.db"), Backend::Sqlite);
        assert_eq!(Backend::from_url("data/p.db"), Backend::Sqlite);
        assert_eq!(sqlite_path("sqlite://data/p.db"), "data/p.db");
    }

    #[test]
    fn passwords_are_hidden_in_messages() {
        assert_eq!(
            redact_url("postgres://pd:s3cret@db:5432/postdesk"),
            "postgres://pd:***@db:5432/postdesk"
        );
        assert_eq!(redact_url("mysql://root@h/db"), "mysql://root@h/db");
        assert_eq!(redact_url("sqlite://x.db"), "sqlite://x.db");
    }
}
