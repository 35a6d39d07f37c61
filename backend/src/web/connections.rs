//! Accepting connections. axum's own `serve` installs no timer in hyper, so hyper's deadline
//! for reading a request's head never fires: a client that dribbles its headers (slowloris)
//! holds a connection for as long as it likes. This loop is axum's, with that deadline on, and
//! a deadline for each request's answer on top (`web::deadline`).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::pin;
use std::time::Duration;

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tower::ServiceExt;

/// How long a client has to send a whole request head, from the connection's start or from
/// the moment it went idle after an answer (so an idle keep-alive connection is also closed
/// after this long, which browsers take in their stride).
pub const HEADER_READ_LIMIT: Duration = Duration::from_secs(10);
/// How long a stopping server waits for answers in flight. Event streams and sockets never end
/// by themselves: past this they are cut, and their clients come back to another replica.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);
/// How long to wait before accepting again after the listener failed (out of file
/// descriptors, say), so the failure does not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` until `shutdown` completes, then lets every open connection
/// finish what it is answering.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let (closing, closing_seen) = watch::channel(false);
    let mut shutdown = pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                // One connection gone before it was taken: nothing to wait for.
                Err(error) if error.kind() == std::io::ErrorKind::ConnectionAborted => continue,
                Err(error) => {
                    tracing::warn!(%error, "accepting a connection failed");
                    backoff().await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        tokio::spawn(connection(stream, peer, app.clone(), closing_seen.clone()));
    }
    // No new connection waits in the backlog of a server that will not answer it.
    drop(listener);
    drop(closing_seen);
    closing.send_replace(true);
    // Every connection holds a receiver: this resolves once the last has finished.
    if tokio::time::timeout(DRAIN_LIMIT, closing.closed())
        .await
        .is_err()
    {
        tracing::info!(
            open = closing.receiver_count(),
            "stopping with connections still open"
        );
    }
    Ok(())
}

/// One connection: HTTP/1.1 with upgrades (the terminal's WebSocket), its head read within
/// `HEADER_READ_LIMIT`, shut down gracefully when the server is.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    app: Router,
    mut closing: watch::Receiver<bool>,
) {
    // Keystrokes go out as they come: never wait to fill a segment.
    stream.set_nodelay(true).ok();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        app.clone().oneshot(request)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_LIMIT);
    let connection = builder
        .serve_connection(TokioIo::new(stream), service)
        .with_upgrades();
    let mut connection = pin!(connection);
    let mut shutting_down = false;
    loop {
        tokio::select! {
            finished = connection.as_mut() => {
                if let Err(error) = finished {
                    tracing::debug!(%error, %peer, "a connection ended with an error");
                }
                return;
            }
            changed = closing.changed(), if !shutting_down => {
                shutting_down = true;
                if changed.is_ok() {
                    connection.as_mut().graceful_shutdown();
                }
            }
        }
    }
}

#[allow(
    clippy::disallowed_methods,
    reason = "a pause in wall time after a failed accept, not a wait on the product's clock"
)]
async fn backoff() {
    tokio::time::sleep(ACCEPT_BACKOFF).await;
}
