//! API clients and OAuth2 access tokens (the client credentials grant).
//!
//! An operator creates a client (id, secret, allowed scopes) offline with
//! the CLI; the client exchanges its credentials for an opaque bearer token
//! at `/oauth/token`; every API call presents the token and is checked with
//! [`authenticate`] and [`Grant::allows`]. Secrets are kept only as a slow
//! salted hash, tokens only as their SHA-256, so a copy of the store yields
//! neither. Time comes in as `now_ms`; this layer reads no clock.
//!
//! Revoking a client deletes its row. Its tokens stay stored until
//! [`purge_tokens`] removes them (the server runs it periodically, see
//! [`purger`]), but stop working at once: a token names
//! the client's per-creation `uid`, and [`authenticate`] checks that the
//! client still exists with that uid. A server keeps the grants it checked
//! in a [`GrantCache`], which every revocation in the process invalidates
//! (see the `grants` module for why that is safe).
//!
//! | table   | key                              | value                |
//! |---------|----------------------------------|----------------------|
//! | Clients | client id (UTF-8)                | client row (JSON, v1) |
//! | Tokens  | SHA-256 of the access token text | token row (JSON, v1)  |
//!
//! Creating a client is a read then a write:
//! two concurrent creations of the same id could both succeed (the last
//! wins); clients are created by one operator command at a time.

mod grants;
pub mod purger;
mod records;
mod scope;
mod secret;
#[cfg(test)]
mod tests;

pub use grants::{GRANT_CACHE_ENTRIES_MAX, GrantCache};
pub use records::FORMAT_V1;
pub use scope::{Permission, Scope, ScopeError};
pub use secret::{SECRET_HASH_ITERATIONS, Secret, TOKEN_CHARS};

use payledger_domain::ProjectKey;
use payledger_store::{EventStore, KvWrite, StoreError, Table};
use records::{Client, Token};
use scope::{scope_text, scope_words};
use secret::{SecretHash, new_token, token_hash, token_shape_ok};
use std::collections::HashMap;

/// Longest client id, in bytes.
pub const CLIENT_ID_BYTES_MAX: usize = 128;
/// Longest client secret, in bytes.
pub const CLIENT_SECRET_BYTES_MAX: usize = 256;
/// Most scopes a client may hold, and most a token request may name.
pub const SCOPES_PER_CLIENT_MAX: usize = 64;
/// Most clients [`list_clients`] returns.
pub const CLIENTS_LISTED_MAX: usize = 10_000;
/// Token rows [`purge_tokens`] reads per store scan.
pub const TOKENS_PER_SCAN_MAX: usize = 1_024;
/// Token rows [`revoke_client_and_purge`] reads to delete the revoked
/// client's tokens.
pub const TOKENS_SCANNED_PER_REVOKE_MAX: usize = 10_000_000;

/// The OAuth2 grant types this server knows.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum GrantType {
    ClientCredentials,
}

impl GrantType {
    /// Parses the `grant_type` parameter.
    pub fn parse(text: &str) -> Result<Self, AuthError> {
        match text {
            "client_credentials" => Ok(Self::ClientCredentials),
            other => Err(AuthError::UnsupportedGrantType {
                grant_type: other.to_owned(),
            }),
        }
    }
}

