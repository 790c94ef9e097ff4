//! The external load generator (`payledger-bench load`) against a real
//! `payledger serve`: it authenticates like a client, creates payments of
//! each requested size, runs every workload and reports figures that come
//! from what the server answered, including the server's CPU per request.

use payledger_e2e::{Server, create_client, payledger_bench_bin};
use std::process::Command;

/// One row of the generator's table, by column.
struct Row(Vec<String>);

impl Row {
    fn number(&self, column: usize) -> f64 {
        self.0[column]
            .parse()
            .unwrap_or_else(|_| panic!("column {column} of {:?} is not a number", self.0))
    }
}

#[test]
fn the_load_generator_measures_every_workload_and_size_against_a_running_server() {
    let dir = tempfile::tempdir().expect("temp dir");
    create_client(
        dir.path(),
        "loader",
        "loader-secret-1",
        "manage_project:bench",
    );
    let server = Server::start(dir.path());
    let pid = server.pid().expect("running").to_string();
    let output = Command::new(payledger_bench_bin())
        .args(["load", "--url", server.url(), "--label", "payledger"])
        .args([
            "--client-id",
            "loader",
            "--client-secret",
            "loader-secret-1",
        ])
        .args(["--connections", "2", "--payments-per-connection", "2"])
        .args([
            "--transactions",
            "1,5",
            "--seconds",
            "1",
            "--server-pid",
            &pid,
        ])
        .output()
        .expect("run payledger-bench load");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "load failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let rows: Vec<Row> = stdout
        .lines()
        .filter(|line| line.starts_with("| payledger |"))
        .map(|line| {
            Row(line
                .trim_matches('|')
                .split('|')
                .map(|cell| cell.trim().to_owned())
                .collect())
        })
        .collect();
    let measured: Vec<(String, String)> = rows
        .iter()
        .map(|row| {
            (
                row.0[1].clone(),
                row.0[2].split(' ').next().unwrap().to_owned(),
            )
        })
        .collect();
    let mut expected = Vec::new();
    for size in ["1", "5"] {
        for workload in ["create", "update", "get", "query", "mixed"] {
            expected.push((workload.to_owned(), size.to_owned()));
        }
    }
    assert_eq!(measured, expected, "{stdout}");
    for row in &rows {
        assert!(row.number(4) > 0.0, "no requests answered: {:?}", row.0);
        assert_eq!(row.number(10), 0.0, "errors: {:?}", row.0);
        assert!(row.number(8) > 0.0, "no server CPU measured: {:?}", row.0);
        assert!(row.number(7) >= row.number(6) && row.number(6) >= row.number(5));
    }
    // Updates grow the payments they change; the table says by how much.
    let update_at_5 = rows
        .iter()
        .find(|row| row.0[1] == "update" && row.0[2].starts_with("5 "))
        .expect("update row of size 5");
    let end: f64 = update_at_5.0[2]
        .rsplit(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(end > 5.0, "{:?}", update_at_5.0);
    // Each size's payments really were created with that many transactions.
    let get_at_5 = rows
        .iter()
        .find(|row| row.0[1] == "get" && row.0[2].starts_with("5 "))
        .expect("get row of size 5");
    assert_eq!(get_at_5.0[2], "5 → 5.0");
}
