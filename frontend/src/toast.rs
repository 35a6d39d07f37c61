//! Short confirmations that an action took ("CHG-42 saved", "Request sent"): each stands a few
//! seconds at the foot of the screen, announced to screen readers, and goes by itself.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use leptos::prelude::*;

/// How long a confirmation stands.
const STANDS: Duration = Duration::from_secs(4);

static NEXT: AtomicU64 = AtomicU64::new(0);

/// The confirmations on screen.
#[derive(Clone, Copy)]
pub struct Toasts(RwSignal<Vec<(u64, String)>>);

impl Toasts {
    /// Shares one list with every page of the shell.
    pub fn provide() {
        provide_context(Toasts(RwSignal::new(Vec::new())));
    }

    /// The shell's list; taken where a component is made, then used from its handlers.
    pub fn get() -> Toasts {
        use_context::<Toasts>().unwrap_or_else(|| Toasts(RwSignal::new(Vec::new())))
    }

    pub fn say(self, text: impl Into<String>) {
        let id = NEXT.fetch_add(1, Ordering::Relaxed);
        self.0.update(|shown| shown.push((id, text.into())));
        set_timeout(
            move || {
                self.0
                    .update(|shown| shown.retain(|(other, _)| *other != id))
            },
            STANDS,
        );
    }
}

#[component]
pub fn ToastList() -> impl IntoView {
    let toasts = Toasts::get();
    view! {
        <div class="toasts" role="status" aria-live="polite" data-testid="toasts">
            {move || toasts.0.get().into_iter().map(|(_, text)| view! { <p class="toast">{text}</p> }).collect_view()}
        </div>
    }
}
