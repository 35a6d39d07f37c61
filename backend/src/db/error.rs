/// What a query can go wrong with, as far as handlers care.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("not found")]
    NotFound,
    /// A uniqueness or reference rule refused the write; `constraint` names it when known.
    #[error("conflict on {constraint}")]
    Conflict { constraint: String },
    #[error(transparent)]
    Other(sqlx::Error),
}

impl DbError {
    /// A stored value that does not read back as what it should be.
    pub fn decode(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        DbError::Other(sqlx::Error::Decode(error.into()))
    }

    /// A value that could not be written as stored text.
    pub fn encode(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        DbError::Other(sqlx::Error::Encode(error.into()))
    }
}

impl From<sqlx::Error> for DbError {
    fn from(error: sqlx::Error) -> Self {
        match error {
            sqlx::Error::RowNotFound => DbError::NotFound,
            sqlx::Error::Database(ref db)
                if db.is_unique_violation() || db.is_foreign_key_violation() =>
            {
                DbError::Conflict {
                    constraint: db
                        .constraint()
                        .map(str::to_owned)
                        .unwrap_or_else(|| db.message().to_owned()),
                }
            }
            other => DbError::Other(other),
        }
    }
}
