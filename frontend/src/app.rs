use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::Router;

use crate::api;
use crate::pages::sign_in::SignIn;
use crate::session::{Session, SessionState};
use crate::shell::Shell;

#[component]
pub fn App() -> impl IntoView {
    let session = Session(RwSignal::new(SessionState::Checking));
    provide_context(session);
    spawn_local(async move {
        session.0.set(match api::session::me().await {
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
