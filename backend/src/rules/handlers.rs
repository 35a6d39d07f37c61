//! Admin → Command rules: `GET/POST /api/command-rules`, `PUT/DELETE /api/command-rules/{id}`,
//! `PUT /api/command-rules/{id}/position` and `POST /api/command-rules/test`, the live tester. Every
//! change to a rule is in the trail with the rule before and after.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use changeaudit_shared::api::command_rules::{
    CommandRule, CommandRuleInput, PatternKind, RulePosition, RuleScope, RuleTest, RuleTestAnswer,
};
use changeaudit_shared::problem::Problem;
use changeaudit_shared::role::Role;
use serde_json::json;
use sqlx::AnyConnection;

use super::{compile_regex, compiled, first_match, insert, list, reorder, update, view};
use crate::auth::CurrentUser;
use crate::error::{ApiJson, ApiPath, AppError};
use crate::state::AppState;
use crate::trail::audit::{self, NewEvent};

/// Who reads the rules: admins, who write them, and auditors, who judge by them.
const READERS: [Role; 2] = [Role::Admin, Role::Auditor];

#[utoipa::path(get, path = "/api/command-rules", tag = "command rules",
    responses((status = 200, body = Vec<CommandRule>), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn list_rules(
    State(state): State<AppState>,
    me: CurrentUser,
) -> Result<Json<Vec<CommandRule>>, AppError> {
    me.require_any(&READERS)?;
    let mut connection = state.db.pool().acquire().await?;
    Ok(Json(list(&mut connection).await?))
}

#[utoipa::path(post, path = "/api/command-rules", tag = "command rules", request_body = CommandRuleInput,
    responses((status = 201, body = CommandRule), (status = 401, body = Problem), (status = 403, body = Problem), (status = 422, body = Problem)))]
pub async fn create_rule(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiJson(input): ApiJson<CommandRuleInput>,
) -> Result<(StatusCode, Json<CommandRule>), AppError> {
    me.require(Role::Admin)?;
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    check(&mut tx, &input).await?;
    let id = insert(&mut tx, &input, now).await?;
    let created = view(&mut tx, id).await?;
    let details = json!({ "after": created });
    audit::append(
        &mut tx,
        event(&me, "command_rule.created", id, details),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(created)))
}

#[utoipa::path(put, path = "/api/command-rules/{id}", tag = "command rules", params(("id" = i64, Path)),
    request_body = CommandRuleInput,
    responses((status = 200, body = CommandRule), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn update_rule(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(input): ApiJson<CommandRuleInput>,
) -> Result<Json<CommandRule>, AppError> {
    me.require(Role::Admin)?;
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let before = view(&mut tx, id).await?;
    check(&mut tx, &input).await?;
    update(&mut tx, id, &input, now).await?;
    let after = view(&mut tx, id).await?;
    let details = json!({ "before": before, "after": after });
    audit::append(
        &mut tx,
        event(&me, "command_rule.updated", id, details),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(Json(after))
}

#[utoipa::path(delete, path = "/api/command-rules/{id}", tag = "command rules", params(("id" = i64, Path)),
    responses((status = 204), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn delete_rule(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<i64>,
) -> Result<StatusCode, AppError> {
    me.require(Role::Admin)?;
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let before = view(&mut tx, id).await?;
    sqlx::query("DELETE FROM command_rules WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    // The others close up, so positions stay 1 to n.
    sqlx::query("UPDATE command_rules SET position = position - 1 WHERE position > $1")
        .bind(before.position)
        .execute(&mut *tx)
        .await?;
    let details = json!({ "before": before });
    audit::append(
        &mut tx,
        event(&me, "command_rule.deleted", id, details),
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(put, path = "/api/command-rules/{id}/position", tag = "command rules", params(("id" = i64, Path)),
    request_body = RulePosition,
    responses((status = 200, body = Vec<CommandRule>), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 422, body = Problem)))]
pub async fn move_rule(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiPath(id): ApiPath<i64>,
    ApiJson(to): ApiJson<RulePosition>,
) -> Result<Json<Vec<CommandRule>>, AppError> {
    me.require(Role::Admin)?;
    if to.position < 1 {
        return Err(AppError::field("position", "must be 1 or more"));
    }
    let now = state.clock.now();
    let mut tx = state.db.begin_write().await?;
    let moved = view(&mut tx, id).await?;
    let mut ids: Vec<i64> = list(&mut tx).await?.iter().map(|rule| rule.id).collect();
    ids.retain(|other| *other != id);
    let place = usize::try_from(to.position - 1)
        .unwrap_or(usize::MAX)
        .min(ids.len());
    ids.insert(place, id);
    reorder(&mut tx, &ids).await?;
    let details = json!({ "from": moved.position, "to": place + 1, "order": ids });
    audit::append(&mut tx, event(&me, "command_rule.moved", id, details), now).await?;
    let rules = list(&mut tx).await?;
    tx.commit().await?;
    Ok(Json(rules))
}

#[utoipa::path(post, path = "/api/command-rules/test", tag = "command rules", request_body = RuleTest,
    responses((status = 200, body = RuleTestAnswer), (status = 401, body = Problem), (status = 403, body = Problem)))]
pub async fn test_rules(
    State(state): State<AppState>,
    me: CurrentUser,
    ApiJson(test): ApiJson<RuleTest>,
) -> Result<Json<RuleTestAnswer>, AppError> {
    me.require_any(&READERS)?;
    let mut connection = state.db.pool().acquire().await?;
    let rules = compiled(list(&mut connection).await?)?;
    let rule = first_match(&rules, &test.line).map(|found| found.rule.clone());
    Ok(Json(RuleTestAnswer { rule }))
}

fn event<'a>(
    me: &'a CurrentUser,
    action: &'static str,
    id: i64,
    details: serde_json::Value,
) -> NewEvent<'a> {
    NewEvent::by(
        &me.0.username,
        action,
        format!("command_rule:{id}"),
        details,
    )
}

/// Every rule of a rule's body: the shared checker's, its regular expression, and that its
/// scope names something that exists.
async fn check(connection: &mut AnyConnection, input: &CommandRuleInput) -> Result<(), AppError> {
    input.check()?;
    check_pattern(input)?;
    check_scope(connection, &input.scope).await
}

fn check_pattern(input: &CommandRuleInput) -> Result<(), AppError> {
    if input.pattern_kind == PatternKind::Regex
        && let Err(reason) = compile_regex(input.pattern.trim())
    {
        return Err(AppError::field(
            "pattern",
            format!("is not a regular expression: {reason}"),
        ));
    }
    Ok(())
}

/// The group or credential a scope names exists.
async fn check_scope(connection: &mut AnyConnection, scope: &RuleScope) -> Result<(), AppError> {
    let (table, id, field) = match scope {
        RuleScope::Group { group_id } => ("access_groups", *group_id, "scope.group_id"),
        RuleScope::Credential { credential_id } => {
            ("credentials", *credential_id, "scope.credential_id")
        }
        RuleScope::Everywhere | RuleScope::DeviceTag { .. } => return Ok(()),
    };
    let found: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE id = $1"))
        .bind(id)
        .fetch_one(connection)
        .await?;
    if found == 0 {
        return Err(AppError::field(
            field,
            format!("names no {}", table.replace('_', " ")),
        ));
    }
    Ok(())
}
