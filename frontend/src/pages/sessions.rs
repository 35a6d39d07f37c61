//! Change Audit → Audited sessions, for auditors and admins: the sessions running now, each to
//! watch live (read-only) and terminate if need be.

use changeaudit_shared::api::sessions::TerminalSession;
use leptos::prelude::*;
use leptos_router::components::A;

use crate::api;
use crate::local_time;

#[component]
pub fn AuditedSessions() -> impl IntoView {
    let running =
        LocalResource::new(|| api::get::<Vec<TerminalSession>>("/api/terminal-sessions/running"));
    view! {
        <div class="page-head">
            <h1>"Audited sessions"</h1>
            <button type="button" on:click=move |_| running.refetch()>"Refresh"</button>
        </div>
        <h2>"Running now"</h2>
        {move || match running.get() {
            None => view! { <p class="loading">"Loading…"</p> }.into_any(),
            Some(Err(error)) => view! { <p class="error" role="alert">{error.message()}</p> }.into_any(),
            Some(Ok(sessions)) if sessions.is_empty() => {
                view! { <p class="empty">"No session is running."</p> }.into_any()
            }
            Some(Ok(sessions)) => view! {
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
        }}
    }
}
