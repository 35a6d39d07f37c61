//! The terminal's WebSocket and xterm.js, wired together: keystrokes and resizes go to the
//! server, output is written to the screen, and everything else updates `Live`.

use std::rc::Rc;

use changeaudit_shared::terminal::{ClientMessage, EndReason, ServerMessage, input_pieces};
use leptos::prelude::*;
use leptos::web_sys::{BinaryType, HtmlDivElement, MessageEvent, WebSocket};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

use super::live::{Heading, HeldLine, Live};
use crate::xterm::{self, FitAddon, Terminal};

/// Everything that must live as long as the page, released when it goes.
struct Wiring {
    terminal: Rc<Terminal>,
    socket: WebSocket,
    _listeners: Vec<JsValue>,
}

pub fn connect(element: &HtmlDivElement, path: &str, read_only: bool, live: Live) {
    let options = terminal_options(read_only);
    let terminal = Rc::new(xterm::new(&options));
    let fit = Rc::new(FitAddon::new());
    xterm::load_fit(&terminal, &fit);
    terminal.open(element.clone().into());
    fit.fit();

    let size = |value: u32| u16::try_from(value).unwrap_or(u16::MAX);
    let url = socket_url(
        path,
        size(terminal.get_cols()),
        size(terminal.get_rows()),
        read_only,
    );
    let socket = match WebSocket::new(&url) {
        Ok(socket) => socket,
        Err(_) => {
            live.closed.set(Some((
                EndReason::Interrupted,
                "The browser could not open the connection to the server.".to_owned(),
            )));
            return;
        }
    };

    // Output arrives in binary frames, handed to xterm.js as they are: it decodes the UTF-8
    // itself, and the bytes never pass through the app.
    socket.set_binary_type(BinaryType::Arraybuffer);
    let on_message = {
        let terminal = terminal.clone();
        Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
            let data = event.data();
            if let Some(output) = data.dyn_ref::<js_sys::ArrayBuffer>() {
                return xterm::write_bytes(&terminal, &js_sys::Uint8Array::new(output));
            }
            let Some(text) = data.as_string() else {
                return;
            };
            match serde_json::from_str::<ServerMessage>(&text) {
                Ok(message) => apply(message, &terminal, live),
                Err(_) => live.warnings.update(|warnings| {
                    warnings.push("The server sent something unreadable.".into())
                }),
            }
        })
    };
    socket.set_onmessage(Some(on_message.as_ref().unchecked_ref()));

    let on_close = Closure::<dyn FnMut()>::new(move || {
        if live.closed.get_untracked().is_none() {
            live.closed.set(Some((
                EndReason::Interrupted,
                "The connection to the server was lost.".to_owned(),
            )));
        }
    });
    socket.set_onclose(Some(on_close.as_ref().unchecked_ref()));

    let mut listeners = vec![on_message.into_js_value(), on_close.into_js_value()];
    if !read_only {
        listeners.extend(send_input(&terminal, &socket));
    }
    let refit = {
        let fit = fit.clone();
        window_event_listener(leptos::ev::resize, move |_| fit.fit())
    };
    terminal.focus();

    let wiring = send_wrapper::SendWrapper::new(Wiring {
        terminal,
        socket,
        _listeners: listeners,
    });
    on_cleanup(move || {
        refit.remove();
        let wiring = wiring.take();
        wiring.socket.close().ok();
        wiring.terminal.dispose();
    });
}

/// The terminal's options: a read-only one (watching) neither blinks nor takes keys.
fn terminal_options(read_only: bool) -> js_sys::Object {
    let options = js_sys::Object::new();
    let set = |key: &str, value: JsValue| {
        // Setting a property of a fresh plain object cannot fail.
        js_sys::Reflect::set(&options, &JsValue::from_str(key), &value).ok();
    };
    set("cursorBlink", JsValue::from_bool(!read_only));
    set("disableStdin", JsValue::from_bool(read_only));
    set("scrollback", JsValue::from_f64(5000.0));
    let font = "ui-monospace, 'DejaVu Sans Mono', Menlo, Consolas, monospace";
    set("fontFamily", JsValue::from_str(font));
    options
}

/// Sends the person's keystrokes and the terminal's new sizes to the server; answers the
/// listeners, which must live as long as the page.
fn send_input(terminal: &Terminal, socket: &WebSocket) -> [JsValue; 2] {
    let on_data = {
        let socket = socket.clone();
        Closure::<dyn FnMut(String)>::new(move |data: String| {
            // A paste of any size goes in pieces under the server's message limit.
            for piece in input_pieces(&data) {
                let data = piece.to_owned();
                send(&socket, &ClientMessage::Input { data });
            }
        })
    };
    terminal.on_data(on_data.as_ref().unchecked_ref());
    let on_resize = {
        let socket = socket.clone();
        Closure::<dyn FnMut(JsValue)>::new(move |size: JsValue| {
            let number = |key: &str| {
                js_sys::Reflect::get(&size, &JsValue::from_str(key))
                    .ok()
                    .and_then(|value| value.as_f64())
                    .map_or(0, |value| value as u16)
            };
            send(
                &socket,
                &ClientMessage::Resize {
                    cols: number("cols"),
                    rows: number("rows"),
                },
            );
        })
    };
    terminal.on_resize(on_resize.as_ref().unchecked_ref());
    [on_data.into_js_value(), on_resize.into_js_value()]
}

fn apply(message: ServerMessage, terminal: &Terminal, live: Live) {
    match message {
        ServerMessage::Started {
            session_id,
            device,
            account,
            change_id,
            closes_at,
        } => live.heading.set(Some(Heading {
            session_id,
            device,
            account,
            change_id,
            closes_at,
        })),
        ServerMessage::Output { data } => terminal.write(&data),
        ServerMessage::Resize { cols, rows } => terminal.resize(cols.into(), rows.into()),
        ServerMessage::Command { index, command } => {
            if live
                .commands
                .with_untracked(|commands| index >= commands.len())
            {
                live.held.set(None);
            }
            live.commands.update(|commands| {
                commands.truncate(index);
                commands.push(command);
            })
        }
        ServerMessage::Checklist(checklist) => live.checklist.set(Some(checklist)),
        ServerMessage::Warning { message } => {
            live.warnings.update(|warnings| warnings.push(message))
        }
        ServerMessage::Held {
            line,
            reason,
            allowed_next,
        } => live.held.set(Some(HeldLine {
            line,
            reason,
            allowed_next,
        })),
        ServerMessage::Closed { reason, message } => live.closed.set(Some((reason, message))),
    }
}

fn send(socket: &WebSocket, message: &ClientMessage) {
    if socket.ready_state() != WebSocket::OPEN {
        return;
    }
    if let Ok(text) = serde_json::to_string(message) {
        // A failed send shows as the socket closing, which the page reports.
        socket.send_with_str(&text).ok();
    }
}

/// `ws://` or `wss://` on this page's host, with the terminal's size when it opens one.
fn socket_url(path: &str, cols: u16, rows: u16, read_only: bool) -> String {
    let location = window().location();
    let secure = location
        .protocol()
        .is_ok_and(|protocol| protocol == "https:");
    let host = location.host().unwrap_or_default();
    let scheme = if secure { "wss" } else { "ws" };
    if read_only {
        format!("{scheme}://{host}{path}")
    } else {
        format!("{scheme}://{host}{path}?cols={cols}&rows={rows}")
    }
}
