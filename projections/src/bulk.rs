//! Multi-row statements: a projector collects the rows of a whole batch and
//! writes them in one `INSERT … VALUES (…), (…), …` per chunk, instead of one
//! statement per event.
//!
//! ```ignore
//! let mut rows = Rows::new("INSERT INTO things_view (id, name, version)", "");
//! for event in events {
//!     rows.push([event.aggregate_id.as_str().into(), name.into(), event.sequence.into()]);
//! }
//! rows.write(conn).await?;
//! ```
//!
//! Rows are written in the order pushed. A projector whose batch mixes
//! inserts with updates of the same rows writes the pending rows first
//! (`write`, which empties the buffer) before each update.

use sqlx::{AnyConnection, Row};

use crate::ProjectionError;

/// One bound value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Text(Option<String>),
    Int(Option<i64>),
}

impl From<String> for Value {
    fn from(value: String) -> Self {
        Value::Text(Some(value))
    }
}

impl From<&str> for Value {
    fn from(value: &str) -> Self {
        Value::Text(Some(value.to_string()))
    }
}

impl From<&String> for Value {
    fn from(value: &String) -> Self {
        Value::Text(Some(value.clone()))
    }
}

impl From<Option<String>> for Value {
    fn from(value: Option<String>) -> Self {
        Value::Text(value)
    }
}

impl From<i64> for Value {
    fn from(value: i64) -> Self {
        Value::Int(Some(value))
    }
}

impl From<Option<i64>> for Value {
    fn from(value: Option<i64>) -> Self {
        Value::Int(value)
    }
}

impl From<bool> for Value {
    fn from(value: bool) -> Self {
        Value::Int(Some(i64::from(value)))
    }
}

/// At most this many bound values per statement (SQLite's and PostgreSQL's
/// limits are far above it; larger statements gain nothing).
const MAX_VALUES: usize = 4_000;

/// The rows of one multi-row statement: `head` names the table and
/// columns, `tail` follows the values (an `ON CONFLICT …` clause, or empty).
#[derive(Debug)]
pub struct Rows {
    head: &'static str,
    tail: &'static str,
    width: usize,
    values: Vec<Value>,
}

impl Rows {
    pub fn new(head: &'static str, tail: &'static str) -> Self {
        Self {
            head,
            tail,
            width: 0,
            values: Vec::new(),
        }
    }

    /// Adds one row; every row has the same number of values.
    pub fn push<const N: usize>(&mut self, row: [Value; N]) {
        debug_assert!(
            self.width == 0 || self.width == N,
            "rows of one statement differ in width"
        );
        self.width = N;
        self.values.extend(row);
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Writes the rows pushed so far, in as few statements as the size
    /// allows, and empties the buffer.
    pub async fn write(&mut self, conn: &mut AnyConnection) -> Result<(), ProjectionError> {
        self.run(conn, false).await.map(drop)
    }

    /// As [`write`](Self::write), for a statement whose `tail` ends in
    /// `RETURNING` one text column: the values returned, over all chunks.
    pub async fn write_returning(&mut self, conn: &mut AnyConnection) -> Result<Vec<String>, ProjectionError> {
        self.run(conn, true).await
    }

    async fn run(&mut self, conn: &mut AnyConnection, returning: bool) -> Result<Vec<String>, ProjectionError> {
        let mut returned = Vec::new();
        if self.values.is_empty() {
            return Ok(returned);
        }
        let per_statement = (MAX_VALUES / self.width).max(1) * self.width;
        let marker = Marker::of(conn);
        let values = std::mem::take(&mut self.values);
        for chunk in values.chunks(per_statement) {
            let sql = self.sql(chunk.len() / self.width, marker);
            let mut query = sqlx::query(&sql);
            for value in chunk {
                query = match value {
                    Value::Text(text) => query.bind(text.clone()),
                    Value::Int(int) => query.bind(*int),
                };
            }
            if returning {
                for row in query.fetch_all(&mut *conn).await? {
                    returned.push(row.try_get::<String, _>(0)?);
                }
            } else {
                query.execute(&mut *conn).await?;
            }
        }
        Ok(returned)
    }

    fn sql(&self, rows: usize, marker: Marker) -> String {
        let mut sql = String::with_capacity(self.head.len() + self.tail.len() + rows * self.width * 6 + 16);
        sql.push_str(self.head);
        sql.push_str(" VALUES ");
        for row in 0..rows {
            sql.push_str(if row == 0 { "(" } else { ", (" });
            for column in 0..self.width {
                if column > 0 {
                    sql.push_str(", ");
                }
                sql.push(marker as u8 as char);
                sql.push_str(&(row * self.width + column + 1).to_string());
            }
            sql.push(')');
        }
        if !self.tail.is_empty() {
            sql.push(' ');
            sql.push_str(self.tail);
        }
        sql
    }
}

/// How a statement numbers its values. SQLite reads `$N` as a *named*
/// parameter and looks each name up among those seen before, which makes
/// a statement of thousands of values quadratic to prepare; `?N` is its
/// numbered form. PostgreSQL knows only `$N`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
enum Marker {
    Dollar = b'$',
    Question = b'?',
}

impl Marker {
    fn of(conn: &AnyConnection) -> Self {
        if conn.backend_name() == <sqlx::Sqlite as sqlx::Database>::NAME {
            Marker::Question
        } else {
            Marker::Dollar
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_statement_numbers_the_values_of_every_row_in_order() {
        let mut rows = Rows::new("INSERT INTO t (a, b)", "ON CONFLICT DO NOTHING");
        rows.push(["x".into(), 1_i64.into()]);
        rows.push(["y".into(), 2_i64.into()]);
        assert_eq!(
            rows.sql(2, Marker::Dollar),
            "INSERT INTO t (a, b) VALUES ($1, $2), ($3, $4) ON CONFLICT DO NOTHING"
        );
        assert_eq!(
            rows.sql(2, Marker::Question),
            "INSERT INTO t (a, b) VALUES (?1, ?2), (?3, ?4) ON CONFLICT DO NOTHING"
        );
    }

    #[test]
    fn optional_values_bind_as_null() {
        assert_eq!(Value::from(None::<String>), Value::Text(None));
        assert_eq!(Value::from(true), Value::Int(Some(1)));
    }
}
