//! A registered change's life under its form: the sessions run under it, with their score and
//! verdict, and the requests made for it with every decision.

use changeaudit_shared::api::life::{ChangeLife, RequestLife};
use changeaudit_shared::api::requests::Decision;
use changeaudit_shared::api::sessions::TerminalSession;
use changeaudit_shared::role::Role;
use leptos::prelude::*;
use leptos_router::components::A;

use crate::api;
use crate::loaded::Loaded;
use crate::local_time;
use crate::pages::review::clock;
use crate::pages::sessions::outcome;
use crate::session::current_user;

#[component]
pub fn ChangeLifeView(id: String) -> impl IntoView {
    let life = LocalResource::new(move || {
        let id = id.clone();
        async move { api::changes::life(&id).await }
    });
    let show = |life: ChangeLife| {
        view! {
            <section class="life" data-testid="change-life">
                <h2>"Sessions"</h2>
                {sessions(life.sessions)}
                <h2>"Requests and approvals"</h2>
                {requests(life.requests)}
            </section>
        }
    };
    view! { <Loaded resource=life show/> }
}

/// Whether the person signed in may open session pages beyond their own.
fn oversees() -> bool {
    current_user().is_some_and(|me| me.has_role(Role::Auditor) || me.has_role(Role::Admin))
}

fn sessions(sessions: Vec<TerminalSession>) -> AnyView {
    if sessions.is_empty() {
        return view! {
            <p class="empty">"No session has run under this change yet. Once approved, its executor opens one from Credentials."</p>
        }
        .into_any();
    }
    // Only auditors and admins open a session's audit pages.
    let oversees = oversees();
    view! {
        <div class="table-box">
            <table class="list" data-testid="change-sessions">
                <thead><tr><th>"Started"</th><th>"By"</th><th>"Device"</th><th>"Duration"</th>
                    <th>"Score"</th><th>"Verdict"</th><th>"Held lines"</th><th></th></tr></thead>
                <tbody>
                    {sessions.into_iter().map(|session| {
                        let id = session.id;
                        view! {
                            <tr data-session=id>
                                <td class="nowrap">{local_time::show(session.started_at)}</td>
                                <td>{session.username.clone()}</td>
                                <td>{format!("{} as {}", session.device.name, session.account)}</td>
                                <td>{clock(session.duration_seconds)}</td>
                                <td>{session.score.map_or_else(|| "—".to_owned(), |score| score.to_string())}</td>
                                <td>{outcome(&session)}</td>
                                <td data-testid="held-lines" class=(session.held_lines > 0).then_some("held-count")>
                                    {session.held_lines}
                                </td>
                                <td class="row-actions">
                                    {oversees.then(|| view! {
                                        <A href=format!("/sessions/{id}?view=details")>"Open session"</A>
                                    })}
                                </td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

fn requests(requests: Vec<RequestLife>) -> AnyView {
    if requests.is_empty() {
        return view! {
            <p class="empty">"Nobody has asked to run this change yet: an executor asks with Start session in Credentials."</p>
        }
        .into_any();
    }
    view! {
        <div class="table-box">
            <table class="list" data-testid="change-requests">
                <thead><tr><th>"Asked"</th><th>"By"</th><th>"Device"</th><th>"Status"</th>
                    <th>"Decisions"</th><th></th></tr></thead>
                <tbody>
                    {requests.into_iter().map(|life| {
                        let request = life.request;
                        let id = request.id;
                        view! {
                            <tr data-request=id>
                                <td class="nowrap">{local_time::show(request.created_at)}</td>
                                <td>{request.requester.clone()}</td>
                                <td>{format!("{} as {}", request.device.name, request.account)}</td>
                                <td>
                                    <span class=format!("status status-{}", request.status.as_str())>{request.status.label()}</span>
                                    {format!(" {} of {}", request.approvals, request.approvals_required)}
                                </td>
                                <td>{decisions(&life.decisions)}</td>
                                <td class="row-actions"><A href=format!("/requests/{id}")>"Open request"</A></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

fn decisions(decisions: &[Decision]) -> AnyView {
    if decisions.is_empty() {
        return view! { <span class="muted">"None yet"</span> }.into_any();
    }
    view! {
        <ul class="decisions">
            {decisions.iter().map(|decision| {
                let mut text = format!(
                    "{} {} at {}",
                    decision.approver,
                    decision.decision.as_str(),
                    local_time::show(decision.decided_at)
                );
                if decision.signed {
                    text.push_str(", signed with a passkey");
                }
                if decision.voided {
                    text.push_str(" (voided)");
                }
                if !decision.comment.is_empty() {
                    text.push_str(&format!(": “{}”", decision.comment));
                }
                view! { <li class:voided=decision.voided>{text}</li> }
            }).collect_view()}
        </ul>
    }
    .into_any()
}
