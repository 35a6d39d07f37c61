//! The bell: the person's notifications, kept live by the server's event stream
//! (`/api/me/notifications/stream`), with the unread count in the top bar. Pages that show
//! requests call `Bell::track` to reload when something happens.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use changeaudit_shared::api::requests::Inbox;
use changeaudit_shared::role::Role;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use send_wrapper::SendWrapper;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{EventSource, MessageEvent};

use crate::api;
use crate::session::current_user;

#[derive(Clone, Copy)]
pub struct Bell {
    inbox: RwSignal<Option<Inbox>>,
    /// Beats every `PULSE`: what changes without a notice to this person (another approver's
    /// vote) still shows within that time.
    pulse: RwSignal<u64>,
}

const PULSE: Duration = Duration::from_secs(15);
/// How long to wait before opening the stream again once the browser has given it up.
const REOPEN_AFTER: Duration = Duration::from_secs(5);

impl Bell {
    /// The ID of the newest notification, 0 before any.
    pub fn newest(&self) -> i64 {
        self.inbox
            .with(|inbox| {
                inbox
                    .as_ref()
                    .and_then(|inbox| inbox.items.first().map(|item| item.id))
            })
            .unwrap_or(0)
    }

    /// Makes the caller (a resource, an effect) run again on each notice and each pulse.
    pub fn track(&self) {
        self.newest();
        self.pulse.track();
    }
}

/// The open stream with its listeners, which must live as long as it does.
type Stream = (
    EventSource,
    Closure<dyn Fn(MessageEvent)>,
    Closure<dyn Fn(web_sys::Event)>,
);
type Slot = Rc<RefCell<Option<Stream>>>;

/// Opens the stream into `slot`. `EventSource` retries a dropped connection by itself, but
/// gives up for good on an answer that is not a stream (a proxy's 502 during a restart): then
/// it is opened again after a pause, for as long as the bell lives.
fn open(inbox: RwSignal<Option<Inbox>>, slot: &Slot) {
    let Ok(source) = EventSource::new(&api::notifications::stream_path()) else {
        return;
    };
    let on_inbox = Closure::<dyn Fn(MessageEvent)>::new(move |event: MessageEvent| {
        if let Some(text) = event.data().as_string()
            && let Ok(received) = serde_json::from_str::<Inbox>(&text)
        {
            inbox.set(Some(received));
        }
    });
    let weak = Rc::downgrade(slot);
    let on_error = Closure::<dyn Fn(web_sys::Event)>::new(move |_| {
        let Some(slot) = weak.upgrade() else { return };
        let closed = slot
            .borrow()
            .as_ref()
            .is_some_and(|(source, _, _)| source.ready_state() == EventSource::CLOSED);
        if closed {
            let weak = Rc::downgrade(&slot);
            set_timeout(
                move || {
                    // Gone when the bell was cleaned up meanwhile.
                    if let Some(slot) = weak.upgrade()
                        && slot.borrow().is_some()
                    {
                        open(inbox, &slot);
                    }
                },
                REOPEN_AFTER,
            );
        }
    });
    let _ = source.add_event_listener_with_callback("inbox", on_inbox.as_ref().unchecked_ref());
    let _ = source.add_event_listener_with_callback("error", on_error.as_ref().unchecked_ref());
    if let Some((old, _, _)) = slot.replace(Some((source, on_inbox, on_error))) {
        old.close();
    }
}

