//! Credentials → All: the credentials the person's access groups grant them, filtered at the
//! top, each with **Start session**. Start session opens a dialog that names the change it would
//! run (a chooser when several cover the device) and asks for the justification when the group
//! wants one; then the terminal opens when an approved request covers the present, and
//! otherwise the request goes to the approvers.

use changeaudit_shared::api::requests::{RequestStatus, StartAnswer, StartInput};
use changeaudit_shared::api::routes;
use changeaudit_shared::api::sessions::{CoveringChange, GrantedCredential};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_navigate;

use crate::api::{self, ApiError};
use crate::listing::{list_view, use_list};
use crate::local_time;

/// The dialog's state: the credential, the change chosen, what was typed and answered.
#[derive(Debug, Clone, Default)]
struct Asking {
    credential_id: i64,
    label: String,
    changes: Vec<CoveringChange>,
    change_id: String,
    justification: String,
    /// The last answer, in words, and the request it is about.
    said: Option<(String, Option<i64>)>,
    /// What the server refused, field by field.
    refused: Option<ApiError>,
}

impl Asking {
    fn of(granted: &GrantedCredential) -> Asking {
        Asking {
            credential_id: granted.credential_id,
            label: format!("{}@{}", granted.account, granted.device.name),
            changes: granted.changes.clone(),
            change_id: granted
                .changes
                .first()
                .map(|change| change.id.clone())
                .unwrap_or_default(),
            ..Asking::default()
        }
    }

    fn chosen(&self) -> Option<&CoveringChange> {
        self.changes
            .iter()
            .find(|change| change.id == self.change_id)
    }
}

#[component]
pub fn GrantedCredentials() -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let list = use_list(routes::credentials::granted, move || {
        vec![("q", filter.get())]
    });
    let asking = RwSignal::new(None::<Asking>);
    let pending = RwSignal::new(false);
    view! {
        <div class="page-head"><h1>"Credentials"</h1></div>
        <div class="filters">
            <input type="search" placeholder="Device, host, account or tag" aria-label="Filter credentials"
                bind:value=filter/>
        </div>
        {move || asking.get().map(|_| view! { <StartDialog asking pending/> })}
        {list_view(list, "No credential matches. An admin grants credentials through access groups, with you as an executor.", move |items| granted_table(items, pending, asking))}
    }
}

/// The answer to Start session in words, and the request it is about; `None` when the
/// terminal opens.
fn said_of(answer: &StartAnswer) -> Option<(String, Option<i64>)> {
    let (text, request) = match answer {
        StartAnswer::Open => return None,
        StartAnswer::Requested { request } => (
            format!(
                "Request #{} to run {} sent: the approvers have been told. You will hear of \
                 their decision in the bell.",
                request.id, request.change_id
            ),
            request.id,
        ),
        StartAnswer::Pending { request } => (
            format!(
                "Request #{} to run {} is waiting for approval ({} of {}).",
                request.id, request.change_id, request.approvals, request.approvals_required
            ),
            request.id,
        ),
        StartAnswer::NotYet { request } => (
            format!(
                "Request #{} is approved; the terminal opens from {}.",
                request.id,
                local_time::show(request.start_at)
            ),
            request.id,
        ),
    };
    Some((text, Some(request)))
}

/// Start session's dialog: the change, the justification, and what the server answered.
#[component]
fn StartDialog(asking: RwSignal<Option<Asking>>, pending: RwSignal<bool>) -> impl IntoView {
    let navigate = use_navigate();
    let send = move |_| {
        let Some(current) = asking.get_untracked() else {
            return;
        };
        let navigate = navigate.clone();
        pending.set(true);
        spawn_local(async move {
            let input = StartInput {
                credential_id: current.credential_id,
                change_id: Some(current.change_id.clone()).filter(|id| !id.is_empty()),
                justification: current.justification.trim().to_owned(),
            };
            let answer = api::requests::start_session(&input).await;
            pending.set(false);
            // The person may have closed the dialog, or turned to another credential.
            if asking.with_untracked(|now| now.as_ref().map(|a| a.credential_id))
                != Some(current.credential_id)
            {
                return;
            }
            match answer {
                Ok(StartAnswer::Open) => {
                    asking.set(None);
                    navigate(
                        &format!("/credentials/{}/terminal", current.credential_id),
                        Default::default(),
                    );
                }
                Ok(answer) => asking.update(|a| {
                    if let Some(a) = a {
                        a.said = said_of(&answer);
                        a.refused = None;
                    }
                }),
                Err(error) => asking.update(|a| {
                    if let Some(a) = a {
                        a.said = None;
                        a.refused = Some(error);
                    }
                }),
            }
        });
    };
    let current = move || asking.get().unwrap_or_default();
    let close = move |_| asking.set(None);
    view! {
        <div class="backdrop">
            <div class="dialog wide" role="dialog" aria-modal="true" aria-labelledby="start-title"
                data-testid="start-session-dialog">
                <h2 id="start-title">{move || format!("Start session on {}", current().label)}</h2>
                <ChangeChoice asking/>
                {move || {
                    let current = current();
                    let wanted = current.chosen().map(|change| change.justification_required);
                    let label = match wanted {
                        Some(true) => "Justification (your group requires one)",
                        _ => "Justification (optional)",
                    };
                    let error = current.refused.as_ref().and_then(|error| error.field("justification"));
                    view! {
                        <label for="justification">{label}</label>
                        <textarea id="justification" rows="3" prop:value=current.justification.clone()
                            aria-invalid=error.is_some().to_string()
                            on:input=move |event| asking.update(|a| if let Some(a) = a {
                                a.justification = event_target_value(&event);
                                // Fixed once typed: the error goes with it.
                                a.refused = None;
                            })></textarea>
                        {error.map(|detail| view! { <span class="field-error" role="alert">{sentence(&detail)}</span> })}
                    }
                }}
                {move || {
                    let current = current();
                    let general = current.refused.as_ref().filter(|error| {
                        error.field("justification").is_none() && error.field("change_id").is_none()
                    });
                    view! {
                        {general.map(|error| view! { <p class="error" role="alert">{error.message()}</p> })}
                        {current.said.map(|(text, request)| view! {
                            <p class="notice" role="status" data-testid="start-answer">
                                {text}" "
                                {request.map(|id| view! { <A href=format!("/requests/{id}")>"Open the request"</A> })}
                            </p>
                        })}
                    }
                }}
                <p class="muted">"Every byte of the session is recorded and scored against the change's script."</p>
                <div class="actions">
                    <button type="button" class="secondary" on:click=close>"Close"</button>
                    <button type="button" class="primary" data-testid="send-request"
                        disabled=move || pending.get() on:click=send>
                        {move || action_label(&current())}
                    </button>
                </div>
            </div>
        </div>
    }
}

