//! The frame around every page once signed in: navigation, who is signed in, sign-out.

use changeaudit_shared::api::Me;
use changeaudit_shared::navigation::visible_sections;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::{A, Route, Routes};
use leptos_router::hooks::use_location;
use leptos_router::path;

use crate::api;
use crate::bell::{BellButton, provide_bell};
use crate::pages::admin::{
    ActivityAdmin, AuditTrailAdmin, CommandRulesAdmin, CredentialsAdmin, DevicesAdmin, GroupsAdmin,
    UsersAdmin,
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
use crate::session::{Session, SessionState, SignedOut};
use crate::toast::{ToastList, Toasts};

#[component]
pub fn Shell(me: Me) -> impl IntoView {
    let Session(session) = expect_context::<Session>();
    provide_bell();
    Toasts::provide();
    let sign_out_error = RwSignal::new(None::<String>);
    let sign_out = move |_| {
        spawn_local(async move {
            match api::session::sign_out().await {
                Ok(()) => session.set(SessionState::SignedOut(SignedOut::ByThem)),
                Err(error) => sign_out_error.set(Some(error.message())),
            }
        });
    };
    let display_name = me.display_name.clone();
    let menu = main_menu(&me);

    view! {
        <header class="topbar">
            <A href="/" attr:class="brand">"changeaudit"</A>
            {menu}
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
        <ToastList/>
        <main class="page">
            <Routes fallback=|| view! { <NotFound/> }>
                <Route path=path!("/") view=move || view! { <Home me=me.clone()/> }/>
                <Route path=path!("/changes") view=ChangesList/>
                <Route path=path!("/admin/users") view=UsersAdmin/>
                <Route path=path!("/admin/access-groups") view=GroupsAdmin/>
                <Route path=path!("/admin/devices") view=DevicesAdmin/>
                <Route path=path!("/admin/credentials") view=CredentialsAdmin/>
                <Route path=path!("/admin/command-rules") view=CommandRulesAdmin/>
                <Route path=path!("/admin/audit-trail") view=AuditTrailAdmin/>
                <Route path=path!("/admin/activity") view=ActivityAdmin/>
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

/// The main menu: each section opens its list; on a narrow screen the whole menu folds behind
/// one button. The section holding the current page, and its link, are marked; moving to
/// another page folds everything again.
fn main_menu(me: &Me) -> impl IntoView + use<> {
    let sections = visible_sections(me);
    let location = use_location();
    let open_section = RwSignal::new(None::<&'static str>);
    let unfolded = RwSignal::new(false);
    Effect::new(move |_| {
        location.pathname.track();
        open_section.set(None);
        unfolded.set(false);
    });
    let here = move |route: &str| {
        location
            .pathname
            .with(|path| path == route || path.starts_with(&format!("{route}/")))
    };
    view! {
        <button type="button" class="menu-toggle" aria-controls="main-menu" data-testid="menu-toggle"
            aria-expanded=move || unfolded.get().to_string()
            on:click=move |_| unfolded.update(|open| *open = !*open)>"Menu"</button>
        <nav id="main-menu" class="menu" class:unfolded=move || unfolded.get() aria-label="Main">
            {sections
                .into_iter()
                .map(|section| {
                    let label = section.label;
                    let routes: Vec<&'static str> =
                        section.entries.iter().filter_map(|entry| entry.route).collect();
                    let current = move || routes.iter().any(|route| here(route));
                    view! {
                        <div class="menu-section" class:current=current
                            on:mouseleave=move |_| open_section.set(None)>
                            <button type="button" class="menu-title"
                                aria-expanded=move || (open_section.get() == Some(label)).to_string()
                                on:click=move |_| open_section.update(|open| {
                                    *open = if *open == Some(label) { None } else { Some(label) };
                                })>{label}</button>
                            <ul class:open=move || open_section.get() == Some(label)>
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
    }
}
