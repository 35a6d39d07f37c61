//! Tests over real sessions: the shell-integration script in real bash and zsh, and command
//! recognition over the recorded corpus of real bash sessions.

// A panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod corpus;
mod recognition;
mod shell_integration;
