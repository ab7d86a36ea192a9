//! The sessions this node issues (`SessionIssuer`): an operator's, once
//! their password checks out against this node's database, and a
//! moviegoer's, for a name. And operators' accounts in every node's
//! database (`moviebook operator add`, and the first `moviebook up`).

use super::{passwords, SessionKeys};
use crate::secret::Secret;
use crate::store::{self, Store};
use app::access::{MoviegoerSession, OperatorSession};
use app::error::{ApiError, ErrorCode};
use app::rules;
use app::service::Sessions;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A failed sign-in is answered no sooner than this after it was asked:
/// guessing is slow, and the answer's timing does not tell a wrong name
/// from a wrong password.
const FAILED_SIGN_IN_TAKES: Duration = Duration::from_secs(1);

pub struct SessionIssuer {
    pub store: Store,
    pub keys: Arc<SessionKeys>,
}

#[async_trait::async_trait]
impl Sessions for SessionIssuer {
    fn moviegoer(&self, user_id: Option<&str>, name: &str) -> Result<MoviegoerSession, ApiError> {
        let name = rules::normalize_user_name(name)?;
        let user_id = match user_id {
            Some(id) => id.to_string(),
            None => format!("u-{}", uuid::Uuid::new_v4().simple()),
        };
        let now = chrono::Utc::now().timestamp();
        Ok(self.keys.issue_moviegoer(&user_id, &name, now))
    }

    async fn sign_in_operator(
        &self,
        name: &str,
        password: &str,
    ) -> Result<OperatorSession, ApiError> {
        let asked = Instant::now();
        let name = rules::normalize_operator_name(name)?;
        rules::validate_password(password)?;
        let stored = self
            .store
            .operator_password_hash(&name)
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "could not read an operator's account");
                ApiError::new(
                    ErrorCode::Unavailable,
                    "Signing in is not possible right now.",
                )
            })?;
        let password = password.to_string();
        let genuine = tokio::task::spawn_blocking(move || {
            stored.is_some_and(|stored| passwords::verify(&password, &stored))
        })
        .await
        .unwrap_or(false);
        if genuine {
            tracing::info!(operator = %name, "operator signed in");
            return Ok(self
                .keys
                .issue_operator(&name, chrono::Utc::now().timestamp()));
        }
        tracing::warn!(operator = %name, "failed operator sign-in");
        tokio::time::sleep_until((asked + FAILED_SIGN_IN_TAKES).into()).await;
        Err(ApiError::new(
            ErrorCode::SignInRequired,
            "Wrong operator name or password.",
        ))
    }
}

/// Creates operator `name` with `password` in every node database on the
/// server `admin_url` names, or sets its password where it exists. Returns
/// how many databases it was written to.
pub async fn add_everywhere(admin_url: &str, name: &str, password: &str) -> anyhow::Result<usize> {
    let databases = node_stores(admin_url).await?;
    if databases.is_empty() {
        anyhow::bail!("no node database on this server yet: run `moviebook up` once first");
    }
    let written = write_account(&databases, name, password).await;
    close_all(&databases).await;
    written.map(|()| databases.len())
}

/// Makes every node database on the server hold every operator account
/// any of them holds (the one set last, where they differ), so an operator
/// signs in through whichever node the gateway picks; and, where there is
/// none at all, creates `admin` with `password` (or a new one). Returns the
/// password of an account it created.
pub async fn every_node_knows_every_operator(
    admin_url: &str,
    password: Option<&Secret>,
) -> anyhow::Result<Option<String>> {
    let databases = node_stores(admin_url).await?;
    let outcome = share_accounts(&databases, password).await;
    close_all(&databases).await;
    outcome
}

async fn share_accounts(
    databases: &[Store],
    password: Option<&Secret>,
) -> anyhow::Result<Option<String>> {
    let mut held: Vec<BTreeSet<String>> = Vec::with_capacity(databases.len());
    let mut accounts: BTreeMap<String, String> = BTreeMap::new();
    for db in databases {
        let operators = db.operators().await?;
        held.push(operators.iter().map(|(name, _)| name.clone()).collect());
        for (name, hash) in operators {
            accounts.entry(name).or_insert(hash);
        }
    }
    if accounts.is_empty() {
        let password = match password {
            Some(password) => password.expose().to_string(),
            None => uuid::Uuid::new_v4().simple().to_string(),
        };
        write_account(databases, FIRST_OPERATOR, &password).await?;
        return Ok(Some(password));
    }
    for (db, held) in databases.iter().zip(&held) {
        for (name, hash) in accounts.iter().filter(|(name, _)| !held.contains(*name)) {
            db.set_operator(name, hash).await?;
        }
    }
    Ok(None)
}

/// Writes operator `name` with `password`, checked and hashed once, to
/// every one of `databases`.
async fn write_account(databases: &[Store], name: &str, password: &str) -> anyhow::Result<()> {
    let name =
        rules::normalize_operator_name(name).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    rules::validate_new_password(password).map_err(|e| anyhow::anyhow!("{}", e.message))?;
    let password = password.to_string();
    let hash = tokio::task::spawn_blocking(move || passwords::hash(&password)).await??;
    for db in databases {
        db.set_operator(&name, &hash).await?;
    }
    Ok(())
}

async fn close_all(databases: &[Store]) {
    for db in databases {
        db.pool().close().await;
    }
}

/// The operator the first run creates.
pub const FIRST_OPERATOR: &str = "admin";

/// Every node database on the server, migrated.
async fn node_stores(admin_url: &str) -> anyhow::Result<Vec<Store>> {
    let mut stores = Vec::new();
    for database in store::node_databases(admin_url).await? {
        let db = Store::connect(&store::url_with_database(admin_url, &database), 1).await?;
        db.migrate().await?;
        stores.push(db);
    }
    Ok(stores)
}
