//! The browser terminal: who may open one (`gate`), the SSH side (`ssh`), opening a recorded
//! session (`opening`), running it (`broker`), its rows (`store`), what every running session is
//! asked about together (`watchdog`), watching it live (`watch`, its bytes from `follow`) and
//! the routes (`handlers`).
//!
//! A session's live state is its task and its WebSocket, on the replica the browser reached;
//! everything another replica needs (that it runs, its heartbeat, a termination request, its
//! commands, its recording) is in the database and the recording store.

pub mod broker;
mod enforcing;
pub mod follow;
pub mod gate;
pub mod granted;
pub mod handlers;
pub mod interruption;
mod keys;
pub mod opening;
pub mod review;
mod socket;
pub mod ssh;
pub mod store;
pub mod watch;
pub mod watchdog;