/// Why a token was not issued or not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Unknown client id or wrong secret (deliberately not told apart).
    #[error("client authentication failed")]
    InvalidClient,
    #[error("the scope `{scope}` is unknown, malformed or not allowed for this client")]
    InvalidScope { scope: String },
    #[error("the grant type `{grant_type}` is not supported (use client_credentials)")]
    UnsupportedGrantType { grant_type: String },
    /// Malformed or unknown token.
    #[error("the access token is invalid")]
    InvalidToken,
    #[error("the access token has expired")]
    Expired,
    /// The token's client was revoked (or replaced by a new client with the
    /// same id).
    #[error("the access token's client was revoked")]
    Revoked,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Why a client was not created or revoked.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error(
        "client id must be 1 to {CLIENT_ID_BYTES_MAX} bytes of ASCII letters, digits, `.`, `_` or `-`"
    )]
    InvalidId,
    #[error("client secret must be 1 to {CLIENT_SECRET_BYTES_MAX} bytes")]
    InvalidSecret,
    #[error("invalid scope `{scope}`: {reason}")]
    InvalidScope { scope: String, reason: ScopeError },
    #[error("a client needs at least one scope, such as manage_project:my-shop")]
    NoScopes,
    #[error("a client holds at most {SCOPES_PER_CLIENT_MAX} scopes, got {count}")]
    TooManyScopes { count: usize },
    #[error("a client with id `{id}` already exists")]
    Duplicate { id: String },
    #[error("no client with id `{id}` exists")]
    NotFound { id: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A client as listed: never its secret.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ClientInfo {
    pub id: String,
    /// Allowed scopes, space separated.
    pub scope: String,
    pub created_at_ms: u64,
}

/// A freshly issued token.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct IssuedToken {
    pub access_token: Secret,
    pub expires_in: u64,
    /// The granted scopes: exactly the requested text, or the client's full
    /// scope list when none was requested.
    pub scope: String,
}

/// What a valid token grants.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct Grant {
    pub client_id: String,
    pub scopes: Vec<Scope>,
    pub expires_at_ms: u64,
}

impl Grant {
    /// Whether the token may use `permission` in `project`.
    pub fn allows(&self, project: &ProjectKey, permission: Permission) -> bool {
        let wanted = Scope::new(permission, project.clone());
        self.scopes.iter().any(|held| held.implies(&wanted))
    }
}

/// What [`purge_tokens`] did.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct PurgeReport {
    pub scanned: usize,
    pub deleted: usize,
    /// False when `scanned_max` stopped the pass before the end.
    pub complete: bool,
}

