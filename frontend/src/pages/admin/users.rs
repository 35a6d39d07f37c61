use changeaudit_shared::api::routes;
use changeaudit_shared::api::users::{User, UserInput};
use changeaudit_shared::role::Role;
use leptos::prelude::*;

use super::list::{Admin, AdminList, Editing, settle};
use crate::api;
use crate::forms::{FieldErrors, submit};
use crate::listing::List;

/// Admin → Users: people, their global roles, enabling and disabling, password resets.
#[component]
pub fn UsersAdmin() -> impl IntoView {
    let admin = Admin {
        title: "Users",
        new_label: "New user",
        filter_hint: "Username, name or e-mail",
        filter_label: "Filter users",
        testid: "users",
        empty: "No user matches. New user adds a person; roles are given there.",
        headers: &["Username", "Name", "E-mail", "Roles", "State"],
        route: routes::users::list,
        edit_label: "Edit",
        remove: None,
    };
    let cells = |user: &User| {
        let roles = user
            .roles
            .iter()
            .map(|role| role.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        view! {
            <td>{user.username.clone()}</td>
            <td>{user.display_name.clone()}</td>
            <td>{user.email.clone()}</td>
            <td>{roles}</td>
            <td>{if user.enabled { "enabled" } else { "disabled" }}</td>
        }
        .into_any()
    };
    let form = |user, editing, list| view! { <UserForm user editing list/> }.into_any();
    view! { <AdminList admin cells form/> }
}

#[component]
fn UserForm(user: Option<User>, editing: Editing<User>, list: List<User>) -> impl IntoView {
    let id = user.as_ref().map(|user| user.id);
    let username = RwSignal::new(
        user.as_ref()
            .map(|u| u.username.clone())
            .unwrap_or_default(),
    );
    let display_name = RwSignal::new(
        user.as_ref()
            .map(|u| u.display_name.clone())
            .unwrap_or_default(),
    );
    let email = RwSignal::new(user.as_ref().map(|u| u.email.clone()).unwrap_or_default());
    let enabled = RwSignal::new(user.as_ref().is_none_or(|u| u.enabled));
    let roles = RwSignal::new(user.as_ref().map(|u| u.roles.clone()).unwrap_or_default());
    let password = RwSignal::new(String::new());
    let errors = FieldErrors::new();
    let message = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);

    let done = settle(editing, list, message, errors);
    let save = move |_| {
        let input = UserInput {
            username: username.get_untracked(),
            display_name: display_name.get_untracked(),
            email: email.get_untracked(),
            roles: roles.get_untracked(),
            enabled: enabled.get_untracked(),
            password: password.get_untracked().into(),
        };
        submit(pending, async move {
            done(api::users::save(id, &input).await.map(|_| ()));
        });
    };

    view! {
        <section class="panel" data-testid="user-form">
            <h2>{if id.is_some() { "Edit user" } else { "New user" }}</h2>
            {move || message.get().map(|text| view! { <p class="error" role="alert">{text}</p> })}
            <div class="tab-panel">
                <label for="user-username">"Username"</label>
                <input id="user-username" bind:value=username readonly=id.is_some()/>
                {errors.under("username")}
                <label for="user-display-name">"Display name"</label>
                <input id="user-display-name" bind:value=display_name/>
                {errors.under("display_name")}
                <label for="user-email">"E-mail"</label>
                <input id="user-email" type="email" bind:value=email/>
                {errors.under("email")}
                <span class="label">"Global roles"</span>
                <div class="checks">
                    {Role::ALL.into_iter().map(|role| view! {
                        <label class="check">
                            <input type="checkbox"
                                prop:checked=move || roles.get().contains(&role)
                                on:change=move |event| {
                                    let on = event_target_checked(&event);
                                    roles.update(|roles| {
                                        roles.retain(|r| *r != role);
                                        if on { roles.push(role); }
                                    });
                                }/>
                            {role.as_str()}
                        </label>
                    }).collect_view()}
                </div>
                {errors.under("roles")}
                <label class="check"><input type="checkbox" bind:checked=enabled/>"Enabled: may sign in"</label>
                <label for="user-password">{if id.is_some() { "New password (leave empty to keep it)" } else { "Password" }}</label>
                <input id="user-password" type="password" autocomplete="new-password" bind:value=password/>
                {errors.under("password")}
            </div>
            <div class="actions">
                <button type="button" class="primary" disabled=move || pending.get() on:click=save>"Save"</button>
                <button type="button" class="link-button" on:click=move |_| editing.set(None)>"Close"</button>
            </div>
        </section>
    }
}
