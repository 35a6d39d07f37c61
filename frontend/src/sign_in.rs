//! The sign-in page: a program of its own, served in place of any page asked for without a
//! session. Once signed in, the browser loads the page the person asked for, and with it the app.

use changeaudit_shared::api::LoginRequest;
use changeaudit_shared::api::Me;
use changeaudit_shared::api::requests::{CeremonyStart, PasskeySignIn, PasskeySignInStart};
use changeaudit_shared::sign_in as place;
use leptos::ev::SubmitEvent;
use leptos::prelude::*;

use crate::api::{self, ApiError};
use crate::passkey;

#[component]
pub fn SignIn() -> impl IntoView {
    let username = RwSignal::new(String::new());
    let password = RwSignal::new(String::new());
    let error = RwSignal::new(None::<ApiError>);
    let pending = RwSignal::new(false);

    let submit = move |event: SubmitEvent| {
        event.prevent_default();
        let request = LoginRequest {
            username: username.get_untracked(),
            password: password.get_untracked().into(),
        };
        let signing = async move {
            let answer = api::session::sign_in(&request).await;
            if answer.is_err() {
                password.set(String::new());
            }
            answer
        };
        attempt(pending, error, signing);
    };
    // The alternative to the password: the server challenges the person's passkeys by username.
    let passkey_sign_in = move |_| {
        let start = PasskeySignInStart {
            username: username.get_untracked(),
        };
        attempt(pending, error, sign_in_with_passkey(start));
    };
    let field_error = move |field: &'static str| {
        move || {
            error
                .get()
                .and_then(|error| error.field(field))
                .map(|message| view! { <span class="field-error">{message}</span> })
        }
    };

    view! {
        <main class="sign-in">
            <form class="card" on:submit=submit>
                <h1>"changeaudit"</h1>
                <p class="subtitle">"Sign in to continue"</p>
                {move || {
                    error
                        .get()
                        .map(|error| {
                            view! { <p class="error" role="alert" data-testid="sign-in-error">{error.message()}</p> }
                        })
                }}
                <label for="username">"Username"</label>
                <input id="username" name="username" type="text" autocomplete="username" required
                    bind:value=username/>
                {field_error("username")}
                <label for="password">"Password"</label>
                <input id="password" name="password" type="password" autocomplete="current-password" required
                    bind:value=password/>
                {field_error("password")}
                <button type="submit" disabled=move || pending.get()>
                    {move || if pending.get() { "Signing in…" } else { "Sign in" }}
                </button>
                <button type="button" class="secondary" data-testid="passkey-sign-in"
                    disabled=move || pending.get() on:click=passkey_sign_in>
                    "Sign in with a passkey"
                </button>
            </form>
        </main>
    }
}

/// One way of signing in, one at a time: the asked-for page opens when it succeeds, and the
/// refusal shows when it does not.
fn attempt(
    pending: RwSignal<bool>,
    error: RwSignal<Option<ApiError>>,
    signing: impl std::future::Future<Output = Result<Me, ApiError>> + 'static,
) {
    if pending.get_untracked() {
        return;
    }
    pending.set(true);
    error.set(None);
    leptos::task::spawn_local(async move {
        match signing.await {
            // Stays pending: the page is being replaced.
            Ok(_) => open_asked_page(),
            Err(refusal) => {
                error.set(Some(refusal));
                pending.set(false);
            }
        }
    });
}

/// Loads the page the person asked for, now that the server sends it: the same address when
/// they were sent here in its place, else the `next` the app gave the sign-in page.
fn open_asked_page() {
    let Some(location) = web_sys::window().map(|window| window.location()) else {
        return;
    };
    let path = location.pathname().unwrap_or_default();
    if !place::is_sign_in(&path) {
        location.reload().ok();
        return;
    }
    let next = location
        .search()
        .ok()
        .and_then(|search| web_sys::UrlSearchParams::new_with_str(&search).ok())
        .and_then(|query| query.get(place::NEXT));
    location.replace(place::return_to(next.as_deref())).ok();
}

/// Sends the person to the sign-in page, to come back to the page they are on.
pub fn go_to_sign_in(return_here: bool) {
    let Some(location) = web_sys::window().map(|window| window.location()) else {
        return;
    };
    let here = format!(
        "{}{}",
        location.pathname().unwrap_or_default(),
        location.search().unwrap_or_default()
    );
    let target = if return_here && !place::is_sign_in(&here) {
        let next: String = js_sys::encode_uri_component(&here).into();
        format!("{}?{}={next}", place::PATH, place::NEXT)
    } else {
        place::PATH.to_owned()
    };
    location.replace(&target).ok();
}

async fn sign_in_with_passkey(start: PasskeySignInStart) -> Result<Me, ApiError> {
    let ceremony: CeremonyStart = api::session::passkey_challenge(&start).await?;
    let credential = passkey::sign(&ceremony).await.map_err(ApiError::Browser)?;
    api::session::passkey_sign_in(&PasskeySignIn {
        ceremony: ceremony.ceremony,
        credential,
    })
    .await
}
