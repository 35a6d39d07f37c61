//! A command rule's form, and the names of the groups and credentials rules are scoped to.

use std::collections::HashMap;

use changeaudit_shared::api::command_rules::{
    CommandRule, CommandRuleInput, Criticality, PatternKind, RuleAction, RuleScope,
};
use leptos::prelude::*;

use crate::api::{self, ApiError};
use crate::forms::{FieldErrors, submit};
use crate::loaded::Loading;
use crate::pick::{self, SearchSelect};
use crate::toast::Toasts;

/// Which rule is being edited: `None` for none, `Some(None)` for a new one.
pub type Editing = RwSignal<Option<Option<CommandRule>>>;

/// The names of the groups and credentials a scope may name, by id.
#[derive(Clone, Default)]
pub struct Names {
    groups: HashMap<i64, String>,
    credentials: HashMap<i64, String>,
}

impl Names {
    /// The first of each that the person may list (auditors may not list credentials): a
    /// scope naming another shows its id.
    pub async fn load() -> Result<Names, ApiError> {
        let groups = pick::groups(String::new()).await.unwrap_or_default();
        let credentials = pick::credentials(String::new()).await.unwrap_or_default();
        Ok(Names {
            groups: groups.into_iter().collect(),
            credentials: credentials.into_iter().collect(),
        })
    }

    pub fn scope(&self, scope: &RuleScope) -> String {
        let named = |names: &HashMap<i64, String>, id: &i64| {
            names.get(id).cloned().unwrap_or_else(|| format!("#{id}"))
        };
        match scope {
            RuleScope::Everywhere => "every session".to_owned(),
            RuleScope::Group { group_id } => {
                format!("access group {}", named(&self.groups, group_id))
            }
            RuleScope::DeviceTag { tag } => format!("devices tagged {tag}"),
            RuleScope::Credential { credential_id } => {
                format!("credential {}", named(&self.credentials, credential_id))
            }
        }
    }
}

/// The form's fields, each a signal, filled from the rule being edited or the defaults.
#[derive(Clone, Copy)]
struct Fields {
    name: RwSignal<String>,
    pattern_kind: RwSignal<String>,
    pattern: RwSignal<String>,
    action: RwSignal<String>,
    tries: RwSignal<String>,
    criticality: RwSignal<String>,
    scope: RwSignal<String>,
    group: RwSignal<String>,
    tag: RwSignal<String>,
    credential: RwSignal<String>,
    enabled: RwSignal<bool>,
}

impl Fields {
    fn of(rule: Option<&CommandRule>) -> Fields {
        let input = rule.map_or_else(CommandRuleInput::default, input_of);
        let text = |text: &str| RwSignal::new(text.to_owned());
        let (scope, group, tag, credential) = match &input.scope {
            RuleScope::Everywhere => ("everywhere", String::new(), "", String::new()),
            RuleScope::Group { group_id } => ("group", group_id.to_string(), "", String::new()),
            RuleScope::DeviceTag { tag } => {
                ("device_tag", String::new(), tag.as_str(), String::new())
            }
            RuleScope::Credential { credential_id } => {
                ("credential", String::new(), "", credential_id.to_string())
            }
        };
        Fields {
            name: text(&input.name),
            pattern_kind: text(input.pattern_kind.as_str()),
            pattern: text(&input.pattern),
            action: text(input.action.as_str()),
            tries: text(
                &input
                    .tries
                    .map(|tries| tries.to_string())
                    .unwrap_or_default(),
            ),
            criticality: text(input.criticality.as_str()),
            scope: text(scope),
            group: RwSignal::new(group),
            tag: text(tag),
            credential: RwSignal::new(credential),
            enabled: RwSignal::new(input.enabled),
        }
    }

    /// The input as typed; what cannot be read is sent so that the server names the field.
    fn input(&self) -> CommandRuleInput {
        let id = |field: RwSignal<String>| field.get_untracked().trim().parse().unwrap_or(0);
        let scope = match self.scope.get_untracked().as_str() {
            "group" => RuleScope::Group {
                group_id: id(self.group),
            },
            "device_tag" => RuleScope::DeviceTag {
                tag: self.tag.get_untracked().trim().to_owned(),
            },
            "credential" => RuleScope::Credential {
                credential_id: id(self.credential),
            },
            _ => RuleScope::Everywhere,
        };
        let action = RuleAction::parse(&self.action.get_untracked()).unwrap_or(RuleAction::Block);
        let tries = self.tries.get_untracked();
        CommandRuleInput {
            name: self.name.get_untracked(),
            // The choices are the values themselves.
            pattern_kind: PatternKind::parse(&self.pattern_kind.get_untracked())
                .unwrap_or(PatternKind::Words),
            pattern: self.pattern.get_untracked(),
            tries: (action == RuleAction::InterruptAfter)
                .then(|| tries.trim().parse().unwrap_or(0)),
            action,
            criticality: Criticality::parse(&self.criticality.get_untracked())
                .unwrap_or(Criticality::Medium),
            scope,
            enabled: self.enabled.get_untracked(),
        }
    }
}

