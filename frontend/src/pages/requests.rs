//! Change Audit → My requests and My approvals, and one request in full (`/requests/:id`),
//! where an approver approves with their passkey or disapproves with a comment. The lists
//! follow the bell: a new notice reloads them.

use changeaudit_shared::api::Page;
use changeaudit_shared::api::requests::{
    CeremonyStart, RequestDetail, RequestStatus, RequestSummary, Vote, VoteInput,
};
use changeaudit_shared::api::routes::{self, Route};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use leptos_router::hooks::use_params_map;

use crate::api::{self, ApiError, sentence};
use crate::bell::Bell;
use crate::forms::FieldErrors;
use crate::listing::{List, list_view, use_list};
use crate::loaded::Loaded;
use crate::local_time;
use crate::passkey;
use crate::session::current_user;
use crate::toast::Toasts;

fn table(items: Vec<RequestSummary>, testid: &'static str) -> AnyView {
    view! {
        <table class="list" data-testid=testid>
            <thead>
                <tr><th>"Request"</th><th>"Change"</th><th>"Device"</th><th>"Requester"</th>
                    <th>"Window"</th><th>"Approvals"</th><th>"Status"</th></tr>
            </thead>
            <tbody>
                {items.into_iter().map(|request| {
                    let href = format!("/requests/{}", request.id);
                    let window = format!("{} – {}", local_time::show(request.start_at), local_time::show(request.due_at));
                    let status = request.status.as_str();
                    view! {
                        <tr>
                            <td><A href=href>{format!("#{}", request.id)}</A></td>
                            <td>{format!("{} {}", request.change_id, request.change_title)}</td>
                            <td>{format!("{}@{}", request.account, request.device.name)}</td>
                            <td>{request.requester.clone()}</td>
                            <td>{window}</td>
                            <td>{format!("{} of {}", request.approvals, request.approvals_required)}</td>
                            <td><span class=format!("status status-{status}") title=request.status_reason.clone()>
                                {request.status.label()}</span></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
    }
    .into_any()
}

/// A list that is fetched again whenever the bell hears of something new, or its pulse beats
/// (others' votes reach nobody's bell but still change the list).
fn live_list(route: fn() -> Route<(), Page<RequestSummary>>) -> List<RequestSummary> {
    let bell = use_context::<Bell>();
    use_list(route, move || {
        if let Some(bell) = bell {
            bell.track();
        }
        Vec::new()
    })
}

#[component]
pub fn MyRequests() -> impl IntoView {
    let list = live_list(routes::requests::mine);
    view! {
        <div class="page-head"><h1>"My requests"</h1></div>
        <p class="muted">"Start session on a credential (Credentials → All) to ask for a change's session."</p>
        {list_view(list, "No request yet. Start session in Credentials asks to run a change.", |items| table(items, "my-requests"))}
    }
}

#[component]
pub fn MyApprovals() -> impl IntoView {
    let list = live_list(routes::requests::to_approve);
    view! {
        <div class="page-head"><h1>"My approvals"</h1></div>
        {list_view(list, "Nothing waits for your approval. Requests of the groups you approve for appear here.", |items| table(items, "my-approvals"))}
    }
}

/// The comment and the two votes.
#[component]
fn VoteBox<Act>(
    comment: RwSignal<String>,
    errors: FieldErrors,
    pending: RwSignal<bool>,
    act: Act,
    passkey_required: bool,
) -> impl IntoView
where
    Act: Fn(Vote, bool) + Copy + Send + Sync + 'static,
{
    view! {
        <div class="vote">
            <label for="comment">"Comment"</label>
            <textarea id="comment" rows="2" bind:value=comment></textarea>
            {errors.under("comment")}
            <div class="actions">
                <button class="primary" data-testid="approve" disabled=move || pending.get()
                    on:click=move |_| act(Vote::Approved, passkey_required)>
                    {if passkey_required { "Approve with passkey" } else { "Approve" }}
                </button>
                <button class="danger" data-testid="disapprove" disabled=move || pending.get()
                    on:click=move |_| act(Vote::Disapproved, false)>"Disapprove"</button>
            </div>
        </div>
    }
}

/// A vote on request `id`, signed with a passkey when approving needs one.
async fn cast_vote(
    id: i64,
    decision: Vote,
    passkey_required: bool,
    comment: String,
) -> Result<RequestSummary, ApiError> {
    if decision == Vote::Approved && passkey_required {
        return approve_with_passkey(id, comment).await;
    }
    let vote = VoteInput {
        decision,
        comment,
        ceremony: None,
        credential: None,
    };
    api::requests::vote(id, &vote).await
}

/// Signs the approval of request `id` with a passkey, then votes.
async fn approve_with_passkey(id: i64, comment: String) -> Result<RequestSummary, ApiError> {
    let start: CeremonyStart = api::requests::start_signing(id).await?;
    let credential = passkey::sign(&start).await.map_err(ApiError::Browser)?;
    let vote = VoteInput {
        decision: Vote::Approved,
        comment,
        ceremony: Some(start.ceremony),
        credential: Some(credential),
    };
    api::requests::vote(id, &vote).await
}

#[component]
pub fn RequestPage() -> impl IntoView {
    let params = use_params_map();
    let id = move || {
        params
            .read()
            .get("id")
            .and_then(|id| id.parse::<i64>().ok())
            .unwrap_or(0)
    };
    let reload = RwSignal::new(0_u32);
    let bell = use_context::<Bell>();
    let detail = LocalResource::new(move || {
        reload.track();
        if let Some(bell) = bell {
            bell.track();
        }
        let id = id();
        async move { api::requests::get(id).await }
    });
    let comment = RwSignal::new(String::new());
    let message = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let errors = FieldErrors::new();
    // Following the bell from one request to another keeps this page: start the next afresh.
    Effect::new(move |_| {
        id();
        comment.set(String::new());
        message.set(None);
        errors.clear();
    });

    let toasts = Toasts::get();
    let act = move |decision: Vote, passkey_required: bool| {
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        message.set(None);
        errors.clear();
        let id = id();
        let text = comment.get_untracked();
        spawn_local(async move {
            match cast_vote(id, decision, passkey_required, text).await {
                Ok(request) => toasts.say(format!(
                    "Your vote is recorded: the request is {}.",
                    request.status.label().to_lowercase()
                )),
                Err(error) => message.set(Some(errors.take(error))),
            }
            pending.set(false);
            reload.update(|n| *n += 1);
        });
    };
    let cancel = move |_| {
        let id = id();
        spawn_local(async move {
            if let Err(error) = api::requests::cancel(id).await {
                message.set(Some(error.message()));
            }
            reload.update(|n| *n += 1);
        });
    };

    view! {
        {move || message.get().map(|text| view! { <p class="error" role="alert" data-testid="request-message">{text}</p> })}
        <Loaded resource=detail show={move |detail: RequestDetail| {
                let passkey_required = detail.passkey_required;
                view! {
                    {described(&detail)}
                    {match detail.cannot_vote.clone() {
                        Some(why) => view! { <p class="muted" data-testid="cannot-vote">{sentence(&why)}</p> }.into_any(),
                        None => view! { <VoteBox comment errors pending act passkey_required/> }.into_any(),
                    }}
                    {connect(&detail)}
                    {detail.can_cancel.then(|| view! {
                        <button class="link-button" on:click=cancel>"Cancel this request"</button>
                    })}
                }.into_any()
        }}/>
    }
}

/// Connect, for the requester of an approved request while its change's window is open: the
/// terminal opens on the request's credential.
fn connect(detail: &RequestDetail) -> Option<AnyView> {
    let request = &detail.request;
    let mine = current_user().is_some_and(|me| me.username == request.requester);
    let now = js_sys::Date::now();
    let millis = |at: time::OffsetDateTime| (at.unix_timestamp_nanos() / 1_000_000) as f64;
    let open = millis(request.start_at) <= now && now < millis(request.due_at);
    (mine && request.status == RequestStatus::Approved && open).then(|| {
        view! {
            <p class="actions">
                <A href=format!("/credentials/{}/terminal", request.credential_id)
                    attr:class="button" attr:data-testid="connect">"Connect"</A>
                <span class="muted">"The session is recorded and scored against the script."</span>
            </p>
        }
        .into_any()
    })
}

/// The request as it stands: its change, its credential, its script and its votes.
fn described(detail: &RequestDetail) -> AnyView {
    let request = detail.request.clone();
    let change = detail.change.clone();
    let devices = change
        .devices
        .iter()
        .map(|d| d.name.clone())
        .collect::<Vec<_>>()
        .join(", ");
    let status = request.status.as_str();
    view! {
        <div class="page-head">
            <h1>{format!("Request #{} — {}", request.id, change.id)}</h1>
            <span class=format!("status status-{status}") data-testid="request-status">{request.status.label()}</span>
        </div>
        {(!request.status_reason.is_empty()).then(|| view! { <p class="muted">{request.status_reason.clone()}</p> })}
        <dl class="facts">
            <dt>"Change"</dt><dd>{format!("{} — {}", change.id, change.title)}</dd>
            <dt>"Description"</dt><dd>{change.description.clone()}</dd>
            <dt>"Window"</dt><dd>{format!("{} – {}", local_time::show(change.start_at), local_time::show(change.due_at))}</dd>
            <dt>"Devices"</dt><dd>{devices}</dd>
            <dt>"Sessions"</dt><dd data-testid="request-enforcement">{detail.enforcement.label()}</dd>
            <dt>"Credential"</dt><dd>{format!("{}@{}", request.account, request.device.name)}</dd>
            <dt>"Requester"</dt><dd>{request.requester.clone()}</dd>
            <dt>"Justification"</dt><dd data-testid="justification">{request.justification.clone()}</dd>
            <dt>"Approvals"</dt><dd>{format!("{} of {}", request.approvals, request.approvals_required)}</dd>
            <dt>"Change digest"</dt><dd><code>{detail.change_digest.clone()}</code></dd>
            <dt>"Who may not approve"</dt><dd data-testid="separation-of-duties">{separation(&request.requester, &change.author, &detail.change_editors)}</dd>
        </dl>
        <h2>"Script"</h2>
        <pre class="script" data-testid="request-script">{change.script.clone()}</pre>
        <h2>"Decisions"</h2>
        {if detail.decisions.is_empty() {
            view! { <p class="muted">"No votes yet."</p> }.into_any()
        } else {
            view! {
                <ul class="decisions">
                    {detail.decisions.iter().map(|decision| view! {
                        <li>
                            {format!("{} {} {}", decision.approver, decision.decision.as_str(), local_time::show(decision.decided_at))}
                            {decision.signed.then_some(" · signed with a passkey")}
                            {decision.voided.then_some(" · void")}
                            {(!decision.comment.is_empty()).then(|| format!(" — {}", decision.comment))}
                        </li>
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
    }
    .into_any()
}

/// Separation of duties, named for this request: nobody approves their own request, nor a
/// request for a change they registered or edited.
fn separation(requester: &str, author: &str, editors: &[String]) -> String {
    let edited = match editors {
        [] => "nobody has edited it since".to_owned(),
        names => format!("edited by {}", names.join(", ")),
    };
    format!(
        "Separation of duties: not the requester ({requester}), nor the change's author \
         ({author}), nor anyone who edited it ({edited})."
    )
}
