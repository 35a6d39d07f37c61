use changeaudit_shared::api::groups::{AccessGroup, AccessGroupInput, Member};
use changeaudit_shared::api::routes;
use changeaudit_shared::enforcement::Enforcement;
use leptos::prelude::*;

use super::list::{Admin, AdminList, Editing, settle};
use crate::api;
use crate::confirm::{Asking, ConfirmDialog, ask};
use crate::forms::{FieldErrors, submit};
use crate::listing::List;
use crate::pick::{self, SearchSelect};

/// Admin → Access groups: members as executors and approvers, the credentials granted, and the
/// rules their requests follow.
#[component]
pub fn GroupsAdmin() -> impl IntoView {
    let admin = Admin {
        title: "Access groups",
        new_label: "New access group",
        filter_hint: "Name",
        filter_label: "Filter access groups",
        testid: "access-groups",
        empty: "No access group matches. New access group brings people and credentials together.",
        headers: &[
            "Name",
            "Executors",
            "Approvers",
            "Approvals needed",
            "Credentials",
        ],
        route: routes::groups::list,
        edit_label: "Edit",
        remove: None,
    };
    let cells = |group: &AccessGroup| {
        let names = |pick: fn(&Member) -> bool| {
            let names: Vec<&str> = group
                .members
                .iter()
                .filter(|m| pick(m))
                .map(|m| m.username.as_str())
                .collect();
            names.join(", ")
        };
        let credentials: Vec<&str> = group.credentials.iter().map(|c| c.name.as_str()).collect();
        view! {
            <td>{group.name.clone()}</td>
            <td>{names(|m| m.executor)}</td>
            <td>{names(|m| m.approver)}</td>
            <td>{group.approvals_required}</td>
            <td>{credentials.join(", ")}</td>
        }
        .into_any()
    };
    let form = |group, editing, list| view! { <GroupForm group editing list/> }.into_any();
    view! { <AdminList admin cells form/> }
}

/// The form's fields, each a signal, filled from the group being edited or the defaults.
#[derive(Clone, Copy)]
struct Fields {
    name: RwSignal<String>,
    description: RwSignal<String>,
    justification: RwSignal<bool>,
    approvals: RwSignal<String>,
    passkey: RwSignal<bool>,
    unplanned: RwSignal<bool>,
    benign: RwSignal<String>,
    enforcement: RwSignal<String>,
    members: RwSignal<Vec<Member>>,
    granted: RwSignal<pick::Choices>,
}

impl Fields {
    fn of(group: Option<&AccessGroup>) -> Fields {
        let defaults = AccessGroupInput::default();
        let pick = |of: fn(&AccessGroup) -> bool, default: bool| group.map_or(default, of);
        Fields {
            name: RwSignal::new(group.map(|g| g.name.clone()).unwrap_or_default()),
            description: RwSignal::new(group.map(|g| g.description.clone()).unwrap_or_default()),
            justification: RwSignal::new(pick(
                |g| g.justification_required,
                defaults.justification_required,
            )),
            approvals: RwSignal::new(
                group
                    .map_or(defaults.approvals_required, |g| g.approvals_required)
                    .to_string(),
            ),
            passkey: RwSignal::new(pick(
                |g| g.passkey_required_to_approve,
                defaults.passkey_required_to_approve,
            )),
            unplanned: RwSignal::new(pick(
                |g| g.unplanned_sessions_allowed,
                defaults.unplanned_sessions_allowed,
            )),
            benign: RwSignal::new(
                group
                    .map_or(defaults.benign_commands.clone(), |g| {
                        g.benign_commands.clone()
                    })
                    .join(" "),
            ),
            enforcement: RwSignal::new(
                group
                    .map_or(defaults.enforcement, |g| g.enforcement)
                    .as_str()
                    .to_owned(),
            ),
            members: RwSignal::new(group.map(|g| g.members.clone()).unwrap_or_default()),
            granted: RwSignal::new(
                group
                    .map(|g| {
                        g.credentials
                            .iter()
                            .map(|c| (c.id, c.name.clone()))
                            .collect()
                    })
                    .unwrap_or_default(),
            ),
        }
    }

