use changeaudit_shared::api::Named;
use changeaudit_shared::api::devices::Device;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api;
use crate::forms::FieldErrors;

/// The change's devices, and a filterable list to add more from.
#[component]
pub fn DevicesTab(selected: RwSignal<Vec<Named>>, errors: FieldErrors) -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let found = RwSignal::new(Vec::<Device>::new());
    let failure = RwSignal::new(None::<String>);
    Effect::new(move |_| {
        let filters = [("q", filter.get()), ("limit", "20".to_owned())];
        spawn_local(async move {
            match api::devices(&filters).await {
                Ok(page) => {
                    failure.set(None);
                    found.set(page.items);
                }
                Err(error) => failure.set(Some(error.message())),
            }
        });
    });
    let is_selected = move |id: i64| selected.get().iter().any(|device| device.id == id);

    view! {
        <h2>"Devices of this change"</h2>
        {errors.under("device_ids")}
        <ul class="chosen" data-testid="chosen-devices">
            {move || {
                selected
                    .get()
                    .into_iter()
                    .map(|device| {
                        let id = device.id;
                        view! {
                            <li>
                                <span>{device.name}</span>
                                <button type="button" class="link-button"
                                    on:click=move |_| selected.update(|devices| devices.retain(|d| d.id != id))>
                                    "Remove"
                                </button>
                            </li>
                        }
                    })
                    .collect_view()
            }}
        </ul>
        <h2>"Add devices"</h2>
        <input type="search" placeholder="Name, host or tag" aria-label="Filter devices" bind:value=filter/>
        {move || failure.get().map(|text| view! { <p class="error">{text}</p> })}
        <table class="list" data-testid="device-choices">
            <tbody>
                {move || {
                    found
                        .get()
                        .into_iter()
                        .map(|device| {
                            let named = Named { id: device.id, name: device.name.clone() };
                            let id = device.id;
                            view! {
                                <tr>
                                    <td>{device.name.clone()}</td>
                                    <td>{format!("{}:{}", device.host, device.port)}</td>
                                    <td>{device.tags.join(", ")}</td>
                                    <td>
                                        <button type="button" class="link-button" data-device=device.name.clone()
                                            disabled=move || is_selected(id)
                                            on:click=move |_| {
                                                let named = named.clone();
                                                selected.update(|devices| {
                                                    if !devices.iter().any(|d| d.id == named.id) {
                                                        devices.push(named);
                                                    }
                                                });
                                            }>
                                            "Add"
                                        </button>
                                    </td>
                                </tr>
                            }
                        })
                        .collect_view()
                }}
            </tbody>
        </table>
    }
}
