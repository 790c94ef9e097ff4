//! The set-up scripts' dependency checks, run against prepared directory
//! trees: they must look for exactly what the build loads or runs
//! (libclang itself, never the look-alike `libclang-cpp`), name every
//! missing package with its reason, install only what is missing, and
//! refuse to go on when an install did not provide it.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// Every command the checks look up on the PATH.
const COMMANDS: &[&str] = &["c++", "cc", "make", "curl", "python3"];

/// A fake machine: a root for library directories and a bin directory
/// that is its whole PATH.
struct Machine {
    dir: tempfile::TempDir,
}

impl Machine {
    fn empty() -> Self {
        let machine = Self {
            dir: tempfile::tempdir().expect("temp dir"),
        };
        std::fs::create_dir_all(machine.bin()).expect("bin dir");
        machine
    }

    /// Every command present; `python3` can create virtualenvs.
    fn with_commands() -> Self {
        let machine = Self::empty();
        for name in COMMANDS {
            machine.command(name, "exit 0");
        }
        machine
    }

    fn root(&self) -> &Path {
        self.dir.path()
    }

    fn bin(&self) -> PathBuf {
        self.root().join("bin")
    }

    /// An executable shell script `name` on the machine's PATH.
    fn command(&self, name: &str, body: &str) {
        let path = self.bin().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).expect("write command");
        let mode = std::os::unix::fs::PermissionsExt::from_mode(0o755);
        std::fs::set_permissions(&path, mode).expect("chmod command");
    }

    /// An (empty) file at `relative` under the root, e.g. a library.
    fn file(&self, relative: &str) {
        let path = self.root().join(relative);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("library dir");
        std::fs::write(path, b"").expect("write library");
    }

    fn script(&self, args: &[&str], apt_get: Option<&Path>) -> Output {
        self.script_with_libclang_path(args, apt_get, None)
    }

    /// The script on this machine, with `LIBCLANG_PATH` set or unset.
    fn script_with_libclang_path(
        &self,
        args: &[&str],
        apt_get: Option<&Path>,
        libclang_path: Option<&Path>,
    ) -> Output {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/ensure-system-deps.sh");
        let mut command = Command::new("bash");
        command
            .arg(script)
            .args(args)
            .env("PAYLEDGER_DEPS_ROOT", self.root())
            .env("PAYLEDGER_DEPS_PATH", self.bin());
        match libclang_path {
            Some(path) => command.env("LIBCLANG_PATH", path),
            None => command.env_remove("LIBCLANG_PATH"),
        };
        match apt_get {
            Some(path) => command.env("PAYLEDGER_APT_GET", path),
            None => command.env_remove("PAYLEDGER_APT_GET"),
        };
        command.output().expect("run ensure-system-deps.sh")
    }

    /// `--check`: the packages reported missing, in report order.
    fn missing(&self) -> Vec<String> {
        let output = self.script(&["--check"], None);
        let stdout = String::from_utf8_lossy(&output.stdout);
        let missing: Vec<String> = stdout
            .lines()
            .map(|line| {
                line.strip_prefix("missing ")
                    .and_then(|rest| rest.split_once(':'))
                    .unwrap_or_else(|| panic!("unexpected report line {line:?}"))
                    .0
                    .to_owned()
            })
            .collect();
        assert_eq!(
            output.status.success(),
            missing.is_empty(),
            "exit status {} with report {stdout:?}",
            output.status
        );
        missing
    }
}

#[test]
fn libclang_cpp_alone_does_not_count_as_libclang() {
    let machine = Machine::with_commands();
    // What a fresh Debian machine with LLVM 14 has: the C++ interface
    // library, the LLVM library, and no libclang.
    machine.file("usr/lib/llvm-14/lib/libclang-cpp.so.14");
    machine.file("usr/lib/x86_64-linux-gnu/libclang-cpp.so.14");
    machine.file("usr/lib/llvm-14/lib/libLLVM-14.so");
    assert_eq!(machine.missing(), ["libclang-dev"]);
}

