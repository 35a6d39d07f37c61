use changeaudit_shared::api::Me;
use leptos::prelude::*;

#[component]
pub fn Home(me: Me) -> impl IntoView {
    let roles = if me.roles.is_empty() {
        "no global role".to_owned()
    } else {
        me.roles
            .iter()
            .map(|role| role.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    view! {
        <h1>"Welcome, " {me.display_name.clone()}</h1>
        <p class="lead">
            "changeaudit controls and proves privileged changes: planned, approved, watched and recorded."
        </p>
        <p>"Signed in as " <strong>{me.username.clone()}</strong> " (" {roles} ")."</p>
    }
}
