//! The person's profile: their passkeys, to register, name and remove. Approvals and passkey
//! sign-in use them.

use changeaudit_shared::api::requests::{CeremonyStart, PasskeyInfo, PasskeyInput};
use changeaudit_shared::problem::FieldError;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError};
use crate::confirm::{Asking, ConfirmDialog, ask};
use crate::forms::FieldErrors;
use crate::loaded::Loaded;
use crate::local_time;
use crate::passkey;

async fn register(name: String) -> Result<PasskeyInfo, ApiError> {
    let start: CeremonyStart = api::passkeys::start_registration().await?;
    let credential = passkey::create(&start).await.map_err(ApiError::Browser)?;
    api::passkeys::register(&PasskeyInput {
        ceremony: start.ceremony,
        name,
        credential,
    })
    .await
}

/// The new passkey's name, checked before the authenticator is asked: a refusal after it
/// would leave a passkey on the authenticator that the server never registered.
fn named(name: RwSignal<String>, errors: FieldErrors) -> Option<String> {
    let chosen = name.get_untracked().trim().to_owned();
    if chosen.is_empty() {
        errors.0.set(vec![FieldError {
            field: "name".to_owned(),
            detail: "is required: name the device holding the passkey".to_owned(),
        }]);
        return None;
    }
    errors.clear();
    Some(chosen)
}

#[component]
pub fn Profile() -> impl IntoView {
    let reload = RwSignal::new(0_u32);
    let keys = LocalResource::new(move || {
        reload.track();
        async move { api::passkeys::mine().await }
    });
    let name = RwSignal::new(String::new());
    let message = RwSignal::new(None::<String>);
    let pending = RwSignal::new(false);
    let errors = FieldErrors::new();
    let add = move |_| {
        if pending.get_untracked() {
            return;
        }
        pending.set(true);
        message.set(None);
        let Some(chosen) = named(name, errors) else {
            pending.set(false);
            return;
        };
        spawn_local(async move {
            match register(chosen).await {
                Ok(key) => {
                    message.set(Some(format!("Passkey “{}” registered.", key.name)));
                    name.set(String::new());
                }
                Err(error) => message.set(Some(errors.take(error))),
            }
            pending.set(false);
            reload.update(|n| *n += 1);
        });
    };
    let asking: Asking = RwSignal::new(None);
    let remove = move |id: i64, name: String| {
        ask(
            asking,
            format!("Remove the passkey {name}?"),
            "It no longer signs you in or signs approvals. Approvals it signed stay verifiable."
                .to_owned(),
            "Remove",
            move || {
                spawn_local(async move {
                    if let Err(error) = api::passkeys::delete(id).await {
                        message.set(Some(error.message()));
                    }
                    reload.update(|n| *n += 1);
                });
            },
        );
    };
    view! {
        <div class="page-head"><h1>"Profile"</h1></div>
        <ConfirmDialog asking/>
        <h2>"Passkeys"</h2>
        <p class="muted">"Approvals are signed with a passkey, and a passkey can sign you in."</p>
        {move || message.get().map(|text| view! { <p class="notice" role="status" data-testid="passkey-message">{text}</p> })}
        <Loaded resource=keys show={move |keys: Vec<PasskeyInfo>| match keys {
            keys if keys.is_empty() => view! { <p class="empty">"No passkey yet."</p> }.into_any(),
            keys => view! {
                <table class="list" data-testid="passkeys">
                    <thead><tr><th>"Name"</th><th>"Registered"</th><th>"Last used"</th><th></th></tr></thead>
                    <tbody>
                        {keys.into_iter().map(|key| {
                            let id = key.id;
                            let name = key.name.clone();
                            view! {
                                <tr>
                                    <td>{key.name.clone()}</td>
                                    <td>{local_time::show(key.created_at)}</td>
                                    <td>{key.last_used_at.map(local_time::show).unwrap_or_else(|| "never".to_owned())}</td>
                                    <td><button class="link-button danger-link" on:click=move |_| remove(id, name.clone())>"Remove"</button></td>
                                </tr>
                            }
                        }).collect_view()}
                    </tbody>
                </table>
            }.into_any(),
        }}/>
        <div class="filters">
            <input type="text" placeholder="Name, e.g. work laptop" aria-label="Passkey name" maxlength="100" bind:value=name/>
            <button data-testid="add-passkey" disabled=move || pending.get() on:click=add>"Add a passkey"</button>
        </div>
        {errors.under("name")}
        {errors.under("credential")}
    }
}
