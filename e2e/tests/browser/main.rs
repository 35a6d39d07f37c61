//! Browser tests: the real server, driven through headless Chromium.

// A panic is how a test fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod sign_in;
