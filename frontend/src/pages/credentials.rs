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

use crate::api::{self, ApiError, sentence};
use crate::listing::{list_view, use_list};
use crate::local_time;

/// The credential Start session was pressed on, and the changes that cover it.
#[derive(Debug, Clone, Default)]
struct Asking {
    credential_id: i64,
    label: String,
    changes: Vec<CoveringChange>,
}

impl Asking {
    fn of(granted: &GrantedCredential) -> Asking {
        Asking {
            credential_id: granted.credential_id,
            label: format!("{}@{}", granted.account, granted.device.name),
            changes: granted.changes.clone(),
        }
    }
}

/// What the dialog holds while it is open: the change chosen, the justification typed, and
/// what the server answered or refused.
#[derive(Clone, Copy)]
struct Form {
    change_id: RwSignal<String>,
    justification: RwSignal<String>,
    said: RwSignal<Option<(String, Option<i64>)>>,
    refused: RwSignal<Option<ApiError>>,
}

impl Form {
    fn new(asking: &Asking) -> Form {
        let first = asking.changes.first().map(|change| change.id.clone());
        Form {
            change_id: RwSignal::new(first.unwrap_or_default()),
            justification: RwSignal::new(String::new()),
            said: RwSignal::new(None),
            refused: RwSignal::new(None),
        }
    }

    /// The server's words on `field`, once it refused it.
    fn error(&self, field: &str) -> Option<String> {
        self.refused
            .with(|refused| refused.as_ref().and_then(|error| error.field(field)))
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
        {move || asking.get().map(|current| view! { <StartDialog current asking pending/> })}
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
fn StartDialog(
    current: Asking,
    asking: RwSignal<Option<Asking>>,
    pending: RwSignal<bool>,
) -> impl IntoView {
    let form = Form::new(&current);
    let navigate = use_navigate();
    let credential_id = current.credential_id;
    let send = move |_| {
        let navigate = navigate.clone();
        pending.set(true);
        spawn_local(async move {
            let input = StartInput {
                credential_id,
                change_id: Some(form.change_id.get_untracked()).filter(|id| !id.is_empty()),
                justification: form.justification.get_untracked().trim().to_owned(),
            };
            let answer = api::requests::start_session(&input).await;
            pending.set(false);
            // The person may have closed the dialog, or turned to another credential.
            if asking.with_untracked(|now| now.as_ref().map(|a| a.credential_id))
                != Some(credential_id)
            {
                return;
            }
            match answer {
                Ok(StartAnswer::Open) => {
                    asking.set(None);
                    navigate(
                        &format!("/credentials/{credential_id}/terminal"),
                        Default::default(),
                    );
                }
                Ok(answer) => {
                    form.refused.set(None);
                    form.said.set(said_of(&answer));
                }
                Err(error) => {
                    form.said.set(None);
                    form.refused.set(Some(error));
                }
            }
        });
    };
    let wanted = {
        let changes = current.changes.clone();
        move || {
            let chosen = form.change_id.get();
            changes
                .iter()
                .find(|change| change.id == chosen)
                .is_some_and(|change| change.justification_required)
        }
    };
    let label = {
        let changes = current.changes.clone();
        move || {
            let chosen = form.change_id.get();
            action_label(&changes, &chosen)
        }
    };
    let justification_error = move || form.error("justification");
    // Fixed once typed: the field's error goes as the person types.
    Effect::new(move |_| {
        form.justification.track();
        if form.refused.with_untracked(|refused| {
            refused
                .as_ref()
                .is_some_and(|error| error.field("justification").is_some())
        }) {
            form.refused.set(None);
        }
    });
    view! {
        <div class="backdrop">
            <div class="dialog wide" role="dialog" aria-modal="true" aria-labelledby="start-title"
                data-testid="start-session-dialog">
                <h2 id="start-title">{format!("Start session on {}", current.label)}</h2>
                <ChangeChoice changes=current.changes.clone() form/>
                <label for="justification">
                    {move || if wanted() { "Justification (your group requires one)" } else { "Justification (optional)" }}
                </label>
                <textarea id="justification" rows="3" bind:value=form.justification
                    aria-invalid=move || justification_error().is_some().to_string()></textarea>
                {move || justification_error().map(|detail| view! {
                    <span class="field-error" role="alert">{sentence(&detail)}</span>
                })}
                {move || form.refused.get().filter(|error| {
                    error.field("justification").is_none() && error.field("change_id").is_none()
                }).map(|error| view! { <p class="error" role="alert">{error.message()}</p> })}
                {move || form.said.get().map(|(text, request)| view! {
                    <p class="notice" role="status" data-testid="start-answer">
                        {text}" "
                        {request.map(|id| view! { <A href=format!("/requests/{id}")>"Open the request"</A> })}
                    </p>
                })}
                <p class="muted">"Every byte of the session is recorded and scored against the change's script."</p>
                <div class="actions">
                    <button type="button" class="secondary" on:click=move |_| asking.set(None)>"Close"</button>
                    <button type="button" class="primary" data-testid="send-request"
                        disabled=move || pending.get() on:click=send>{label}</button>
                </div>
            </div>
        </div>
    }
}

/// The dialog's button says what it will do.
fn action_label(changes: &[CoveringChange], chosen: &str) -> &'static str {
    match changes
        .iter()
        .find(|change| change.id == chosen)
        .and_then(|change| change.request)
    {
        Some(request) if request.status == RequestStatus::Approved => "Connect",
        Some(_) => "Check the request",
        None if changes.is_empty() => "Start session",
        None => "Send request",
    }
}

/// The change the session would run: named when one covers the device, chosen when several do.
#[component]
fn ChangeChoice(changes: Vec<CoveringChange>, form: Form) -> impl IntoView {
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
    let body = match changes.as_slice() {
        [] => view! {
            <p data-testid="start-change">"No change of your groups covers this device now: the session is unplanned, if your group allows it, and still recorded."</p>
        }
        .into_any(),
        [only] => view! {
            <p data-testid="start-change">"Change "<strong>{described(only)}</strong></p>
        }
        .into_any(),
        several => view! {
            <fieldset class="choice" data-testid="start-change">
                <legend>"Which change?"</legend>
                {several.iter().map(|change| {
                    let id = change.id.clone();
                    let checked = id == form.change_id.get_untracked();
                    view! {
                        <label class="check">
                            <input type="radio" name="start-change" prop:checked=checked
                                on:change=move |_| {
                                    form.change_id.set(id.clone());
                                    form.said.set(None);
                                    form.refused.set(None);
                                }/>
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
        {move || form.error("change_id").map(|detail| view! {
            <span class="field-error" role="alert">{sentence(&detail)}</span>
        })}
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
