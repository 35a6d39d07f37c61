//! One session as an auditor reviews it (`/sessions/:id?view=…`): Change details (with each
//! approval's passkey signature checked now), Change Audit (the board: red planned but not
//! run, green run but not planned, amber failed or out of order, benign apart; a line opens the
//! video at its moment), Session logs (commands and the session's text, both downloadable) and
//! Video of session. Findings (marks the device printed that the person's input does not bear
//! out) show in the details and above the board. The server records each opening.

mod player;

use changeaudit_shared::api::routes;
use changeaudit_shared::api::sessions::{SessionAudit, TerminalSession};
use changeaudit_shared::asciicast::Cast;
use changeaudit_shared::board::Status;
use changeaudit_shared::command::{Finding, FindingKind};
use changeaudit_shared::report::{BoardLine, verdict_label};
use leptos::prelude::*;
use leptos_router::components::A;
use leptos_router::hooks::{use_params_map, use_query_map};

pub use player::{Marker, Player, ReplayFile, clock};

use crate::api;
use crate::loaded::Loaded;
use crate::local_time;

const VIEWS: [(&str, &str); 4] = [
    ("details", "Change details"),
    ("board", "Change Audit"),
    ("logs", "Session logs"),
    ("video", "Video of session"),
];

#[component]
pub fn SessionReview() -> impl IntoView {
    let params = use_params_map();
    let query = use_query_map();
    let id = Memo::new(move |_| {
        params
            .read()
            .get("id")
            .and_then(|id| id.parse::<i64>().ok())
            .unwrap_or(0)
    });
    let view = Memo::new(move |_| {
        query
            .read()
            .get("view")
            .unwrap_or_else(|| "details".to_owned())
    });
    let start = Signal::derive(move || {
        query
            .read()
            .get("t")
            .and_then(|t| t.parse::<f64>().ok())
            .unwrap_or(0.0)
    });
    // Named by what people know it by: the change, the person and the device.
    let title = LocalResource::new(move || {
        let id = id.get();
        async move {
            api::sessions::get(id).await.map(|session| {
                let change = session.change_id.unwrap_or_else(|| "Unplanned".to_owned());
                format!("{change} · {} on {}", session.username, session.device.name)
            })
        }
    });
    view! {
        <div class="page-head">
            <h1>{move || title.get().and_then(Result::ok).unwrap_or_else(|| format!("Session {}", id.get()))}</h1>
            <A href="/sessions">"All audited sessions"</A>
        </div>
        <nav class="tabs" aria-label="Views">
            {VIEWS.iter().map(|(key, label)| view! {
                <A href=format!("?view={key}")
                    attr:class=move || if view.get() == *key { "tab active" } else { "tab" }
                    attr:data-testid=format!("view-{key}")>{*label}</A>
            }).collect_view()}
        </nav>
        {move || {
            let id = id.get();
            match view.get().as_str() {
                "video" => view! { <Video id start/> }.into_any(),
                other => {
                    let chosen = match other {
                        "board" => "board",
                        "logs" => "logs",
                        _ => "details",
                    };
                    view! { <Audit id view=chosen/> }.into_any()
                }
            }
        }}
    }
}

#[component]
fn Audit(id: i64, view: &'static str) -> impl IntoView {
    let audit = LocalResource::new(move || async move { api::sessions::audit(id, view).await });
    let show = move |audit: SessionAudit| match view {
        "board" => board(id, &audit).into_any(),
        "logs" => logs(id, &audit).into_any(),
        _ => details(&audit).into_any(),
    };
    view! { <Loaded resource=audit show/> }
}

