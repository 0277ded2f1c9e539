//! The integration suite: one binary, run by `tests/run` against real SQLite, PostgreSQL
//! and MariaDB servers.

mod accounts;
mod api;
mod app;
mod authz_matrix;
mod browser;
mod browser_workspace;
mod conversation_page;
mod customers;
mod data_layer;
mod general_settings;
mod golden;
mod inbound;
mod installer;
mod mail_admin;
mod modules;
mod modules_admin;
mod notifications;
mod outbound;
mod permissions;
mod schema_parity;
mod seed;
mod server;
mod support;
mod workspace;
