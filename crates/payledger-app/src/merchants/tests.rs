//! Merchants and their keys: formats, sizes, rotation, revocation, and the
//! stored row.

use super::*;
use payledger_store::memory::MemoryStore;
use rsa::RsaPrivateKey;
use rsa::pkcs1v15::SigningKey;
use rsa::pkcs8::DecodePrivateKey;
use rsa::signature::{SignatureEncoding, Signer};

const A_PUB: &str = include_str!("testdata/a.pub");
const A_PRIVATE: &str = include_str!("testdata/a.pk8");
const B_PKCS1_PUB: &str = include_str!("testdata/b.pkcs1.pub");
const B_PRIVATE: &str = include_str!("testdata/b.pk8");
const SMALL_PUB: &str = include_str!("testdata/small.pub");

fn sign(private_pem: &str, message: &[u8]) -> Vec<u8> {
    let key = RsaPrivateKey::from_pkcs8_pem(private_pem).expect("test key");
    SigningKey::<Sha256>::new(key).sign(message).to_vec()
}

fn project() -> ProjectKey {
    ProjectKey::parse("shop").expect("project")
}

#[test]
fn a_signature_verifies_with_an_active_key_over_the_exact_bytes_only() {
    let store = MemoryStore::with_partitions(1);
    let merchant = create(&store, &project(), 7, A_PUB, 1_000).expect("create");
    let request = br#"{"merchantId":7,"amount":"10.00"}"#;
    let signature = sign(A_PRIVATE, request);
    assert!(merchant.verifies(request, &signature));
    assert!(!merchant.verifies(br#"{"merchantId":7, "amount":"10.00"}"#, &signature));
    assert!(!merchant.verifies(request, &sign(B_PRIVATE, request)));
    assert!(!merchant.verifies(request, b"not a signature"));
}

#[test]
fn keys_rotate_and_a_revoked_key_stops_verifying_at_once() {
    let store = MemoryStore::with_partitions(1);
    let created = create(&store, &project(), 7, A_PUB, 1_000).expect("create");
    let old = created.keys[0].id.clone();
    let rotated = add_key(&store, 7, B_PKCS1_PUB, 2_000).expect("add");
    let request = b"recurring";
    assert!(rotated.verifies(request, &sign(A_PRIVATE, request)));
    assert!(rotated.verifies(request, &sign(B_PRIVATE, request)));
    let revoked = revoke_key(&store, 7, &old, 3_000).expect("revoke");
    assert!(!revoked.verifies(request, &sign(A_PRIVATE, request)));
    assert!(revoked.verifies(request, &sign(B_PRIVATE, request)));
    let stored = get(&store, 7).expect("read").expect("merchant");
    assert_eq!(stored, revoked);
    assert_eq!(stored.keys[0].revoked_at_ms, Some(3_000));
    assert!(matches!(
        add_key(&store, 7, B_PKCS1_PUB, 4_000),
        Err(MerchantError::DuplicateKey { .. })
    ));
    assert!(matches!(
        revoke_key(&store, 7, "feedfeedfeedfeed", 4_000),
        Err(MerchantError::KeyNotFound { .. })
    ));
}

#[test]
fn bad_ids_keys_and_duplicates_are_refused_and_store_nothing() {
    let store = MemoryStore::with_partitions(1);
    assert!(matches!(
        create(&store, &project(), 0, A_PUB, 1),
        Err(MerchantError::InvalidId)
    ));
    match create(&store, &project(), 8, SMALL_PUB, 1) {
        Err(MerchantError::InvalidKey { reason }) => {
            assert!(reason.contains("1024 bits"), "{reason}")
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(matches!(
        create(
            &store,
            &project(),
            8,
            "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----",
            1
        ),
        Err(MerchantError::InvalidKey { .. })
    ));
    assert!(list(&store).expect("list").is_empty());
    create(&store, &project(), 8, A_PUB, 1).expect("create");
    assert!(matches!(
        create(&store, &project(), 8, B_PKCS1_PUB, 1),
        Err(MerchantError::Duplicate { id: 8 })
    ));
    assert!(matches!(
        add_key(&store, 9, A_PUB, 1),
        Err(MerchantError::NotFound { id: 9 })
    ));
    assert_eq!(list(&store).expect("list").len(), 1);
}

#[test]
fn the_stored_row_keeps_loading() {
    let key = parse_public_key(A_PUB, 1_000).expect("key");
    let merchant = Merchant {
        merchant_id: 7,
        project: "shop".into(),
        created_at_ms: 1_000,
        keys: vec![
            key.clone(),
            MerchantKey {
                revoked_at_ms: Some(2_000),
                ..key
            },
        ],
    };
    let stored = crate::golden::check("merchant_v1.txt", &[("merchant", merchant.encode())]);
    assert_eq!(Merchant::decode(&stored["merchant"]).unwrap(), merchant);
}
