use changeaudit_shared::api::devices::{Device, DeviceInput, HostKeyScan, HostKeyScanRequest};
use changeaudit_shared::api::routes;
use leptos::prelude::*;

use super::list::{Admin, AdminList, Editing, settle};
use crate::api;
use crate::confirm::{Asking, ConfirmDialog, ask};
use crate::forms::{FieldErrors, submit};
use crate::listing::List;

/// Admin → Devices: the list, and a form whose host key is pasted or fetched from the device and
/// confirmed by the admin before it is pinned.
#[component]
pub fn DevicesAdmin() -> impl IntoView {
    let admin = Admin {
        title: "Devices",
        new_label: "New device",
        filter_hint: "Name, host or tag",
        filter_label: "Filter devices",
        testid: "devices",
        empty: "No device matches. New device adds a server with its pinned host key.",
        headers: &["Name", "Address", "Tags", "Pinned host key"],
        route: routes::devices::list,
        edit_label: "Edit",
        remove: None,
    };
    let cells = |device: &Device| {
        view! {
            <td>{device.name.clone()}</td>
            <td>{format!("{}:{}", device.host, device.port)}</td>
            <td>{device.tags.join(", ")}</td>
            <td><code>{device.host_key_fingerprint.clone()}</code></td>
        }
        .into_any()
    };
    let form = |device, editing, list| view! { <DeviceForm device editing list/> }.into_any();
    view! { <AdminList admin cells form/> }
}

#[component]
fn DeviceForm(
    device: Option<Device>,
    editing: Editing<Device>,
    list: List<Device>,
) -> impl IntoView {
    let id = device.as_ref().map(|device| device.id);
    let text = |of: fn(&Device) -> String, default: &str| {
        RwSignal::new(device.as_ref().map_or(default.to_owned(), of))
    };
    let name = text(|d| d.name.clone(), "");
    let host = text(|d| d.host.clone(), "");
    let port = text(|d| d.port.to_string(), "22");
    let tags = text(|d| d.tags.join(" "), "");
    let host_key = text(|d| d.host_key_fingerprint.clone(), "");
    let errors = FieldErrors::new();
    let message = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let done = settle(editing, list, message, errors);
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
            done(api::devices::save(id, &input).await.map(|_| ()));
        });
    };
    let asking: Asking = RwSignal::new(None);
    let delete = move |_| {
        let Some(id) = id else { return };
        let device = name.get_untracked();
        ask(
            asking,
            format!("Delete the device {device}?"),
            "It is gone from the devices list for good. A device that a change names, that \
             has recorded sessions or that still has credentials is kept: the server says which."
                .to_owned(),
            "Delete",
            move || submit(pending, async move { done(api::devices::delete(id).await) }),
        );
    };

    view! {
        <section class="panel" data-testid="device-form">
            <h2>{if id.is_some() { "Edit device" } else { "New device" }}</h2>
            {move || message.get().map(|text| view! { <p class="error" role="alert">{text}</p> })}
            <ConfirmDialog asking/>
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
                <HostKey host port host_key errors message pending/>
            </div>
            <div class="actions">
                <button type="button" class="primary" data-testid="save-device" disabled=move || pending.get() on:click=save>"Save"</button>
                <button type="button" class="link-button" on:click=move |_| editing.set(None)>"Close"</button>
                {id.is_some().then(|| view! { <button type="button" class="danger" data-testid="delete-device" disabled=move || pending.get() on:click=delete>"Delete"</button> })}
            </div>
        </section>
    }
}

/// The host key to pin: pasted, or fetched from the device and confirmed by the admin.
#[component]
fn HostKey(
    host: RwSignal<String>,
    port: RwSignal<String>,
    host_key: RwSignal<String>,
    errors: FieldErrors,
    message: RwSignal<Option<String>>,
    pending: RwSignal<bool>,
) -> impl IntoView {
    let scanned = RwSignal::new(None::<HostKeyScan>);
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
    view! {
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
    }
}
