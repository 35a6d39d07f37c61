use changeaudit_shared::api::devices::{Device, DeviceInput, HostKeyScan, HostKeyScanRequest};
use changeaudit_shared::api::routes;
use leptos::prelude::*;

use crate::api::{self, ApiError};
use crate::forms::{FieldErrors, submit};
use crate::listing::{List, list_view, use_list};

/// Admin → Devices: the list, and a form whose host key is pasted or fetched from the device and
/// confirmed by the admin before it is pinned.
#[component]
pub fn DevicesAdmin() -> impl IntoView {
    let filter = RwSignal::new(String::new());
    let list = use_list(routes::devices::list, move || vec![("q", filter.get())]);
    let editing = RwSignal::new(None::<Option<Device>>);

    view! {
        <div class="page-head">
            <h1>"Devices"</h1>
            <button type="button" class="primary" on:click=move |_| editing.set(Some(None))>"New device"</button>
        </div>
        {move || editing.get().map(|device| view! { <DeviceForm device editing list/> })}
        <div class="filters">
            <input type="search" placeholder="Name, host or tag" aria-label="Filter devices" bind:value=filter/>
        </div>
        {list_view(list, move |devices| view! {
            <table class="list" data-testid="devices">
                <thead><tr><th>"Name"</th><th>"Address"</th><th>"Tags"</th><th>"Pinned host key"</th><th></th></tr></thead>
                <tbody>
                    {devices.into_iter().map(|device| {
                        let chosen = device.clone();
                        view! {
                            <tr>
                                <td>{device.name.clone()}</td>
                                <td>{format!("{}:{}", device.host, device.port)}</td>
                                <td>{device.tags.join(", ")}</td>
                                <td><code>{device.host_key_fingerprint.clone()}</code></td>
                                <td><button type="button" class="link-button"
                                    on:click=move |_| editing.set(Some(Some(chosen.clone())))>"Edit"</button></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        }.into_any())}
    }
}

#[component]
fn DeviceForm(
    device: Option<Device>,
    editing: RwSignal<Option<Option<Device>>>,
    list: List<Device>,
) -> impl IntoView {
    let id = device.as_ref().map(|device| device.id);
    let name = RwSignal::new(device.as_ref().map(|d| d.name.clone()).unwrap_or_default());
    let host = RwSignal::new(device.as_ref().map(|d| d.host.clone()).unwrap_or_default());
    let port = RwSignal::new(
        device
            .as_ref()
            .map_or("22".to_owned(), |d| d.port.to_string()),
    );
    let tags = RwSignal::new(
        device
            .as_ref()
            .map(|d| d.tags.join(" "))
            .unwrap_or_default(),
    );
    let host_key = RwSignal::new(
        device
            .as_ref()
            .map(|d| d.host_key_fingerprint.clone())
            .unwrap_or_default(),
    );
    let scanned = RwSignal::new(None::<HostKeyScan>);
    let errors = FieldErrors::new();
    let message = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);

    let fetch = move |_| {
        let request = HostKeyScanRequest {
            host: host.get_untracked(),
            port: port.get_untracked().trim().parse().unwrap_or(-1),
        };
        message.set(None);
        scanned.set(None);
        submit(pending, async move {
            match api::devices::scan_host_key(&request).await {
                Ok(scan) => {
                    errors.clear();
                    scanned.set(Some(scan));
                }
                Err(error) => message.set(Some(errors.take(error))),
            }
        });
    };
    let trust = move |_| {
        if let Some(scan) = scanned.get_untracked() {
            host_key.set(scan.public_key);
            scanned.set(None);
        }
    };
    let save = move |_| {
        let input = DeviceInput {
            name: name.get_untracked(),
            host: host.get_untracked(),
            port: port.get_untracked().trim().parse().unwrap_or(-1),
            tags: tags
                .get_untracked()
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            host_key: host_key.get_untracked(),
        };
        submit(pending, async move {
            let saved: Result<Device, ApiError> = match id {
                Some(id) => api::devices::save(Some(id), &input).await,
                None => api::devices::save(None, &input).await,
            };
            match saved {
                Ok(_) => {
                    editing.set(None);
                    list.refetch();
                }
                Err(error) => message.set(Some(errors.take(error))),
            }
        });
    };
    let delete = move |_| {
        let Some(id) = id else { return };
        submit(pending, async move {
            match api::devices::delete(id).await {
                Ok(()) => {
                    editing.set(None);
                    list.refetch();
                }
                Err(error) => message.set(Some(errors.take(error))),
            }
        });
    };

    view! {
        <section class="panel" data-testid="device-form">
            <h2>{if id.is_some() { "Edit device" } else { "New device" }}</h2>
            {move || message.get().map(|text| view! { <p class="error" role="alert">{text}</p> })}
            <div class="tab-panel">
                <label for="device-name">"Name"</label>
                <input id="device-name" bind:value=name/>
                {errors.under("name")}
                <div class="row">
                    <div>
                        <label for="device-host">"Host"</label>
                        <input id="device-host" bind:value=host/>
                        {errors.under("host")}
                    </div>
                    <div>
                        <label for="device-port">"Port"</label>
                        <input id="device-port" inputmode="numeric" bind:value=port/>
                        {errors.under("port")}
                    </div>
                </div>
                <label for="device-tags">"Tags (separated by spaces)"</label>
                <input id="device-tags" bind:value=tags/>
                {errors.under("tags")}
                <label for="device-host-key">"Host key: its SHA256 fingerprint, or the public key"</label>
                <textarea id="device-host-key" rows="2" bind:value=host_key></textarea>
                {errors.under("host_key")}
                <div class="actions">
                    <button type="button" class="link-button" data-testid="fetch-host-key" disabled=move || pending.get() on:click=fetch>"Fetch from the device"</button>
                </div>
                {move || scanned.get().map(|scan| view! {
                    <div class="confirm" data-testid="host-key-confirm">
                        <p>"The device presents this " <strong>{scan.algorithm.clone()}</strong> " key:"</p>
                        <p><code data-testid="scanned-fingerprint">{scan.fingerprint.clone()}</code></p>
                        <p class="muted">"Compare it with the device's own (ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub on its console) before trusting it."</p>
                        <button type="button" class="primary" on:click=trust>"Trust this key"</button>
                        <button type="button" class="link-button" on:click=move |_| scanned.set(None)>"Discard"</button>
                    </div>
                })}
            </div>
            <div class="actions">
                <button type="button" class="primary" data-testid="save-device" disabled=move || pending.get() on:click=save>"Save"</button>
                <button type="button" class="link-button" on:click=move |_| editing.set(None)>"Close"</button>
                {id.is_some().then(|| view! { <button type="button" class="danger" disabled=move || pending.get() on:click=delete>"Delete"</button> })}
            </div>
        </section>
    }
}
