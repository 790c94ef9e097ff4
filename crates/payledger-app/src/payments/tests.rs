//! The ids a command gives its new events.

use super::new_event_id;

#[test]
fn new_event_ids_are_version_7_and_each_sorts_after_the_one_before() {
    // The `EventIds` table is keyed by these bytes: ids that grow are
    // appended next to the previous insert in the memtable.
    let mut previous = new_event_id();
    for _ in 0..10_000 {
        let id = new_event_id();
        assert_eq!(id.uuid().get_version_num(), 7, "{id}");
        assert!(
            id.as_bytes() > previous.as_bytes(),
            "{id} does not sort after {previous}"
        );
        previous = id;
    }
}
