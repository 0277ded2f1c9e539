//! The three migration sets must produce the same tables, columns and indexes.

use std::collections::BTreeMap;

use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer, Nullable, Text};
use postdesk::db::{AnyConnection, Backend};

use crate::support::{BACKENDS, TestDb};

/// table -> (columns: name -> (type, nullable), indexes: name -> (unique, columns)).
type Schema = BTreeMap<String, Table>;

#[derive(Debug, Default, PartialEq)]
struct Table {
    columns: BTreeMap<String, (String, bool)>,
    indexes: BTreeMap<String, (bool, Vec<String>)>,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct SqliteColumn {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text, column_name = "type")]
    ty: String,
    #[diesel(sql_type = Integer)]
    notnull: i32,
    #[diesel(sql_type = Integer)]
    pk: i32,
}

#[derive(QueryableByName)]
struct SqliteIndex {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Integer)]
    unique: i32,
    #[diesel(sql_type = Text)]
    origin: String,
}

#[derive(QueryableByName)]
struct InfoColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    column_name: String,
    #[diesel(sql_type = Text)]
    data_type: String,
    #[diesel(sql_type = Text)]
    is_nullable: String,
    #[diesel(sql_type = Nullable<BigInt>)]
    max_len: Option<i64>,
}

#[derive(QueryableByName)]
struct PgIndex {
    #[diesel(sql_type = Text)]
    tablename: String,
    #[diesel(sql_type = Text)]
    indexname: String,
    #[diesel(sql_type = Text)]
    indexdef: String,
}

#[derive(QueryableByName)]
struct MysqlIndexColumn {
    #[diesel(sql_type = Text)]
    table_name: String,
    #[diesel(sql_type = Text)]
    index_name: String,
    #[diesel(sql_type = BigInt)]
    non_unique: i64,
    #[diesel(sql_type = Text)]
    column_name: String,
}

/// Maps each backend's spelling of a type onto one comparable name.
fn normalize(ty: &str, max_len: Option<i64>) -> String {
    let t = ty.to_ascii_lowercase();
    if let Some(len) = t.strip_prefix("varchar(").and_then(|r| r.strip_suffix(')')) {
        return format!("varchar({len})");
    }
    match t.as_str() {
        "character varying" | "varchar" => format!("varchar({})", max_len.unwrap_or(0)),
        "bigint" => "bigint".into(),
        "integer" | "int" => "integer".into(),
        "smallint" => "smallint".into(),
        "boolean" | "tinyint" => "bool".into(),
        "text" | "longtext" => "text".into(),
        "timestamp" | "timestamp without time zone" | "datetime" => "timestamp".into(),
        "blob" | "bytea" | "longblob" => "binary".into(),
        other => format!("unknown:{other}"),
    }
}

/// Adds columns read from `information_schema` (PostgreSQL and MySQL spell it alike).
fn add_info_columns(schema: &mut Schema, cols: Vec<InfoColumn>) {
    for col in cols.into_iter().filter(|c| c.table_name != SKIP_TABLE) {
        let ty = if col.column_name == "id" {
            "primary key".into()
        } else {
            normalize(&col.data_type, col.max_len)
        };
        let nullable = col.is_nullable == "YES";
        schema
            .entry(col.table_name)
            .or_default()
            .columns
            .insert(col.column_name, (ty, nullable));
    }
}

const SKIP_TABLE: &str = "__diesel_schema_migrations";

