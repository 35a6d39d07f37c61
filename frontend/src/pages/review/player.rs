//! The session player: a recording drawn by xterm.js along `changeaudit_shared::replay`'s
//! timeline. It starts at once; play and pause, a seek bar with a marker per command, speeds
//! from 0.5× to 8×, and idle time skipped. A seek redraws from the nearest snapshot, so any
//! point of an hour-long recording shows at once; the time it took is kept in `data-seek-ms`.

use std::cell::{Cell, RefCell};
use std::rc::Rc;
use std::time::Duration;

use changeaudit_shared::asciicast::Cast;
use changeaudit_shared::replay::{Step, Timeline};
use leptos::html::Div;
use leptos::prelude::*;
use leptos::task::spawn_local;
use send_wrapper::SendWrapper;
use wasm_bindgen::prelude::*;

use crate::xterm::{self, Terminal};

const TICK: Duration = Duration::from_millis(50);
const SPEEDS: [f64; 5] = [0.5, 1.0, 2.0, 4.0, 8.0];

/// A moment worth a marker on the seek bar: a command, at its time.
#[derive(Debug, Clone, PartialEq)]
pub struct Marker {
    pub time: f64,
    pub label: String,
}

fn now_ms() -> f64 {
    web_sys::window()
        .and_then(|window| window.performance())
        .map_or(0.0, |performance| performance.now())
}

/// `m:ss.s`, as the player and the board show times.
pub fn clock(seconds: f64) -> String {
    let seconds = seconds.max(0.0);
    let minutes = (seconds / 60.0).floor();
    format!("{}:{:04.1}", minutes as u64, seconds - minutes * 60.0)
}

/// The player's terminal and where it is on the timeline; browser objects, so kept out of
/// the reactive graph.
struct Screen {
    terminal: Terminal,
    timeline: Timeline,
    next: Cell<usize>,
    /// Kept alive until xterm.js calls it back.
    pending: RefCell<Option<Closure<dyn FnMut()>>>,
}

impl Screen {
    /// Draws `step`; a seek's time, from `started` (before the timeline was asked) until
    /// xterm.js has drawn it, goes to `seek_ms`.
    fn show(&self, step: &Step, seek_ms: RwSignal<Option<(u64, f64)>>, started: f64) {
        if step.reset {
            self.terminal.reset();
            self.terminal.resize(step.size.0.into(), step.size.1.into());
            let done = Closure::<dyn FnMut()>::new(move || {
                let took = now_ms() - started;
                seek_ms.update(|seek| *seek = Some((seek.map_or(0, |(n, _)| n + 1), took)));
            });
            self.terminal
                .write_callback(&step.data, done.as_ref().unchecked_ref());
            self.pending.replace(Some(done));
        } else if !step.data.is_empty() {
            self.terminal.write(&step.data);
        }
        self.next.set(step.next);
    }
}

#[component]
pub fn Player(
    cast: Cast,
    /// Where to show first, and again whenever it changes (a board line clicked).
    #[prop(into)]
    start: Signal<f64>,
    markers: Vec<Marker>,
) -> impl IntoView {
    let timeline = Timeline::new(&cast);
    let duration = timeline.duration();
    let time = RwSignal::new(start.get_untracked().clamp(0.0, duration));
    let playing = RwSignal::new(false);
    let speed = RwSignal::new(1.0_f64);
    let skip_idle = RwSignal::new(true);
    // How many seeks were drawn, and how long the last one took.
    let seek_ms = RwSignal::new(None::<(u64, f64)>);
    let element = NodeRef::<Div>::new();
    let screen: Shown = StoredValue::new_local(None);
    let timeline = RefCell::new(Some(timeline));
    let (cols, rows) = (cast.header.width, cast.header.height);

    element.on_load(move |div| {
        let Some(timeline) = timeline.borrow_mut().take() else {
            return;
        };
        spawn_local(async move {
            // xterm.js is fetched the first time a page shows a terminal.
            if xterm::ready().await.is_err() {
                return;
            }
            let shown = mount(&div, timeline, (cols, rows), time, seek_ms);
            screen.try_update_value(|screen| *screen = Some(SendWrapper::new(shown)));
        });
    });

    let seek = move |to: f64| {
        let to = to.clamp(0.0, duration);
        time.set(to);
        screen.with_value(|screen| {
            if let Some(screen) = screen {
                let started = now_ms();
                screen.show(&screen.timeline.seek(to), seek_ms, started);
            }
        });
    };
    // Where the page asks to be, whenever it asks again (a board line clicked).
    Effect::new(move |previous: Option<()>| {
        let to = start.get();
        if previous.is_some() {
            playing.set(false);
            let shown = screen.with_value(|screen| {
                screen
                    .as_ref()
                    .map_or(to, |screen| screen.timeline.line_shown(to))
            });
            seek(shown);
        }
    });

    let playback = Playback {
        time,
        playing,
        speed,
        skip_idle,
    };
    play(playback, screen, seek_ms, duration);

    let toggle = move |_| {
        if time.get_untracked() >= duration {
            seek(0.0);
        }
        playing.update(|playing| *playing = !*playing);
    };
    view! {
        <div class="player" data-testid="player"
            data-time=move || format!("{:.3}", time.get())
            data-seek-ms=move || seek_ms.get().map(|(_, ms)| format!("{ms:.1}")).unwrap_or_default()
            data-seeks=move || seek_ms.get().map(|(n, _)| n.to_string()).unwrap_or_default()>
            <div class="player-screen" node_ref=element data-testid="player-screen"></div>
            <Controls playback duration markers seek toggle/>
        </div>
    }
}