    fn input(&self) -> AccessGroupInput {
        AccessGroupInput {
            name: self.name.get_untracked(),
            description: self.description.get_untracked(),
            justification_required: self.justification.get_untracked(),
            approvals_required: self.approvals.get_untracked().trim().parse().unwrap_or(0),
            passkey_required_to_approve: self.passkey.get_untracked(),
            unplanned_sessions_allowed: self.unplanned.get_untracked(),
            benign_commands: self
                .benign
                .get_untracked()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            // The choices are the modes themselves.
            enforcement: Enforcement::parse(&self.enforcement.get_untracked()).unwrap_or_default(),
            members: self.members.get_untracked(),
            credential_ids: self
                .granted
                .with_untracked(|granted| granted.iter().map(|(id, _)| *id).collect()),
        }
    }
}

#[component]
fn GroupForm(
    group: Option<AccessGroup>,
    editing: Editing<AccessGroup>,
    list: List<AccessGroup>,
) -> impl IntoView {
    let id = group.as_ref().map(|group| group.id);
    let fields = Fields::of(group.as_ref());
    let errors = FieldErrors::new();
    let message = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let done = settle(editing, list, message, errors);
    let save = move |_| {
        let input = fields.input();
        submit(pending, async move {
            done(api::groups::save(id, &input).await.map(|_| ()));
        });
    };
    let asking: Asking = RwSignal::new(None);
    let delete = move |_| {
        let Some(id) = id else { return };
        let group = fields.name.get_untracked();
        ask(
            asking,
            format!("Delete the access group {group}?"),
            "Its members lose the credentials it grants, at once. A group that a change names is \
             kept, for the change's record: the server says so."
                .to_owned(),
            "Delete",
            move || submit(pending, async move { done(api::groups::delete(id).await) }),
        );
    };
    view! {
        <section class="panel" data-testid="group-form">
            <h2>{if id.is_some() { "Edit access group" } else { "New access group" }}</h2>
            {move || message.get().map(|text| view! { <p class="error" role="alert">{text}</p> })}
            <ConfirmDialog asking/>
            <div class="tab-panel">
                <Rules fields errors/>
                <Members members=fields.members errors/>
                <Granted granted=fields.granted errors/>
            </div>
            <div class="actions">
                <button type="button" class="primary" disabled=move || pending.get() on:click=save>"Save"</button>
                <button type="button" class="link-button" on:click=move |_| editing.set(None)>"Close"</button>
                {id.is_some().then(|| view! { <button type="button" class="danger" data-testid="delete-group" disabled=move || pending.get() on:click=delete>"Delete"</button> })}
            </div>
        </section>
    }
}

/// The group's name and the rules its requests and sessions follow.
#[component]
fn Rules(fields: Fields, errors: FieldErrors) -> impl IntoView {
    let Fields {
        name,
        description,
        approvals,
        passkey,
        justification,
        unplanned,
        benign,
        enforcement,
        ..
    } = fields;
    view! {
        <label for="group-name">"Name"</label>
        <input id="group-name" bind:value=name/>
        {errors.under("name")}
        <label for="group-description">"Description"</label>
        <input id="group-description" bind:value=description/>
        {errors.under("description")}
        <label for="group-approvals">"Approvals required"</label>
        <input id="group-approvals" type="number" min="1" bind:value=approvals/>
        {errors.under("approvals_required")}
        <label class="check"><input type="checkbox" bind:checked=passkey/>"Approving needs the approver's passkey"</label>
        <label class="check"><input type="checkbox" bind:checked=justification/>"Requests need a justification"</label>
        <label class="check"><input type="checkbox" bind:checked=unplanned/>"Sessions outside any change are allowed (still recorded)"</label>
        <label for="group-benign">"Benign commands: never counted as unplanned (separated by spaces)"</label>
        <input id="group-benign" bind:value=benign/>
        {errors.under("benign_commands")}
        <label for="group-enforcement">"Change sessions"</label>
        <select id="group-enforcement" bind:value=enforcement>
            <option value="off">"Run anything; the board tells afterwards what was not planned"</option>
            <option value="script_only">"Script only: a line runs only if the script has it still to run, or it is benign"</option>
            <option value="script_only_in_order">"Script only, in order: only the script's next line, or a benign one"</option>
        </select>
        {errors.under("enforcement")}
    }
}

