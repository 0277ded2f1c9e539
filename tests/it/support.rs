//! Test databases: a fresh database per test on each backend, dropped afterwards.

use std::sync::atomic::{AtomicU32, Ordering};

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use postdesk::db::{self, AnyConnection, Backend};

/// Every backend the suite runs against.
pub const BACKENDS: [Backend; 3] = [Backend::Sqlite, Backend::Postgres, Backend::Mysql];

/// Where the PostgreSQL test server is (tests/run starts it).
pub fn postgres_admin_url() -> String {
    std::env::var("POSTDESK_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".into())
}

/// Where the MariaDB test server is (tests/run starts it).
pub fn mysql_admin_url() -> String {
    std::env::var("POSTDESK_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".into())
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A fresh, empty database on one backend.
pub struct TestDb {
    /// The URL Postdesk connects to.
    pub url: String,
    /// Which backend.
    pub backend: Backend,
    name: String,
    _dir: Option<tempfile::TempDir>,
}

impl TestDb {
    /// Creates a fresh database; panics naming the server when it cannot be reached.
    pub fn new(backend: Backend) -> TestDb {
        let name = format!(
            "pdtest_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst),
            chrono::Utc::now().timestamp_subsec_micros()
        );
        match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir for SQLite");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                TestDb {
                    url,
                    backend,
                    name,
                    _dir: Some(dir),
                }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let mut c = diesel::PgConnection::establish(&format!("{admin}/postgres"))
                    .unwrap_or_else(|e| {
                        panic!("PostgreSQL is not reachable at {admin} (tests/run starts it): {e}")
                    });
                c.batch_execute(&format!("CREATE DATABASE {name}"))
                    .expect("create pg database");
                TestDb {
                    url: format!("{admin}/{name}"),
                    backend,
                    name,
                    _dir: None,
                }
            }
            Backend::Mysql => {
                let admin = mysql_admin_url();
                let mut c = diesel::MysqlConnection::establish(&format!("{admin}/mysql"))
                    .unwrap_or_else(|e| {
                        panic!("MariaDB is not reachable at {admin} (tests/run starts it): {e}")
                    });
                c.batch_execute(&format!(
                    "CREATE DATABASE {name} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                ))
                .expect("create mysql database");
                TestDb {
                    url: format!("{admin}/{name}"),
                    backend,
                    name,
                    _dir: None,
                }
            }
        }
    }

    /// A connection with every migration applied.
    pub fn migrated(&self) -> AnyConnection {
        let mut conn = db::establish(&self.url).expect("connect to test database");
        db::run_migrations(&mut conn).expect("migrations run");
        conn
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match self.backend {
            Backend::Sqlite => {}
            Backend::Postgres => {
                if let Ok(mut c) =
                    diesel::PgConnection::establish(&format!("{}/postgres", postgres_admin_url()))
                {
                    let _ = c.batch_execute(&format!(
                        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                        self.name
                    ));
                }
            }
            Backend::Mysql => {
                if let Ok(mut c) =
                    diesel::MysqlConnection::establish(&format!("{}/mysql", mysql_admin_url()))
                {
                    let _ = c.batch_execute(&format!("DROP DATABASE IF EXISTS {}", self.name));
                }
            }
        }
    }
}
