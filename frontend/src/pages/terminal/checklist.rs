//! Beside the terminal: the score so far, the verdict, each script line ticked, amber or still
//! to do, and every unplanned command flagged.

use changeaudit_shared::board::Status;
use changeaudit_shared::report::verdict_label;
use leptos::prelude::*;

use crate::pages::review::Findings;

use super::live::Live;

#[component]
pub fn ChecklistPanel(live: Live) -> impl IntoView {
    view! {
        <aside class="checklist" data-testid="checklist" aria-label="Checklist">
            {move || live.held.get().map(|held| view! {
                <div class="held" role="alert" data-testid="held">
                    <p><strong>"Not run: "</strong><code>{held.line}</code></p>
                    <p>{held.reason}</p>
                    <p class="muted">"It stays on the prompt: fix it, or clear it with Ctrl-U."</p>
                    {(!held.allowed_next.is_empty()).then(|| view! {
                        <p>"May run next:"</p>
                        <ul class="allowed-next">
                            {held.allowed_next.into_iter().map(|line| view! { <li><code>{line}</code></li> }).collect_view()}
                        </ul>
                    })}
                </div>
            })}
            {move || match live.checklist.get() {
                None => view! { <p class="muted">"The checklist appears when the session starts."</p> }.into_any(),
                Some(checklist) => {
                    let unplanned_session = live
                        .heading
                        .get()
                        .is_some_and(|heading| heading.change_id.is_none());
                    view! {
                        <div class="score-box">
                            <span class="score" data-testid="score">{checklist.score}</span>
                            <span class="score-label">"score so far"</span>
                            <span class="verdict" data-testid="verdict">{verdict_label(&checklist.verdict)}</span>
                        </div>
                        <Findings findings=checklist.findings.clone()/>
                        {unplanned_session.then(|| view! {
                            <p class="muted">"No script: every command is unplanned, except the group's benign ones."</p>
                        })}
                        <ol class="checks">
                            {checklist.lines.into_iter().map(|line| {
                                let (mark, label) = status_mark(line.status);
                                let failed = line.exit_code.filter(|code| *code != 0)
                                    .map(|code| format!(" (exit {code})"));
                                view! {
                                    <li class=format!("check check-{}", line.status.as_str())
                                        data-status=line.status.as_str() title=label>
                                        <span class="check-mark" aria-label=label>{mark}</span>
                                        <code>{line.command}</code>
                                        {failed}
                                    </li>
                                }
                            }).collect_view()}
                        </ol>
                    }.into_any()
                }
            }}
        </aside>
    }
}

fn status_mark(status: Status) -> (&'static str, &'static str) {
    match status {
        Status::Matched => ("✓", "Executed as planned"),
        Status::OutOfOrder => ("✓", "Executed, out of order"),
        Status::Failed => ("✗", "Executed, failed"),
        Status::Missing => ("○", "Not executed yet"),
        Status::Unplanned => ("⚑", "Not in the script"),
        Status::Benign => ("·", "Benign, not counted"),
        Status::Held => ("⊘", "Held: it never ran"),
    }
}