/// The dialog's button says what it will do.
fn action_label(current: &Asking) -> &'static str {
    match current.chosen().and_then(|change| change.request) {
        Some(request) if request.status == RequestStatus::Approved => "Connect",
        Some(_) => "Check the request",
        None if current.changes.is_empty() => "Start session",
        None => "Send request",
    }
}

/// A server's field message as a sentence: "is required by …" → "Is required by …".
fn sentence(detail: &str) -> String {
    let mut chars = detail.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

/// The change the session would run: named when one covers the device, chosen when several do.
#[component]
fn ChangeChoice(asking: RwSignal<Option<Asking>>) -> impl IntoView {
    move || {
        let current = asking.get().unwrap_or_default();
        let error = current
            .refused
            .as_ref()
            .and_then(|error| error.field("change_id"));
        let described = |change: &CoveringChange| {
            let state = match change.request {
                Some(request) if request.status == RequestStatus::Approved => " · approved",
                Some(_) => " · waiting for approval",
                None => "",
            };
            format!(
                "{} — {} (from {} to {}){state}",
                change.id,
                change.title,
                local_time::show(change.start_at),
                local_time::show(change.due_at)
            )
        };
        let body = match current.changes.len() {
            0 => view! {
                <p data-testid="start-change">"No change of your groups covers this device now: the session is unplanned, if your group allows it, and still recorded."</p>
            }
            .into_any(),
            1 => view! {
                <p data-testid="start-change">"Change "<strong>{described(&current.changes[0])}</strong></p>
            }
            .into_any(),
            _ => view! {
                <fieldset class="choice" data-testid="start-change">
                    <legend>"Which change?"</legend>
                    {current.changes.iter().map(|change| {
                        let id = change.id.clone();
                        let checked = id == current.change_id;
                        view! {
                            <label class="check">
                                <input type="radio" name="start-change" prop:checked=checked
                                    on:change=move |_| asking.update(|a| if let Some(a) = a {
                                        a.change_id = id.clone();
                                        a.said = None;
                                        a.refused = None;
                                    })/>
                                {described(change)}
                            </label>
                        }
                    }).collect_view()}
                </fieldset>
            }
            .into_any(),
        };
        view! {
            {body}
            {error.map(|detail| view! { <span class="field-error" role="alert">{sentence(&detail)}</span> })}
        }
    }
}

/// The credentials granted, each with Start session.
fn granted_table(
    items: Vec<GrantedCredential>,
    pending: RwSignal<bool>,
    asking: RwSignal<Option<Asking>>,
) -> AnyView {
    view! {
        <div class="table-box">
            <table class="list" data-testid="granted-credentials">
                <thead>
                    <tr><th>"Device"</th><th>"Host"</th><th>"Account"</th><th>"Tags"</th><th>"Access groups"</th><th>"Changes"</th><th></th></tr>
                </thead>
                <tbody>
                    {items.into_iter().map(|granted| {
                        let groups = granted.groups.iter().map(|group| group.name.as_str()).collect::<Vec<_>>().join(", ");
                        let changes = granted.changes.iter().map(|change| change.id.as_str()).collect::<Vec<_>>().join(", ");
                        let chosen = Asking::of(&granted);
                        view! {
                            <tr>
                                <td>{granted.device.name.clone()}</td>
                                <td>{granted.host.clone()}</td>
                                <td>{granted.account.clone()}</td>
                                <td>{granted.tags.iter().map(|tag| view! { <span class="tag">{tag.clone()}</span> }).collect_view()}</td>
                                <td>{groups}</td>
                                <td>{if changes.is_empty() { "none now".to_owned() } else { changes }}</td>
                                <td><button class="primary" data-testid="start-session" disabled=move || pending.get()
                                    on:click=move |_| asking.set(Some(chosen.clone()))>"Start session"</button></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}
