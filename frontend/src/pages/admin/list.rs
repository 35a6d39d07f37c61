//! What the admin pages of objects share: a title with its New button, the form being edited,
//! a filter, and the list with an action per row to edit (and, for some, to delete).

use std::future::Future;
use std::pin::Pin;

use changeaudit_shared::api::Page;
use changeaudit_shared::api::routes::Route;
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::de::DeserializeOwned;

use crate::api::ApiError;
use crate::confirm::{Asking, ConfirmDialog, ask};
use crate::forms::FieldErrors;
use crate::listing::{List, list_view, use_list};
use crate::toast::Toasts;

/// Which object is being edited: `None` for none, `Some(None)` for a new one.
pub type Editing<T> = RwSignal<Option<Option<T>>>;

/// Deletes an object; the list is fetched again once it is gone.
pub type Remove<T> = fn(&T) -> Pin<Box<dyn Future<Output = Result<(), ApiError>>>>;

/// A row's Delete: what it does, and the question asked first (its title, and what is lost).
pub struct Removal<T> {
    pub run: Remove<T>,
    pub question: fn(&T) -> (String, String),
}

/// The words and the route of one admin page.
pub struct Admin<T: 'static> {
    pub title: &'static str,
    pub new_label: &'static str,
    pub filter_hint: &'static str,
    pub filter_label: &'static str,
    /// The table's `data-testid`.
    pub testid: &'static str,
    /// What the page says when nothing is listed, and what to do about it.
    pub empty: &'static str,
    pub headers: &'static [&'static str],
    pub route: fn() -> Route<(), Page<T>>,
    /// The row action that opens the form on it.
    pub edit_label: &'static str,
    pub remove: Option<Removal<T>>,
}

#[component]
pub fn AdminList<T, Cells, Form>(admin: Admin<T>, cells: Cells, form: Form) -> impl IntoView
where
    T: Clone + Send + Sync + DeserializeOwned + 'static,
    Cells: Fn(&T) -> AnyView + Copy + Send + Sync + 'static,
    Form: Fn(Option<T>, Editing<T>, List<T>) -> AnyView + Copy + Send + Sync + 'static,
{
    let filter = RwSignal::new(String::new());
    let list = use_list(admin.route, move || vec![("q", filter.get())]);
    let editing: Editing<T> = RwSignal::new(None);
    let message = RwSignal::new(None::<String>);
    let asking: Asking = RwSignal::new(None);
    let toasts = Toasts::get();
    let edit_label = admin.edit_label;
    let remove = admin.remove.map(|removal| (removal.run, removal.question));
    let row = move |item: T| {
        let chosen = item.clone();
        let removing = remove.map(|(remove, question)| {
            let doomed = item.clone();
            view! {
                <button type="button" class="link-button danger-link" on:click=move |_| {
                    let (title, loses) = question(&doomed);
                    let doomed = doomed.clone();
                    ask(asking, title, loses, "Delete", move || {
                        let gone = remove(&doomed);
                        message.set(None);
                        spawn_local(async move {
                            match gone.await {
                                Ok(()) => {
                                    list.refetch();
                                    toasts.say("Deleted");
                                }
                                Err(error) => message.set(Some(error.message())),
                            }
                        });
                    });
                }>"Delete"</button>
            }
        });
        view! {
            <tr>
                {cells(&item)}
                <td>
                    <button type="button" class="link-button"
                        on:click=move |_| editing.set(Some(Some(chosen.clone())))>{edit_label}</button>
                    {removing}
                </td>
            </tr>
        }
    };
    let (testid, headers) = (admin.testid, admin.headers);
    view! {
        <div class="page-head">
            <h1>{admin.title}</h1>
            <button type="button" class="primary" on:click=move |_| editing.set(Some(None))>{admin.new_label}</button>
        </div>
        {move || message.get().map(|text| view! { <p class="error" role="alert">{text}</p> })}
        <ConfirmDialog asking/>
        {move || editing.get().map(|item| form(item, editing, list))}
        <div class="filters">
            <input type="search" placeholder=admin.filter_hint aria-label=admin.filter_label bind:value=filter/>
        </div>
        {list_view(list, admin.empty, move |items| view! {
            <table class="list" data-testid=testid>
                <thead><tr>
                    {headers.iter().map(|header| view! { <th>{*header}</th> }).collect_view()}
                    <th></th>
                </tr></thead>
                <tbody>{items.into_iter().map(row).collect_view()}</tbody>
            </table>
        }.into_any())}
    }
}

/// What an admin form does with the server's answer: closes and reloads the list, or shows
/// why not, each field's words under it.
pub fn settle<T: Send + Sync + 'static>(
    editing: Editing<T>,
    list: List<T>,
    message: RwSignal<Option<String>>,
    errors: FieldErrors,
) -> impl Fn(Result<(), ApiError>) + Copy {
    let toasts = Toasts::get();
    move |outcome| match outcome {
        Ok(()) => {
            editing.set(None);
            list.refetch();
            toasts.say("Saved");
        }
        Err(error) => message.set(Some(errors.take(error))),
    }
}
