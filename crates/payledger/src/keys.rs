//! `payledger keys show`: payledger's callback signing key pair, kept in
//! the data directory beside the store (it needs no store access, so it
//! works while the server runs).

use crate::cli::{KeysAction, KeysArgs};
use anyhow::Context;
use payledger_app::signing::{CallbackSigner, SIGNATURE_HEADER};

pub fn run(args: &KeysArgs) -> anyhow::Result<()> {
    match &args.action {
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
