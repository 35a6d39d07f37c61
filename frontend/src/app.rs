use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::Router;

use crate::api;
use crate::session::{Session, SessionState, SignedOut};
use crate::shell::Shell;
use crate::sign_in::go_to_sign_in;

#[component]
pub fn App() -> impl IntoView {
    let session = Session(RwSignal::new(SessionState::Checking));
    provide_context(session);
    spawn_local(async move {
        session.0.set(match api::session::me().await {
            Ok(Some(me)) => SessionState::SignedIn(me),
            Ok(None) => SessionState::SignedOut(SignedOut::Expired),
            Err(error) => SessionState::Unreachable(error.message()),
        });
    });

    view! {
        <Router>
            {move || match session.0.get() {
                SessionState::Checking => view! { <p class="loading">"Loading…"</p> }.into_any(),
                SessionState::SignedOut(reason) => {
                    // The sign-in page is a page of its own: the server sends it, not this app.
                    go_to_sign_in(reason == SignedOut::Expired);
                    view! { <p class="loading">"Signing in again…"</p> }.into_any()
                }
                SessionState::SignedIn(me) => view! { <Shell me/> }.into_any(),
                SessionState::Unreachable(message) => {
                    view! { <p class="error page-error" role="alert">{message}</p> }.into_any()
                }
            }}
        </Router>
    }
}
