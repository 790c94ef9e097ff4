//! Reads that may not wait for the disk.
//!
//! Most reads of a request are answered from memory: a view header in the
//! memtable or the block cache, a cached view, an index entry. On an async
//! worker such a read costs less than handing the request to a blocking
//! thread and back. [`memory_only`] runs a closure in which every read of
//! a store either answers from memory or fails at once with
//! [`StoreError::WouldBlock`], and every durable write fails the same way;
//! the caller then runs the same work off the async workers. The mode
//! belongs to the calling thread and ends with the closure.

use crate::StoreError;
use std::cell::Cell;

thread_local! {
    static MEMORY_ONLY: Cell<bool> = const { Cell::new(false) };
}

/// Runs `work` with memory-only reads on this thread (restored after it,
/// also when it panics).
pub fn memory_only<T>(work: impl FnOnce() -> T) -> T {
    struct Restore(bool);
    impl Drop for Restore {
        fn drop(&mut self) {
            MEMORY_ONLY.with(|flag| flag.set(self.0));
        }
    }
    let _restore = Restore(MEMORY_ONLY.with(|flag| flag.replace(true)));
    work()
}

/// True inside [`memory_only`]: a store read that needs the disk must
/// fail with [`StoreError::WouldBlock`] instead.
pub fn is_memory_only() -> bool {
    MEMORY_ONLY.with(Cell::get)
}

/// `Err(WouldBlock)` inside [`memory_only`]: for work that always waits
/// (a durable write).
pub fn check_may_block() -> Result<(), StoreError> {
    if is_memory_only() {
        Err(StoreError::WouldBlock)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_mode_lasts_for_the_closure_and_nests() {
        assert!(!is_memory_only());
        memory_only(|| {
            assert!(is_memory_only());
            assert!(matches!(check_may_block(), Err(StoreError::WouldBlock)));
            memory_only(|| assert!(is_memory_only()));
            assert!(is_memory_only(), "an inner closure leaves the outer mode");
        });
        assert!(!is_memory_only());
        assert!(check_may_block().is_ok());
    }

    #[test]
    fn a_panic_inside_ends_the_mode() {
        let caught = std::panic::catch_unwind(|| memory_only(|| panic!("inside")));
        assert!(caught.is_err());
        assert!(!is_memory_only());
    }

    #[test]
    fn the_mode_is_per_thread() {
        memory_only(|| {
            let other = std::thread::spawn(is_memory_only).join().expect("thread");
            assert!(!other);
        });
    }
}
