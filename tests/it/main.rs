//! The integration suite: one binary, run by `tests/run` against real SQLite, PostgreSQL
//! and MariaDB servers.

mod data_layer;
mod golden;
mod inbound;
mod modules;
mod schema_parity;
mod server;
mod support;
