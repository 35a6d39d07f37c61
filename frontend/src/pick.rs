//! A choice among server objects, however many there are: a search field whose words the
//! server matches, and a select of the first matches, the current choice always kept among
//! them.

use std::future::Future;
use std::pin::Pin;

use leptos::prelude::*;

use crate::api::ApiError;

/// Objects as the select offers them: id and label.
pub type Choices = Vec<(i64, String)>;

/// Asks the server for the first objects matching the words typed.
pub type Search = fn(String) -> Pin<Box<dyn Future<Output = Result<Choices, ApiError>>>>;

/// How many matches the select offers at once.
pub const SHOWN: u32 = 20;

/// `value` holds the chosen id as text (empty for none); `known` collects every choice seen,
/// for a caller that needs the chosen one's label.
#[component]
pub fn SearchSelect(
    id: &'static str,
    prompt: &'static str,
    hint: &'static str,
    value: RwSignal<String>,
    known: RwSignal<Choices>,
    search: Search,
) -> impl IntoView {
    let query = RwSignal::new(String::new());
    let found = LocalResource::new(move || search(query.get()));
    let options = move || {
        let mut choices = found.get().and_then(Result::ok).unwrap_or_default();
        known.update_untracked(|known| {
            for choice in &choices {
                if !known.contains(choice) {
                    known.push(choice.clone());
                }
            }
        });
        let chosen = value.get();
        if !choices.iter().any(|(id, _)| id.to_string() == chosen) {
            let kept = known.with_untracked(|known| {
                known
                    .iter()
                    .find(|(id, _)| id.to_string() == chosen)
                    .cloned()
            });
            choices.extend(kept);
        }
        choices
    };
    view! {
        <input type="search" class="pick-search" placeholder=hint aria-label=format!("Search: {prompt}")
            data-testid=format!("{id}-search") bind:value=query/>
        <select id=id bind:value=value>
            <option value="">{prompt}</option>
            // Keyed by id: the option a person chose stays the same element while the matches
            // change around it, so the select keeps showing what it holds.
            <For each=options key=|(id, _)| *id let((id, label))>
                <option value=id.to_string() selected=move || value.get_untracked() == id.to_string()>{label}</option>
            </For>
        </select>
        {move || found.get().and_then(Result::err).map(|error| view! {
            <p class="error" role="alert">{error.message()}</p>
        })}
    }
}

/// The access groups whose names hold `words`.
pub fn groups(words: String) -> Pin<Box<dyn Future<Output = Result<Choices, ApiError>>>> {
    Box::pin(async move {
        let page = crate::api::groups::search(&words, SHOWN).await?;
        Ok(page
            .items
            .into_iter()
            .map(|group| (group.id, group.name))
            .collect())
    })
}

/// The devices whose name, host or tags hold `words`.
pub fn devices(words: String) -> Pin<Box<dyn Future<Output = Result<Choices, ApiError>>>> {
    Box::pin(async move {
        let page = crate::api::devices::search(&words, SHOWN).await?;
        Ok(page
            .items
            .into_iter()
            .map(|device| (device.id, device.name))
            .collect())
    })
}

/// The people whose username, name or e-mail hold `words`.
pub fn users(words: String) -> Pin<Box<dyn Future<Output = Result<Choices, ApiError>>>> {
    Box::pin(async move {
        let page = crate::api::users::search(&words, SHOWN).await?;
        Ok(page
            .items
            .into_iter()
            .map(|user| (user.id, user.username))
            .collect())
    })
}

/// The credentials whose account or device hold `words`.
pub fn credentials(words: String) -> Pin<Box<dyn Future<Output = Result<Choices, ApiError>>>> {
    Box::pin(async move {
        let page = crate::api::credentials::search(&words, SHOWN).await?;
        let label = |c: &changeaudit_shared::api::credentials::Credential| {
            format!("{}@{}", c.username, c.device_name)
        };
        Ok(page.items.iter().map(|c| (c.id, label(c))).collect())
    })
}
