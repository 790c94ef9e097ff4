//! Shared helpers of the end-to-end tests: finding the built binary and
//! running it as a child process that is always stopped.

use std::path::PathBuf;
use std::process::{Child, Command};

/// The `payledger` binary of this build. `make test` builds it before the
/// tests run; set `PAYLEDGER_BIN` to test another build.
pub fn payledger_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("PAYLEDGER_BIN") {
        return PathBuf::from(path);
    }
    // Test executables live in target/<profile>/deps; the binary one level up.
    let exe = std::env::current_exe().expect("test executable path");
    let profile_dir = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("test executable sits in target/<profile>/deps");
    let bin = profile_dir.join("payledger");
    assert!(
        bin.exists(),
        "{} is missing: build it first with `cargo build --release -p payledger` (make test does)",
        bin.display()
    );
    bin
}

/// A child process that is killed when dropped, so a failing test never
/// leaves a server behind.
#[derive(Debug)]
pub struct ChildGuard(pub Child);

impl ChildGuard {
    pub fn spawn(command: &mut Command) -> Self {
        Self(command.spawn().expect("spawn child process"))
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
