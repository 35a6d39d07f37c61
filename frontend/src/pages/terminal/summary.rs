//! What the executor is told around the terminal: that the session is recorded, how long is
//! left before it closes, and, once it ends, how it scored and which lines were never run.

use std::time::Duration;

use changeaudit_shared::board::Status;
use changeaudit_shared::report::verdict_label;
use js_sys::Date;
use leptos::prelude::*;
use wasm_bindgen::JsValue;

use super::live::Live;

/// The countdown is drawn again this often.
const TICK: Duration = Duration::from_secs(1);
/// Under this much time left, the countdown turns to a warning.
const SOON: f64 = 15.0 * 60.0;

/// Milliseconds since the epoch of an RFC 3339 time, if the browser reads it.
fn millis_of(rfc3339: &str) -> Option<f64> {
    let at = Date::new(&JsValue::from_str(rfc3339)).get_time();
    (!at.is_nan()).then_some(at)
}

/// `1:05:09` or `4:07`.
fn left_in_words(seconds: f64) -> String {
    let whole = seconds.max(0.0) as u64;
    let (hours, minutes, seconds) = (whole / 3600, whole / 60 % 60, whole % 60);
    if hours > 0 {
        format!("{hours}:{minutes:02}:{seconds:02}")
    } else {
        format!("{minutes}:{seconds:02}")
    }
}

/// "Recorded" and the time left before the session closes, counted down each second.
#[component]
pub fn SessionClock(live: Live) -> impl IntoView {
    let now = RwSignal::new(Date::now());
    let interval = set_interval_with_handle(move || now.set(Date::now()), TICK).ok();
    let interval = send_wrapper::SendWrapper::new(interval);
    on_cleanup(move || {
        if let Some(interval) = interval.take() {
            interval.clear();
        }
    });
    let left = move || {
        let heading = live.heading.get()?;
        let closes = millis_of(&heading.closes_at)?;
        Some((closes - now.get()) / 1000.0)
    };
    view! {
        <span class="recorded" data-testid="recording-notice"
            title="Every keystroke and everything the device prints is recorded, recognised and scored against the change's script.">
            "● Recorded"
        </span>
        {move || {
            if live.closed.get().is_some() {
                return None;
            }
            left().map(|seconds| view! {
                <span class="countdown" class:soon=seconds < SOON data-testid="countdown">
                    {format!("Closes in {}", left_in_words(seconds))}
                </span>
            })
        }}
    }
}

/// Once the session has ended: its score and verdict, and the script's lines never run.
#[component]
pub fn EndSummary(live: Live) -> impl IntoView {
    move || {
        live.closed.get()?;
        let checklist = live.checklist.get()?;
        let planned = live
            .heading
            .get()
            .is_some_and(|heading| heading.change_id.is_some());
        let missing: Vec<String> = checklist
            .lines
            .iter()
            .filter(|line| line.status == Status::Missing)
            .map(|line| line.command.clone())
            .collect();
        let unplanned = checklist
            .lines
            .iter()
            .filter(|line| line.status == Status::Unplanned)
            .count();
        let held = checklist
            .lines
            .iter()
            .filter(|line| line.status == Status::Held)
            .count();
        Some(view! {
            <section class="panel end-summary" data-testid="end-summary">
                <h2>"Session summary"</h2>
                <p>
                    <strong class="score">{checklist.score}</strong>" "
                    <span data-testid="end-verdict">{verdict_label(&checklist.verdict)}</span>
                </p>
                {planned.then(|| if missing.is_empty() {
                    view! { <p>"Every line of the script ran."</p> }.into_any()
                } else {
                    view! {
                        <p>{format!("{} line(s) of the script never ran:", missing.len())}</p>
                        <ul class="missing" data-testid="end-missing">
                            {missing.into_iter().map(|line| view! { <li><code>{line}</code></li> }).collect_view()}
                        </ul>
                    }.into_any()
                })}
                {(unplanned > 0).then(|| view! {
                    <p>{format!("{unplanned} command(s) were not in the script.")}</p>
                })}
                {(held > 0).then(|| view! {
                    <p data-testid="end-held">{format!("{held} line(s) were held and never ran.")}</p>
                })}
            </section>
        })
    }
}
