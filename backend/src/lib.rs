//! The changeaudit server. `app` builds the router and `serve` runs it on a listener, so tests
//! start the real server on `127.0.0.1:0`; `startup` wires both to the configuration.

pub mod allocator;
pub mod approvals;
pub mod auth;
pub mod changes;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod config;
pub mod credentials;
pub mod db;
pub mod devices;
pub mod endpoint;
pub mod error;
pub mod groups;
mod health;
pub mod listing;
pub mod notifications;
pub mod passkeys;
pub mod random;
pub mod recordings;
pub mod rules;
pub mod startup;
pub mod state;
pub mod terminal;
pub mod trail;
pub mod users;
pub mod vault;
pub mod web;

use std::future::Future;
use std::time::Duration;

use axum::Router;
use tokio::net::TcpListener;

pub use state::AppState;

pub fn app(state: AppState) -> Router {
    web::router(state)
}

/// Starts the work every replica does besides answering requests: expiring due requests,
/// closing the windows of due changes, signing the trail's checkpoints, streaming it to a SIEM,
/// storing recordings its spool still holds (at start, what a crash left) and sending queued
/// notifications. All keep their state in the database, so any number of
/// replicas may run them.
pub fn spawn_workers(state: &AppState) {
    let expiring = state.clone();
    tokio::spawn(every(
        Duration::from_secs(30),
        "expiring requests",
        move || {
            let state = expiring.clone();
            async move { approvals::flow::expire_due(&state).await }
        },
    ));
    let closing = state.clone();
    tokio::spawn(every(
        Duration::from_secs(30),
        "closing change windows",
        move || {
            let state = closing.clone();
            async move {
                let now = state.clock.now();
                let fresh = now.minus(terminal::store::STALE_AFTER);
                changes::life::close_due(&state.db, now, fresh).await
            }
        },
    ));
    let signing = state.clone();
    tokio::spawn(every(
        Duration::from_secs(2),
        "signing trail checkpoints",
        move || {
            let state = signing.clone();
            async move {
                trail::checkpoints::checkpoint_if_due(
                    &state.db,
                    &state.trail_key,
                    state.checkpoints,
                    state.clock.now(),
                )
                .await
            }
        },
    ));
    for sink in state.siem.clone() {
        let streaming = state.clone();
        tokio::spawn(every(
            Duration::from_secs(2),
            "streaming the trail",
            move || {
                let state = streaming.clone();
                let sink = sink.clone();
                async move {
                    trail::siem::ship(&state.db, &state.siem_client, &sink, state.clock.now()).await
                }
            },
        ));
    }
    let storing = state.clone();
    tokio::spawn(every(
        Duration::from_secs(60),
        "storing recordings left in the spool",
        move || {
            let state = storing.clone();
            async move { state.recordings.store_left_behind().await }
        },
    ));
    let beating = state.clone();
    tokio::spawn(every(
        cluster::registry::BEAT_EVERY,
        "the replica's heartbeat",
        move || {
            let state = beating.clone();
            async move {
                let cluster = &state.cluster;
                let now = state.clock.now();
                cluster::registry::beat(
                    &state.db,
                    &cluster.replica,
                    cluster.address.as_deref(),
                    now,
                )
                .await
            }
        },
    ));
    let sweeping = state.clone();
    tokio::spawn(every(
        terminal::interruption::SWEEP_EVERY,
        "marking sessions whose replica stopped",
        move || {
            let state = sweeping.clone();
            async move {
                terminal::interruption::sweep(&state.db, &*state.recordings, state.clock.now())
                    .await
            }
        },
    ));
    let sending = state.clone();
    tokio::spawn(every(
        Duration::from_secs(2),
        "sending notifications",
        move || {
            let state = sending.clone();
            async move { notifications::delivery::send_due(&state).await }
        },
    ));
}

/// Runs `work` every `period` until the process ends; a failure is logged and tried next time.
async fn every<T, E, Work>(period: Duration, what: &'static str, mut work: impl FnMut() -> Work)
where
    Work: Future<Output = Result<T, E>>,
    E: std::fmt::Display,
{
    let mut ticks = tokio::time::interval(period);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticks.tick().await;
        if let Err(error) = work().await {
            tracing::warn!(%error, "{what}");
        }
    }
}

/// Serves `app` on `listener` until `shutdown` completes, then lets requests in flight finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    web::connections::serve(listener, app, shutdown).await
}
