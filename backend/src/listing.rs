//! What every list endpoint shares: paging, and filters written once for both databases.

use changeaudit_shared::api::Page;
use serde::Deserialize;
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyConnection, Row};

use crate::clock::Timestamp;
use crate::db::DbError;

pub const DEFAULT_LIMIT: i64 = 50;
pub const MAX_LIMIT: i64 = 200;

/// `?offset=&limit=`: where a page starts and how long it is (at most 200).
#[derive(Debug, Clone, Copy, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Paging {
    /// Items to skip; 0 when absent.
    pub offset: Option<i64>,
    /// Items per page: 50 when absent, at most 200.
    pub limit: Option<i64>,
}

impl Paging {
    pub fn offset(self) -> i64 {
        self.offset.unwrap_or(0).max(0)
    }

    pub fn limit(self) -> i64 {
        self.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
    }

    /// This page of a list of `total` items.
    pub fn page<T>(self, items: Vec<T>, total: i64) -> Page<T> {
        Page {
            items,
            total,
            offset: self.offset(),
            limit: self.limit(),
        }
    }
}

/// A value to bind.
#[derive(Debug, Clone)]
pub enum Arg {
    Int(i64),
    Text(String),
}

/// A `WHERE` clause built from optional filters, with `$n` placeholders numbered as they are
/// added, so one text serves SQLite and PostgreSQL.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    conditions: Vec<String>,
    args: Vec<Arg>,
}

impl Filter {
    /// Adds a condition whose `?` marks (in order) take `args`.
    pub fn and(&mut self, condition: &str, args: impl IntoIterator<Item = Arg>) {
        let mut number = self.args.len();
        self.args.extend(args);
        let text = condition
            .split('?')
            .enumerate()
            .map(|(index, piece)| {
                if index == 0 {
                    piece.to_owned()
                } else {
                    number += 1;
                    format!("${number}{piece}")
                }
            })
            .collect();
        self.conditions.push(text);
    }

    /// `column` contains `text`, whatever the case.
    pub fn contains(&mut self, columns: &[&str], text: &str) {
        let pattern = format!("%{}%", escape_like(&text.to_lowercase()));
        let condition = columns
            .iter()
            .map(|column| format!("LOWER({column}) LIKE ? ESCAPE '\\'"))
            .collect::<Vec<_>>()
            .join(" OR ");
        self.and(
            &format!("({condition})"),
            columns.iter().map(|_| Arg::Text(pattern.clone())),
        );
    }

    pub fn where_clause(&self) -> String {
        if self.conditions.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.conditions.join(" AND "))
        }
    }

    /// The next placeholder's number, for clauses added after the filter.
    pub fn next_placeholder(&self) -> usize {
        self.args.len() + 1
    }

    pub fn bind<'q>(
        &self,
        mut query: Query<'q, Any, AnyArguments<'q>>,
    ) -> Query<'q, Any, AnyArguments<'q>> {
        for arg in &self.args {
            query = match arg {
                Arg::Int(value) => query.bind(*value),
                Arg::Text(value) => query.bind(value.clone()),
            };
        }
        query
    }

    /// How many rows of `from` (a table or join) match.
    pub async fn count(&self, connection: &mut AnyConnection, from: &str) -> Result<i64, DbError> {
        let sql = format!(
            "SELECT COUNT(*) AS total FROM {from}{}",
            self.where_clause()
        );
        let row = self.bind(sqlx::query(&sql)).fetch_one(connection).await?;
        Ok(row.try_get("total")?)
    }
}

/// A text filter as given: trimmed, and none when empty.
pub fn given(value: &Option<String>) -> Option<String> {
    value
        .as_deref()
        .map(str::trim)
        .filter(|value| !value.is_empty())
        .map(str::to_owned)
}

/// Midnight UTC of `day` (`YYYY-MM-DD`), in milliseconds; `None` when it is no such day.
pub fn day_start(day: &str) -> Option<i64> {
    let mut parts = day.splitn(3, '-');
    let mut part = || parts.next().and_then(|part| part.parse::<i32>().ok());
    let (year, month, date) = (part()?, part()?, part()?);
    let month = time::Month::try_from(u8::try_from(month).ok()?).ok()?;
    let date = time::Date::from_calendar_date(year, month, u8::try_from(date).ok()?).ok()?;
    Some(Timestamp::from_datetime(date.midnight().assume_utc()).as_millis())
}

/// Milliseconds in a day: `to` days are taken whole.
pub const DAY_MILLIS: i64 = 24 * 3600 * 1000;

/// `LIKE` treats `%` and `_` as wildcards; a search for them means the characters.
pub fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    escaped
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_placeholders_in_order() {
        let mut filter = Filter::default();
        filter.and("a = ?", [Arg::Int(1)]);
        filter.contains(&["name", "host"], "50%_x");
        filter.and("b BETWEEN ? AND ?", [Arg::Int(2), Arg::Int(3)]);
        assert_eq!(
            filter.where_clause(),
            " WHERE a = $1 AND (LOWER(name) LIKE $2 ESCAPE '\\' OR LOWER(host) LIKE $3 ESCAPE '\\') AND b BETWEEN $4 AND $5"
        );
        assert_eq!(filter.next_placeholder(), 6);
        assert!(matches!(&filter.args[1], Arg::Text(p) if p == "%50\\%\\_x%"));
        assert!(matches!(filter.args[4], Arg::Int(3)));
    }

    #[test]
    fn paging_is_bounded() {
        let paging = Paging {
            offset: Some(-5),
            limit: Some(10_000),
        };
        assert_eq!((paging.offset(), paging.limit()), (0, MAX_LIMIT));
        assert_eq!(Paging::default().limit(), DEFAULT_LIMIT);
    }
}
