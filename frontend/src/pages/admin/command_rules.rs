//! Admin → Command rules: the rules every session is held to at each Enter, in the order they
//! are tried (the first match decides), with a tester that says which rule a line meets.
//! Admins write them; auditors read and test.

use changeaudit_shared::api::command_rules::{CommandRule, RuleAction, RuleScope};
use changeaudit_shared::role::Role;
use leptos::prelude::*;
use leptos::task::spawn_local;

use super::rule_form::{Editing, Names, RuleForm};
use crate::api;
use crate::confirm::{Asking, ConfirmDialog, ask};
use crate::loaded::{Loaded, Loading};
use crate::session::current_user;
use crate::toast::Toasts;

#[component]
pub fn CommandRulesAdmin() -> impl IntoView {
    let writes = current_user().is_some_and(|me| me.has_role(Role::Admin));
    let rules: Loading<Vec<CommandRule>> = LocalResource::new(api::command_rules::list);
    let names: Loading<Names> = LocalResource::new(Names::load);
    let editing: Editing = RwSignal::new(None);
    let message = RwSignal::new(None::<String>);
    let asking: Asking = RwSignal::new(None);
    let show = move |list: Vec<CommandRule>| {
        let names = names.get().and_then(Result::ok).unwrap_or_default();
        rules_table(
            list,
            names,
            writes,
            editing,
            Order {
                rules,
                message,
                asking,
            },
        )
    };
    view! {
        <div class="page-head">
            <h1>"Command rules"</h1>
            {writes.then(|| view! {
                <button type="button" class="primary" data-testid="new-rule"
                    on:click=move |_| editing.set(Some(None))>"New rule"</button>
            })}
        </div>
        <p class="muted">"Checked at each Enter of every session, planned or not, before the line reaches the device: the first rule that matches decides. A script-only session is also held to its change's script."</p>
        {move || message.get().map(|text| view! { <p class="error" role="alert">{text}</p> })}
        <ConfirmDialog asking/>
        {move || editing.get().map(|rule| view! { <RuleForm rule editing rules/> })}
        <Tester/>
        <Loaded resource=rules show/>
    }
}

/// What a row's actions change: the list, and the words of a refusal.
#[derive(Clone, Copy)]
struct Order {
    rules: Loading<Vec<CommandRule>>,
    message: RwSignal<Option<String>>,
    asking: Asking,
}

impl Order {
    fn move_to(self, id: i64, position: i64) {
        spawn_local(async move {
            match api::command_rules::move_to(id, position).await {
                Ok(_) => self.rules.refetch(),
                Err(error) => self.message.set(Some(error.message())),
            }
        });
    }

    fn delete(self, rule: &CommandRule) {
        let id = rule.id;
        ask(
            self.asking,
            format!("Delete the rule {}?", rule.name),
            "Sessions opened from now on are no longer held to it; sessions running keep the rules they opened with. The trail keeps the rule as it was."
                .to_owned(),
            "Delete",
            move || {
                spawn_local(async move {
                    match api::command_rules::delete(id).await {
                        Ok(()) => {
                            self.rules.refetch();
                            Toasts::get().say("Deleted");
                        }
                        Err(error) => self.message.set(Some(error.message())),
                    }
                });
            },
        );
    }
}

fn rules_table(
    rules: Vec<CommandRule>,
    names: Names,
    writes: bool,
    editing: Editing,
    order: Order,
) -> AnyView {
    if rules.is_empty() {
        return view! {
            <p class="empty">"No command rule yet: every line of an ordinary session runs. New rule blocks, alerts on or allows lines by their program and arguments, or by a regular expression."</p>
        }
        .into_any();
    }
    let last = rules.len() as i64;
    let row = move |rule: CommandRule| {
        let position = rule.position;
        let (id, chosen, doomed) = (rule.id, rule.clone(), rule.clone());
        let actions = writes.then(|| view! {
            <button type="button" class="link-button" on:click=move |_| editing.set(Some(Some(chosen.clone())))>"Edit"</button>
            <button type="button" class="link-button" aria-label="Move up" disabled={position <= 1}
                on:click=move |_| order.move_to(id, position - 1)>"↑"</button>
            <button type="button" class="link-button" aria-label="Move down" disabled={position >= last}
                on:click=move |_| order.move_to(id, position + 1)>"↓"</button>
            <button type="button" class="link-button danger-link" on:click=move |_| order.delete(&doomed)>"Delete"</button>
        });
        view! {
            <tr data-rule=id class:disabled={!rule.enabled}>
                <td>{position}</td>
                <td>{rule.name.clone()}{(!rule.enabled).then_some(" (off)")}</td>
                <td><code>{rule.pattern.clone()}</code>" "<span class="tag">{rule.pattern_kind.as_str()}</span></td>
                <td>{action_words(&rule)}</td>
                <td><span class=format!("criticality criticality-{}", rule.criticality.as_str())>{rule.criticality.as_str()}</span></td>
                <td>{names.scope(&rule.scope)}</td>
                <td class="row-actions">{actions}</td>
            </tr>
        }
    };
    view! {
        <div class="table-box">
            <table class="list" data-testid="command-rules">
                <thead><tr><th>"#"</th><th>"Name"</th><th>"Pattern"</th><th>"Action"</th>
                    <th>"Criticality"</th><th>"Applies to"</th><th></th></tr></thead>
                <tbody>{rules.into_iter().map(row).collect_view()}</tbody>
            </table>
        </div>
    }
    .into_any()
}

/// What a rule does to a line it matches, in words.
fn action_words(rule: &CommandRule) -> String {
    match rule.action {
        RuleAction::Allow => "allow".to_owned(),
        RuleAction::Block => "block".to_owned(),
        RuleAction::Alert => "alert (runs, approvers told)".to_owned(),
        RuleAction::InterruptAfter => format!(
            "block, and close the session at try {}",
            rule.tries.unwrap_or_default()
        ),
    }
}

/// Type a line, see which rule it meets: asked again at each change, the last answer shown.
#[component]
fn Tester() -> impl IntoView {
    let line = RwSignal::new(String::new());
    let answer = LocalResource::new(move || {
        let line = line.get();
        async move {
            if line.trim().is_empty() {
                return None;
            }
            Some(api::command_rules::test(&line).await)
        }
    });
    let said = move || {
        let outcome = answer.get().flatten()?;
        Some(match outcome {
            Err(error) => view! { <p class="error" role="alert">{error.message()}</p> }.into_any(),
            Ok(None) => view! {
                <p data-testid="tester-answer" data-matched="none">"No rule matches: the line runs (a script-only session still holds it to the script)."</p>
            }
            .into_any(),
            Ok(Some(rule)) => view! {
                <p data-testid="tester-answer" data-matched=rule.id>
                    "Rule " {rule.position} " — " <strong>{rule.name.clone()}</strong> ": "
                    {action_words(&rule)} ", " {rule.criticality.as_str()} " criticality"
                    {(!matches!(rule.scope, RuleScope::Everywhere)).then_some(", in sessions within its scope")}
                </p>
            }
            .into_any(),
        })
    };
    view! {
        <section class="panel tester" data-testid="rule-tester">
            <label for="rule-tester-line">"Try a line"</label>
            <input id="rule-tester-line" class="mono" placeholder="sudo systemctl stop nginx" bind:value=line/>
            {said}
        </section>
    }
}
