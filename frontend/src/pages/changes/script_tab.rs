use changeaudit_shared::script::Script;
use leptos::prelude::*;

use crate::forms::FieldErrors;

/// The script as typed, and beside it the commands it will be compared against, parsed as the
/// server parses them.
#[component]
pub fn ScriptTab(script: RwSignal<String>, errors: FieldErrors) -> impl IntoView {
    let parsed = Memo::new(move |_| {
        script.with(|text| Script::parse(text).map_err(|error| error.to_string()))
    });
    view! {
        <div class="script-editor">
            <div>
                <label for="change-script">"Script: one command per line; # comments and blank lines are ignored"</label>
                <textarea id="change-script" rows="14" spellcheck="false" bind:value=script></textarea>
                {errors.under("script")}
            </div>
            <div class="preview" data-testid="script-preview">
                <h2>"Commands compared"</h2>
                {move || match parsed.get() {
                    Err(error) => view! { <p class="field-error">{error}</p> }.into_any(),
                    Ok(parsed) if parsed.is_empty() => {
                        view! { <p class="muted">"No command yet."</p> }.into_any()
                    }
                    Ok(parsed) => view! {
                        <ol class="commands">
                            {parsed
                                .commands
                                .into_iter()
                                .map(|command| view! {
                                    <li><span class="line">{format!("line {}", command.line)}</span><code>{command.text}</code></li>
                                })
                                .collect_view()}
                        </ol>
                    }
                    .into_any(),
                }}
            </div>
        </div>
    }
}
