//! Unit tests of API clients and tokens, driven through a few `check_*`
//! helpers against the in-memory store.

use super::records::{Client, Token};
use super::secret::token_hash;
use super::*;
use payledger_store::memory::MemoryStore;

const NOW: u64 = 1_767_225_600_000;
const TTL_SECONDS: u64 = 3_600;

fn project(text: &str) -> ProjectKey {
    ProjectKey::parse(text).unwrap()
}

fn scope(text: &str) -> Scope {
    Scope::parse(text).unwrap()
}

/// A store holding client `shop-backend` (secret `s3cret`) with `scopes`.
fn store_with_client(scopes: &str) -> MemoryStore {
    let store = MemoryStore::new();
    create_client(&store, "shop-backend", &Secret::from("s3cret"), scopes, NOW).unwrap();
    store
}

fn issue(store: &MemoryStore, requested: Option<&str>) -> Result<IssuedToken, AuthError> {
    issue_token(
        store,
        "shop-backend",
        &Secret::from("s3cret"),
        requested,
        NOW,
        TTL_SECONDS,
    )
}

fn check_implies(held: &str, wanted: &str, expected: bool) {
    assert_eq!(
        scope(held).implies(&scope(wanted)),
        expected,
        "{held} implies {wanted}"
    );
}

#[test]
fn manage_project_implies_everything_in_its_project_only() {
    for permission in Permission::ALL {
        check_implies("manage_project:shop", &format!("{permission}:shop"), true);
        check_implies("manage_project:shop", &format!("{permission}:other"), false);
    }
}

#[test]
fn manage_implies_view_of_the_same_resource_only() {
    check_implies("manage_payments:shop", "view_payments:shop", true);
    check_implies("manage_payments:shop", "manage_payments:shop", true);
    check_implies("manage_types:shop", "view_types:shop", true);
    check_implies("manage_states:shop", "view_states:shop", true);
    check_implies("manage_subscriptions:shop", "view_subscriptions:shop", true);
    check_implies("view_payments:shop", "manage_payments:shop", false);
    check_implies("manage_payments:shop", "view_messages:shop", false);
    check_implies("manage_payments:shop", "manage_project:shop", false);
    check_implies("manage_types:shop", "view_payments:shop", false);
    check_implies("view_payments:shop", "view_payments:shop2", false);
}

#[test]
fn scope_text_is_parsed_strictly() {
    assert_eq!(
        scope("view_payments:shop").to_string(),
        "view_payments:shop"
    );
    assert_eq!(
        Scope::parse("manage_project"),
        Err(ScopeError::MissingProject)
    );
    assert!(matches!(
        Scope::parse("manage_carts:shop"),
        Err(ScopeError::UnknownPermission { .. })
    ));
    assert!(Permission::ManageOrders.implies(Permission::ViewOrders));
    assert!(!Permission::ViewOrders.implies(Permission::ManageOrders));
    assert!(!Permission::ManagePayments.implies(Permission::ViewOrders));
    assert!(Permission::ManageProject.implies(Permission::ManageOrders));
    assert!(matches!(
        Scope::parse("view_payments:a/b"),
        Err(ScopeError::InvalidProject { .. })
    ));
    assert!(matches!(
        Scope::parse("view_payments:"),
        Err(ScopeError::InvalidProject { .. })
    ));
}

#[test]
fn a_token_for_the_right_secret_grants_the_clients_scopes() {
    let store = store_with_client("manage_project:shop view_payments:other");
    let issued = issue(&store, None).unwrap();
    assert_eq!(issued.scope, "manage_project:shop view_payments:other");
    assert_eq!(issued.expires_in, TTL_SECONDS);
    assert_eq!(issued.access_token.expose().len(), TOKEN_CHARS);
    let grant = authenticate(&store, issued.access_token.expose(), NOW).unwrap();
    assert_eq!(grant.client_id, "shop-backend");
    assert!(grant.allows(&project("shop"), Permission::ManagePayments));
    assert!(grant.allows(&project("other"), Permission::ViewPayments));
    assert!(!grant.allows(&project("other"), Permission::ManagePayments));
    assert!(!grant.allows(&project("third"), Permission::ViewPayments));
}

#[test]
fn a_wrong_secret_or_unknown_client_is_an_invalid_client() {
    let store = store_with_client("manage_project:shop");
    for (id, secret) in [
        ("shop-backend", "wrong"),
        ("shop-backend", ""),
        ("nobody", "s3cret"),
        ("bad:id", "s3cret"),
    ] {
        let result = issue_token(&store, id, &Secret::from(secret), None, NOW, TTL_SECONDS);
        assert!(
            matches!(result, Err(AuthError::InvalidClient)),
            "{id}/{result:?}"
        );
    }
}

