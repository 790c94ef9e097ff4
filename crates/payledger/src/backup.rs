//! `payledger backup` and `payledger restore`.
//!
//! A backup is a RocksDB checkpoint of the store (every column family, as
//! of one instant: see `payledger_rocksdb::RocksStore::checkpoint`) plus
//! the files of the data directory that belong with it
//! ([`COPIED_BESIDE`]: payledger's callback signing key, mode 0600). It is
//! laid out like a data directory. RocksDB lets one process open a store,
//! so while `payledger serve` holds the data directory the checkpoint is
//! taken by the server, asked over its admin socket (`POST /backup`), and
//! the server goes on serving writes; with no server the command opens the
//! store itself. Every write acknowledged before the backup began is in
//! it.
//!
//! The master key is never copied: it is what keeps the sealed personal
//! data of a backup unreadable to whoever holds only the backup, so it is
//! kept apart, and the command says so.
//!
//! `restore` copies a backup into a data directory that is missing or
//! empty (never over a store), hard-linking the immutable table files when
//! both are on one filesystem and copying the rest, then opens the result
//! once to prove it is a store.

use crate::admin::request_within;
use crate::cli::{BackupArgs, RestoreArgs, StoreArgs};
use crate::clients::open_existing;
use anyhow::{Context, bail};
use hyper::http::Method;
use payledger_api::admin::backup::{BackupFailure, BackupReport};
use payledger_rocksdb::{CheckpointError, RocksConfig, RocksStore};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Longest wait for a running server to take a backup (a copy to another
/// filesystem copies every table file).
pub const BACKUP_REQUEST_TIMEOUT_MS: u64 = 3_600_000;

/// Files of the data directory that a backup carries beside the store.
pub const COPIED_BESIDE: [&str; 1] = [payledger_app::signing::SIGNING_KEY_FILE];

/// What `backup` says when a process holds the store but answered on no
/// admin socket.
const BACKUP_PURPOSE: &str = "no server answered on its admin socket (a data path longer than \
     ADMIN_SOCKET_PATH_BYTES_MAX gets none); stop the server first";

pub fn run_backup(args: &BackupArgs) -> anyhow::Result<()> {
    // The server resolves paths against its own working directory.
    let out = std::path::absolute(&args.out)
        .with_context(|| format!("cannot resolve {}", args.out.display()))?;
    if out.symlink_metadata().is_ok() {
        bail!(
            "{} already exists: a backup goes into a directory that does not exist yet",
            out.display()
        );
    }
    let body = serde_json::json!({ "out": out });
    let timeout = (BACKUP_REQUEST_TIMEOUT_MS, "BACKUP_REQUEST_TIMEOUT_MS");
    let answer = request_within(&args.data, Method::POST, "/backup", Some(&body), timeout)
        .context("cannot take the backup")?;
    let (report, how) = match answer {
        Some(answer) => (
            serde_json::from_value::<BackupReport>(answer).context("the server's answer")?,
            "through the running server",
        ),
        None => {
            let store_args = StoreArgs {
                data: args.data.clone(),
                partitions: payledger_store::PARTITIONS_DEFAULT,
            };
            let store = open_existing(&store_args, BACKUP_PURPOSE)?;
            let report = take(&store, &args.data, &out).context("cannot take the backup")?;
            (report, "from the stopped store")
        }
    };
    println!(
        "backed up {} into {} {how} in {} ms: {} store files ({} bytes){}",
        args.data.display(),
        report.out.display(),
        report.took_ms,
        report.store_files,
        report.store_bytes,
        if report.copied.is_empty() {
            String::new()
        } else {
            format!(", and {}", report.copied.join(", "))
        }
    );
    println!(
        "the master key {} is not in the backup: keep a copy of it apart from the backups; \
         a restored store needs it to read sealed personal data",
        args.master.path(&args.data).display()
    );
    Ok(())
}

/// Takes a backup of `store`, whose data directory is `data`, into `out`
/// (a directory that does not exist yet). The server's admin route and the
/// command without a server both run this.
pub fn take(store: &RocksStore, data: &Path, out: &Path) -> Result<BackupReport, BackupFailure> {
    let started = Instant::now();
    let summary = store.checkpoint(out).map_err(|error| match error {
        CheckpointError::Exists(_) | CheckpointError::NoParent(_) => {
            BackupFailure::Refused(error.to_string())
        }
        CheckpointError::Store(_) | CheckpointError::Io { .. } => {
            BackupFailure::Failed(error.to_string())
        }
    })?;
    let mut copied = Vec::new();
    for name in COPIED_BESIDE {
        let from = data.join(name);
        if !from.is_file() {
            continue;
        }
        copy_synced(&from, &out.join(name), Some(0o600))
            .map_err(|error| BackupFailure::Failed(format!("{error:#}")))?;
        copied.push(name.to_owned());
    }
    sync_directory(out).map_err(|error| BackupFailure::Failed(format!("{error:#}")))?;
    Ok(BackupReport {
        out: out.to_path_buf(),
        store_files: summary.files,
        store_bytes: summary.bytes,
        copied,
        took_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

pub fn run_restore(args: &RestoreArgs) -> anyhow::Result<()> {
    let (from, data) = (&args.from, &args.data);
    anyhow::ensure!(
        from.join("CURRENT").is_file(),
        "{} holds no backup (it has no RocksDB CURRENT file)",
        from.display()
    );
    refuse_occupied(data)?;
    std::fs::create_dir_all(data)
        .with_context(|| format!("cannot create the data directory {}", data.display()))?;
    let (files, linked) = copy_backup(from, data).with_context(|| {
        format!(
            "the restore into {} broke off: empty that directory before trying again",
            data.display()
        )
    })?;
    let store = RocksStore::open(data, &RocksConfig::default())
        .with_context(|| format!("the restored store in {} does not open", data.display()))?;
    let partitions = payledger_store::EventStore::partition_count(&store);
    drop(store);
    println!(
        "restored {} into {}: {files} files ({linked} hard-linked), {partitions} partitions",
        from.display(),
        data.display()
    );
    println!(
        "before serving: put the master key of the backed-up store at {} (or give \
         --master-key-file), or the server makes a new key that cannot read the restored \
         personal data; then check the history with `payledger verify --data {}`",
        data.join("master.key").display(),
        data.display()
    );
    Ok(())
}

/// Refuses a data directory that holds anything (a store above all).
fn refuse_occupied(data: &Path) -> anyhow::Result<()> {
    let mut entries = match std::fs::read_dir(data) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read {}", data.display()));
        }
    };
    if entries.next().is_some() {
        bail!(
            "{} is not empty: restore goes into a new or empty data directory \
             (move the old one aside first)",
            data.display()
        );
    }
    Ok(())
}

/// Copies every file of the backup `from` into `data`; table files are
/// hard-linked when both sit on one filesystem (RocksDB never changes a
/// table file, while it may rewrite the others). The files and how many
/// were linked.
fn copy_backup(from: &Path, data: &Path) -> anyhow::Result<(u64, u64)> {
    let (mut files, mut linked) = (0, 0);
    let entries = std::fs::read_dir(from).with_context(|| format!("read {}", from.display()))?;
    for entry in entries {
        let entry = entry.with_context(|| format!("read {}", from.display()))?;
        if !entry.file_type()?.is_file() || entry.file_name() == "LOCK" {
            continue;
        }
        let source = entry.path();
        let target: PathBuf = data.join(entry.file_name());
        let immutable = source
            .extension()
            .is_some_and(|extension| extension == "sst" || extension == "blob");
        if immutable && std::fs::hard_link(&source, &target).is_ok() {
            linked += 1;
        } else {
            copy_synced(&source, &target, None)?;
        }
        files += 1;
    }
    sync_directory(data)?;
    Ok((files, linked))
}

/// Copies a file and syncs it; `mode` sets its permissions.
fn copy_synced(from: &Path, to: &Path, mode: Option<u32>) -> anyhow::Result<()> {
    std::fs::copy(from, to)
        .with_context(|| format!("cannot copy {} to {}", from.display(), to.display()))?;
    if let Some(mode) = mode {
        std::fs::set_permissions(to, std::fs::Permissions::from_mode(mode))
            .with_context(|| format!("cannot set the mode of {}", to.display()))?;
    }
    std::fs::File::open(to)
        .and_then(|file| file.sync_all())
        .with_context(|| format!("cannot sync {}", to.display()))
}

/// Makes the directory's entries durable.
fn sync_directory(dir: &Path) -> anyhow::Result<()> {
    std::fs::File::open(dir)
        .and_then(|file| file.sync_all())
        .with_context(|| format!("cannot sync {}", dir.display()))
}
