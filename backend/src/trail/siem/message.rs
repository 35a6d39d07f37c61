//! What a SIEM receives: each event, and each checkpoint right after the event it completes,
//! as RFC 5424 syslog messages or as one JSON batch.

use changeaudit_shared::export::Checkpoint;
use changeaudit_shared::trail::AuditEvent;
use serde::Serialize;

use crate::clock::Timestamp;

/// Facility 13 ("log audit"), severity 6 (informational).
const PRIORITY: u8 = 13 * 8 + 6;

/// An SD-PARAM value: `"`, `\` and `]` escaped (RFC 5424, section 6.3.3).
fn param(value: &str) -> String {
    let mut escaped = String::with_capacity(value.len());
    for c in value.chars() {
        if matches!(c, '"' | '\\' | ']') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

/// One event as an RFC 5424 message: the action as MSGID, the sequence, actor and object as
/// structured data, and the event with its hash as JSON for the message.
pub fn syslog_message(event: &AuditEvent, hash: &str) -> serde_json::Result<String> {
    let at = rfc3339(event.at);
    let msgid: String = event
        .action
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(32)
        .collect();
    Ok(format!(
        "<{PRIORITY}>1 {at} - changeaudit - {msgid} [changeaudit@32473 seq=\"{}\" actor=\"{}\" object=\"{}\" hash=\"{hash}\"] {}",
        event.seq,
        param(&event.actor),
        param(event.object.as_deref().unwrap_or_default()),
        serde_json::to_string(&Shipped { event, hash })?
    ))
}

/// An event as a SIEM receives it: its fields and its hash.
#[derive(Serialize)]
pub struct Shipped<'a> {
    #[serde(flatten)]
    event: &'a AuditEvent,
    hash: &'a str,
}

/// An HTTP sink's body: the events, and the checkpoints that sign them.
#[derive(Serialize)]
pub struct Batch<'a> {
    pub events: Vec<Shipped<'a>>,
    pub checkpoints: &'a [Checkpoint],
}

impl<'a> Batch<'a> {
    pub fn of(events: &'a [(AuditEvent, String)], checkpoints: &'a [Checkpoint]) -> Batch<'a> {
        let events = events
            .iter()
            .map(|(event, hash)| Shipped { event, hash })
            .collect();
        Batch {
            events,
            checkpoints,
        }
    }
}

/// A checkpoint as an RFC 5424 message: MSGID `trail.checkpoint`, its size, root and key as
/// structured data, and the checkpoint as JSON for the message, as `verify
/// --trusted-checkpoint` takes it.
pub fn checkpoint_message(checkpoint: &Checkpoint) -> serde_json::Result<String> {
    let at = rfc3339(checkpoint.at);
    Ok(format!(
        "<{PRIORITY}>1 {at} - changeaudit - trail.checkpoint [changeaudit@32473 tree_size=\"{}\" root=\"{}\" key_id=\"{}\"] {}",
        checkpoint.tree_size,
        param(&checkpoint.root),
        param(&checkpoint.key_id),
        serde_json::to_string(&serde_json::json!({ "checkpoint": checkpoint }))?
    ))
}

/// Octet-counted frames (RFC 6587) of `events` with each of `checkpoints` right after the
/// event it completes (those over events sent before come first).
pub fn frames(
    events: &[(AuditEvent, String)],
    checkpoints: &[Checkpoint],
) -> Result<Vec<u8>, String> {
    let mut frames = Vec::new();
    let mut push = |message: String| {
        frames.extend_from_slice(format!("{} {message}", message.len()).as_bytes());
    };
    let mut pending = checkpoints.iter().peekable();
    let encoding =
        |what: String| move |error: serde_json::Error| format!("encoding {what}: {error}");
    let first = events.first().map_or(i64::MAX, |(event, _)| event.seq);
    while let Some(checkpoint) =
        pending.next_if(|c| i64::try_from(c.tree_size).unwrap_or(i64::MAX) < first)
    {
        push(
            checkpoint_message(checkpoint)
                .map_err(encoding(format!("checkpoint {}", checkpoint.tree_size)))?,
        );
    }
    for (event, hash) in events {
        push(syslog_message(event, hash).map_err(encoding(format!("event {}", event.seq)))?);
        while let Some(checkpoint) =
            pending.next_if(|c| i64::try_from(c.tree_size).unwrap_or(i64::MAX) <= event.seq)
        {
            push(
                checkpoint_message(checkpoint)
                    .map_err(encoding(format!("checkpoint {}", checkpoint.tree_size)))?,
            );
        }
    }
    Ok(frames)
}

fn rfc3339(millis: i64) -> String {
    Timestamp::from_millis(millis)
        .to_datetime()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| "-".to_owned())
}
