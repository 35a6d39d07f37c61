use changeaudit_shared::api::Named;
use changeaudit_shared::api::changes::{Change, ChangeInput};
use changeaudit_shared::enforcement::Enforcement;
use changeaudit_shared::role::Role;
use leptos::prelude::*;
use leptos_router::hooks::{use_navigate, use_params_map};

use super::devices_tab::DevicesTab;
use super::life::ChangeLifeView;
use super::script_tab::ScriptTab;
use crate::api;
use crate::confirm::{Asking, ConfirmDialog, ask};
use crate::forms::{FieldErrors, submit};
use crate::loaded::Loaded;
use crate::local_time;
use crate::pick::{self, SearchSelect};
use crate::session::current_user;
use crate::toast::Toasts;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tab {
    General,
    Devices,
    Script,
}

impl Tab {
    const ALL: [Tab; 3] = [Tab::General, Tab::Devices, Tab::Script];

    fn label(self) -> &'static str {
        match self {
            Tab::General => "General",
            Tab::Devices => "Devices",
            Tab::Script => "Script",
        }
    }

    /// The tab that shows a field the API named.
    fn of_field(field: &str) -> Tab {
        if field.starts_with("device_ids") {
            Tab::Devices
        } else if field == "script" {
            Tab::Script
        } else {
            Tab::General
        }
    }
}

/// `/changes/:id`: a registered change, editable while it is open and the person plans.
#[component]
pub fn EditChange() -> impl IntoView {
    let params = use_params_map();
    let loaded = LocalResource::new(move || {
        let id = params.get().get("id").unwrap_or_default();
        async move { api::changes::get(&id).await }
    });
    let show = |change: Change| view! { <ChangeForm existing=change/> };
    view! { <Loaded resource=loaded show/> }
}

/// The form's fields, each a signal, filled from the change being edited.
#[derive(Clone, Copy)]
struct Fields {
    id: RwSignal<String>,
    title: RwSignal<String>,
    description: RwSignal<String>,
    start: RwSignal<String>,
    due: RwSignal<String>,
    group: RwSignal<String>,
    devices: RwSignal<Vec<Named>>,
    script: RwSignal<String>,
    /// The change's own enforcement (`""` for as its group).
    enforcement: RwSignal<String>,
    /// The groups seen, the change's own first.
    groups: RwSignal<pick::Choices>,
}

impl Fields {
    fn of(existing: Option<&Change>) -> Fields {
        let text = |of: fn(&Change) -> String| RwSignal::new(existing.map(of).unwrap_or_default());
        Fields {
            id: text(|c| c.id.clone()),
            title: text(|c| c.title.clone()),
            description: text(|c| c.description.clone()),
            start: text(|c| local_time::to_input(c.start_at)),
            due: text(|c| local_time::to_input(c.due_at)),
            group: text(|c| c.access_group.id.to_string()),
            devices: RwSignal::new(existing.map(|c| c.devices.clone()).unwrap_or_default()),
            script: text(|c| c.script.clone()),
            enforcement: text(|c| {
                c.enforcement
                    .map(|mode| mode.as_str().to_owned())
                    .unwrap_or_default()
            }),
            groups: RwSignal::new(
                existing
                    .map(|c| vec![(c.access_group.id, c.access_group.name.clone())])
                    .unwrap_or_default(),
            ),
        }
    }

    fn input(&self) -> ChangeInput {
        ChangeInput {
            id: self.id.get_untracked(),
            title: self.title.get_untracked(),
            description: self.description.get_untracked(),
            start_at: local_time::input_to_rfc3339(&self.start.get_untracked()),
            due_at: local_time::input_to_rfc3339(&self.due.get_untracked()),
            access_group_id: self.group.get_untracked().parse().ok(),
            device_ids: self
                .devices
                .with_untracked(|devices| devices.iter().map(|d| d.id).collect()),
            script: self.script.get_untracked(),
            // The choices are the modes themselves, and "" for as its group.
            enforcement: Enforcement::parse(&self.enforcement.get_untracked()),
        }
    }
}

