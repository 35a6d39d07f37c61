//! Admin → Activity: who did what, when, read from the trail itself (admins and auditors),
//! newest first, filtered by actor, kind of action, object and days, searched, and downloaded as
//! CSV. Each event's inclusion proof is `GET /api/trail/events/{seq}`.

use std::collections::BTreeMap;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use changeaudit_shared::api::Page;
use changeaudit_shared::api::trail::{ActivityEvent, ActivityFilters};
use changeaudit_shared::problem::Problem;
use changeaudit_shared::role::Role;
use serde_json::json;
use sqlx::AnyConnection;
use sqlx::any::AnyRow;
use time::format_description::well_known::Rfc3339;

use crate::auth::CurrentUser;
use crate::clock::Timestamp;
use crate::db::{Database, DbError};
use crate::error::{ApiQuery, AppError};
use crate::listing::{Arg, DAY_MILLIS, Filter, Paging, day_start};
use crate::state::AppState;
use crate::trail::audit::{self, NewEvent};

const READERS: &[Role] = &[Role::Admin, Role::Auditor];
/// Rows read at a time while a CSV is written.
const CSV_BATCH: i64 = 2000;
/// The most rows one CSV holds: more matching is refused, to be asked for in parts.
const CSV_MOST: i64 = 200_000;

/// The filters as SQL over `audit_events`, each malformed one refused by name.
fn filter_of(filters: &ActivityFilters) -> Result<Filter, AppError> {
    let mut filter = Filter::default();
    let text = crate::listing::given;
    if let Some(actor) = text(&filters.actor) {
        filter.and("actor = ?", [Arg::Text(actor)]);
    }
    // `change` is a kind: it means `change.…` of actions and `change:…` of objects.
    if let Some(action) = text(&filters.action) {
        let kind = format!("{}.%", crate::listing::escape_like(&action));
        filter.and(
            "(action = ? OR action LIKE ? ESCAPE '\\')",
            [Arg::Text(action), Arg::Text(kind)],
        );
    }
    if let Some(object) = text(&filters.object) {
        let kind = format!("{}:%", crate::listing::escape_like(&object));
        filter.and(
            "(object = ? OR object LIKE ? ESCAPE '\\')",
            [Arg::Text(object), Arg::Text(kind)],
        );
    }
    let day = |field: &'static str, value: &str| {
        day_start(value).ok_or_else(|| AppError::field(field, "must be a day as YYYY-MM-DD"))
    };
    if let Some(from) = text(&filters.from) {
        filter.and("at >= ?", [Arg::Int(day("from", &from)?)]);
    }
    if let Some(to) = text(&filters.to) {
        let end = day("to", &to)?.saturating_add(DAY_MILLIS);
        filter.and("at < ?", [Arg::Int(end)]);
    }
    if let Some(q) = text(&filters.q) {
        filter.contains(&["actor", "action", "object", "details"], &q);
    }
    Ok(filter)
}

fn event_of(row: &AnyRow) -> Result<ActivityEvent, DbError> {
    let (event, _) = audit::event_of(row)?;
    Ok(ActivityEvent {
        seq: event.seq,
        at: event.at,
        actor: event.actor,
        action: event.action,
        object: event.object,
        details: event.details,
    })
}

const COLUMNS: &str = "seq, at, actor, action, object, details, prev_hash, hash";

/// The events `filter` keeps, newest first, from `offset`.
async fn events(
    connection: &mut AnyConnection,
    filter: &Filter,
    limit: i64,
    offset: i64,
) -> Result<Vec<ActivityEvent>, DbError> {
    let next = filter.next_placeholder();
    let sql = format!(
        "SELECT {COLUMNS} FROM audit_events{} ORDER BY seq DESC LIMIT ${next} OFFSET ${}",
        filter.where_clause(),
        next + 1
    );
    let rows = filter
        .bind(sqlx::query(&sql))
        .bind(limit)
        .bind(offset)
        .fetch_all(connection)
        .await?;
    rows.iter().map(event_of).collect()
}

#[utoipa::path(get, path = "/api/trail/activity", tag = "trail", params(ActivityFilters),
    responses((status = 200, body = Page<ActivityEvent>), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 422, body = Problem)))]
pub async fn activity(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiQuery(filters): ApiQuery<ActivityFilters>,
) -> Result<Json<Page<ActivityEvent>>, AppError> {
    me.require_any(READERS)?;
    let filter = filter_of(&filters)?;
    let paging = Paging {
        offset: filters.offset,
        limit: filters.limit,
    };
    let mut connection = state.db.pool().acquire().await?;
    let total = filter.count(&mut connection, "audit_events").await?;
    let items = events(&mut connection, &filter, paging.limit(), paging.offset()).await?;
    Ok(Json(paging.page(items, total)))
}

