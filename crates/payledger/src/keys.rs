//! `payledger keys show`: payledger's callback signing key pair, kept in
//! the data directory beside the store (it needs no store access, so it
//! works while the server runs). `payledger keys rotate-master`: a new
//! master key, and every payment's data key wrapped with it in one write.

use crate::cli::{KeysAction, KeysArgs, KeysRotateArgs};
use anyhow::Context;
use payledger_app::sealing::MasterKey;
use payledger_app::signing::{CallbackSigner, SIGNATURE_HEADER};
use payledger_store::{EventStore, KvWrite, TABLE_END, Table, scan_chunks};

pub fn run(args: &KeysArgs) -> anyhow::Result<()> {
    match &args.action {
        KeysAction::RotateMaster(rotate) => rotate_master(rotate),
        KeysAction::Show(show) => {
            let signer = CallbackSigner::load_or_create(&show.store.data)
                .context("cannot read or make the callback signing key")?;
            println!("key id: {}", signer.key_id());
            println!(
                "signs: the {SIGNATURE_HEADER} header of notify callbacks (RSA-SHA256 over \
                 \"<t>.<body>\")"
            );
            print!("{}", signer.public_pem());
            Ok(())
        }
    }
}

/// Data keys rewrapped per read of the table.
const DATA_KEYS_READ_ROWS: usize = 10_000;

fn rotate_master(args: &KeysRotateArgs) -> anyhow::Result<()> {
    let old_path = args.master.path(&args.store.data);
    anyhow::ensure!(
        old_path.is_file(),
        "no master key at {}: nothing to rotate",
        old_path.display()
    );
    anyhow::ensure!(
        !args.new_master_key_file.exists(),
        "{} exists already: give a new file",
        args.new_master_key_file.display()
    );
    let old = MasterKey::load(&old_path)?;
    let store = crate::clients::open_existing(
        &args.store,
        "stop the server first: rotation rewrites every data key",
    )?;
    let (new, _) = MasterKey::load_or_create(&args.new_master_key_file)?;
    let mut writes = Vec::new();
    scan_chunks(
        &store,
        Table::DataKeys,
        (&[], TABLE_END),
        DATA_KEYS_READ_ROWS,
        |rows| {
            for (key, wrapped) in rows {
                let rewrapped = old.rewrap(&wrapped, &key, &new).with_context(|| {
                    format!(
                        "the data key {} does not open with {}",
                        hex::encode(&key),
                        old_path.display()
                    )
                })?;
                writes.push(KvWrite {
                    table: Table::DataKeys,
                    key,
                    value: Some(rewrapped),
                });
            }
            anyhow::Ok(())
        },
    )?;
    let count = writes.len();
    store.write(writes)?;
    println!(
        "rewrapped {count} data keys with the new master key in {}; serve with --master-key-file {} \
         (or move it to {}), and keep the old file until no backup needs it",
        args.new_master_key_file.display(),
        args.new_master_key_file.display(),
        old_path.display()
    );
    Ok(())
}