/// Registers a new change (`existing` is `None`) or edits one.
#[component]
pub fn ChangeForm(#[prop(optional)] existing: Option<Change>) -> impl IntoView {
    let planner = current_user().is_some_and(|me| me.has_role(Role::Planner));
    let editable = planner
        && existing
            .as_ref()
            .is_none_or(|change| change.status.is_open());
    let stored_id = existing.as_ref().map(|change| change.id.clone());
    let stored_id_for_question = stored_id.clone();
    let heading = match &existing {
        Some(change) => format!("{} — {}", change.id, change.title),
        None => "New change".to_owned(),
    };
    let status = existing.as_ref().map(|change| change.status);
    let fields = Fields::of(existing.as_ref());
    let tab = RwSignal::new(Tab::General);
    let errors = FieldErrors::new();
    let message = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    for (name, value) in [
        ("id", fields.id),
        ("title", fields.title),
        ("description", fields.description),
        ("start_at", fields.start),
        ("due_at", fields.due),
        ("access_group_id", fields.group),
        ("script", fields.script),
        ("enforcement", fields.enforcement),
    ] {
        errors.fixed_by(name, value);
    }
    errors.fixed_by("device_ids", fields.devices);
    errors.clears_when_fixed(message);

    let navigate = use_navigate();
    let toasts = Toasts::get();
    let stored = stored_id.clone();
    let save = move |_| {
        let input = fields.input();
        message.set(None);
        let stored = stored.clone();
        let navigate = navigate.clone();
        submit(pending, async move {
            match api::changes::save(stored.as_deref(), &input).await {
                Ok(saved) => {
                    toasts.say(format!("{} saved", saved.id));
                    navigate("/changes", Default::default());
                }
                Err(error) => {
                    message.set(Some(errors.take(error)));
                    // Show the tab of the first field at fault.
                    if let Some(first) = errors.0.get_untracked().first() {
                        tab.set(Tab::of_field(&first.field));
                    }
                }
            }
        });
    };
    let asking: Asking = RwSignal::new(None);
    let cancel_change = cancelling(stored_id.clone(), pending, message);
    let confirm_cancel = move |_| {
        let id = stored_id_for_question.clone().unwrap_or_default();
        let cancel_change = cancel_change.clone();
        ask(
            asking,
            format!("Cancel {id}?"),
            format!(
                "{id} is cancelled for good: its requests are voided and their requesters told, \
                 and it can no longer be edited or run. Its record and trail stay."
            ),
            "Cancel change",
            cancel_change,
        );
    };
    let Fields {
        devices, script, ..
    } = fields;
    let registered = existing.is_some();

    view! {
        <div class="page-head">
            <h1>{heading}</h1>
            {status.map(|status| view! { <span class=format!("status status-{}", status.as_str())>{status.label()}</span> })}
        </div>
        {move || message.get().map(|text| view! { <p class="error" role="alert" data-testid="form-error">{text}</p> })}
        <Tabs tab errors/>
        <fieldset class="form" disabled=!editable>
            <div class="tab-panel" hidden=move || tab.get() != Tab::General>
                <GeneralTab fields errors editable registered/>
            </div>
            <div class="tab-panel" hidden=move || tab.get() != Tab::Devices>
                <DevicesTab selected=devices errors editable/>
            </div>
            <div class="tab-panel" hidden=move || tab.get() != Tab::Script>
                <ScriptTab script errors/>
            </div>
        </fieldset>
        <div class="actions">
            {editable.then(|| view! {
                <button type="button" class="primary" data-testid="save-change" on:click=save disabled=move || pending.get()>
                    {move || if pending.get() { "Saving…" } else { "Save" }}
                </button>
            })}
            {(editable && registered).then(|| view! {
                <button type="button" class="danger" data-testid="cancel-change" disabled=move || pending.get() on:click=confirm_cancel.clone()>"Cancel change"</button>
            })}
        </div>
        <ConfirmDialog asking/>
        {stored_id.map(|id| view! { <ChangeLifeView id/> })}
    }
}

