use changeaudit_shared::api::Me;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::Router;

use crate::api;
use crate::pages::sign_in::SignIn;
use crate::shell::Shell;

/// Whether, and as whom, the person is signed in.
#[derive(Debug, Clone, PartialEq)]
pub enum SessionState {
    Checking,
    SignedOut,
    SignedIn(Me),
    Unreachable(String),
}

/// The session, shared with every page through context.
#[derive(Debug, Clone, Copy)]
pub struct Session(pub RwSignal<SessionState>);

/// The signed-in person, for pages that adapt to roles.
pub fn current_user() -> Option<Me> {
    match use_context::<Session>()?.0.get_untracked() {
        SessionState::SignedIn(me) => Some(me),
        _ => None,
    }
}

#[component]
pub fn App() -> impl IntoView {
    let session = Session(RwSignal::new(SessionState::Checking));
    provide_context(session);
    spawn_local(async move {
        session.0.set(match api::me().await {
            Ok(Some(me)) => SessionState::SignedIn(me),
            Ok(None) => SessionState::SignedOut,
            Err(error) => SessionState::Unreachable(error.message()),
        });
    });

    view! {
        <Router>
            {move || match session.0.get() {
                SessionState::Checking => view! { <p class="loading">"Loading…"</p> }.into_any(),
                SessionState::SignedOut => view! { <SignIn/> }.into_any(),
                SessionState::SignedIn(me) => view! { <Shell me/> }.into_any(),
                SessionState::Unreachable(message) => {
                    view! { <p class="error page-error" role="alert">{message}</p> }.into_any()
                }
            }}
        </Router>
    }
}