/// Ticks while the player lives; when it goes, the ticking stops and its terminal is released.
fn play(playback: Playback, screen: Shown, seek_ms: RwSignal<Option<(u64, f64)>>, duration: f64) {
    let ticking =
        set_interval_with_handle(move || tick(playback, screen, seek_ms, duration), TICK).ok();
    let kept = SendWrapper::new(ticking);
    on_cleanup(move || {
        if let Some(ticking) = kept.take() {
            ticking.clear();
        }
        screen.with_value(|screen| {
            if let Some(screen) = screen {
                screen.terminal.dispose();
            }
        });
    });
}

type Shown = StoredValue<Option<SendWrapper<Rc<Screen>>>, LocalStorage>;

/// The player's terminal drawn in `div`, showing the moment asked for (a command's, once it is
/// whole on the screen).
fn mount(
    div: &web_sys::HtmlDivElement,
    timeline: Timeline,
    (cols, rows): (u16, u16),
    time: RwSignal<f64>,
    seek_ms: RwSignal<Option<(u64, f64)>>,
) -> Rc<Screen> {
    let terminal = xterm::new(&player_options(cols, rows));
    terminal.open(div.clone().into());
    let shown = Rc::new(Screen {
        terminal,
        timeline,
        next: Cell::new(0),
        pending: RefCell::new(None),
    });
    let asked = time.get_untracked();
    let first = if asked > 0.0 {
        shown.timeline.line_shown(asked)
    } else {
        asked
    };
    time.set(first);
    let started = now_ms();
    shown.show(&shown.timeline.seek(first), seek_ms, started);
    shown
}

/// One tick of playing: the screen moved on by the time a tick is worth at the chosen speed.
fn tick(playback: Playback, screen: Shown, seek_ms: RwSignal<Option<(u64, f64)>>, duration: f64) {
    if !playback.playing.get_untracked() {
        return;
    }
    let from = playback.time.get_untracked();
    screen.with_value(|screen| {
        let Some(screen) = screen else { return };
        let step = TICK.as_secs_f64() * playback.speed.get_untracked();
        let to = screen
            .timeline
            .play(from, step, playback.skip_idle.get_untracked());
        screen.show(
            &screen.timeline.advance(screen.next.get(), to),
            seek_ms,
            0.0,
        );
        playback.time.set(to);
        if to >= duration {
            playback.playing.set(false);
        }
    });
}

/// The options of the player's terminal: the recording's size, read-only, its resizes obeyed.
fn player_options(cols: u16, rows: u16) -> js_sys::Object {
    let options = js_sys::Object::new();
    let set = |target: &js_sys::Object, key: &str, value: JsValue| {
        // Setting a property of a fresh plain object cannot fail.
        js_sys::Reflect::set(target, &JsValue::from_str(key), &value).ok();
    };
    set(&options, "cols", JsValue::from_f64(f64::from(cols.max(1))));
    set(&options, "rows", JsValue::from_f64(f64::from(rows.max(1))));
    set(&options, "disableStdin", JsValue::TRUE);
    // The recording's resizes reach the terminal as `CSI 8 ; rows ; cols t`.
    let window_options = js_sys::Object::new();
    set(&window_options, "setWinSizeChars", JsValue::TRUE);
    set(&options, "windowOptions", window_options.into());
    set(&options, "cursorBlink", JsValue::FALSE);
    let font = "ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace";
    set(&options, "fontFamily", JsValue::from_str(font));
    options
}

