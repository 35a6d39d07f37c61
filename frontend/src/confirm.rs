//! Asking before what cannot be undone: a dialog that names what will be lost, whose action
//! runs only from its own button. Escape, the backdrop and "Keep it" leave everything as it was.

use leptos::ev::KeyboardEvent;
use leptos::prelude::*;

/// One question: the action's name (its button), and what it loses, in words.
#[derive(Clone)]
pub struct Confirmation {
    pub title: String,
    pub loses: String,
    /// The button that does it, such as "Cancel change".
    pub verb: &'static str,
    pub run: Callback<()>,
}

/// Where a page keeps the question it is asking.
pub type Asking = RwSignal<Option<Confirmation>>;

/// Asks `confirmation` on the page's dialog.
pub fn ask(
    asking: Asking,
    title: String,
    loses: String,
    verb: &'static str,
    run: impl Fn() + Send + Sync + 'static,
) {
    asking.set(Some(Confirmation {
        title,
        loses,
        verb,
        run: Callback::new(move |()| run()),
    }));
}

/// The dialog, shown while `asking` holds a question.
#[component]
pub fn ConfirmDialog(asking: Asking) -> impl IntoView {
    let keep = move || asking.set(None);
    move || {
        asking.get().map(|question| {
            let run = question.run;
            // Focus goes to "Keep it": Escape and Enter then keep, and nothing is lost by a key.
            let keep_button = NodeRef::<leptos::html::Button>::new();
            keep_button.on_load(|button| {
                button.focus().ok();
            });
            view! {
                <div class="backdrop" on:click=move |_| keep()>
                    <div class="dialog" role="alertdialog" aria-modal="true" aria-labelledby="confirm-title"
                        aria-describedby="confirm-loses" data-testid="confirm-dialog"
                        on:click=|event| event.stop_propagation()
                        on:keydown=move |event: KeyboardEvent| if event.key() == "Escape" { keep() }>
                        <h2 id="confirm-title">{question.title}</h2>
                        <p id="confirm-loses">{question.loses}</p>
                        <div class="actions">
                            <button type="button" class="secondary" data-testid="confirm-keep" node_ref=keep_button
                                on:click=move |_| keep()>"Keep it"</button>
                            <button type="button" class="danger solid" data-testid="confirm-go"
                                on:click=move |_| {
                                    asking.set(None);
                                    run.run(());
                                }>{question.verb}</button>
                        </div>
                    </div>
                </div>
            }
        })
    }
}