fn input_of(rule: &CommandRule) -> CommandRuleInput {
    CommandRuleInput {
        name: rule.name.clone(),
        pattern_kind: rule.pattern_kind,
        pattern: rule.pattern.clone(),
        action: rule.action,
        tries: rule.tries,
        criticality: rule.criticality,
        scope: rule.scope.clone(),
        enabled: rule.enabled,
    }
}

#[component]
pub fn RuleForm(
    rule: Option<CommandRule>,
    editing: Editing,
    rules: Loading<Vec<CommandRule>>,
) -> impl IntoView {
    let id = rule.as_ref().map(|rule| rule.id);
    let fields = Fields::of(rule.as_ref());
    let errors = FieldErrors::new();
    let message = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let toasts = Toasts::get();
    let save = move |_| {
        let input = fields.input();
        submit(pending, async move {
            match api::command_rules::save(id, &input).await {
                Ok(_) => {
                    editing.set(None);
                    rules.refetch();
                    toasts.say("Saved");
                }
                Err(error) => message.set(Some(errors.take(error))),
            }
        });
    };
    view! {
        <section class="panel" data-testid="rule-form">
            <h2>{if id.is_some() { "Edit command rule" } else { "New command rule" }}</h2>
            {move || message.get().map(|text| view! { <p class="error" role="alert">{text}</p> })}
            <div class="tab-panel">
                <label for="rule-name">"Name"</label>
                <input id="rule-name" bind:value=fields.name/>
                {errors.under("name")}
                <Pattern fields errors/>
                <Action fields errors/>
                <Scope fields errors/>
                <label class="check"><input type="checkbox" bind:checked=fields.enabled/>"Enabled"</label>
            </div>
            <div class="actions">
                <button type="button" class="primary" data-testid="save-rule" disabled=move || pending.get() on:click=save>"Save"</button>
                <button type="button" class="link-button" on:click=move |_| editing.set(None)>"Close"</button>
            </div>
        </section>
    }
}

#[component]
fn Pattern(fields: Fields, errors: FieldErrors) -> impl IntoView {
    let hint = move || match fields.pattern_kind.get().as_str() {
        "regex" => {
            "A regular expression over the line's words joined by single spaces, e.g. ^rm -rf /( |$)"
        }
        _ => {
            "A program (by name, or by path in any folder) and globs for its first arguments, e.g. systemctl stop nginx* — found through ;, && and |, sudo, env and the like, and sh -c and eval"
        }
    };
    view! {
        <label for="rule-pattern-kind">"Pattern"</label>
        <div class="row">
            <select id="rule-pattern-kind" bind:value=fields.pattern_kind>
                <option value="words">"Shell words"</option>
                <option value="regex">"Regular expression"</option>
            </select>
            <input id="rule-pattern" class="mono" aria-label="Pattern" bind:value=fields.pattern/>
        </div>
        <p class="muted">{hint}</p>
        {errors.under("pattern")}
    }
}

#[component]
fn Action(fields: Fields, errors: FieldErrors) -> impl IntoView {
    view! {
        <div class="row">
            <div>
                <label for="rule-action">"Action"</label>
                <select id="rule-action" bind:value=fields.action>
                    <option value="block">"Block: the line never reaches the device"</option>
                    <option value="interrupt_after">"Block, and close the session after some tries"</option>
                    <option value="alert">"Alert: the line runs; the trail and the approvers are told"</option>
                    <option value="allow">"Allow: runs, and no later rule is tried"</option>
                </select>
            </div>
            {move || (fields.action.get() == "interrupt_after").then(|| view! {
                <div>
                    <label for="rule-tries">"Closes the session at try"</label>
                    <input id="rule-tries" type="number" min="1" bind:value=fields.tries/>
                </div>
            })}
            <div>
                <label for="rule-criticality">"Criticality"</label>
                <select id="rule-criticality" bind:value=fields.criticality>
                    <option value="low">"Low"</option>
                    <option value="medium">"Medium"</option>
                    <option value="high">"High"</option>
                </select>
            </div>
        </div>
        {errors.under("tries")}
        {errors.under("action")}
    }
}

#[component]
fn Scope(fields: Fields, errors: FieldErrors) -> impl IntoView {
    let groups = RwSignal::new(pick::Choices::new());
    let credentials = RwSignal::new(pick::Choices::new());
    view! {
        <label for="rule-scope">"Applies to"</label>
        <select id="rule-scope" bind:value=fields.scope>
            <option value="everywhere">"Every session"</option>
            <option value="group">"Sessions of an access group"</option>
            <option value="device_tag">"Sessions on devices with a tag"</option>
            <option value="credential">"Sessions on a credential"</option>
        </select>
        {move || match fields.scope.get().as_str() {
            "group" => view! {
                <SearchSelect id="rule-group" prompt="Choose an access group…" hint="Search access groups"
                    value=fields.group known=groups search=pick::groups/>
            }.into_any(),
            "device_tag" => view! {
                <input id="rule-tag" aria-label="Device tag" placeholder="production" bind:value=fields.tag/>
            }.into_any(),
            "credential" => view! {
                <SearchSelect id="rule-credential" prompt="Choose a credential…" hint="Search credentials"
                    value=fields.credential known=credentials search=pick::credentials/>
            }.into_any(),
            _ => ().into_any(),
        }}
        {errors.under("scope")}
    }
}
