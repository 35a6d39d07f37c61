//! Admin → Audit trail: the key that signs the trail's checkpoints, the latest checkpoint, a
//! verification run on demand, and the downloads an outside verifier needs.

use changeaudit_shared::api::routes;
use changeaudit_shared::api::trail::{TrailStatus, Verification};
use leptos::prelude::*;
use leptos::task::spawn_local;
use leptos_router::components::A;

use crate::api;
use crate::loaded::Loaded;
use crate::local_time;

#[component]
pub fn AuditTrailAdmin() -> impl IntoView {
    let reload = RwSignal::new(0_u32);
    let status = LocalResource::new(move || {
        reload.track();
        api::trail::status()
    });
    let result = RwSignal::new(None::<Result<Verification, String>>);
    let running = RwSignal::new(false);
    let verify = move |_| {
        if running.get_untracked() {
            return;
        }
        running.set(true);
        result.set(None);
        spawn_local(async move {
            let answer = api::trail::verify().await.map_err(|error| error.message());
            result.set(Some(answer));
            running.set(false);
            reload.update(|n| *n += 1);
        });
    };
    view! {
        <div class="page-head">
            <h1>"Audit trail"</h1>
            <button class="primary" data-testid="verify-trail" disabled=move || running.get() on:click=verify>
                {move || if running.get() { "Verifying…" } else { "Verify now" }}
            </button>
        </div>
        {move || result.get().map(|answer| match answer {
            Ok(run) if run.ok => view! {
                <p class="notice" role="status" data-testid="verification-result">{format!("Verified: {}.", run.summary)}</p>
            }.into_any(),
            Ok(run) => view! {
                <p class="error" role="alert" data-testid="verification-result">{format!("Verification failed at {}.", run.summary)}</p>
            }.into_any(),
            Err(message) => view! { <p class="error" role="alert">{message}</p> }.into_any(),
        })}
        <Loaded resource=status show=|trail: TrailStatus| {
            let latest = trail.latest_checkpoint.clone();
            view! {
                <dl class="facts" data-testid="trail-status">
                    <dt>"Events"</dt><dd>{trail.events}</dd>
                    <dt>"Signed checkpoints"</dt><dd>{trail.checkpoints}</dd>
                    <dt>"Latest checkpoint"</dt>
                    <dd>{match latest {
                        Some(checkpoint) => format!(
                            "{} events, root {}, signed {}",
                            checkpoint.tree_size,
                            checkpoint.root,
                            local_time::show(local_time::from_millis(checkpoint.at))
                        ),
                        None => "none yet: one is signed within a minute of the first events".to_owned(),
                    }}</dd>
                    <dt>"Signing key"</dt><dd><code>{trail.key_id.clone()}</code></dd>
                    <dt>"Public key"</dt><dd><code data-testid="trail-public-key">{trail.public_key.clone()}</code></dd>
                </dl>
            }.into_any()
        }/>
        <Downloads/>
    }
}

/// What an outside verifier takes away, and how to run it.
#[component]
fn Downloads() -> impl IntoView {
    view! {
        <div class="actions">
            <a class="button" href=routes::trail::public_key().path download="trail.key.pub">"Download the public key"</a>
            <a class="button" href=routes::trail::export().path download="changeaudit-trail.jsonl">"Download the export"</a>
            <a class="button" href=routes::trail::latest_checkpoint().path download="changeaudit-checkpoint.json" data-testid="download-checkpoint">"Download the latest checkpoint"</a>
        </div>
        <h2>"Verify it yourself"</h2>
        <p class="muted">
            "Keep the public key (the trail's first: verify follows each key rotation from it) \
             apart from this server. With the export and the recordings, the \
             changeaudit binary checks the chain, every checkpoint's root and signature, every \
             recording and every approval signature, with no server or database:"
        </p>
        <pre class="script">"changeaudit verify --export changeaudit-trail.jsonl --public-key trail.key.pub --recordings data/recordings"</pre>
        <p class="muted">
            "Keep each checkpoint you download (or the SIEM receives) apart from this server: a \
             later export must continue it, which a history rewritten and signed again with this \
             server's key cannot:"
        </p>
        <pre class="script">"changeaudit verify --export changeaudit-trail.jsonl --public-key trail.key.pub --trusted-checkpoint changeaudit-checkpoint.json"</pre>
        <p class="muted">
            "A change's evidence bundle is checked the same way, by the binary ("
            <code>"changeaudit verify --bundle"</code>
            ") or in the browser: "
            <A href="/verify">"Verify a bundle"</A>
            "."
        </p>
    }
}
