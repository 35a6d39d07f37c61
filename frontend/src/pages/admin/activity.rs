//! Admin → Activity, for admins and auditors: who did what, when, read from the trail itself;
//! newest first, filtered by person, kind, object and days, searched, downloaded as CSV, and
//! each event's inclusion proof checked in the browser with one click.

use changeaudit_shared::api::routes;
use changeaudit_shared::api::trail::{ActivityEvent, ActivityFilters, EventProof};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::api::{self, ApiError};
use crate::listing::{Pager, list_view, use_list};
use crate::local_time;

/// Events per page.
const PAGE: i64 = 50;

/// The kinds of action the trail holds, as the filter offers them.
const KINDS: [(&str, &str); 11] = [
    ("", "Any kind"),
    ("change", "Changes"),
    ("request", "Requests and approvals"),
    ("session", "Sessions and sign-ins"),
    ("user", "Users"),
    ("access_group", "Access groups"),
    ("device", "Devices"),
    ("credential", "Credentials"),
    ("passkey", "Passkeys"),
    ("notification", "Notifications"),
    ("trail", "The trail itself"),
];

/// The filters, each a signal, as the page holds them.
#[derive(Clone, Copy)]
struct Filters {
    actor: RwSignal<String>,
    action: RwSignal<String>,
    object: RwSignal<String>,
    from: RwSignal<String>,
    to: RwSignal<String>,
    q: RwSignal<String>,
}

impl Filters {
    fn new() -> Filters {
        Filters {
            actor: RwSignal::new(String::new()),
            action: RwSignal::new(String::new()),
            object: RwSignal::new(String::new()),
            from: RwSignal::new(String::new()),
            to: RwSignal::new(String::new()),
            q: RwSignal::new(String::new()),
        }
    }

    fn all(self) -> [RwSignal<String>; 6] {
        [
            self.actor,
            self.action,
            self.object,
            self.from,
            self.to,
            self.q,
        ]
    }

    /// As the API takes them (tracked).
    fn query(self) -> ActivityFilters {
        let text = |signal: RwSignal<String>| Some(signal.get()).filter(|text| !text.is_empty());
        ActivityFilters {
            actor: text(self.actor),
            action: text(self.action),
            object: text(self.object),
            from: text(self.from),
            to: text(self.to),
            q: text(self.q),
            offset: None,
            limit: None,
        }
    }
}

#[component]
pub fn ActivityAdmin() -> impl IntoView {
    let filters = Filters::new();
    let offset = RwSignal::new(0_i64);
    // A new filter starts again from the newest.
    Effect::new(move |_| {
        for filter in filters.all() {
            filter.track();
        }
        if offset.get_untracked() != 0 {
            offset.set(0);
        }
    });
    let list = use_list(routes::trail::activity, move || {
        let mut query = filters.query();
        query.offset = Some(offset.get());
        query.limit = Some(PAGE);
        query.pairs()
    });
    let csv = move || {
        routes::trail::activity_csv()
            .with_query(&filters.query().pairs())
            .path
    };
    let proof = RwSignal::new(None::<(i64, Result<EventProof, ApiError>)>);
    view! {
        <div class="page-head">
            <h1>"Activity"</h1>
            <a class="button" href=csv download data-testid="activity-csv">"Download CSV"</a>
        </div>
        <div class="filters wrap">
            <input type="search" placeholder="Words in the event…" aria-label="Search the events"
                data-testid="activity-search" bind:value=filters.q/>
            <input type="text" placeholder="Person (username or system)" aria-label="Person"
                data-testid="activity-actor" bind:value=filters.actor/>
            <select aria-label="Kind" data-testid="activity-kind"
                on:change=move |event| filters.action.set(event_target_value(&event))>
                {KINDS.iter().map(|(value, label)| view! { <option value=*value>{*label}</option> }).collect_view()}
            </select>
            <input type="text" placeholder="Object, e.g. change:CHG-42" aria-label="Object"
                bind:value=filters.object/>
            <label class="check">"From (UTC day)" <input type="date" aria-label="From" bind:value=filters.from/></label>
            <label class="check">"To (UTC day)" <input type="date" aria-label="To" bind:value=filters.to/></label>
        </div>
        <ProofPanel proof/>
        <Pager offset list page=PAGE what="activity"/>
        {list_view(list, "No event matches these filters.", move |events| table(events, proof))}
    }
}

