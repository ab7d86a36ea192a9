//! Operators' accounts: a name and the Argon2id hash of a password.

use super::{Store, StoreResult};

impl Store {
    /// Creates operator `name`, or gives it a new password hash.
    pub async fn set_operator(&self, name: &str, password_hash: &str) -> StoreResult<()> {
        sqlx::query(
            "INSERT INTO operators (name, password_hash) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET password_hash = $2, updated_at = now()",
        )
        .bind(name)
        .bind(password_hash)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// The stored hash of operator `name`'s password, if there is one.
    pub async fn operator_password_hash(&self, name: &str) -> StoreResult<Option<String>> {
        Ok(
            sqlx::query_scalar("SELECT password_hash FROM operators WHERE name = $1")
                .bind(name)
                .fetch_optional(&self.pool)
                .await?,
        )
    }

    /// Every operator's name and password hash, the latest set first.
    pub async fn operators(&self) -> StoreResult<Vec<(String, String)>> {
        Ok(sqlx::query_as(
            "SELECT name, password_hash FROM operators ORDER BY updated_at DESC, name",
        )
        .fetch_all(&self.pool)
        .await?)
    }
}