#[test]
fn nothing_installed_names_every_package_with_its_reason() {
    let machine = Machine::empty();
    let output = machine.script(&["--check"], None);
    assert_eq!(output.status.code(), Some(1));
    assert_eq!(
        machine.missing(),
        ["libclang-dev", "g++", "gcc", "make", "curl", "python3-venv"]
    );
    let report = String::from_utf8_lossy(&output.stdout);
    assert!(report.contains("bindgen"), "{report}");
    assert!(report.contains("python3 -m venv"), "{report}");
}

#[test]
fn every_name_bindgen_loads_counts_as_libclang() {
    for library in [
        "usr/lib/llvm-14/lib/libclang.so",
        "usr/lib/llvm-14/lib/libclang.so.1",
        "usr/lib/llvm-16/lib/libclang-16.so.16",
        "usr/lib/x86_64-linux-gnu/libclang-14.so.1",
        "usr/lib/x86_64-linux-gnu/libclang-14.so",
        "usr/lib64/libclang.so.17",
        "usr/local/lib/libclang.so",
    ] {
        let machine = Machine::with_commands();
        machine.file("usr/lib/llvm-14/lib/libclang-cpp.so.14");
        machine.file(library);
        assert_eq!(machine.missing(), Vec::<String>::new(), "with {library}");
    }
}

#[test]
fn all_present_reports_nothing_and_installs_nothing() {
    let machine = Machine::with_commands();
    machine.file("usr/lib/llvm-14/lib/libclang-14.so.1");
    let (apt_get, apt_log) = fake_apt_get(&machine, "true");
    let output = machine.script(&[], Some(&apt_get));
    assert!(output.status.success(), "{output:?}");
    assert!(
        output.stdout.is_empty() && output.stderr.is_empty(),
        "{output:?}"
    );
    assert!(
        !apt_log.exists(),
        "apt-get ran although nothing was missing"
    );
}

#[test]
fn a_python_without_ensurepip_needs_python3_venv() {
    let machine = Machine::with_commands();
    machine.file("usr/lib/llvm-14/lib/libclang.so.1");
    // Debian's python3 without python3-venv: `import ensurepip` fails.
    machine.command("python3", "exit 1");
    assert_eq!(machine.missing(), ["python3-venv"]);
}

#[test]
fn libclang_path_is_searched_first() {
    let machine = Machine::with_commands();
    machine.file("opt/llvm/lib/libclang.so");
    assert_eq!(machine.missing(), ["libclang-dev"]);
    let libclang_path = machine.root().join("opt/llvm/lib");
    let output = machine.script_with_libclang_path(&["--check"], None, Some(&libclang_path));
    assert!(output.status.success(), "{output:?}");
}

/// A fake apt-get that logs its arguments and, on `install`, runs `then`.
fn fake_apt_get(machine: &Machine, then: &str) -> (PathBuf, PathBuf) {
    let log = machine.root().join("apt.log");
    let path = machine.root().join("apt-get");
    std::fs::write(
        &path,
        format!(
            "#!/bin/sh\necho \"$@\" >> {log}\nif [ \"$1\" = install ]; then {then}; fi\n",
            log = log.display()
        ),
    )
    .expect("write fake apt-get");
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
        .expect("chmod");
    (path, log)
}

#[test]
fn installs_exactly_what_is_missing_and_says_why() {
    let machine = Machine::with_commands();
    machine.file("usr/lib/llvm-14/lib/libclang-cpp.so.14");
    let library = machine.root().join("usr/lib/llvm-14/lib/libclang-14.so.1");
    let (apt_get, log) = fake_apt_get(&machine, &format!("touch {}", library.display()));
    let output = machine.script(&[], Some(&apt_get));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(&log).expect("apt log"),
        "update -qq\ninstall -y -qq libclang-dev\n"
    );
    assert!(stderr.contains("missing libclang-dev: bindgen"), "{stderr}");
    assert!(stderr.contains("installing libclang-dev"), "{stderr}");
    assert!(stderr.contains("installed libclang-dev"), "{stderr}");
}

#[test]
fn an_install_that_does_not_provide_the_file_stops_before_the_build() {
    let machine = Machine::with_commands();
    machine.file("usr/lib/llvm-14/lib/libclang-cpp.so.14");
    // The package "installs" only the look-alike again.
    let (apt_get, _log) = fake_apt_get(&machine, "true");
    let output = machine.script(&[], Some(&apt_get));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("still missing after apt-get install libclang-dev"),
        "{stderr}"
    );
}
