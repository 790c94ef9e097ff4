use super::*;
use payledger_store::conformance::{event, new_payment};
use payledger_store::memory::MemoryStore;
use payledger_store::{AppendRequest, EventStore};

fn store_with(partitions: u16, appends: usize) -> MemoryStore {
    let store = MemoryStore::with_partitions(partitions);
    for _ in 0..appends {
        store
            .append(AppendRequest::events(new_payment(), 0, vec![event("c")]))
            .unwrap();
    }
    store
}

#[test]
fn a_new_cursor_starts_before_the_first_event() {
    let store = store_with(1, 3);
    let cursor = Cursor::load(&store, "relay", 0).unwrap();
    assert_eq!(cursor.sequence, 0);
    assert_eq!(cursor.last_error, None);
    assert_eq!(cursor.lag(&store).unwrap(), 3);
    let batch = cursor.next_batch(&store, 100).unwrap();
    let sequences: Vec<u64> = batch.iter().map(|e| e.partition_sequence).collect();
    assert_eq!(sequences, vec![1, 2, 3]);
}

#[test]
fn saved_cursors_resume_after_their_sequence_and_list_in_key_order() {
    let store = store_with(1, 5);
    let mut cursor = Cursor::load(&store, "relay", 0).unwrap();
    cursor.save(&store, 2).unwrap();
    let reloaded = Cursor::load(&store, "relay", 0).unwrap();
    assert_eq!(reloaded.sequence, 2);
    let batch = reloaded.next_batch(&store, 2).unwrap();
    let sequences: Vec<u64> = batch.iter().map(|e| e.partition_sequence).collect();
    assert_eq!(sequences, vec![3, 4]);

    Cursor::load(&store, "b", 0)
        .unwrap()
        .save(&store, 1)
        .unwrap();
    let listed: Vec<(String, u16, u64)> = list_cursors(&store)
        .unwrap()
        .into_iter()
        .map(|c| (c.consumer, c.partition, c.sequence))
        .collect();
    // Length-prefixed names: the shorter name sorts first.
    assert_eq!(listed, vec![("b".into(), 0, 1), ("relay".into(), 0, 2)]);
}

#[test]
fn an_error_is_kept_until_the_next_successful_save() {
    let store = store_with(1, 2);
    let mut cursor = Cursor::load(&store, "relay", 0).unwrap();
    cursor.save(&store, 1).unwrap();
    let error = CursorError {
        at_unix_ms: 1_767_225_600_000,
        message: "broker down ✗".repeat(200),
        retry: None,
    };
    cursor.save_error(&store, error.clone()).unwrap();
    let loaded = Cursor::load(&store, "relay", 0).unwrap();
    assert_eq!(loaded.sequence, 1);
    let kept = loaded.last_error.unwrap();
    assert_eq!(kept.at_unix_ms, error.at_unix_ms);
    assert!(kept.message.len() <= CURSOR_ERROR_BYTES_MAX);
    assert!(error.message.starts_with(&kept.message));
    cursor.save(&store, 2).unwrap();
    assert_eq!(Cursor::load(&store, "relay", 0).unwrap().last_error, None);
}

#[test]
#[should_panic(expected = "moves backwards")]
fn a_cursor_never_moves_backwards() {
    let store = store_with(1, 2);
    let mut cursor = Cursor::load(&store, "relay", 0).unwrap();
    cursor.save(&store, 2).unwrap();
    cursor.save(&store, 1).unwrap();
}

#[test]
fn cursors_of_partitions_and_consumers_are_independent() {
    assert_ne!(cursor_key("ab", 1), cursor_key("a", 0x6201));
    let store = store_with(4, 40);
    for partition in 0..4 {
        Cursor::load(&store, "relay", partition)
            .unwrap()
            .save(&store, u64::from(partition))
            .unwrap();
    }
    for partition in 0..4 {
        let cursor = Cursor::load(&store, "relay", partition).unwrap();
        assert_eq!(cursor.sequence, u64::from(partition));
        assert_eq!(
            Cursor::load(&store, "other", partition).unwrap().sequence,
            0
        );
    }
}

#[test]
fn the_stored_cursor_format_is_stable() {
    let error = CursorError {
        at_unix_ms: 1_767_225_600_000,
        message: "TemporaryError: attempt 2 of message m-1: HTTP 503".to_owned(),
        retry: None,
    };
    let stored = crate::golden::check(
        "cursor_v1.txt",
        &[
            (
                "key subscription:ab partition 3",
                cursor_key("subscription:ab", 3),
            ),
            ("value at 42", encode_value(42, None)),
            ("value at 42 with an error", encode_value(42, Some(&error))),
        ],
    );
    assert_eq!(
        decode_key(&stored["key subscription:ab partition 3"]).unwrap(),
        ("subscription:ab".to_owned(), 3)
    );
    assert_eq!(decode_value(&stored["value at 42"]).unwrap(), (42, None));
    assert_eq!(
        decode_value(&stored["value at 42 with an error"]).unwrap(),
        (42, Some(error))
    );
}

#[test]
fn a_stored_error_with_a_retry_state_keeps_its_format_and_format_1_still_reads() {
    let error = CursorError {
        at_unix_ms: 1_767_225_600_000,
        message: "TemporaryError: attempt 2 of message m-1: HTTP 503".to_owned(),
        retry: Some(RetryState {
            sequence: 43,
            attempts: 2,
            since_unix_ms: 1_767_225_599_000,
        }),
    };
    let stored = crate::golden::check(
        "cursor_v2.txt",
        &[
            (
                "value at 42 with an error and its retry state",
                encode_value(42, Some(&error)),
            ),
            (
                "value at 42 with an error",
                encode_value(
                    42,
                    Some(&CursorError {
                        retry: None,
                        ..error.clone()
                    }),
                ),
            ),
        ],
    );
    assert_eq!(
        decode_value(&stored["value at 42 with an error and its retry state"]).unwrap(),
        (42, Some(error.clone()))
    );
    let v1 = crate::golden::check("cursor_v1.txt", &[]);
    assert_eq!(
        decode_value(&v1["value at 42 with an error"]).unwrap(),
        (
            42,
            Some(CursorError {
                retry: None,
                ..error
            })
        )
    );
    for cut in 9..stored["value at 42 with an error and its retry state"]
        .len()
        .min(37)
    {
        let truncated = &stored["value at 42 with an error and its retry state"][..cut];
        assert!(decode_value(truncated).is_err(), "{cut} bytes");
    }
}