/// The page's `pagehide` and `pageshow` listeners.
type PageListeners = [(&'static str, Closure<dyn Fn(web_sys::Event)>); 2];

/// A page left for another closes its stream, and opens it again if shown again: a browser
/// keeping the page to come back to would otherwise hold one of the few connections it allows
/// a site, until the pages after it wait for one.
fn close_while_hidden(inbox: RwSignal<Option<Inbox>>, slot: &Slot) -> Option<PageListeners> {
    let window = web_sys::window()?;
    let hidden = Rc::downgrade(slot);
    let on_hide = Closure::<dyn Fn(web_sys::Event)>::new(move |_| {
        let taken = hidden.upgrade().and_then(|slot| slot.borrow_mut().take());
        if let Some((source, _, _)) = taken {
            source.close();
        }
    });
    let shown = Rc::downgrade(slot);
    let on_show = Closure::<dyn Fn(web_sys::Event)>::new(move |_| {
        if let Some(slot) = shown.upgrade()
            && slot.borrow().is_none()
        {
            open(inbox, &slot);
        }
    });
    let listeners = [("pagehide", on_hide), ("pageshow", on_show)];
    for (kind, listener) in &listeners {
        let _ = window.add_event_listener_with_callback(kind, listener.as_ref().unchecked_ref());
    }
    Some(listeners)
}

/// Opens the stream and shares the bell with every page.
pub fn provide_bell() {
    let inbox = RwSignal::new(None::<Inbox>);
    let pulse = RwSignal::new(0_u64);
    provide_context(Bell { inbox, pulse });
    let slot: Slot = Rc::new(RefCell::new(None));
    open(inbox, &slot);
    let listeners = close_while_hidden(inbox, &slot);
    let interval = set_interval_with_handle(move || pulse.update(|n| *n += 1), PULSE).ok();
    let kept = SendWrapper::new((slot, interval, listeners));
    on_cleanup(move || {
        let (slot, interval, listeners) = kept.take();
        if let Some((source, _, _)) = slot.borrow_mut().take() {
            source.close();
        }
        if let Some(interval) = interval {
            interval.clear();
        }
        if let (Some(window), Some(listeners)) = (web_sys::window(), listeners) {
            for (kind, listener) in &listeners {
                let _ = window
                    .remove_event_listener_with_callback(kind, listener.as_ref().unchecked_ref());
            }
        }
    });
}

#[component]
pub fn BellButton() -> impl IntoView {
    let bell = expect_context::<Bell>();
    let inbox = bell.inbox;
    let oversees =
        current_user().is_some_and(|me| me.has_role(Role::Auditor) || me.has_role(Role::Admin));
    let open = RwSignal::new(false);
    let unread = move || inbox.with(|inbox| inbox.as_ref().map_or(0, |inbox| inbox.unread));
    let toggle = move |_| {
        let opening = !open.get_untracked();
        open.set(opening);
        let newest = bell.newest();
        if opening && unread() > 0 {
            spawn_local(async move {
                let read = api::notifications::mark_read(newest).await;
                // The stream would say so within a second; the person should not wait for it.
                if read.is_ok() {
                    // Only what was shown: a notice that came in meanwhile stays unread.
                    inbox.update(|inbox| {
                        if let Some(inbox) = inbox {
                            let mut marked = 0;
                            for item in inbox.items.iter_mut().filter(|item| item.id <= newest) {
                                marked += i64::from(!item.read);
                                item.read = true;
                            }
                            inbox.unread = (inbox.unread - marked).max(0);
                        }
                    });
                }
            });
        }
    };
    view! {
        <div class="bell">
            <button class="link-button" data-testid="bell" on:click=toggle
                aria-label=move || format!("Notifications, {} unread", unread())
                aria-expanded=move || open.get().to_string()>
                // Drawn, not an emoji: not every system has a font with one.
                <svg class="bell-icon" viewBox="0 0 24 24" width="18" height="18" aria-hidden="true">
                    <path d="M12 2a6 6 0 0 0-6 6v4.5L4 16v1h16v-1l-2-3.5V8a6 6 0 0 0-6-6zm0 20a2.5 2.5 0 0 0 2.45-2h-4.9A2.5 2.5 0 0 0 12 22z"
                        fill="currentColor"/>
                </svg>
                {move || (unread() > 0).then(|| view! { <span class="badge" data-testid="bell-count">{unread()}</span> })}
            </button>
            {move || open.get().then(|| view! {
                <ul class="bell-list" data-testid="bell-list">
                    {move || inbox.get().map(|inbox| {
                        if inbox.items.is_empty() {
                            view! { <li class="muted">"Nothing yet."</li> }.into_any()
                        } else {
                            inbox.items.into_iter().map(|item| {
                                // A session's pages are for auditors and admins; an approver is
                                // led to the request they approved, if there is one.
                                let href = match (item.session_id, item.request_id) {
                                    (Some(session), _) if oversees => Some(format!("/sessions/{session}")),
                                    (_, Some(request)) => Some(format!("/requests/{request}")),
                                    _ => None,
                                };
                                // An approved request's notice connects straight away.
                                let connect = item.credential_id.map(|credential| view! {
                                    " "
                                    <A href=format!("/credentials/{credential}/terminal") attr:class="button small"
                                        attr:data-testid="bell-connect" on:click=move |_| open.set(false)>"Connect"</A>
                                });
                                view! {
                                    <li class:unread=!item.read>
                                        {match href {
                                            Some(href) => view! { <A href=href on:click=move |_| open.set(false)>{item.text.clone()}</A> }.into_any(),
                                            None => view! { <span data-testid="bell-text">{item.text.clone()}</span> }.into_any(),
                                        }}
                                        {connect}
                                    </li>
                                }
                            }).collect_view().into_any()
                        }
                    })}
                </ul>
            })}
        </div>
    }
}