#[test]
fn the_granted_scope_echoes_the_requested_text_exactly() {
    let store = store_with_client("manage_project:shop");
    for requested in [
        "view_payments:shop",
        "manage_payments:shop view_messages:shop",
        "view_types:shop  manage_project:shop",
        "manage_project:shop manage_project:shop",
    ] {
        assert_eq!(issue(&store, Some(requested)).unwrap().scope, requested);
    }
    // Blank means "not requested".
    assert_eq!(
        issue(&store, Some(" ")).unwrap().scope,
        "manage_project:shop"
    );
}

#[test]
fn a_token_holds_only_the_requested_scopes() {
    let store = store_with_client("manage_project:shop");
    let issued = issue(&store, Some("view_payments:shop")).unwrap();
    let grant = authenticate(&store, issued.access_token.expose(), NOW).unwrap();
    assert_eq!(grant.scopes, vec![scope("view_payments:shop")]);
    assert!(grant.allows(&project("shop"), Permission::ViewPayments));
    assert!(!grant.allows(&project("shop"), Permission::ManagePayments));
}

#[test]
fn a_scope_the_client_does_not_hold_is_refused_by_name() {
    let store = store_with_client("manage_payments:shop");
    for (requested, refused) in [
        ("view_payments:other", "view_payments:other"),
        ("view_payments:shop manage_types:shop", "manage_types:shop"),
        ("manage_project:shop", "manage_project:shop"),
        ("view_orders:shop", "view_orders:shop"),
        ("nonsense", "nonsense"),
    ] {
        match issue(&store, Some(requested)) {
            Err(AuthError::InvalidScope { scope }) => assert_eq!(scope, refused),
            other => panic!("{requested}: {other:?}"),
        }
    }
}

#[test]
fn a_token_expires_at_its_expiry_time() {
    let store = store_with_client("manage_project:shop");
    let token = issue(&store, None).unwrap().access_token;
    let expires_at = NOW + TTL_SECONDS * 1_000;
    assert!(authenticate(&store, token.expose(), expires_at - 1).is_ok());
    assert!(matches!(
        authenticate(&store, token.expose(), expires_at),
        Err(AuthError::Expired)
    ));
}

#[test]
fn unknown_and_malformed_tokens_are_invalid() {
    let store = store_with_client("manage_project:shop");
    let _ = issue(&store, None).unwrap();
    for token in ["", "short", &"A".repeat(TOKEN_CHARS), &"A".repeat(500)] {
        assert!(matches!(
            authenticate(&store, token, NOW),
            Err(AuthError::InvalidToken)
        ));
    }
}

#[test]
fn revoking_a_client_invalidates_its_tokens_even_if_the_id_is_reused() {
    let store = store_with_client("manage_project:shop");
    let old = issue(&store, None).unwrap().access_token;
    revoke_client(&store, "shop-backend").unwrap();
    assert!(matches!(
        authenticate(&store, old.expose(), NOW),
        Err(AuthError::Revoked)
    ));
    assert!(matches!(issue(&store, None), Err(AuthError::InvalidClient)));
    create_client(
        &store,
        "shop-backend",
        &Secret::from("s3cret"),
        "manage_project:shop",
        NOW,
    )
    .unwrap();
    assert!(matches!(
        authenticate(&store, old.expose(), NOW),
        Err(AuthError::Revoked)
    ));
    let new = issue(&store, None).unwrap().access_token;
    assert!(authenticate(&store, new.expose(), NOW).is_ok());
    assert!(matches!(
        revoke_client(&store, "nobody"),
        Err(ClientError::NotFound { .. })
    ));
}