fn details(audit: &SessionAudit) -> impl IntoView + use<> {
    let session = audit.session.clone();
    let approvals = audit.approvals.clone();
    view! {
        <dl class="facts" data-testid="session-details">
            <dt>"User"</dt><dd>{session.username.clone()}</dd>
            <dt>"Device"</dt><dd>{format!("{} as {}", session.device.name, session.account)}</dd>
            <dt>"Change"</dt><dd>{session.change_id.clone().unwrap_or_else(|| "none (unplanned session)".to_owned())}</dd>
            <dt>"Client IP"</dt><dd data-testid="client-ip">{session.client_ip.clone()}</dd>
            <dt>"Browser"</dt><dd>{session.user_agent.clone()}</dd>
            <dt>"Started"</dt><dd>{local_time::show(session.started_at)}</dd>
            <dt>"Ended"</dt><dd>{session.ended_at.map(local_time::show).unwrap_or_else(|| "still running".to_owned())}</dd>
            <dt>"Duration"</dt><dd data-testid="duration">{clock(session.duration_seconds)}</dd>
            <dt>"End"</dt><dd>{session.end_reason.map(|reason| reason.as_str().replace('_', " ")).unwrap_or_default()}</dd>
            <dt>"Score"</dt><dd data-testid="score">{session.score.map(|score| score.to_string()).unwrap_or_else(|| "—".to_owned())}</dd>
            <dt>"Verdict"</dt><dd data-testid="verdict">{session.verdict.as_deref().map(verdict_label).unwrap_or_else(|| "—".to_owned())}</dd>
            <dt>"Held lines"</dt><dd data-testid="held-lines">{session.held_lines}</dd>
            <dt>"Recording"</dt><dd><code>{session.recording_sha256.clone().unwrap_or_default()}</code></dd>
        </dl>
        <Findings findings=session.findings.clone()/>
        {(!session.held.is_empty()).then(|| view! {
            <section class="held-lines" data-testid="held-list">
                <h2>{format!("Held lines ({})", session.held.len())}</h2>
                <p class="muted">"Entered, but stopped by the broker before the device saw them: they never ran."</p>
                <ul>
                    {session.held.iter().map(|held| view! {
                        <li>
                            {format!("{} ", clock(held.offset))}
                            <code>{held.text.clone()}</code>
                            <span class="held-reason">{held.reason.clone()}</span>
                        </li>
                    }).collect_view()}
                </ul>
            </section>
        })}
        {session.change_id.clone().map(|change| view! {
            <div class="actions">
                <a class="button" data-testid="evidence-bundle" href=routes::changes::evidence(&change).path>
                    {format!("Download the evidence bundle of {change}")}
                </a>
                <A href="/verify">"Verify a bundle"</A>
            </div>
        })}
        <h2>"Approvals"</h2>
        {if approvals.is_empty() {
            view! { <p class="muted">"No approval: an unplanned session, or none was needed."</p> }.into_any()
        } else {
            view! {
                <ul class="approvals" data-testid="approvals">
                    {approvals.into_iter().map(|check| view! {
                        <li class:verified=check.verified data-verified=check.verified.to_string()>
                            <strong>{if check.verified { "✓ " } else { "✗ " }}</strong>
                            {format!("{} {} at {}", check.approver, check.decision, local_time::show(check.decided_at))}
                            {(!check.comment.is_empty()).then(|| format!(" — {}", check.comment))}
                            <div class="muted">{check.verification.clone()}</div>
                        </li>
                    }).collect_view()}
                </ul>
            }.into_any()
        }}
    }
}

/// What the device printed that the person's input does not bear out: never part of the board,
/// always shown beside it.
#[component]
pub fn Findings(findings: Vec<Finding>) -> impl IntoView {
    (!findings.is_empty()).then(|| {
        view! {
            <section class="findings" data-testid="findings" role="alert">
                <h2>{format!("Findings ({})", findings.len())}</h2>
                <p class="muted">"Shell-integration marks in the output that no keystroke of the person explains, or that the shell could not have printed. They are not counted as commands; the session cannot be correct with them."</p>
                <ul>
                    {findings.into_iter().map(|finding| view! {
                        <li data-kind=finding.kind.as_str()>
                            <strong>{match finding.kind {
                                FindingKind::ForgedMark => "Forged mark",
                                FindingKind::Disagreement => "Disagreement",
                            }}</strong>
                            {format!(" at {}: ", clock(finding.offset))}
                            <code>{finding.mark.clone()}</code>
                            <div class="muted">{finding.detail.clone()}</div>
                        </li>
                    }).collect_view()}
                </ul>
            </section>
        }
    })
}

/// Where a board line opens the video: its own time, or for a line never run, the time of the
/// line before it that ran.
fn moments(lines: &[BoardLine]) -> Vec<f64> {
    let mut last = 0.0;
    lines
        .iter()
        .map(|line| {
            if let Some(offset) = line.offset {
                last = offset;
            }
            line.offset.unwrap_or(last)
        })
        .collect()
}

fn status_words(status: Status) -> &'static str {
    match status {
        Status::Matched => "as planned",
        Status::OutOfOrder => "out of order",
        Status::Failed => "failed",
        Status::Missing => "planned, not run",
        Status::Unplanned => "run, not planned",
        Status::Benign => "benign",
        Status::Held => "held, never ran",
    }
}

