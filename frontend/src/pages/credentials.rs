//! Credentials → All: the credentials the person's access groups grant them, filtered at the
//! top, each with **Start session**: the terminal opens when an approved request covers the
//! present, and otherwise a request is made (with a justification when the group wants one).

use changeaudit_shared::api::requests::{StartAnswer, StartInput};
use changeaudit_shared::api::routes;
use changeaudit_shared::api::sessions::GrantedCredential;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::hooks::use_navigate;

use crate::api::{self, ApiError};
use crate::listing::{list_view, use_list};
use crate::local_time;

/// What Start session needs from the person, and what it answered.
#[derive(Debug, Clone, Default)]
struct Asking {
    credential_id: i64,
    label: String,
    justification: String,
    change_id: String,
    /// The last answer, in words.
    said: Option<String>,
    /// Whether the justification (or the change) must be given before asking again.
    needs: Option<ApiError>,
}

#[component]
pub fn GrantedCredentials() -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let list = use_list(routes::credentials::granted, move || {
        vec![("q", filter.get())]
    });
    let asking = RwSignal::new(None::<Asking>);
    let navigate = use_navigate();
    let pending = RwSignal::new(false);
    let ask = move |current: Asking| {
        let navigate = navigate.clone();
        pending.set(true);
        spawn_local(async move {
            let input = StartInput {
                credential_id: current.credential_id,
                change_id: Some(current.change_id.clone()).filter(|id| !id.trim().is_empty()),
                justification: current.justification.clone(),
            };
            let answer = api::requests::start_session(&input).await;
            pending.set(false);
            // The person may have turned to another credential meanwhile: this answer is stale.
            if asking.with_untracked(|now| now.as_ref().map(|a| a.credential_id))
                != Some(current.credential_id)
            {
                return;
            }
            match next_of(current.clone(), answer) {
                Some(next) => asking.set(Some(next)),
                None => {
                    asking.set(None);
                    navigate(
                        &format!("/credentials/{}/terminal", current.credential_id),
                        Default::default(),
                    );
                }
            }
        });
    };
    // Asking is started from inside the list by a signal, which (unlike the navigator) the
    // list's rows may hold.
    let trigger = RwSignal::new(0_u32);
    Effect::new(move |_| {
        if trigger.get() > 0
            && let Some(current) = asking.get_untracked()
        {
            ask(current);
        }
    });
    let start = move |credential_id: i64, label: String| {
        asking.set(Some(Asking {
            credential_id,
            label,
            ..Asking::default()
        }));
        trigger.update(|n| *n += 1);
    };
    let resend = move |_| trigger.update(|n| *n += 1);
    view! {
        <div class="page-head"><h1>"Credentials"</h1></div>
        <div class="filters">
            <input type="search" placeholder="Device, host, account or tag" aria-label="Filter credentials"
                bind:value=filter/>
        </div>
        {move || asking.get().map(|current| view! { <AskingPanel current asking pending resend/> })}
        {list_view(list, move |items| granted_table(items, pending, start))}
    }
}

/// The answer to Start session, as the panel shows it; `None` when the terminal opens.
fn next_of(current: Asking, answer: Result<StartAnswer, ApiError>) -> Option<Asking> {
    let mut next = current;
    next.needs = None;
    next.said = match answer {
        Ok(StartAnswer::Open) => return None,
        Ok(StartAnswer::Requested { request }) => Some(format!(
            "Request #{} for {} sent: the approvers have been told.",
            request.id, request.change_id
        )),
        Ok(StartAnswer::Pending { request }) => Some(format!(
            "Request #{} for {} is waiting for approval ({} of {}).",
            request.id, request.change_id, request.approvals, request.approvals_required
        )),
        Ok(StartAnswer::NotYet { request }) => Some(format!(
            "Request #{} is approved; the terminal opens at {}.",
            request.id,
            local_time::show(request.start_at)
        )),
        Err(error)
            if error.field("justification").is_some() || error.field("change_id").is_some() =>
        {
            next.needs = Some(error);
            None
        }
        Err(error) => Some(error.message()),
    };
    Some(next)
}

/// Start session's panel: what it answered, and what it still needs.
#[component]
fn AskingPanel<Resend>(
    current: Asking,
    asking: RwSignal<Option<Asking>>,
    pending: RwSignal<bool>,
    resend: Resend,
) -> impl IntoView
where
    Resend: Fn(leptos::ev::MouseEvent) + Copy + Send + Sync + 'static,
{
    let needs = current.needs.clone();
    view! {
        <section class="card asking" data-testid="start-session-panel">
            <h2>{format!("Start session on {}", current.label)}</h2>
            {current.said.clone().map(|text| view! { <p class="notice" role="status" data-testid="start-answer">{text}</p> })}
            {needs.map(|error| {
                let justification = error.field("justification");
                let change = error.field("change_id");
                view! {
                    {change.map(|detail| view! {
                        <label for="change-id">"Change ID"</label>
                        <input id="change-id" type="text"
                            on:input=move |event| asking.update(|a| if let Some(a) = a { a.change_id = event_target_value(&event) })/>
                        <span class="field-error">{detail}</span>
                    })}
                    {justification.map(|detail| view! {
                        <label for="justification">"Justification"</label>
                        <textarea id="justification" rows="3"
                            on:input=move |event| asking.update(|a| if let Some(a) = a { a.justification = event_target_value(&event) })></textarea>
                        <span class="field-error">{detail}</span>
                    })}
                    <button data-testid="send-request" disabled=move || pending.get() on:click=resend>"Send request"</button>
                }
            })}
        </section>
    }
}

/// The credentials granted, each with Start session.
fn granted_table(
    items: Vec<GrantedCredential>,
    pending: RwSignal<bool>,
    start: impl Fn(i64, String) + Copy + Send + Sync + 'static,
) -> AnyView {
    view! {
            <table class="list" data-testid="granted-credentials">
                <thead>
                    <tr><th>"Device"</th><th>"Host"</th><th>"Account"</th><th>"Tags"</th><th>"Access groups"</th><th></th></tr>
                </thead>
                <tbody>
                    {items.into_iter().map(|granted| {
                        let groups = granted.groups.iter().map(|group| group.name.as_str()).collect::<Vec<_>>().join(", ");
                        let id = granted.credential_id;
                        let label = format!("{}@{}", granted.account, granted.device.name);
                        view! {
                            <tr>
                                <td>{granted.device.name.clone()}</td>
                                <td>{granted.host.clone()}</td>
                                <td>{granted.account.clone()}</td>
                                <td>{granted.tags.iter().map(|tag| view! { <span class="tag">{tag.clone()}</span> }).collect_view()}</td>
                                <td>{groups}</td>
                                <td><button data-testid="start-session" disabled=move || pending.get()
                                    on:click=move |_| start(id, label.clone())>"Start session"</button></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
    }
    .into_any()
}
