use changeaudit_shared::api::changes::{Change, ChangeStatus};
use changeaudit_shared::api::routes;
use changeaudit_shared::role::Role;
use leptos::prelude::*;
use leptos_router::components::A;

use crate::listing::{list_view, use_list};
use crate::local_time;
use crate::session::current_user;

/// The changes the person may see, newest window first, filtered by text and status.
#[component]
pub fn ChangesList() -> impl IntoView {
    let may_register = current_user().is_some_and(|me| me.has_role(Role::Planner));
    let text = RwSignal::new(String::new());
    let status = RwSignal::new(String::new());
    let list = use_list(routes::changes::list, move || {
        vec![("q", text.get()), ("status", status.get())]
    });

    view! {
        <div class="page-head">
            <h1>"Changes"</h1>
            {may_register.then(|| view! { <A href="/changes/new" attr:class="button">"New change"</A> })}
        </div>
        <div class="filters">
            <input type="search" placeholder="ID or title" aria-label="Filter by ID or title" bind:value=text/>
            <select aria-label="Filter by status" bind:value=status>
                <option value="">"Any status"</option>
                {ChangeStatus::ALL
                    .into_iter()
                    .map(|status| view! { <option value=status.as_str()>{status.label()}</option> })
                    .collect_view()}
            </select>
        </div>
        {list_view(list, "No change matches. Planners register one with New change.", |changes| view! { <ChangesTable changes/> }.into_any())}
    }
}

#[component]
fn ChangesTable(changes: Vec<Change>) -> impl IntoView {
    view! {
        <table class="list" data-testid="changes">
            <thead>
                <tr>
                    <th>"ID"</th><th>"Title"</th><th>"Window"</th><th>"Access group"</th>
                    <th>"Devices"</th><th>"Status"</th><th>"Author"</th>
                </tr>
            </thead>
            <tbody>
                {changes
                    .into_iter()
                    .map(|change| {
                        let href = format!("/changes/{}", change.id);
                        let devices = change
                            .devices
                            .iter()
                            .map(|device| device.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ");
                        view! {
                            <tr>
                                <td><A href=href>{change.id.clone()}</A></td>
                                <td>{change.title.clone()}</td>
                                <td class="nowrap">
                                    {local_time::show(change.start_at)} " → " {local_time::show(change.due_at)}
                                </td>
                                <td>{change.access_group.name.clone()}</td>
                                <td>{devices}</td>
                                <td><span class=format!("status status-{}", change.status.as_str())>{change.status.label()}</span></td>
                                <td>{change.author.clone()}</td>
                            </tr>
                        }
                    })
                    .collect_view()}
            </tbody>
        </table>
    }
}
