//! The terminal page: xterm.js connected to a session's WebSocket, with the script's checklist
//! and the score beside it. The same page, read-only, lets an auditor watch a running session.

mod checklist;
mod connection;
mod live;
mod summary;

use changeaudit_shared::api::routes;
use changeaudit_shared::terminal::EndReason;
use leptos::html::Div;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_params_map;

use crate::api;
use crate::confirm::{Asking, ConfirmDialog, ask};
use checklist::ChecklistPanel;
use live::Live;
use summary::{EndSummary, SessionClock};

/// `/credentials/:id/terminal`: a session on that credential.
#[component]
pub fn TerminalPage() -> impl IntoView {
    let path = routes::credentials::terminal(id_param()).path;
    view! { <SessionView path read_only=false/> }
}

/// `/sessions/:id/watch`: a running session, read-only, for auditors and admins.
#[component]
pub fn WatchPage() -> impl IntoView {
    let path = routes::sessions::watch(id_param()).path;
    view! { <SessionView path read_only=true/> }
}

/// The route's `:id`; 0 (which names nothing, so the server refuses it) when it is not a number.
fn id_param() -> i64 {
    use_params_map()
        .read_untracked()
        .get("id")
        .and_then(|id| id.parse::<i64>().ok())
        .unwrap_or_default()
}

#[component]
fn SessionView(path: String, read_only: bool) -> impl IntoView {
    let live = Live::new();
    let screen = NodeRef::<Div>::new();
    screen.on_load(move |element| {
        // The page's owner, so that what `connect` leaves to clean up goes with the page.
        let owner = Owner::current();
        spawn_local(async move {
            match crate::xterm::ready().await {
                Ok(()) => {
                    if let Some(owner) = owner {
                        owner.with(|| connection::connect(&element, &path, read_only, live));
                    }
                }
                Err(why) => live.closed.set(Some((EndReason::Interrupted, why))),
            }
        });
    });
    let terminate_error = RwSignal::new(None::<String>);
    let asking: Asking = RwSignal::new(None);
    let terminate = move |_| {
        let Some(heading) = live.heading.get_untracked() else {
            return;
        };
        ask(
            asking,
            format!("Terminate the session on {}?", heading.device),
            format!(
                "The session as {} ends at once for the person running it, who is told who \
                 ended it. Its recording is sealed as it stands and stays evidence.",
                heading.account
            ),
            "Terminate",
            move || {
                let session = heading.session_id;
                spawn_local(async move {
                    if let Err(error) = api::sessions::terminate(session).await {
                        terminate_error.set(Some(error.message()));
                    }
                });
            },
        );
    };

    view! {
        <div class="page-head terminal-head">
            <h1>
                {move || match live.heading.get() {
                    None => "Connecting…".to_owned(),
                    Some(heading) => format!("{} as {}", heading.device, heading.account),
                }}
            </h1>
            <span class="muted">
                {move || live.heading.get().map(|heading| match heading.change_id {
                    Some(change) => format!("Change {change}"),
                    None => "Unplanned session (no change)".to_owned(),
                })}
            </span>
            {(!read_only).then(|| view! { <SessionClock live/> })}
            {read_only.then(|| view! {
                <span class="tag">"Watching, read-only"</span>
                <button type="button" class="danger" data-testid="terminate" on:click=terminate>"Terminate"</button>
            })}
        </div>
        <ConfirmDialog asking/>
        {move || terminate_error.get().map(|text| view! { <p class="error" role="alert">{text}</p> })}
        {move || live.warnings.get().into_iter().map(|text| view! {
            <p class="warning" role="status" data-testid="session-warning">{text}</p>
        }).collect_view()}
        {move || live.closed.get().map(|(reason, text)| view! {
            <p class=if reason == EndReason::DeviceClosed || reason == EndReason::ClosedByUser { "notice" } else { "error" }
                role="alert" data-testid="session-closed" data-reason=reason.as_str()>{text}</p>
        })}
        <EndSummary live/>
        <div class="terminal-layout">
            <div class="terminal-screen" node_ref=screen data-testid="terminal"></div>
            <ChecklistPanel live/>
        </div>
    }
}