fn table(
    events: Vec<ActivityEvent>,
    proof: RwSignal<Option<(i64, Result<EventProof, ApiError>)>>,
) -> AnyView {
    view! {
        <div class="table-box">
            <table class="list" data-testid="activity">
                <thead><tr><th>"#"</th><th>"Time"</th><th>"Person"</th><th>"Action"</th><th>"Object"</th>
                    <th>"Details"</th><th></th></tr></thead>
                <tbody>
                    {events.into_iter().map(|event| {
                        let seq = event.seq;
                        let details = summary(&event.details);
                        view! {
                            <tr data-seq=seq>
                                <td>{seq}</td>
                                <td class="nowrap">{local_time::show(local_time::from_millis(event.at))}</td>
                                <td>{event.actor.clone()}</td>
                                <td><code>{event.action.clone()}</code></td>
                                <td>{event.object.clone().unwrap_or_default()}</td>
                                <td class="details" title=event.details.to_string()>{details}</td>
                                <td><button type="button" class="link-button" data-testid="event-proof"
                                    on:click=move |_| {
                                        proof.set(None);
                                        spawn_local(async move {
                                            proof.set(Some((seq, api::trail::event_proof(seq).await)));
                                        });
                                    }>"Proof"</button></td>
                            </tr>
                        }
                    }).collect_view()}
                </tbody>
            </table>
        </div>
    }
    .into_any()
}

/// The details, short: JSON cut at 160 characters.
fn summary(details: &serde_json::Value) -> String {
    let text = details.to_string();
    if text.chars().count() > 160 {
        format!("{}…", text.chars().take(160).collect::<String>())
    } else {
        text
    }
}

/// The proof of the event last asked for, checked here: its content hashes to its chain hash,
/// which is in the checkpoint's tree.
#[component]
fn ProofPanel(proof: RwSignal<Option<(i64, Result<EventProof, ApiError>)>>) -> impl IntoView {
    move || {
        proof.get().map(|(seq, answer)| {
            let body = match answer {
                Err(error) => view! { <p class="error" role="alert">{error.message()}</p> }.into_any(),
                Ok(proof) => {
                    let checked = proof.check();
                    let checkpoint = proof.checkpoint.clone();
                    view! {
                        {match checked {
                            Ok(()) => view! {
                                <p class="notice" role="status" data-testid="proof-result">
                                    {format!("Event {seq} is in the trail: its content matches its hash, and the hash is leaf {} of the {} events under the checkpoint of {} (checked in this browser). The checkpoint's signature is checked with the trail's public key, kept apart from this server, by Verify a bundle or `changeaudit verify`.",
                                        proof.leaf_index + 1, checkpoint.tree_size, local_time::show(local_time::from_millis(checkpoint.at)))}
                                </p>
                            }.into_any(),
                            Err(why) => view! {
                                <p class="error" role="alert" data-testid="proof-result">{format!("Event {seq} does not verify: {why}.")}</p>
                            }.into_any(),
                        }}
                        <dl class="facts">
                            <dt>"Event hash"</dt><dd><code>{proof.hash.clone()}</code></dd>
                            <dt>"Checkpoint root"</dt><dd><code>{checkpoint.root.clone()}</code></dd>
                            <dt>"Signed by key"</dt><dd><code>{checkpoint.key_id.clone()}</code></dd>
                            <dt>"Audit path"</dt><dd>{format!("{} hashes", proof.proof.len())}</dd>
                        </dl>
                    }.into_any()
                }
            };
            view! {
                <section class="panel" data-testid="proof-panel">
                    <div class="page-head">
                        <h2>{format!("Proof of event {seq}")}</h2>
                        <button type="button" class="link-button" on:click=move |_| proof.set(None)>"Close"</button>
                    </div>
                    {body}
                </section>
            }
        })
    }
}
