//! Command rules: the store (`command_rules`, tried in `position` order), Admin → Command
//! rules' API in `handlers`, and the rules a session is held to, compiled once as it opens.

pub mod handlers;

use changeaudit_shared::api::command_rules::{
    CommandRule, CommandRuleInput, Criticality, PatternKind, RuleAction, RuleScope,
};
use changeaudit_shared::rules::WordPattern;
use changeaudit_shared::words::Words;
use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Row};

use crate::clock::Timestamp;
use crate::db::{DbError, flag};

const COLUMNS: &str = "id, position, name, pattern_kind, pattern, action, tries, criticality, \
     scope, CAST(CASE WHEN enabled THEN 1 ELSE 0 END AS BIGINT) AS enabled, created_at, updated_at";
/// A regular expression compiles to at most this much: an admin's pattern never costs the
/// server more.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

fn rule_of(row: &AnyRow) -> Result<CommandRule, DbError> {
    let word = |column: &str| -> Result<String, DbError> { Ok(row.try_get(column)?) };
    let unknown =
        |column: &str, text: &str| DbError::decode(format!("a rule's {column} is `{text}`"));
    let kind = word("pattern_kind")?;
    let action = word("action")?;
    let criticality = word("criticality")?;
    let scope = word("scope")?;
    Ok(CommandRule {
        id: row.try_get("id")?,
        position: row.try_get("position")?,
        name: word("name")?,
        pattern_kind: PatternKind::parse(&kind).ok_or_else(|| unknown("pattern_kind", &kind))?,
        pattern: word("pattern")?,
        action: RuleAction::parse(&action).ok_or_else(|| unknown("action", &action))?,
        tries: row.try_get("tries")?,
        criticality: Criticality::parse(&criticality)
            .ok_or_else(|| unknown("criticality", &criticality))?,
        scope: serde_json::from_str(&scope).map_err(DbError::decode)?,
        enabled: flag(row, "enabled")?,
        created_at: Timestamp::from_millis(row.try_get("created_at")?).to_datetime(),
        updated_at: Timestamp::from_millis(row.try_get("updated_at")?).to_datetime(),
    })
}

/// Every rule, in the order they are tried.
pub async fn list(connection: &mut AnyConnection) -> Result<Vec<CommandRule>, DbError> {
    let rows = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM command_rules ORDER BY position, id"
    ))
    .fetch_all(connection)
    .await?;
    rows.iter().map(rule_of).collect()
}

pub async fn view(connection: &mut AnyConnection, id: i64) -> Result<CommandRule, DbError> {
    let row = sqlx::query(&format!(
        "SELECT {COLUMNS} FROM command_rules WHERE id = $1"
    ))
    .bind(id)
    .fetch_one(connection)
    .await?;
    rule_of(&row)
}

/// Stores a new rule, tried after every other.
pub async fn insert(
    connection: &mut AnyConnection,
    input: &CommandRuleInput,
    now: Timestamp,
) -> Result<i64, DbError> {
    let last: Option<i64> = sqlx::query_scalar("SELECT MAX(position) FROM command_rules")
        .fetch_one(&mut *connection)
        .await?;
    let query = sqlx::query(
        "INSERT INTO command_rules (position, name, pattern_kind, pattern, action, tries,
             criticality, scope, enabled, updated_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
    )
    .bind(last.unwrap_or(0) + 1);
    let row = with_input(query, input, now)?.fetch_one(connection).await?;
    Ok(row.try_get("id")?)
}

/// Binds the input's columns, and `now` as the time it was last written, from `$2` to `$10`.
fn with_input<'q>(
    query: Query<'q, Any, AnyArguments<'q>>,
    input: &'q CommandRuleInput,
    now: Timestamp,
) -> Result<Query<'q, Any, AnyArguments<'q>>, DbError> {
    Ok(query
        .bind(input.name.trim())
        .bind(input.pattern_kind.as_str())
        .bind(input.pattern.trim())
        .bind(input.action.as_str())
        .bind(input.tries)
        .bind(input.criticality.as_str())
        .bind(scope_json(&input.scope)?)
        .bind(input.enabled)
        .bind(now.as_millis()))
}