/// The members, each an executor, an approver or both, and a search to add one.
#[component]
fn Members(members: RwSignal<Vec<Member>>, errors: FieldErrors) -> impl IntoView {
    let users = RwSignal::new(pick::Choices::new());
    let adding = RwSignal::new(String::new());
    let add_member = move |_| {
        let Ok(user_id) = adding.get_untracked().parse::<i64>() else {
            return;
        };
        let username = label_of(users, user_id);
        members.update(|members| {
            if !members.iter().any(|m| m.user_id == user_id) {
                members.push(Member {
                    user_id,
                    username,
                    executor: true,
                    approver: false,
                });
            }
        });
        adding.set(String::new());
    };
    let flag = move |user_id: i64, approver: bool| {
        move |event: leptos::ev::Event| {
            let on = event_target_checked(&event);
            members.update(|members| {
                if let Some(member) = members.iter_mut().find(|m| m.user_id == user_id) {
                    if approver {
                        member.approver = on
                    } else {
                        member.executor = on
                    }
                }
            });
        }
    };
    view! {
        <h2>"Members"</h2>
        <table class="list">
            <thead><tr><th>"User"</th><th>"Executor"</th><th>"Approver"</th><th></th></tr></thead>
            <tbody>
                {move || members.get().into_iter().map(|member| {
                    let user_id = member.user_id;
                    view! {
                        <tr>
                            <td>{member.username.clone()}</td>
                            <td><input type="checkbox" prop:checked=member.executor on:change=flag(user_id, false)/></td>
                            <td><input type="checkbox" prop:checked=member.approver on:change=flag(user_id, true)/></td>
                            <td><button type="button" class="link-button"
                                on:click=move |_| members.update(|members| members.retain(|m| m.user_id != user_id))>"Remove"</button></td>
                        </tr>
                    }
                }).collect_view()}
            </tbody>
        </table>
        {errors.under("members")}
        <div class="filters">
            <SearchSelect id="group-member" prompt="Add a member…" hint="Search people"
                value=adding known=users search=pick::users/>
            <button type="button" class="link-button" on:click=add_member>"Add"</button>
        </div>
    }
}

/// The credentials the group grants, and a search to grant one more.
#[component]
fn Granted(granted: RwSignal<pick::Choices>, errors: FieldErrors) -> impl IntoView {
    let credentials = RwSignal::new(pick::Choices::new());
    let granting = RwSignal::new(String::new());
    let grant = move |_| {
        let Ok(credential_id) = granting.get_untracked().parse::<i64>() else {
            return;
        };
        let label = label_of(credentials, credential_id);
        granted.update(|granted| {
            if !granted.iter().any(|(id, _)| *id == credential_id) {
                granted.push((credential_id, label));
            }
        });
        granting.set(String::new());
    };
    view! {
        <h2>"Credentials granted"</h2>
        <ul class="granted">
            {move || granted.get().into_iter().map(|(credential_id, label)| view! {
                <li>{label}" "<button type="button" class="link-button"
                    on:click=move |_| granted.update(|granted| granted.retain(|(id, _)| *id != credential_id))>"Remove"</button></li>
            }).collect_view()}
        </ul>
        <div class="filters">
            <SearchSelect id="group-credential" prompt="Grant a credential…" hint="Search credentials"
                value=granting known=credentials search=pick::credentials/>
            <button type="button" class="link-button" on:click=grant>"Grant"</button>
        </div>
        {errors.under("credential_ids")}
    }
}

/// The label of choice `id` among those seen.
fn label_of(known: RwSignal<pick::Choices>, id: i64) -> String {
    known.with_untracked(|known| {
        known
            .iter()
            .find(|(seen, _)| *seen == id)
            .map(|(_, label)| label.clone())
            .unwrap_or_default()
    })
}
