use changeaudit_shared::api::Page;
use changeaudit_shared::api::changes::{Change, ChangeStatus};
use changeaudit_shared::role::Role;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;

use crate::api::{self, ApiError};
use crate::app::current_user;
use crate::local_time;

/// The changes the person may see, newest window first, filtered by text and status.
#[component]
pub fn ChangesList() -> impl IntoView {
    let may_register = current_user().is_some_and(|me| me.has_role(Role::Planner));
    let text = RwSignal::new(String::new());
    let status = RwSignal::new(String::new());
    let page = RwSignal::new(None::<Result<Page<Change>, ApiError>>);
    Effect::new(move |_| {
        let filters = [("q", text.get()), ("status", status.get())];
        spawn_local(async move {
            page.set(Some(api::changes(&filters).await));
        });
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
        {move || match page.get() {
            None => view! { <p class="loading">"Loading…"</p> }.into_any(),
            Some(Err(error)) => view! { <p class="error" role="alert">{error.message()}</p> }.into_any(),
            Some(Ok(page)) if page.items.is_empty() => {
                view! { <p class="empty">"No change matches."</p> }.into_any()
            }
            Some(Ok(page)) => view! { <ChangesTable page/> }.into_any(),
        }}
    }
}

#[component]
fn ChangesTable(page: Page<Change>) -> impl IntoView {
    let shown = page.items.len();
    view! {
        <table class="list" data-testid="changes">
            <thead>
                <tr>
                    <th>"ID"</th><th>"Title"</th><th>"Window"</th><th>"Access group"</th>
                    <th>"Devices"</th><th>"Status"</th><th>"Author"</th>
                </tr>
            </thead>
            <tbody>
                {page
                    .items
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
        <p class="muted">{format!("{shown} of {}", page.total)}</p>
    }
}
