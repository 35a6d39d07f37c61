//! Admin → Command rules.

use changeaudit_shared::api::command_rules::{
    CommandRule, CommandRuleInput, RulePosition, RuleTest, RuleTestAnswer,
};
use changeaudit_shared::api::routes::command_rules;

use super::{ApiError, fetch, send};

/// Every rule, in the order they are tried.
pub async fn list() -> Result<Vec<CommandRule>, ApiError> {
    fetch(command_rules::list()).await
}

/// Saves a rule: a new one, tried after every other, without `id`.
pub async fn save(id: Option<i64>, input: &CommandRuleInput) -> Result<CommandRule, ApiError> {
    match id {
        Some(id) => send(command_rules::update(id), input).await,
        None => send(command_rules::create(), input).await,
    }
}

pub async fn delete(id: i64) -> Result<(), ApiError> {
    fetch(command_rules::delete(id)).await
}

/// Puts rule `id` at `position` (from 1) in the order.
pub async fn move_to(id: i64, position: i64) -> Result<Vec<CommandRule>, ApiError> {
    send(command_rules::move_to(id), &RulePosition { position }).await
}

/// The first enabled rule `line` meets, whatever its scope.
pub async fn test(line: &str) -> Result<Option<CommandRule>, ApiError> {
    let test = RuleTest {
        line: line.to_owned(),
    };
    send(command_rules::test(), &test)
        .await
        .map(|answer: RuleTestAnswer| answer.rule)
}
