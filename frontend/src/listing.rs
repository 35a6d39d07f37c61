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
