//! Types and pure logic used by both the changeaudit server and its browser app.
//!
//! Nothing here may depend on an async runtime, a database or a web framework: the crate must
//! build for `wasm32-unknown-unknown` as well as for the server.

pub mod api;
pub mod approval;
pub mod asciicast;
pub mod benign;
pub mod board;
pub mod command;
pub mod constant_time;
pub mod enforcement;
pub mod evidence;
pub mod export;
pub mod host_key;
pub mod line_error;
pub mod merkle;
pub mod navigation;
pub mod problem;
pub mod recognizer;
pub mod replay;
pub mod report;
pub mod role;
pub mod rules;
pub mod script;
pub mod shell_marks;
pub mod sign_in;
pub mod terminal;
pub mod trail;
pub mod transcript;
pub mod verify;
pub mod words;
