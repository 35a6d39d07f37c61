use crate::forms::FieldErrors;
use crate::listing::{list_view, use_list};
use changeaudit_shared::api::Named;
use changeaudit_shared::api::routes;
use leptos::prelude::*;

/// The change's devices, and a filterable list to add more from.
#[component]
pub fn DevicesTab(
    selected: RwSignal<Vec<Named>>,
    errors: FieldErrors,
    /// Whether devices may be added and removed (the form is for a planner, the change open).
    editable: bool,
) -> impl IntoView {
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
                                {editable.then(|| view! {
                                    <button type="button" class="link-button"
                                        on:click=move |_| selected.update(|devices| devices.retain(|d| d.id != id))>
                                        "Remove"
                                    </button>
                                })}
                            </li>
                        }
                    })
                    .collect_view()
            }}
        </ul>
        {editable.then(|| view! { <AddDevices selected/> })}
    }
}

/// A filterable list of devices, each with a button to add it to the change.
#[component]
fn AddDevices(selected: RwSignal<Vec<Named>>) -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let found = use_list(routes::devices::list, move || {
        vec![("q", filter.get()), ("limit", "20".to_owned())]
    });
    let is_selected = move |id: i64| selected.get().iter().any(|device| device.id == id);

    view! {
        <h2>"Add devices"</h2>
        <input type="search" placeholder="Name, host or tag" aria-label="Filter devices" bind:value=filter/>
        {list_view(found, "No device matches: try part of its name or a tag.", move |devices| view! {
        <table class="list" data-testid="device-choices">
            <tbody>
                {
                    devices
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
                }
            </tbody>
        </table>
        }.into_any())}
    }
}
