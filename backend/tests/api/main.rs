//! The backend's one integration-test binary: real servers on `127.0.0.1:0`, each on a fresh
//! database. `CHANGEAUDIT_TEST_DATABASE=postgres` (with `CHANGEAUDIT_TEST_POSTGRES_URL`) runs
//! every test against PostgreSQL instead of SQLite; `CHANGEAUDIT_TEST_RECORDINGS=s3` keeps
//! every server's recordings in the S3-compatible store `CHANGEAUDIT_TEST_S3_*` names (the test
//! command starts a Garage node), which `object_recordings` always uses.

// A test's helpers may panic: a panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod activity;
mod anchoring;
mod approvals;
mod audit_command;
mod audit_trail;
mod authorization;
mod change_life;
mod changes;
mod cluster;
mod command_rules;
mod copy_database;
mod credentials;
mod devices;
mod enforcement;
mod first_admin;
mod fixtures;
mod health;
mod helpers;
mod http_surface;
mod layout;
mod logs;
mod master_key;
mod memory;
mod notifications;
mod object_recordings;
mod recognition;
mod revocation;
mod schema;
mod sessions;
mod siem;
mod sign_in;
mod terminal;
mod terminal_client;
mod trail;
mod users_and_groups;