/// Where the player stands and how it plays.
#[derive(Clone, Copy)]
struct Playback {
    time: RwSignal<f64>,
    playing: RwSignal<bool>,
    speed: RwSignal<f64>,
    skip_idle: RwSignal<bool>,
}

/// Play and pause, the seek bar with the commands' markers, the clock, speed and idle skipping.
#[component]
fn Controls<Seek, Toggle>(
    playback: Playback,
    duration: f64,
    markers: Vec<Marker>,
    seek: Seek,
    toggle: Toggle,
) -> impl IntoView
where
    Seek: Fn(f64) + Copy + Send + Sync + 'static,
    Toggle: Fn(leptos::ev::MouseEvent) + Copy + Send + Sync + 'static,
{
    let Playback {
        time,
        playing,
        speed,
        skip_idle,
    } = playback;
    let percent = move |at: f64| {
        if duration > 0.0 {
            at / duration * 100.0
        } else {
            0.0
        }
    };
    view! {
            <div class="player-controls">
            <button type="button" class="primary" data-testid="play" on:click=toggle>
                {move || if playing.get() { "Pause" } else { "Play" }}
            </button>
            <div class="seek">
                <input type="range" min="0" max=duration.to_string() step="0.1" aria-label="Position"
                    data-testid="seek-bar"
                    prop:value=move || time.get().to_string()
                    on:input=move |event| {
                        if let Ok(to) = event_target_value(&event).parse::<f64>() {
                            seek(to);
                        }
                    }/>
                <div class="markers">
                    {markers.into_iter().map(|marker| {
                        let at = marker.time;
                        view! {
                            <button type="button" class="marker" title=format!("{} {}", clock(at), marker.label)
                                style=format!("left: {:.3}%", percent(at))
                                on:click=move |_| seek(at)></button>
                        }
                    }).collect_view()}
                </div>
            </div>
            <span class="player-time" data-testid="player-time">
                {move || format!("{} / {}", clock(time.get()), clock(duration))}
            </span>
            <label class="check">"Speed "
                <select aria-label="Speed" on:change=move |event| {
                    if let Ok(chosen) = event_target_value(&event).parse::<f64>() {
                        speed.set(chosen);
                    }
                }>
                    {SPEEDS.iter().map(|choice| view! {
                        <option value=choice.to_string() selected=*choice == 1.0>{format!("{choice}×")}</option>
                    }).collect_view()}
                </select>
            </label>
            <label class="check">
                <input type="checkbox" prop:checked=move || skip_idle.get()
                    on:change=move |event| skip_idle.set(event_target_checked(&event))/>
                "Skip idle time"
            </label>
        </div>
    }
}

/// Change Audit → Audited sessions → Replay a file: any `.cast` (an exported recording, an
/// evidence bundle's) played in the same player, without the server.
#[component]
pub fn ReplayFile() -> impl IntoView {
    let loaded = RwSignal::new(None::<Result<Cast, String>>);
    let choose = move |event: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&event);
        let Some(file) = input.files().and_then(|files| files.get(0)) else {
            return;
        };
        leptos::task::spawn_local(async move {
            let text = wasm_bindgen_futures::JsFuture::from(file.text()).await;
            let parsed = match text.ok().and_then(|text| text.as_string()) {
                None => Err("The file cannot be read.".to_owned()),
                Some(text) => Cast::parse(&text)
                    .map_err(|error| format!("This is not an asciicast v2 recording: {error}")),
            };
            loaded.set(Some(parsed));
        });
    };
    view! {
        <div class="page-head"><h1>"Replay a recording"</h1></div>
        <p class="muted">"An asciicast v2 file (.cast), e.g. a session's recording downloaded from Audited sessions. It is played here, in the browser."</p>
        <input type="file" accept=".cast,application/x-asciicast" aria-label="Recording file"
            data-testid="cast-file" on:change=choose/>
        {move || match loaded.get() {
            None => ().into_any(),
            Some(Err(message)) => view! { <p class="error" role="alert">{message}</p> }.into_any(),
            Some(Ok(cast)) => view! { <Player cast start=0.0 markers=Vec::new()/> }.into_any(),
        }}
    }
}
