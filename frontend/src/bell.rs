//! The bell: the person's notifications, kept live by the server's event stream
//! (`/api/me/notifications/stream`), with the unread count in the top bar. Pages that show
//! requests read `Bell::newest` to reload when something happens.

use changeaudit_shared::api::requests::Inbox;
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;
use send_wrapper::SendWrapper;
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::Closure;
use web_sys::{EventSource, MessageEvent};

use crate::api;

#[derive(Clone, Copy)]
pub struct Bell {
    inbox: RwSignal<Option<Inbox>>,
}

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
}

/// Opens the stream and shares the bell with every page.
pub fn provide_bell() {
    let inbox = RwSignal::new(None::<Inbox>);
    provide_context(Bell { inbox });
    let Ok(source) = EventSource::new("/api/me/notifications/stream") else {
        return;
    };
    let on_inbox = Closure::<dyn Fn(MessageEvent)>::new(move |event: MessageEvent| {
        if let Some(text) = event.data().as_string()
            && let Ok(received) = serde_json::from_str::<Inbox>(&text)
        {
            inbox.set(Some(received));
        }
    });
    // `EventSource` retries by itself when the connection drops.
    let _ = source.add_event_listener_with_callback("inbox", on_inbox.as_ref().unchecked_ref());
    let kept = SendWrapper::new((source, on_inbox));
    on_cleanup(move || {
        let (source, _listener) = kept.take();
        source.close();
    });
}

#[component]
pub fn BellButton() -> impl IntoView {
    let Bell { inbox } = expect_context::<Bell>();
    let open = RwSignal::new(false);
    let unread = move || inbox.with(|inbox| inbox.as_ref().map_or(0, |inbox| inbox.unread));
    let toggle = move |_| {
        let opening = !open.get_untracked();
        open.set(opening);
        let newest = Bell { inbox }.newest();
        if opening && unread() > 0 {
            spawn_local(async move {
                let read = api::post::<_, ()>(
                    "/api/me/notifications/read",
                    &serde_json::json!({ "up_to": newest }),
                )
                .await;
                // The stream would say so within a second; the person should not wait for it.
                if read.is_ok() {
                    inbox.update(|inbox| {
                        if let Some(inbox) = inbox {
                            inbox.unread = 0;
                            inbox.items.iter_mut().for_each(|item| item.read = true);
                        }
                    });
                }
            });
        }
    };
    view! {
        <div class="bell">
            <button class="link-button" aria-label="Notifications" data-testid="bell" on:click=toggle>
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
                                let href = item.request_id.map(|id| format!("/requests/{id}")).unwrap_or_default();
                                view! {
                                    <li class:unread=!item.read>
                                        <A href=href on:click=move |_| open.set(false)>{item.text.clone()}</A>
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
