//! Verify a bundle: a change's evidence bundle and the trail's public key, checked here in the
//! browser by the same verifier `changeaudit verify --bundle` runs. The page asks the server
//! nothing: what it says holds on the bundle and the key alone.

use changeaudit_shared::evidence::BundleSummary;
use changeaudit_shared::export::key_id;
use changeaudit_shared::verify::{Fault, keys, rfc6962, verify_bundle};
use leptos::prelude::*;

/// A file as read: its name and its text, or why it could not be read.
type Read = Option<(String, Result<String, String>)>;

/// Reads the file an `<input type=file>` holds, into `into`.
fn read_file(event: &leptos::ev::Event, into: RwSignal<Read>) {
    into.set(None);
    let input: web_sys::HtmlInputElement = event_target(event);
    let Some(file) = input.files().and_then(|files| files.get(0)) else {
        return;
    };
    leptos::task::spawn_local(async move {
        let text = wasm_bindgen_futures::JsFuture::from(file.text()).await;
        let text = text
            .ok()
            .and_then(|text| text.as_string())
            .ok_or_else(|| "The file cannot be read.".to_owned());
        into.set(Some((file.name(), text)));
    });
}

/// What was read, for the person to see before verifying.
fn loaded(read: &Read) -> Option<String> {
    read.as_ref().map(|(name, text)| match text {
        Ok(text) => format!("{name}: {} lines", text.lines().count()),
        Err(reason) => format!("{name}: {reason}"),
    })
}

/// The outcome shown: the summary, or the fault and the line it names.
enum Outcome {
    Verified { summary: BundleSummary, key: String },
    Failed(Fault),
    Unusable(String),
}

fn check(bundle: Read, key: &str) -> Outcome {
    let public_key = match keys::public_key(key) {
        Ok(public_key) => public_key,
        Err(reason) => return Outcome::Unusable(format!("The public key is {reason}.")),
    };
    let text = match bundle {
        None => return Outcome::Unusable("Choose the evidence bundle first.".to_owned()),
        Some((_, Err(reason))) => return Outcome::Unusable(reason),
        Some((_, Ok(text))) => text,
    };
    match verify_bundle(text.as_bytes(), &public_key) {
        Ok(summary) => Outcome::Verified {
            summary,
            key: key_id(&public_key.to_bytes()),
        },
        Err(fault) => Outcome::Failed(fault),
    }
}

#[component]
pub fn VerifyBundle() -> impl IntoView {
    let bundle = RwSignal::new(Read::None);
    let key_file = RwSignal::new(Read::None);
    let key = RwSignal::new(String::new());
    let outcome = RwSignal::new(None::<Outcome>);
    // A key file, once read, fills the field, where it can be read and compared.
    Effect::new(move |_| {
        if let Some((_, Ok(text))) = key_file.get() {
            key.set(text.trim().to_owned());
        }
    });
    let verify = move |event: leptos::ev::SubmitEvent| {
        event.prevent_default();
        outcome.set(None);
        outcome.set(Some(check(bundle.get_untracked(), &key.get_untracked())));
    };
    view! {
        <div class="page-head"><h1>"Verify a bundle"</h1></div>
        <p class="muted">
            "A change's evidence bundle (Change details → Evidence bundle, or "
            <code>"changeaudit export --change"</code>
            ") is checked here, in this browser, against the trail's public key: every event's \
             proof up to the signed checkpoint, the signed list of events, each approval's passkey \
             signature, each recording and board. Nothing is sent to the server; take the public \
             key from a copy you keep apart from it."
        </p>
        {match rfc6962::self_check() {
            Ok(()) => view! {
                <p class="muted" data-testid="self-check" data-passed="true">
                    "Self-check: this verifier reproduces RFC 6962's published Merkle test vectors."
                </p>
            }.into_any(),
            Err(which) => view! {
                <p class="error" role="alert" data-testid="self-check" data-passed="false">
                    {format!("Self-check failed: this verifier does not reproduce RFC 6962's {which}. Do not trust its answers.")}
                </p>
            }.into_any(),
        }}
        <form class="card asking" on:submit=verify>
            <label for="bundle-file">"Evidence bundle (.jsonl)"</label>
            <input id="bundle-file" type="file" accept=".jsonl,.json,application/jsonl"
                data-testid="bundle-file" on:change=move |event| read_file(&event, bundle)/>
            <p class="muted" data-testid="bundle-loaded">{move || bundle.with(loaded)}</p>
            <label for="public-key-file">"The trail's public key: its file (trail.key.pub)…"</label>
            <input id="public-key-file" type="file" accept=".pub,.txt"
                data-testid="public-key-file" on:change=move |event| read_file(&event, key_file)/>
            <label for="public-key">"…or its 64 hex digits"</label>
            <input id="public-key" type="text" spellcheck="false" autocomplete="off"
                data-testid="public-key" prop:value=move || key.get()
                on:input=move |event| key.set(event_target_value(&event))/>
            <p class="muted" data-testid="key-id">{move || {
                keys::public_key(&key.get())
                    .ok()
                    .map(|public_key| format!("Key {}", key_id(&public_key.to_bytes())))
            }}</p>
            <button type="submit" data-testid="verify-bundle">"Verify"</button>
        </form>
        {move || outcome.with(|outcome| outcome.as_ref().map(shown))}
    }
}

fn shown(outcome: &Outcome) -> AnyView {
    match outcome {
        Outcome::Verified { summary, key } => view! {
            <p class="notice" role="status" data-testid="bundle-result" data-verified="true">
                {format!("Verified with key {key}: {summary}.")}
            </p>
        }
        .into_any(),
        Outcome::Failed(fault) => view! {
            <p class="error" role="alert" data-testid="bundle-result" data-verified="false"
                data-line=fault.line.to_string()>
                {format!("Not verified: {fault}.")}
            </p>
        }
        .into_any(),
        Outcome::Unusable(reason) => view! {
            <p class="error" role="alert" data-testid="bundle-result">{reason.clone()}</p>
        }
        .into_any(),
    }
}
