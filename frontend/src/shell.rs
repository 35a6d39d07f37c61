//! The frame around every page once signed in: navigation, who is signed in, sign-out.

use changeaudit_shared::api::Me;
use changeaudit_shared::navigation::visible_sections;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{A, Route, Routes};
use leptos_router::path;

use crate::api;
use crate::bell::{BellButton, provide_bell};
use crate::pages::admin::{
    AuditTrailAdmin, CredentialsAdmin, DevicesAdmin, GroupsAdmin, UsersAdmin,
};
use crate::pages::changes::{ChangeForm, ChangesList, EditChange};
use crate::pages::credentials::GrantedCredentials;
use crate::pages::home::Home;
use crate::pages::not_found::NotFound;
use crate::pages::profile::Profile;
use crate::pages::requests::{MyApprovals, MyRequests, RequestPage};
use crate::pages::review::{ReplayFile, SessionReview};
use crate::pages::sessions::AuditedSessions;
use crate::pages::terminal::{TerminalPage, WatchPage};
use crate::pages::verify::VerifyBundle;
use crate::session::{Session, SessionState};

#[component]
pub fn Shell(me: Me) -> impl IntoView {
    let Session(session) = expect_context::<Session>();
    provide_bell();
    let sign_out_error = RwSignal::new(None::<String>);
    let sign_out = move |_| {
        spawn_local(async move {
            match api::session::sign_out().await {
                Ok(()) => session.set(SessionState::SignedOut),
                Err(error) => sign_out_error.set(Some(error.message())),
            }
        });
    };
    let sections = visible_sections(&me);
    let display_name = me.display_name.clone();

    view! {
        <header class="topbar">
            <A href="/" attr:class="brand">"changeaudit"</A>
            <nav class="menu" aria-label="Main">
                {sections
                    .into_iter()
                    .map(|section| {
                        view! {
                            <div class="menu-section">
                                <span class="menu-title">{section.label}</span>
                                <ul>
                                    {section
                                        .entries
                                        .into_iter()
                                        .filter_map(|entry| {
                                            entry.route.map(|route| {
                                                view! { <li><A href=route>{entry.label}</A></li> }
                                            })
                                        })
                                        .collect_view()}
                                </ul>
                            </div>
                        }
                    })
                    .collect_view()}
            </nav>
            <div class="who">
                <BellButton/>
                <A href="/profile" attr:class="who-name" attr:data-testid="signed-in-user">{display_name}</A>
                <button class="link-button" data-testid="sign-out" on:click=sign_out>"Sign out"</button>
            </div>
        </header>
        {move || {
            sign_out_error
                .get()
                .map(|message| view! { <p class="error page-error" role="alert">{message}</p> })
        }}
        <main class="page">
            <Routes fallback=|| view! { <NotFound/> }>
                <Route path=path!("/") view=move || view! { <Home me=me.clone()/> }/>
                <Route path=path!("/changes") view=ChangesList/>
                <Route path=path!("/admin/users") view=UsersAdmin/>
                <Route path=path!("/admin/access-groups") view=GroupsAdmin/>
                <Route path=path!("/admin/devices") view=DevicesAdmin/>
                <Route path=path!("/admin/credentials") view=CredentialsAdmin/>
                <Route path=path!("/admin/audit-trail") view=AuditTrailAdmin/>
                <Route path=path!("/changes/new") view=|| view! { <ChangeForm/> }/>
                <Route path=path!("/changes/:id") view=EditChange/>
                <Route path=path!("/credentials") view=GrantedCredentials/>
                <Route path=path!("/credentials/:id/terminal") view=TerminalPage/>
                <Route path=path!("/sessions") view=AuditedSessions/>
                <Route path=path!("/sessions/replay") view=ReplayFile/>
                <Route path=path!("/sessions/:id") view=SessionReview/>
                <Route path=path!("/sessions/:id/watch") view=WatchPage/>
                <Route path=path!("/requests/mine") view=MyRequests/>
                <Route path=path!("/requests/approvals") view=MyApprovals/>
                <Route path=path!("/requests/:id") view=RequestPage/>
                <Route path=path!("/profile") view=Profile/>
                <Route path=path!("/verify") view=VerifyBundle/>
            </Routes>
        </main>
    }
}