#[utoipa::path(get, path = "/api/trail/activity/csv", tag = "trail", params(ActivityFilters),
    description = "The events the filters keep, newest first, up to the last event when asked, as CSV: seq, time (RFC 3339, UTC), actor, action, object, details (JSON). More than 200,000 matching is refused (409): narrow the filters. A cell that a spreadsheet would read as a formula starts with an apostrophe. The download is itself audited (`trail.activity_exported`, with the filters, the last event it holds and how many).",
    responses((status = 200, body = String, content_type = "text/csv"), (status = 401, body = Problem),
        (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn activity_csv(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiQuery(filters): ApiQuery<ActivityFilters>,
) -> Result<Response, AppError> {
    me.require_any(READERS)?;
    let mut filter = filter_of(&filters)?;
    let mut connection = state.db.pool().acquire().await?;
    // What the file holds is pinned first: the events up to the last one now, which the audit
    // of the download names and counts; those appended meanwhile are left out of both.
    let last: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(seq), 0) FROM audit_events")
        .fetch_one(&mut *connection)
        .await
        .map_err(DbError::from)?;
    filter.and("seq <= ?", [Arg::Int(last)]);
    let matching = filter.count(&mut connection, "audit_events").await?;
    drop(connection);
    if matching > CSV_MOST {
        return Err(AppError::rule(
            "filters",
            format!(
                "{matching} events match, and one download holds at most {CSV_MOST}: narrow the \
                 days, the person or the kind"
            ),
        ));
    }
    let mut asked: BTreeMap<_, _> = filters.pairs().into_iter().collect();
    asked.remove("offset");
    asked.remove("limit");
    let event = NewEvent {
        actor: audit::Actor::User(&me.0.username),
        action: "trail.activity_exported",
        object: None,
        details: json!({ "filters": asked, "up_to_seq": last, "events": matching }),
    };
    audit::record(&state.db, event, state.clock.now()).await?;
    let reading = Reading {
        db: state.db.clone(),
        filter,
        before: None,
        header: true,
        failed: false,
    };
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"changeaudit-activity.csv\"",
            ),
        ],
        Body::from_stream(futures_util::stream::unfold(reading, Reading::next)),
    )
        .into_response())
}

/// A CSV download under way: a batch at a time, each below the last event sent, so that
/// events appended meanwhile neither shift nor repeat a row.
struct Reading {
    db: Database,
    filter: Filter,
    before: Option<i64>,
    header: bool,
    failed: bool,
}

impl Reading {
    async fn next(mut self) -> Option<(Result<String, DbError>, Reading)> {
        if self.header {
            self.header = false;
            return Some((
                Ok("seq,time,actor,action,object,details\r\n".to_owned()),
                self,
            ));
        }
        if self.failed {
            return None;
        }
        let mut filter = self.filter.clone();
        if let Some(before) = self.before {
            filter.and("seq < ?", [Arg::Int(before)]);
        }
        let batch = match self.db.pool().acquire().await {
            Ok(mut connection) => events(&mut connection, &filter, CSV_BATCH, 0).await,
            Err(error) => Err(error.into()),
        };
        let batch = match batch {
            Ok(batch) if batch.is_empty() => return None,
            Ok(batch) => batch,
            Err(error) => {
                // Cut short, the download fails in the browser rather than looking whole.
                self.failed = true;
                return Some((Err(error), self));
            }
        };
        self.before = batch.last().map(|event| event.seq);
        let text = batch.iter().map(csv_line).collect::<String>();
        Some((Ok(text), self))
    }
}

/// One event as a CSV line (RFC 4180).
fn csv_line(event: &ActivityEvent) -> String {
    let time = Timestamp::from_millis(event.at)
        .to_datetime()
        .format(&Rfc3339)
        .unwrap_or_default();
    let cells = [
        event.seq.to_string(),
        time,
        event.actor.clone(),
        event.action.clone(),
        event.object.clone().unwrap_or_default(),
        event.details.to_string(),
    ];
    let mut line = cells
        .iter()
        .map(|cell| csv_cell(cell))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

/// A cell quoted when it must be, and never read as a formula: what a device printed or a
/// person typed reaches the details, and a spreadsheet would run `=…`, `+…`, `-…` or `@…`.
fn csv_cell(cell: &str) -> String {
    let guarded = if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{cell}")
    } else {
        cell.to_owned()
    };
    if guarded.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_when_they_must_be_and_never_read_as_formulas() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_cell("two\nlines"), "\"two\nlines\"");
        assert_eq!(csv_cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("@SUM(A1)"), "'@SUM(A1)");
    }
}
