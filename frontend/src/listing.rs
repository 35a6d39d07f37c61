//! What every list page shares: a page of results that follows its filters (an answer to an
//! older filter never replaces a newer one), and its loading, error, empty and table states.

use changeaudit_shared::api::Page;
use changeaudit_shared::api::routes::Route;
use leptos::prelude::*;
use serde::de::DeserializeOwned;

use crate::api::{self, ApiError};
use crate::loaded::Loaded;

pub type List<T> = LocalResource<Result<Page<T>, ApiError>>;

/// The list `route` answers, with the query `filters` gives, fetched again whenever they change.
pub fn use_list<T>(
    route: fn() -> Route<(), Page<T>>,
    filters: impl Fn() -> Vec<(&'static str, String)> + 'static,
) -> List<T>
where
    T: DeserializeOwned + 'static,
{
    LocalResource::new(move || {
        let route = route().with_query(&filters());
        async move { api::fetch(route).await }
    })
}

/// The list as `table` shows it, with how many of how many are shown; `empty` says what to do
/// when nothing is there.
pub fn list_view<T>(
    list: List<T>,
    empty: &'static str,
    table: impl Fn(Vec<T>) -> AnyView + Clone + Send + Sync + 'static,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
{
    let show = move |page: Page<T>| {
        if page.items.is_empty() {
            return view! { <p class="empty" data-testid="empty">{empty}</p> }.into_any();
        }
        let count = format!("{} of {}", page.items.len(), page.total);
        view! { {table(page.items)} <p class="muted">{count}</p> }.into_any()
    };
    view! { <Loaded resource=list show/> }
}

/// Newer and older pages of a list `page` long, and where this page stands in it; the buttons'
/// test IDs are `newer-{what}` and `older-{what}`.
#[component]
pub fn Pager<T>(
    offset: RwSignal<i64>,
    list: List<T>,
    page: i64,
    what: &'static str,
) -> impl IntoView
where
    T: Clone + Send + Sync + 'static,
{
    let total = move || {
        list.get()
            .and_then(Result::ok)
            .map_or(0, |found| found.total)
    };
    view! {
        <div class="pager">
            <button type="button" data-testid=format!("newer-{what}")
                disabled=move || offset.get() == 0
                on:click=move |_| offset.update(|offset| *offset = (*offset - page).max(0))>"Newer"</button>
            <button type="button" data-testid=format!("older-{what}")
                disabled=move || { offset.get() + page >= total() }
                on:click=move |_| offset.update(|offset| *offset += page)>"Older"</button>
            <span class="muted">{move || {
                let total = total();
                let first = if total == 0 { 0 } else { offset.get() + 1 };
                format!("{first}–{} of {total}", (offset.get() + page).min(total))
            }}</span>
        </div>
    }
}