/// Cancels the registered change `stored`, then goes back to the list.
fn cancelling(
    stored: Option<String>,
    pending: RwSignal<bool>,
    message: RwSignal<Option<String>>,
) -> impl Fn() + Clone + Send + Sync + 'static {
    let navigate = use_navigate();
    let toasts = Toasts::get();
    move || {
        let Some(stored) = stored.clone() else {
            return;
        };
        let navigate = navigate.clone();
        submit(pending, async move {
            match api::changes::cancel(&stored).await {
                Ok(cancelled) => {
                    toasts.say(format!("{} cancelled", cancelled.id));
                    navigate("/changes", Default::default());
                }
                Err(error) => message.set(Some(error.message())),
            }
        });
    }
}

/// The tabs, each marked when a field of it is at fault.
#[component]
fn Tabs(tab: RwSignal<Tab>, errors: FieldErrors) -> impl IntoView {
    let has_errors = move |which: Tab| {
        errors
            .0
            .get()
            .iter()
            .any(|error| Tab::of_field(&error.field) == which)
    };
    view! {
        <div class="tabs" role="tablist">
            {Tab::ALL
                .into_iter()
                .map(|which| {
                    view! {
                        <button type="button" role="tab" class="tab"
                            data-tab=which.label()
                            class:active=move || tab.get() == which
                            class:has-errors=move || has_errors(which)
                            aria-selected=move || (tab.get() == which).to_string()
                            on:click=move |_| tab.set(which)>
                            {which.label()}
                        </button>
                    }
                })
                .collect_view()}
        </div>
    }
}

/// A time of the change's window: a picker while it may be edited, else written as every list
/// writes times, with its zone.
fn moment(id: &'static str, value: RwSignal<String>, editable: bool) -> AnyView {
    if editable {
        view! { <input id=id type="datetime-local" bind:value=value/> }.into_any()
    } else {
        let shown = local_time::show_input(&value.get_untracked());
        view! { <input id=id readonly prop:value=shown/> }.into_any()
    }
}

/// The ID, title, description, window and access group.
#[component]
fn GeneralTab(
    fields: Fields,
    errors: FieldErrors,
    editable: bool,
    registered: bool,
) -> impl IntoView {
    let Fields {
        id,
        title,
        description,
        start,
        due,
        group,
        groups,
        enforcement,
        ..
    } = fields;
    view! {
        <label for="change-id">"ID"</label>
        <input id="change-id" placeholder="CHG-1042" bind:value=id readonly=registered/>
        {errors.under("id")}
        <label for="change-title">"Title"</label>
        <input id="change-title" bind:value=title/>
        {errors.under("title")}
        <label for="change-description">"Description"</label>
        <textarea id="change-description" rows="3" bind:value=description></textarea>
        {errors.under("description")}
        <div class="row">
            <div>
                <label for="change-start">"Start time"</label>
                {moment("change-start", start, editable)}
                {errors.under("start_at")}
            </div>
            <div>
                <label for="change-due">"Due date"</label>
                {moment("change-due", due, editable)}
                {errors.under("due_at")}
            </div>
        </div>
        <label for="change-group">"Access group"</label>
        {if editable {
            view! {
                <SearchSelect id="change-group" prompt="Choose a group" hint="Search groups"
                    value=group known=groups search=pick::groups/>
            }.into_any()
        } else {
            // The change's own group; only the global roles may list the others.
            let name = groups.with_untracked(|known| known.first().map(|(_, name)| name.clone()));
            view! { <input id="change-group" readonly prop:value=name.unwrap_or_default()/> }.into_any()
        }}
        {errors.under("access_group_id")}
        <label for="change-enforcement">"Sessions"</label>
        <select id="change-enforcement" bind:value=enforcement disabled=!editable>
            <option value="">"As its access group"</option>
            <option value="script_only">"Script only: a line runs only if the script has it still to run, or it is benign"</option>
            <option value="script_only_in_order">"Script only, in order: only the script's next line, or a benign one"</option>
        </select>
        <p class="muted">"The access group's setting is the least: a change may only hold its sessions more strictly."</p>
        {errors.under("enforcement")}
    }
}
