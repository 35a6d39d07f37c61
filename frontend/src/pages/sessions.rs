//! Change Audit → Audited sessions, for auditors and admins: the sessions running now, each to
//! watch live (read-only) and terminate if need be; and every session, filtered by change, user,
//! device, days and verdict and searched in what was typed and shown, each with its Change
//! details, Change Audit, Session logs and Video of session.

use changeaudit_shared::api::routes;
use changeaudit_shared::api::sessions::{SessionState, TerminalSession};
use changeaudit_shared::report::verdict_label;
use leptos::prelude::*;
use leptos_router::components::A;

use crate::api;
use crate::listing::{Pager, list_view, use_list};
use crate::loaded::Loaded;
use crate::local_time;
use crate::pages::review::clock;

/// Sessions per page.
const PAGE: i64 = 25;

const VERDICTS: [(&str, &str); 10] = [
    ("", "Any verdict"),
    ("correct", "Correct"),
    ("more_than_necessary", "More than necessary"),
    ("incomplete", "Incomplete"),
    ("not_executed", "Not executed"),
    ("correct_with_failures", "Correct, with failures"),
    (
        "more_than_necessary_with_failures",
        "More than necessary, with failures",
    ),
    ("incomplete_with_failures", "Incomplete, with failures"),
    ("unplanned", "Unplanned (no change)"),
    ("with_findings", "With findings (forged marks)"),
];

fn all_sessions() -> impl IntoView {
    let change = RwSignal::new(String::new());
    let user = RwSignal::new(String::new());
    let device = RwSignal::new(String::new());
    let from = RwSignal::new(String::new());
    let to = RwSignal::new(String::new());
    let verdict = RwSignal::new(String::new());
    let q = RwSignal::new(String::new());
    let offset = RwSignal::new(0_i64);
    // A new filter starts again from the newest.
    Effect::new(move |_| {
        for filter in [change, user, device, from, to, verdict, q] {
            filter.track();
        }
        // Only when it moved: setting it anyway would fetch the list twice.
        if offset.get_untracked() != 0 {
            offset.set(0);
        }
    });
    let list = use_list(routes::sessions::list, move || {
        let offset = offset.get();
        let offset = if offset > 0 {
            offset.to_string()
        } else {
            String::new()
        };
        let mut query = vec![("offset", offset), ("limit", PAGE.to_string())];
        let filters = [
            ("change", change),
            ("user", user),
            ("device", device),
            ("from", from),
        ];
        let more = [("to", to), ("verdict", verdict), ("q", q)];
        query.extend(
            filters
                .into_iter()
                .chain(more)
                .map(|(key, value)| (key, value.get())),
        );
        query
    });
    view! {
        <h2>"All sessions"</h2>
        <div class="filters wrap">
            <input type="search" placeholder="Typed or shown…" aria-label="Search what was typed and shown"
                data-testid="session-search" bind:value=q/>
            <input type="text" placeholder="Change ID" aria-label="Change" bind:value=change/>
            <input type="text" placeholder="User" aria-label="User" bind:value=user/>
            <input type="text" placeholder="Device" aria-label="Device" bind:value=device/>
            <label class="check">"From" <input type="date" aria-label="From" bind:value=from/></label>
            <label class="check">"To" <input type="date" aria-label="To" bind:value=to/></label>
            <select aria-label="Verdict" on:change=move |event| verdict.set(event_target_value(&event))>
                {VERDICTS.iter().map(|(value, label)| view! { <option value=*value>{*label}</option> }).collect_view()}
            </select>
        </div>
        <Pager offset list page=PAGE what="sessions"/>
        {list_view(list, "No session matches these filters. Sessions appear here as soon as they start.", sessions_table)}
    }
}

/// How a session came out, in words: its verdict, or that it runs, or why it ended.
pub fn outcome(session: &TerminalSession) -> String {
    match (&session.verdict, session.state) {
        (Some(verdict), _) => verdict_label(verdict),
        (None, SessionState::Running) => "running".to_owned(),
        (None, SessionState::Ended) => session
            .end_reason
            .map(|reason| reason.as_str().replace('_', " "))
            .unwrap_or_else(|| "ended".to_owned()),
    }
}

/// Audited sessions, newest first, each with its four views.
fn sessions_table(sessions: Vec<TerminalSession>) -> AnyView {
    view! {
        <table class="list" data-testid="audited-sessions">
            <thead><tr><th>"Started"</th><th>"User"</th><th>"Device"</th><th>"Change"</th><th>"Duration"</th>
                <th>"Score"</th><th>"Verdict"</th><th></th></tr></thead>
            <tbody>
                {sessions.into_iter().map(|session| {
                    let id = session.id;
                    view! {
                        <tr data-session=id>
                            <td class="nowrap">{local_time::show(session.started_at)}</td>
                            <td>{session.username.clone()}</td>
                            <td>{format!("{} as {}", session.device.name, session.account)}</td>
                            <td>{session.change_id.clone().unwrap_or_else(|| "unplanned".to_owned())}</td>
                            <td>{clock(session.duration_seconds)}</td>
                            <td>{session.score.map(|score| score.to_string()).unwrap_or_else(|| "—".to_owned())}</td>
                            <td>
                                {outcome(&session)}
                                {(session.held_lines > 0).then(|| view! {
                                    <span class="held-count" data-testid="held-lines">{format!(" · {} held", session.held_lines)}</span>
                                })}
                            </td>
                            <td class="row-actions">
                                <A href=format!("/sessions/{id}?view=details")>"Change details"</A>
                                <A href=format!("/sessions/{id}?view=board")>"Change Audit"</A>
                                <A href=format!("/sessions/{id}?view=logs")>"Session logs"</A>
                                <A href=format!("/sessions/{id}?view=video")>"Video of session"</A>
                            </td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

#[component]
pub fn AuditedSessions() -> impl IntoView {
    let running = LocalResource::new(api::sessions::running);
    view! {
        <div class="page-head">
            <h1>"Audited sessions"</h1>
            <A href="/sessions/replay">"Replay a recording file"</A>
            <A href="/verify">"Verify a bundle"</A>
            <button type="button" on:click=move |_| running.refetch()>"Refresh"</button>
        </div>
        <h2>"Running now"</h2>
        <Loaded resource=running show={|sessions: Vec<TerminalSession>| match sessions {
            sessions if sessions.is_empty() => {
                view! { <p class="empty">"No session is running."</p> }.into_any()
            }
            sessions => view! {
                <table class="list" data-testid="running-sessions">
                    <thead><tr><th>"Started"</th><th>"User"</th><th>"Device"</th><th>"Account"</th><th>"Change"</th><th>"From"</th><th></th></tr></thead>
                    <tbody>
                        {sessions.into_iter().map(|session| view! {
                            <tr>
                                <td>{local_time::show(session.started_at)}</td>
                                <td>{session.username.clone()}</td>
                                <td>{session.device.name.clone()}</td>
                                <td>{session.account.clone()}</td>
                                <td>{session.change_id.clone().unwrap_or_else(|| "unplanned".to_owned())}</td>
                                <td>{session.client_ip.clone()}</td>
                                <td><A href=format!("/sessions/{}/watch", session.id) attr:class="button">"Watch"</A></td>
                            </tr>
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any(),
        }}/>
        {all_sessions()}
    }
}