/// Whether `id` is a well-formed client id: 1 to [`CLIENT_ID_BYTES_MAX`]
/// bytes of ASCII letters, digits, `.`, `_` or `-`.
pub fn client_id_ok(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= CLIENT_ID_BYTES_MAX
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

fn secret_ok(secret: &Secret) -> bool {
    let len = secret.expose().len();
    (1..=CLIENT_SECRET_BYTES_MAX).contains(&len)
}

/// Parses a client's scope list, dropping repeats.
fn parse_client_scopes(text: &str) -> Result<Vec<Scope>, ClientError> {
    let count = scope_words(text).count();
    if count == 0 {
        return Err(ClientError::NoScopes);
    }
    if count > SCOPES_PER_CLIENT_MAX {
        return Err(ClientError::TooManyScopes { count });
    }
    let mut scopes: Vec<Scope> = Vec::with_capacity(count);
    for word in scope_words(text) {
        let scope = Scope::parse(word).map_err(|reason| ClientError::InvalidScope {
            scope: word.to_owned(),
            reason,
        })?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    Ok(scopes)
}

fn load_client<S: EventStore + ?Sized>(store: &S, id: &str) -> Result<Option<Client>, StoreError> {
    store
        .get(Table::Clients, id.as_bytes())?
        .map(|bytes| Client::decode(&bytes))
        .transpose()
}

/// Creates a client allowed `scope` (space separated `permission:project`
/// words). Fails on an existing id.
pub fn create_client<S: EventStore + ?Sized>(
    store: &S,
    id: &str,
    secret: &Secret,
    scope: &str,
    now_ms: u64,
) -> Result<ClientInfo, ClientError> {
    if !client_id_ok(id) {
        return Err(ClientError::InvalidId);
    }
    if !secret_ok(secret) {
        return Err(ClientError::InvalidSecret);
    }
    let scopes = parse_client_scopes(scope)?;
    if store.get(Table::Clients, id.as_bytes())?.is_some() {
        return Err(ClientError::Duplicate { id: id.to_owned() });
    }
    let client = Client {
        id: id.to_owned(),
        uid: uuid::Uuid::new_v4().simple().to_string(),
        secret: SecretHash::create(secret),
        scopes,
        created_at_ms: now_ms,
    };
    store.write(vec![KvWrite {
        table: Table::Clients,
        key: id.as_bytes().to_vec(),
        value: Some(client.encode()),
    }])?;
    tracing::info!(client_id = id, "API client created");
    Ok(info(&client))
}

fn info(client: &Client) -> ClientInfo {
    ClientInfo {
        id: client.id.clone(),
        scope: scope_text(&client.scopes),
        created_at_ms: client.created_at_ms,
    }
}

/// Every client (at most [`CLIENTS_LISTED_MAX`]), in id order, without
/// secrets.
pub fn list_clients<S: EventStore + ?Sized>(store: &S) -> Result<Vec<ClientInfo>, ClientError> {
    // Ids are ASCII, so every key sorts below 0xFF.
    let rows = store.scan(Table::Clients, &[], &[u8::MAX], CLIENTS_LISTED_MAX)?;
    rows.iter()
        .map(|(_, value)| Ok(info(&Client::decode(value)?)))
        .collect()
}

/// Whether the store holds any client (reads one row).
pub fn any_client<S: EventStore + ?Sized>(store: &S) -> Result<bool, StoreError> {
    Ok(!store.scan(Table::Clients, &[], &[u8::MAX], 1)?.is_empty())
}

/// Deletes a client; its tokens stop working at once.
pub fn revoke_client<S: EventStore + ?Sized>(store: &S, id: &str) -> Result<(), ClientError> {
    if load_client(store, id)?.is_none() {
        return Err(ClientError::NotFound { id: id.to_owned() });
    }
    store.write(vec![KvWrite {
        table: Table::Clients,
        key: id.as_bytes().to_vec(),
        value: None,
    }])?;
    grants::note_revocation();
    tracing::info!(client_id = id, "API client revoked");
    Ok(())
}

/// Revokes a client (see [`revoke_client`]) and deletes the stored tokens
/// that can no longer be used, reading at most
/// [`TOKENS_SCANNED_PER_REVOKE_MAX`] token rows; returns how many it
/// deleted. The tokens stop working with the revocation either way.
pub fn revoke_client_and_purge<S: EventStore + ?Sized>(
    store: &S,
    id: &str,
    now_ms: u64,
) -> Result<usize, ClientError> {
    revoke_client(store, id)?;
    match purge_tokens(store, now_ms, TOKENS_SCANNED_PER_REVOKE_MAX) {
        Ok(report) => Ok(report.deleted),
        Err(AuthError::Store(error)) => Err(ClientError::Store(error)),
        Err(other) => Err(ClientError::Store(StoreError::Corrupt(other.to_string()))),
    }
}

/// Checks a client's credentials and issues a token for `requested_scope`
/// (space separated; `None` or blank means all of the client's scopes),
/// valid for `ttl_seconds` from `now_ms`.
pub fn issue_token<S: EventStore + ?Sized>(
    store: &S,
    client_id: &str,
    secret: &Secret,
    requested_scope: Option<&str>,
    now_ms: u64,
    ttl_seconds: u64,
) -> Result<IssuedToken, AuthError> {
    let client = check_credentials(store, client_id, secret)?;
    let (scopes, scope) = match requested_scope.filter(|s| !s.trim().is_empty()) {
        None => (client.scopes.clone(), scope_text(&client.scopes)),
        Some(text) => (granted_scopes(&client, text)?, text.to_owned()),
    };
    let access_token = new_token();
    let token = Token {
        client_id: client.id,
        client_uid: client.uid,
        scopes,
        issued_at_ms: now_ms,
        expires_at_ms: now_ms.saturating_add(ttl_seconds.saturating_mul(1_000)),
    };
    store.write(vec![KvWrite {
        table: Table::Tokens,
        key: token_hash(access_token.expose()).to_vec(),
        value: Some(token.encode()),
    }])?;
    Ok(IssuedToken {
        access_token,
        expires_in: ttl_seconds,
        scope,
    })
}

/// The client with these credentials. Unknown ids cost as much time as a
/// wrong secret.
fn check_credentials<S: EventStore + ?Sized>(
    store: &S,
    client_id: &str,
    secret: &Secret,
) -> Result<Client, AuthError> {
    if !client_id_ok(client_id) || !secret_ok(secret) {
        return Err(AuthError::InvalidClient);
    }
    match load_client(store, client_id)? {
        Some(client) if client.secret.verify(secret) => Ok(client),
        Some(_) => Err(AuthError::InvalidClient),
        None => {
            SecretHash::verify_nothing(secret);
            Err(AuthError::InvalidClient)
        }
    }
}

/// The scopes of a token request, each of which the client must hold.
fn granted_scopes(client: &Client, text: &str) -> Result<Vec<Scope>, AuthError> {
    if scope_words(text).count() > SCOPES_PER_CLIENT_MAX {
        return Err(AuthError::InvalidScope {
            scope: text.to_owned(),
        });
    }
    let mut scopes: Vec<Scope> = Vec::new();
    for word in scope_words(text) {
        let scope = Scope::parse(word)
            .ok()
            .filter(|wanted| client.scopes.iter().any(|held| held.implies(wanted)))
            .ok_or_else(|| AuthError::InvalidScope {
                scope: word.to_owned(),
            })?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    Ok(scopes)
}

/// What the bearer token `token` grants at `now_ms`.
pub fn authenticate<S: EventStore + ?Sized>(
    store: &S,
    token: &str,
    now_ms: u64,
) -> Result<Grant, AuthError> {
    if !token_shape_ok(token) {
        return Err(AuthError::InvalidToken);
    }
    let bytes = store
        .get(Table::Tokens, &token_hash(token))?
        .ok_or(AuthError::InvalidToken)?;
    let token = Token::decode(&bytes)?;
    if now_ms >= token.expires_at_ms {
        return Err(AuthError::Expired);
    }
    match load_client(store, &token.client_id)? {
        Some(client) if client.uid == token.client_uid => Ok(Grant {
            client_id: token.client_id,
            scopes: token.scopes,
            expires_at_ms: token.expires_at_ms,
        }),
        _ => Err(AuthError::Revoked),
    }
}

/// Deletes stored tokens that can no longer be used (expired at `now_ms`,
/// or of a revoked client), reading at most `scanned_max` rows.
pub fn purge_tokens<S: EventStore + ?Sized>(
    store: &S,
    now_ms: u64,
    scanned_max: usize,
) -> Result<PurgeReport, AuthError> {
    let mut report = PurgeReport::default();
    let mut live_uids: HashMap<String, Option<String>> = HashMap::new();
    let mut from = Vec::new();
    let to = [u8::MAX; 33];
    while report.scanned < scanned_max {
        let batch = TOKENS_PER_SCAN_MAX.min(scanned_max - report.scanned);
        let rows = store.scan(Table::Tokens, &from, &to, batch)?;
        let mut deletes = Vec::new();
        for (key, value) in &rows {
            let token = Token::decode(value)?;
            if !live_uids.contains_key(&token.client_id) {
                let uid = load_client(store, &token.client_id)?.map(|c| c.uid);
                live_uids.insert(token.client_id.clone(), uid);
            }
            let live = live_uids.get(&token.client_id).and_then(Option::as_deref);
            if now_ms >= token.expires_at_ms || live != Some(token.client_uid.as_str()) {
                deletes.push(KvWrite {
                    table: Table::Tokens,
                    key: key.clone(),
                    value: None,
                });
            }
        }
        report.scanned += rows.len();
        report.deleted += deletes.len();
        if !deletes.is_empty() {
            store.write(deletes)?;
        }
        match rows.last() {
            Some((last, _)) if rows.len() == batch => {
                from = last.clone();
                from.push(0);
            }
            _ => {
                report.complete = true;
                break;
            }
        }
    }
    Ok(report)
}
