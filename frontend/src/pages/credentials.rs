//! Credentials → All: the credentials the person's access groups grant them, filtered at the
//! top, each with **Start session**.

use changeaudit_shared::api::sessions::GrantedCredential;
use leptos::prelude::*;
use leptos_router::components::A;

use crate::listing::{list_view, use_list};

#[component]
pub fn GrantedCredentials() -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let list =
        use_list::<GrantedCredential>("/api/me/credentials", move || vec![("q", filter.get())]);
    view! {
        <div class="page-head"><h1>"Credentials"</h1></div>
        <div class="filters">
            <input type="search" placeholder="Device, host, account or tag" aria-label="Filter credentials"
                bind:value=filter/>
        </div>
        {list_view(list, |items| view! {
            <table class="list" data-testid="granted-credentials">
                <thead>
                    <tr><th>"Device"</th><th>"Host"</th><th>"Account"</th><th>"Tags"</th><th>"Access groups"</th><th></th></tr>
                </thead>
                <tbody>
                    {items.into_iter().map(|granted| {
                        let groups = granted.groups.iter().map(|group| group.name.as_str()).collect::<Vec<_>>().join(", ");
                        let start = format!("/credentials/{}/terminal", granted.credential_id);
                        view! {
                            <tr>
                                <td>{granted.device.name.clone()}</td>
                                <td>{granted.host.clone()}</td>
                                <td>{granted.account.clone()}</td>
                                <td>{granted.tags.iter().map(|tag| view! { <span class="tag">{tag.clone()}</span> }).collect_view()}</td>
                                <td>{groups}</td>
                                <td><A href=start attr:class="button">"Start session"</A></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        }.into_any())}
    }
}
