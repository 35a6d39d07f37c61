//! What every form shares: the API's field errors shown beside their fields, and one request
//! at a time.

use std::future::Future;

use changeaudit_shared::problem::FieldError;
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{ApiError, sentence};

/// The errors the API gave, by field; and how many times a person fixed one (`fixed_by`).
#[derive(Debug, Clone, Copy)]
pub struct FieldErrors(pub RwSignal<Vec<FieldError>>, RwSignal<u64>);

impl FieldErrors {
    pub fn new() -> Self {
        FieldErrors(RwSignal::new(Vec::new()), RwSignal::new(0))
    }

    /// Every message for field `name` and its parts (`device_ids[1]`, `members[0].user_id`),
    /// as sentences beside the field; `host` is not `host_key`.
    pub fn under(self, name: &'static str) -> impl Fn() -> Option<AnyView> {
        move || {
            let messages: Vec<String> = self
                .0
                .get()
                .into_iter()
                .filter(|error| names(&error.field, name))
                .map(|error| sentence(&error.detail))
                .collect();
            (!messages.is_empty()).then(|| {
                view! {
                    <span class="field-error" role="alert" data-field=name>{messages.join(" ")}</span>
                }
                .into_any()
            })
        }
    }

    /// Takes a refusal apart: its field errors go beside their fields, and the general message
    /// is answered for the top of the form.
    pub fn take(self, error: ApiError) -> String {
        match &error {
            ApiError::Refused(problem) => self.0.set(problem.errors.clone()),
            ApiError::Unreachable(_) | ApiError::Browser(_) => self.0.set(Vec::new()),
        }
        error.message()
    }

    pub fn clear(self) {
        self.0.set(Vec::new());
    }

    /// Forgets the errors of field `name` once `value` changes: fixed, they go.
    pub fn fixed_by<T: Clone + PartialEq + Send + Sync + 'static>(
        self,
        name: &'static str,
        value: RwSignal<T>,
    ) {
        Effect::new(move |before: Option<T>| {
            let now = value.get();
            let named = self
                .0
                .with_untracked(|errors| errors.iter().any(|error| names(&error.field, name)));
            if before.is_some_and(|before| before != now) && named {
                self.0
                    .update(|errors| errors.retain(|error| !names(&error.field, name)));
                self.1.update(|fixes| *fixes += 1);
            }
            now
        });
    }
}

impl FieldErrors {
    /// Clears `message` (the form's line on top) once the person has fixed every field it
    /// spoke of; a new refusal's message stays.
    pub fn clears_when_fixed(self, message: RwSignal<Option<String>>) {
        Effect::new(move |seen: Option<u64>| {
            let fixes = self.1.get();
            if seen.is_some_and(|seen| seen != fixes) && self.0.with_untracked(Vec::is_empty) {
                message.set(None);
            }
            fixes
        });
    }
}

/// Whether an API field path names field `name` or a part of it.
fn names(field: &str, name: &str) -> bool {
    field
        .strip_prefix(name)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with(['.', '[']))
}

/// Sends a form's request unless one is already on its way, so a double click sends one.
pub fn submit(pending: RwSignal<bool>, request: impl Future<Output = ()> + 'static) {
    if pending.get_untracked() {
        return;
    }
    pending.set(true);
    spawn_local(async move {
        request.await;
        pending.set(false);
    });
}