fn board(id: i64, audit: &SessionAudit) -> impl IntoView + use<> {
    let Some(report) = audit.report.clone() else {
        return view! { <p class="muted">"An unplanned session has no script to hold it against; see its logs and video."</p> }.into_any();
    };
    let at = moments(&report.board);
    let row = move |(line, moment): (BoardLine, f64)| {
        let code = line.status.as_str();
        view! {
            <tr class=format!("board-line board-{code}") data-status=code>
                <td class="nowrap">{line.offset.map(clock).unwrap_or_else(|| "—".to_owned())}</td>
                <td>{line.script_line.map(|n| n.to_string()).unwrap_or_default()}</td>
                <td><a href=format!("/sessions/{id}?view=video&t={moment:.3}") data-testid="board-command"><code>{line.command.clone()}</code></a></td>
                <td>{line.exit_code.map(|code| code.to_string()).unwrap_or_default()}</td>
                <td>
                    {status_words(line.status)}
                    {line.reason.clone().map(|reason| view! { <span class="held-reason">{reason}</span> })}
                </td>
            </tr>
        }
    };
    let exits_unknown = report
        .board
        .iter()
        .all(|line| line.offset.is_none() || line.exit_code.is_none());
    let (benign, counted): (Vec<_>, Vec<_>) = report
        .board
        .into_iter()
        .zip(at)
        .partition(|(line, _)| line.status == Status::Benign);
    let head = || {
        view! { <thead><tr><th>"Time"</th><th>"Line"</th><th>"Command"</th><th>"Exit"</th><th>"Status"</th></tr></thead> }
    };
    view! {
        <p class="score-line">
            <span class="score" data-testid="board-score">{report.score}</span>
            <span class="verdict">{verdict_label(&report.verdict)}</span>
        </p>
        <Findings findings=report.findings.clone()/>
        <ul class="legend" data-testid="board-legend" aria-label="What the colours say">
            <li class="board-matched">"Executed as planned"</li>
            <li class="board-missing">"Red: planned, not executed"</li>
            <li class="board-unplanned">"Green: executed, not planned"</li>
            <li class="board-failed">"Amber: failed (non-zero exit) or out of order"</li>
            <li class="board-benign">"Grey: benign, not counted"</li>
            <li class="board-held">"Purple: held by the broker, never ran, not counted"</li>
        </ul>
        {exits_unknown.then(|| view! {
            <p class="muted" data-testid="exit-hint">"Exit codes are unknown: the device's shell does not announce them. The shell-integration script (see the README) makes it do so."</p>
        })}
        <div class="table-box">
            <table class="list board" data-testid="board">
                {head()}
                <tbody>{counted.into_iter().map(row).collect_view()}</tbody>
            </table>
        </div>
        {(!benign.is_empty()).then(|| view! {
            <h2>"Benign commands (not counted)"</h2>
            <div class="table-box">
                <table class="list board" data-testid="board-benign">
                    {head()}
                    <tbody>{benign.into_iter().map(row).collect_view()}</tbody>
                </table>
            </div>
        })}
    }
    .into_any()
}

fn download(text: &str) -> String {
    format!(
        "data:text/plain;charset=utf-8,{}",
        String::from(js_sys::encode_uri_component(text))
    )
}

fn logs(id: i64, audit: &SessionAudit) -> impl IntoView + use<> {
    let commands = audit.session.commands.clone();
    let listing: String = commands
        .iter()
        .map(|command| {
            format!(
                "{}\t{}\t{}\n",
                clock(command.offset),
                command
                    .exit_code
                    .map(|code| code.to_string())
                    .unwrap_or_default(),
                command.text
            )
        })
        .collect();
    let text = audit.transcript.clone().unwrap_or_default();
    view! {
        <div class="actions">
            <a class="button" href=download(&listing) download=format!("session-{id}-commands.txt")>"Download the commands"</a>
            <a class="button" href=download(&text) download=format!("session-{id}.txt")>"Download the text"</a>
        </div>
        <h2>"Commands"</h2>
        <table class="list" data-testid="session-commands">
            <thead><tr><th>"Time"</th><th>"Command"</th><th>"Exit code"</th></tr></thead>
            <tbody>
                {commands.into_iter().map(|command| view! {
                    <tr>
                        <td class="nowrap">{clock(command.offset)}</td>
                        <td><code>{command.text.clone()}</code></td>
                        <td>{command.exit_code.map(|code| code.to_string()).unwrap_or_else(|| "—".to_owned())}</td>
                    </tr>
                }).collect_view()}
            </tbody>
        </table>
        <h2>"What the session showed"</h2>
        <pre class="transcript" data-testid="transcript">{text}</pre>
    }
}

#[component]
fn Video(id: i64, start: Signal<f64>) -> impl IntoView {
    let loaded = LocalResource::new(move || async move {
        let session = api::sessions::get(id).await?;
        let text = api::sessions::recording(id).await?;
        Ok::<_, api::ApiError>((session, text))
    });
    view! {
        <div class="actions">
            <a class="button" href=api::sessions::recording_download(id)>"Download the recording (.cast)"</a>
        </div>
        <Loaded resource=loaded show={move |(session, text): (TerminalSession, String)| match Cast::parse(&text) {
            Err(error) => view! { <p class="error" role="alert">{format!("The recording cannot be read: {error}")}</p> }.into_any(),
            Ok(cast) => {
                let markers = session
                    .commands
                    .iter()
                    .map(|command| Marker { time: command.offset, label: command.text.clone() })
                    .collect();
                view! { <Player cast start markers/> }.into_any()
            }
        }}/>
    }
}