pub async fn update(
    connection: &mut AnyConnection,
    id: i64,
    input: &CommandRuleInput,
    now: Timestamp,
) -> Result<(), DbError> {
    let query = sqlx::query(
        "UPDATE command_rules SET name = $2, pattern_kind = $3, pattern = $4, action = $5,
             tries = $6, criticality = $7, scope = $8, enabled = $9, updated_at = $10
         WHERE id = $1",
    )
    .bind(id);
    with_input(query, input, now)?.execute(connection).await?;
    Ok(())
}

/// Puts the rules in the order of `ids`, which names each of them once, numbered from 1.
pub async fn reorder(connection: &mut AnyConnection, ids: &[i64]) -> Result<(), DbError> {
    for (place, id) in ids.iter().enumerate() {
        sqlx::query("UPDATE command_rules SET position = $2 WHERE id = $1")
            .bind(id)
            .bind(i64::try_from(place).unwrap_or(i64::MAX) + 1)
            .execute(&mut *connection)
            .await?;
    }
    Ok(())
}

fn scope_json(scope: &RuleScope) -> Result<String, DbError> {
    serde_json::to_string(scope).map_err(DbError::encode)
}

/// A rule ready to be matched.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub rule: CommandRule,
    matcher: Matcher,
}

#[derive(Debug, Clone)]
enum Matcher {
    Words(WordPattern),
    Regex(regex::Regex),
}

impl Compiled {
    pub fn new(rule: CommandRule) -> Result<Compiled, String> {
        let matcher = match rule.pattern_kind {
            PatternKind::Words => Matcher::Words(WordPattern::parse(&rule.pattern)?),
            PatternKind::Regex => Matcher::Regex(compile_regex(&rule.pattern)?),
        };
        Ok(Compiled { rule, matcher })
    }

    /// Whether `line` meets the rule: its words, or the regular expression over the line's
    /// words joined by single spaces (quoting and spacing aside, as the board compares).
    pub fn matches(&self, line: &str) -> bool {
        match &self.matcher {
            Matcher::Words(pattern) => pattern.matches(line),
            Matcher::Regex(regex) => regex.is_match(&Words::parse_lenient(line).to_string()),
        }
    }
}

pub fn compile_regex(pattern: &str) -> Result<regex::Regex, String> {
    regex::RegexBuilder::new(pattern)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|error| error.to_string())
}

/// The first of `rules` that `line` meets.
pub fn first_match<'a>(rules: &'a [Compiled], line: &str) -> Option<&'a Compiled> {
    rules.iter().find(|rule| rule.matches(line))
}

/// What a session is, for the rules' scopes.
pub struct Session<'a> {
    pub group_ids: &'a [i64],
    /// The device's tags.
    pub tags: &'a [String],
    pub credential_id: i64,
}

/// The enabled rules that apply to `session`, in order.
pub async fn for_session(
    connection: &mut AnyConnection,
    session: &Session<'_>,
) -> Result<Vec<Compiled>, DbError> {
    let applicable = list(connection)
        .await?
        .into_iter()
        .filter(|rule| match &rule.scope {
            RuleScope::Everywhere => true,
            RuleScope::Group { group_id } => session.group_ids.contains(group_id),
            RuleScope::DeviceTag { tag } => {
                session.tags.iter().any(|t| t.eq_ignore_ascii_case(tag))
            }
            RuleScope::Credential { credential_id } => *credential_id == session.credential_id,
        });
    compiled(applicable)
}

/// The enabled ones of `rules`, compiled. A stored rule that does not compile (each is checked
/// when saved, so it was written behind the server's back) is an error, never left out: a
/// session would otherwise go unguarded by it.
pub fn compiled(rules: impl IntoIterator<Item = CommandRule>) -> Result<Vec<Compiled>, DbError> {
    rules
        .into_iter()
        .filter(|rule| rule.enabled)
        .map(|rule| {
            let id = rule.id;
            Compiled::new(rule).map_err(|error| {
                DbError::decode(format!("command rule {id} does not compile: {error}"))
            })
        })
        .collect()
}
