//! What a page loads, shown one way everywhere: "Loading…" while it first comes, the request's
//! own words when it fails (`ErrorBoundary`), and the page's view once it is here. A
//! `Transition` (a `Suspense` that keeps what it shows while it loads again) so a list that
//! follows its filter, or a page the bell reloads, never blinks back to "Loading…".

use leptos::prelude::*;

use crate::api::ApiError;

pub type Loading<T> = LocalResource<Result<T, ApiError>>;

#[component]
pub fn Loaded<T, V, Show>(resource: Loading<T>, show: Show) -> impl IntoView
where
    T: Clone + 'static,
    V: IntoView + 'static,
    Show: Fn(T) -> V + Clone + Send + Sync + 'static,
{
    view! {
        <Transition fallback=|| view! { <p class="loading">"Loading…"</p> }>
            <ErrorBoundary fallback=|errors| view! {
                {move || errors.get().into_iter().map(|(_, error)| view! {
                    <p class="error" role="alert">{error.to_string()}</p>
                }).collect_view()}
            }>
                {move || {
                    let show = show.clone();
                    Suspend::new(async move { resource.await.map(show) })
                }}
            </ErrorBoundary>
        </Transition>
    }
}