fn introspect(conn: &mut AnyConnection) -> Schema {
    let mut schema = Schema::new();
    match conn {
        AnyConnection::Sqlite(c) => {
            let tables: Vec<Name> = diesel::sql_query(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'",
            )
            .load(c)
            .expect("sqlite tables");
            for t in tables.into_iter().filter(|t| t.name != SKIP_TABLE) {
                let mut table = Table::default();
                let cols: Vec<SqliteColumn> =
                    diesel::sql_query(format!("PRAGMA table_info({})", t.name))
                        .load(c)
                        .expect("columns");
                for col in cols {
                    // Only `id` keys count as "primary key": the other backends are read
                    // by column name, and a composite key's columns keep their types.
                    let ty = if col.pk == 1 && col.name == "id" {
                        "primary key".into()
                    } else {
                        normalize(&col.ty, None)
                    };
                    table.columns.insert(col.name, (ty, col.notnull == 0));
                }
                let idx: Vec<SqliteIndex> =
                    diesel::sql_query(format!("PRAGMA index_list({})", t.name))
                        .load(c)
                        .expect("indexes");
                for i in idx.into_iter().filter(|i| i.origin == "c") {
                    let cols: Vec<Name> = diesel::sql_query(format!(
                        "SELECT name FROM pragma_index_info('{}') ORDER BY seqno",
                        i.name
                    ))
                    .load(c)
                    .expect("index columns");
                    table.indexes.insert(
                        i.name,
                        (i.unique == 1, cols.into_iter().map(|c| c.name).collect()),
                    );
                }
                schema.insert(t.name, table);
            }
        }
        AnyConnection::Postgresql(c) => {
            let cols: Vec<InfoColumn> = diesel::sql_query(
                "SELECT table_name::text AS table_name, column_name::text AS column_name, \
                 data_type::text AS data_type, is_nullable::text AS is_nullable, \
                 character_maximum_length::bigint AS max_len \
                 FROM information_schema.columns WHERE table_schema = 'public'",
            )
            .load(c)
            .expect("pg columns");
            add_info_columns(&mut schema, cols);
            let idx: Vec<PgIndex> = diesel::sql_query(
                "SELECT tablename::text AS tablename, indexname::text AS indexname, indexdef FROM pg_indexes WHERE schemaname = 'public'",
            )
            .load(c)
            .expect("pg indexes");
            for i in idx
                .into_iter()
                .filter(|i| i.tablename != SKIP_TABLE && !i.indexname.ends_with("_pkey"))
            {
                let cols = i
                    .indexdef
                    .rsplit_once('(')
                    .and_then(|(_, r)| r.strip_suffix(')'))
                    .map(|r| r.split(", ").map(str::to_string).collect())
                    .unwrap_or_default();
                let unique = i.indexdef.starts_with("CREATE UNIQUE");
                schema
                    .entry(i.tablename)
                    .or_default()
                    .indexes
                    .insert(i.indexname, (unique, cols));
            }
        }
        AnyConnection::Mysql(c) => {
            let cols: Vec<InfoColumn> = diesel::sql_query(
                "SELECT CAST(table_name AS CHAR) AS table_name, CAST(column_name AS CHAR) AS column_name, \
                 CAST(IF(column_type = 'tinyint(1)', 'boolean', data_type) AS CHAR) AS data_type, \
                 CAST(is_nullable AS CHAR) AS is_nullable, CAST(character_maximum_length AS SIGNED) AS max_len \
                 FROM information_schema.columns WHERE table_schema = DATABASE()",
            )
            .load(c)
            .expect("mysql columns");
            add_info_columns(&mut schema, cols);
            let idx: Vec<MysqlIndexColumn> = diesel::sql_query(
                "SELECT CAST(table_name AS CHAR) AS table_name, CAST(index_name AS CHAR) AS index_name, \
                 CAST(non_unique AS SIGNED) AS non_unique, CAST(column_name AS CHAR) AS column_name \
                 FROM information_schema.statistics WHERE table_schema = DATABASE() \
                 ORDER BY table_name, index_name, seq_in_index",
            )
            .load(c)
            .expect("mysql indexes");
            for i in idx
                .into_iter()
                .filter(|i| i.table_name != SKIP_TABLE && i.index_name != "PRIMARY")
            {
                let entry = schema
                    .entry(i.table_name)
                    .or_default()
                    .indexes
                    .entry(i.index_name)
                    .or_insert((i.non_unique == 0, Vec::new()));
                entry.1.push(i.column_name);
            }
        }
    }
    schema
}

#[test]
fn three_backends_have_the_same_schema() {
    let mut found: Vec<(Backend, Schema)> = Vec::new();
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let mut conn = db.migrated();
        found.push((backend, introspect(&mut conn)));
    }
    let (base_backend, base) = &found[0];
    assert!(
        base.len() >= 18,
        "expected the core tables, found {:?}",
        base.keys().collect::<Vec<_>>()
    );
    for table in base.values() {
        for (name, (ty, _)) in &table.columns {
            assert!(
                !ty.starts_with("unknown"),
                "column {name} has an unmapped type {ty}"
            );
        }
    }
    for (backend, schema) in &found[1..] {
        for (name, table) in base {
            let other = schema
                .get(name)
                .unwrap_or_else(|| panic!("{backend:?} lacks table {name}"));
            assert_eq!(
                table.columns, other.columns,
                "columns of {name}: {base_backend:?} vs {backend:?}"
            );
            assert_eq!(
                table.indexes, other.indexes,
                "indexes of {name}: {base_backend:?} vs {backend:?}"
            );
        }
        assert_eq!(
            base.keys().collect::<Vec<_>>(),
            schema.keys().collect::<Vec<_>>(),
            "tables: {base_backend:?} vs {backend:?}"
        );
    }
}

#[test]
fn migration_folders_have_the_same_names() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let names = |b: &str| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(root.join(b))
            .expect("migration folder")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let sqlite = names("sqlite");
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, names("postgres"));
    assert_eq!(sqlite, names("mysql"));
}

#[test]
fn migrations_run_twice_change_nothing() {
    for backend in BACKENDS {
        let db = TestDb::new(backend);
        let mut conn = db.migrated();
        assert_eq!(
            postdesk::db::run_migrations(&mut conn).expect("second run"),
            0,
            "{backend:?}"
        );
        assert!(
            postdesk::db::pending_migrations(&mut conn)
                .expect("pending")
                .is_empty()
        );
    }
}