#[test]
fn client_creation_checks_id_secret_and_scopes() {
    let store = store_with_client("manage_project:shop");
    let create = |id: &str, secret: &str, scopes: &str| {
        create_client(&store, id, &Secret::from(secret), scopes, NOW)
    };
    assert!(matches!(
        create("shop-backend", "x", "manage_project:shop"),
        Err(ClientError::Duplicate { .. })
    ));
    assert!(matches!(
        create("a b", "x", "manage_project:shop"),
        Err(ClientError::InvalidId)
    ));
    assert!(matches!(
        create("", "x", "manage_project:shop"),
        Err(ClientError::InvalidId)
    ));
    assert!(matches!(
        create("c", "", "manage_project:shop"),
        Err(ClientError::InvalidSecret)
    ));
    assert!(matches!(create("c", "x", " "), Err(ClientError::NoScopes)));
    match create("c", "x", "manage_project:shop view_paymnts:shop") {
        Err(ClientError::InvalidScope { scope, reason }) => {
            assert_eq!(scope, "view_paymnts:shop");
            assert!(matches!(reason, ScopeError::UnknownPermission { .. }));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn limits_hold_at_their_edges() {
    let store = MemoryStore::new();
    let max_id = "i".repeat(CLIENT_ID_BYTES_MAX);
    let max_secret = "s".repeat(CLIENT_SECRET_BYTES_MAX);
    let max_scopes = (0..SCOPES_PER_CLIENT_MAX)
        .map(|i| format!("view_payments:p{i}"))
        .collect::<Vec<_>>()
        .join(" ");
    let created = create_client(
        &store,
        &max_id,
        &Secret::from(max_secret.as_str()),
        &max_scopes,
        NOW,
    )
    .unwrap();
    assert_eq!(created.scope, max_scopes);
    let issued = issue_token(
        &store,
        &max_id,
        &Secret::from(max_secret.as_str()),
        Some(&max_scopes),
        NOW,
        1,
    )
    .unwrap();
    assert_eq!(issued.scope, max_scopes);

    let long_id = "i".repeat(CLIENT_ID_BYTES_MAX + 1);
    let long_secret = Secret::from("s".repeat(CLIENT_SECRET_BYTES_MAX + 1));
    let too_many = format!("{max_scopes} view_payments:extra");
    let ok_secret = Secret::from("x");
    let scopes = "manage_project:shop";
    assert!(matches!(
        create_client(&store, &long_id, &ok_secret, scopes, NOW),
        Err(ClientError::InvalidId)
    ));
    assert!(matches!(
        create_client(&store, "c", &long_secret, scopes, NOW),
        Err(ClientError::InvalidSecret)
    ));
    assert!(matches!(
        create_client(&store, "c", &ok_secret, &too_many, NOW),
        Err(ClientError::TooManyScopes { count }) if count == SCOPES_PER_CLIENT_MAX + 1
    ));
    assert!(matches!(
        issue_token(&store, &max_id, &long_secret, None, NOW, 1),
        Err(AuthError::InvalidClient)
    ));
    assert!(matches!(
        issue_token(
            &store,
            &max_id,
            &Secret::from(max_secret.as_str()),
            Some(&too_many),
            NOW,
            1
        ),
        Err(AuthError::InvalidScope { .. })
    ));
}

#[test]
fn listing_shows_clients_in_id_order_without_secrets() {
    let store = store_with_client("manage_project:shop");
    create_client(
        &store,
        "analytics",
        &Secret::from("other-secret"),
        "view_payments:shop view_payments:shop view_messages:shop",
        NOW + 1,
    )
    .unwrap();
    let listed = list_clients(&store).unwrap();
    assert_eq!(
        listed,
        vec![
            ClientInfo {
                id: "analytics".into(),
                scope: "view_payments:shop view_messages:shop".into(),
                created_at_ms: NOW + 1,
            },
            ClientInfo {
                id: "shop-backend".into(),
                scope: "manage_project:shop".into(),
                created_at_ms: NOW,
            },
        ]
    );
}

#[test]
fn secrets_and_tokens_are_never_stored_or_printed_in_clear() {
    let store = store_with_client("manage_project:shop");
    let issued = issue(&store, None).unwrap();
    let token = issued.access_token.expose().to_owned();
    assert!(!format!("{issued:?}").contains(&token));
    assert_eq!(format!("{:?}", Secret::from("s3cret")), "Secret(***)");
    for table in [Table::Clients, Table::Tokens] {
        for (key, value) in store.scan(table, &[], &[u8::MAX; 64], 100).unwrap() {
            let row = String::from_utf8_lossy(&value).into_owned();
            assert!(!row.contains("s3cret") && !row.contains(&token), "{row}");
            assert_ne!(key, token.as_bytes());
        }
    }
}

#[test]
fn purging_removes_expired_and_revoked_tokens_only() {
    let store = store_with_client("manage_project:shop");
    create_client(
        &store,
        "gone",
        &Secret::from("g"),
        "view_payments:shop",
        NOW,
    )
    .unwrap();
    let live = issue(&store, None).unwrap().access_token;
    issue_token(
        &store,
        "shop-backend",
        &Secret::from("s3cret"),
        None,
        NOW,
        1,
    )
    .unwrap();
    issue_token(&store, "gone", &Secret::from("g"), None, NOW, TTL_SECONDS).unwrap();
    revoke_client(&store, "gone").unwrap();
    let later = NOW + 1_000;
    let first = purge_tokens(&store, later, 1).unwrap();
    assert_eq!((first.scanned, first.complete), (1, false));
    let rest = purge_tokens(&store, later, 100).unwrap();
    assert!(rest.complete);
    assert_eq!(first.deleted + rest.deleted, 2, "{first:?} {rest:?}");
    let remaining = store.scan(Table::Tokens, &[], &[u8::MAX; 33], 10).unwrap();
    assert_eq!(remaining.len(), 1);
    assert_eq!(remaining[0].0, token_hash(live.expose()));
    assert!(authenticate(&store, live.expose(), later).is_ok());
}

const GOLDEN_CLIENT: &str = include_str!("golden/client_v1.json");
const GOLDEN_TOKEN: &str = include_str!("golden/token_v1.json");
/// The access token whose SHA-256 keys the golden token row.
const GOLDEN_TOKEN_TEXT: &str = "golden-token-AAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

#[test]
fn golden_v1_rows_still_decode_and_authenticate() {
    let client = Client::decode(GOLDEN_CLIENT.as_bytes()).unwrap();
    assert_eq!(client.id, "golden-client");
    assert_eq!(
        client.scopes,
        vec![scope("manage_project:shop"), scope("view_payments:other")]
    );
    assert_eq!(client.created_at_ms, NOW);
    let token = Token::decode(GOLDEN_TOKEN.as_bytes()).unwrap();
    assert_eq!(token.scopes, vec![scope("view_payments:shop")]);
    assert_eq!(token.expires_at_ms, NOW + 172_800_000);

    let store = MemoryStore::new();
    store
        .write(vec![
            KvWrite {
                table: Table::Clients,
                key: b"golden-client".to_vec(),
                value: Some(GOLDEN_CLIENT.as_bytes().to_vec()),
            },
            KvWrite {
                table: Table::Tokens,
                key: token_hash(GOLDEN_TOKEN_TEXT).to_vec(),
                value: Some(GOLDEN_TOKEN.as_bytes().to_vec()),
            },
        ])
        .unwrap();
    let grant = authenticate(&store, GOLDEN_TOKEN_TEXT, NOW).unwrap();
    assert_eq!(grant.client_id, "golden-client");
    let issued = issue_token(
        &store,
        "golden-client",
        &Secret::from("golden-secret-1"),
        None,
        NOW,
        TTL_SECONDS,
    )
    .unwrap();
    assert_eq!(issued.scope, "manage_project:shop view_payments:other");
}

#[test]
fn rows_written_now_decode_to_what_was_written() {
    let client = Client::decode(GOLDEN_CLIENT.as_bytes()).unwrap();
    assert_eq!(Client::decode(&client.encode()).unwrap(), client);
    let token = Token::decode(GOLDEN_TOKEN.as_bytes()).unwrap();
    assert_eq!(Token::decode(&token.encode()).unwrap(), token);
}

#[test]
fn corrupt_rows_are_store_failures() {
    let bigger = GOLDEN_CLIENT.replace("310000", "4000000000");
    let renamed = GOLDEN_CLIENT.replace("pbkdf2-sha256", "md5");
    let future = GOLDEN_TOKEN.replace("\"format\": 1", "\"format\": 2");
    for row in [bigger.as_str(), renamed.as_str(), "{}", "not json"] {
        assert!(matches!(
            Client::decode(row.as_bytes()),
            Err(StoreError::Corrupt(_))
        ));
    }
    assert!(matches!(
        Token::decode(future.as_bytes()),
        Err(StoreError::Corrupt(_))
    ));
}

#[test]
fn only_client_credentials_is_a_grant_type() {
    assert_eq!(
        GrantType::parse("client_credentials").unwrap(),
        GrantType::ClientCredentials
    );
    assert!(matches!(
        GrantType::parse("password"),
        Err(AuthError::UnsupportedGrantType { grant_type }) if grant_type == "password"
    ));
}

#[test]
fn a_cached_grant_answers_without_the_store_until_it_expires() {
    let store = store_with_client("manage_payments:shop");
    let token = issue(&store, None).unwrap().access_token;
    let cache = GrantCache::new();
    let grant = cache.authenticate(&store, token.expose(), NOW).unwrap();
    // An empty store cannot answer: the grant comes from the cache.
    let empty = MemoryStore::new();
    assert_eq!(
        cache.authenticate(&empty, token.expose(), NOW + 1).unwrap(),
        grant
    );
    // At expiry the cache has nothing, and the store says why.
    let expiry = NOW + TTL_SECONDS * 1_000;
    assert_eq!(cache.cached(token.expose(), expiry), None);
    assert!(matches!(
        cache.authenticate(&store, token.expose(), expiry),
        Err(AuthError::Expired)
    ));
}

#[test]
fn a_revocation_reaches_every_cached_grant_at_once() {
    let store = store_with_client("manage_payments:shop");
    let token = issue(&store, None).unwrap().access_token;
    let cache = GrantCache::new();
    assert!(cache.authenticate(&store, token.expose(), NOW).is_ok());
    revoke_client(&store, "shop-backend").unwrap();
    assert_eq!(cache.cached(token.expose(), NOW), None);
    assert!(matches!(
        cache.authenticate(&store, token.expose(), NOW),
        Err(AuthError::Revoked)
    ));
    // A refused token is not cached: it stays refused.
    assert_eq!(cache.cached(token.expose(), NOW), None);
}
