//! Consistent copies of a live store (`payledger backup`).
//!
//! A RocksDB checkpoint is a new database directory that holds the store
//! as of one instant: every column family, with the immutable table files
//! hard-linked (copied when the target is on another filesystem) and the
//! manifest and the write-ahead log tail copied. It is taken beside the
//! writers without stopping them. Every append is acknowledged only after
//! its synced write, and the checkpoint flushes the memtables first, so a
//! copy begun after an acknowledgement holds that append; appends
//! acknowledged while the copy is being made may or may not be in it, but
//! each one is in it whole or not at all.
//!
//! The copy is itself a store: `RocksStore::open` on it (or on a copy of
//! it) reads what was there.

use crate::RocksStore;
use crate::db::engine;
use payledger_store::StoreError;
use std::path::{Path, PathBuf};

/// What a checkpoint holds on disk.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CheckpointSummary {
    /// Files in the checkpoint directory.
    pub files: u64,
    /// Their total size, in bytes (hard-linked files count in full).
    pub bytes: u64,
}

/// Why no checkpoint was taken.
#[derive(Debug, thiserror::Error)]
pub enum CheckpointError {
    /// RocksDB makes the directory itself and refuses one that exists.
    #[error("{0} already exists: a backup goes into a directory that does not exist yet")]
    Exists(PathBuf),
    #[error("the directory {0} that would hold the backup does not exist")]
    NoParent(PathBuf),
    #[error("the checkpoint failed: {0}")]
    Store(#[from] StoreError),
    #[error("cannot read the checkpoint {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl RocksStore {
    /// Writes a consistent copy of the whole store (every column family)
    /// into `out`, which must not exist yet; its parent must.
    pub fn checkpoint(&self, out: &Path) -> Result<CheckpointSummary, CheckpointError> {
        if out.symlink_metadata().is_ok() {
            return Err(CheckpointError::Exists(out.to_path_buf()));
        }
        let parent = match out.parent() {
            Some(parent) if parent.as_os_str().is_empty() => Path::new("."),
            Some(parent) => parent,
            None => return Err(CheckpointError::Exists(out.to_path_buf())),
        };
        if !parent.is_dir() {
            return Err(CheckpointError::NoParent(parent.to_path_buf()));
        }
        let checkpoint = rocksdb::checkpoint::Checkpoint::new(self.db()).map_err(engine)?;
        // The default flushes the memtables first, so the copy needs no
        // log replay beyond the tail that arrived during the flush.
        checkpoint.create_checkpoint(out).map_err(engine)?;
        directory_summary(out)
    }
}

/// Counts the files of a checkpoint (it has no subdirectories).
fn directory_summary(dir: &Path) -> Result<CheckpointSummary, CheckpointError> {
    let io = |source| CheckpointError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut summary = CheckpointSummary { files: 0, bytes: 0 };
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let metadata = entry.map_err(io)?.metadata().map_err(io)?;
        if metadata.is_file() {
            summary.files += 1;
            summary.bytes += metadata.len();
        }
    }
    Ok(summary)
}

#[cfg(test)]
mod tests;
