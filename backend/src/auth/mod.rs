//! Who is asking: passwords, sign-in sessions, and the guard against password guessing.

mod current_user;
pub mod failures;
pub mod handlers;
mod hashing;
pub mod known_browser;
pub mod password;
pub mod session;
pub mod throttle;

pub use current_user::{CurrentUser, SignIn};
