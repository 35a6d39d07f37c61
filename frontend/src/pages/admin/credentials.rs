use changeaudit_shared::api::credentials::{Credential, NewCredential, SecretKind, SecretUpdate};
use changeaudit_shared::api::routes;
use changeaudit_shared::problem::FieldError;
use leptos::prelude::*;

use super::list::{Admin, AdminList, Editing, Removal, settle};
use crate::api::{self, ApiError};
use crate::forms::{FieldErrors, submit};
use crate::listing::List;
use crate::local_time;
use crate::pick::{self, SearchSelect};

/// Admin → Credentials: accounts on devices. A secret can be set and rotated, never seen.
#[component]
pub fn CredentialsAdmin() -> impl IntoView {
    let admin = Admin {
        title: "Credentials",
        new_label: "New credential",
        filter_hint: "Account or device",
        filter_label: "Filter credentials",
        testid: "credentials",
        empty: "No credential matches. New credential stores an account of a device, its secret sealed in the vault.",
        headers: &["Account", "Device", "Secret", "Set"],
        route: routes::credentials::list,
        // The form on a credential sets a new secret: nothing else of it changes.
        edit_label: "Rotate secret",
        remove: Some(Removal {
            run: |credential: &Credential| Box::pin(api::credentials::delete(credential.id)),
            question: |credential: &Credential| {
                let name = format!("{}@{}", credential.username, credential.device_name);
                (
                    format!("Delete the credential {name}?"),
                    "Its vaulted secret is destroyed and its access groups stop granting it. \
                     Requests to run with it are voided, their requesters told, and erased with \
                     their approvals (the audit trail keeps their events); a session running on \
                     it ends. Recorded sessions keep their recordings."
                        .to_owned(),
                )
            },
        }),
    };
    let cells = |credential: &Credential| {
        view! {
            <td>{credential.username.clone()}</td>
            <td>{credential.device_name.clone()}</td>
            <td>{kind_label(credential.kind)}</td>
            <td>{local_time::show(credential.secret_set_at)}</td>
        }
        .into_any()
    };
    let form =
        |credential, editing, list| view! { <CredentialForm credential editing list/> }.into_any();
    view! { <AdminList admin cells form/> }
}

fn kind_label(kind: SecretKind) -> &'static str {
    match kind {
        SecretKind::Password => "password",
        SecretKind::PrivateKey => "private key",
    }
}

#[component]
fn CredentialForm(
    credential: Option<Credential>,
    editing: Editing<Credential>,
    list: List<Credential>,
) -> impl IntoView {
    let rotating = credential.clone();
    let devices = RwSignal::new(pick::Choices::new());
    let message = RwSignal::new(None::<String>);
    let device = RwSignal::new(String::new());
    let username = RwSignal::new(String::new());
    let kind = RwSignal::new(
        credential
            .as_ref()
            .map_or("password", |c| c.kind.as_str())
            .to_owned(),
    );
    let secret = RwSignal::new(String::new());
    let errors = FieldErrors::new();
    let pending = RwSignal::new(false);
    // A password typed before switching to a private key would show in the key's text area.
    Effect::new(move |_| {
        kind.track();
        secret.set(String::new());
    });

    let done = settle(editing, list, message, errors);
    let save = move |_| {
        let kind = SecretKind::parse(&kind.get_untracked()).unwrap_or(SecretKind::Password);
        let secret_text = secret.get_untracked();
        let rotating = rotating.clone();
        let device_id = device.get_untracked().parse::<i64>().ok();
        let username = username.get_untracked();
        if rotating.is_none() && device_id.is_none() {
            errors.0.set(vec![FieldError {
                field: "device_id".to_owned(),
                detail: "choose a device".to_owned(),
            }]);
            return;
        }
        submit(pending, async move {
            let saved = store(rotating.as_ref(), device_id, username, kind, secret_text).await;
            // The secret leaves the page whatever the outcome: it is never shown again.
            secret.set(String::new());
            done(saved.map(|_| ()));
        });
    };
    let heading = match &credential {
        Some(existing) => format!(
            "New secret for {}@{}",
            existing.username, existing.device_name
        ),
        None => "New credential".to_owned(),
    };

    view! {
        <section class="panel" data-testid="credential-form">
            <h2>{heading}</h2>
            {move || message.get().map(|text| view! { <p class="error" role="alert">{text}</p> })}
            <div class="tab-panel">
                {credential.is_none().then(|| view! {
                    <label for="credential-device">"Device"</label>
                    <SearchSelect id="credential-device" prompt="Choose a device" hint="Search devices"
                        value=device known=devices search=pick::devices/>
                    {errors.under("device_id")}
                    <label for="credential-username">"Account"</label>
                    <input id="credential-username" bind:value=username/>
                    {errors.under("username")}
                })}
                <SecretField kind secret/>
                {errors.under("secret")}
                <p class="muted">"The secret is sealed by the vault when saved. Nobody can read it back, admins included."</p>
            </div>
            <div class="actions">
                <button type="button" class="primary" disabled=move || pending.get() on:click=save>"Save"</button>
                <button type="button" class="link-button" on:click=move |_| editing.set(None)>"Close"</button>
            </div>
        </section>
    }
}

/// Seals a new secret for `rotating`, or stores a new credential on `device_id`.
async fn store(
    rotating: Option<&Credential>,
    device_id: Option<i64>,
    username: String,
    kind: SecretKind,
    secret: String,
) -> Result<Credential, ApiError> {
    match (rotating, device_id) {
        (Some(existing), _) => {
            let update = SecretUpdate {
                kind,
                secret: secret.into(),
            };
            api::credentials::rotate_secret(existing.id, &update).await
        }
        (None, device_id) => {
            let new = NewCredential {
                device_id: device_id.unwrap_or_default(),
                username,
                kind,
                secret: secret.into(),
            };
            api::credentials::create(&new).await
        }
    }
}

/// The kind of secret, and the secret: a password field, or a text area for a private key.
#[component]
fn SecretField(kind: RwSignal<String>, secret: RwSignal<String>) -> impl IntoView {
    view! {
        <label for="credential-kind">"Secret"</label>
        <select id="credential-kind" bind:value=kind>
            <option value="password">"Password"</option>
            <option value="private_key">"Private key (OpenSSH or PEM, no passphrase)"</option>
        </select>
        {move || if kind.get() == "private_key" {
            view! { <textarea id="credential-secret" rows="8" spellcheck="false" autocomplete="off" bind:value=secret></textarea> }.into_any()
        } else {
            view! { <input id="credential-secret" type="password" autocomplete="new-password" bind:value=secret/> }.into_any()
        }}
    }
}
