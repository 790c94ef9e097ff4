//! `payledger-bench overload`: what admission control buys under
//! overload, measured from outside against two real `payledger serve`
//! processes started side by side on fresh stores: one with admission
//! control as configured, one with it off (`--requests-in-flight-max 0`).
//!
//! 1. **Normal load, both servers** (closed loop, `--calibration-connections`
//!    keep-alive connections, update then get): the fast path with and
//!    without the gate, in the same run. The update rate of the server
//!    without the gate is the *closed-loop peak* C.
//! 2. **The sustainable update rate R**: the highest of 100 %, 90 %, …
//!    of C at which the server without the gate keeps up with the open
//!    loop below (nothing sent late, and a median latency within
//!    `SUSTAINED_P50_OVER_UNLOADED_MAX` times that of a quarter of C),
//!    unless `--sustainable-rate-per-s` gives it.
//! 3. **Offered load** at each of `--levels` × R, both servers in turn
//!    (which goes first alternates from level to level): an open loop (arrivals on a fixed schedule, whatever the answers),
//!    carried by up to `--connections` connections, each updating its own
//!    payment over a connection it writes and reads by hand ([`wire`]: a
//!    general-purpose client cost the generator too much CPU to offer 5×). A request's latency counts from when the schedule said to
//!    send it, so a client that could not send for want of a free
//!    connection sees that wait too (no coordinated omission). Admitted
//!    (2xx) and refused (503/429) answers are reported apart; any other
//!    answer is an error, and a 409 would mean a refused request changed
//!    the payment. Before the first level every connection is opened (a
//!    read of each payment) and one unreported second of open loop runs,
//!    so the levels measure overload, not a storm of new connections or
//!    the generator warming up. Every measurement updates payments created
//!    for it (an update's answer is the whole payment, so payments grown
//!    by the previous measurements would make each one dearer than the
//!    last), and before it the harness waits
//!    until the servers are idle (flushes and compactions of the previous
//!    one done), up to `SETTLE_WAIT_MAX`.
//!    Beside the latency the generator sees, each row gives the p99 the
//!    server's own histogram saw for the same updates (to its bucket
//!    bound): the difference is time outside the request's handling
//!    (the kernel's queues, the generator). Two more p99s of the server's
//!    split that time: the admitted requests' wait for a slot (before the
//!    handling the first one counts) and the appends' time from their
//!    hand-over to the writer until durable (inside it); what is left is
//!    the handler's own work and its wait for the CPU.
//! 4. **Nothing acknowledged is lost**: every transaction id an update
//!    answer acknowledged is looked for in its payment afterwards.
//!
//! Why an open loop: a closed loop slows down with the server (each
//! connection waits for its answer before the next request), so it never
//! offers more than the server takes and cannot show overload; refused
//! requests there come straight back as new ones.

use super::ms;
use anyhow::Context;
use clap::Args;
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The settings of an overload run.
#[derive(Debug, Args)]
pub struct OverloadArgs {
    /// The `payledger` binary to serve with.
    #[arg(long, default_value = "./target/release/payledger")]
    pub payledger: PathBuf,
    /// Directory for the two servers' stores (fresh sub-directories,
    /// removed afterwards).
    #[arg(long)]
    pub data: PathBuf,
    /// Seconds per measurement.
    #[arg(long, default_value_t = 10)]
    pub seconds: u64,
    /// Offered loads, as multiples of the sustainable update rate.
    #[arg(long, value_delimiter = ',', default_value = "0.25,1,2,5")]
    pub levels: Vec<f64>,
    /// Most connections (and payments) carrying the open loop.
    #[arg(long, default_value_t = 1_000)]
    pub connections: usize,
    /// Connections of the closed-loop runs at normal load.
    #[arg(long, default_value_t = 64)]
    pub calibration_connections: usize,
    /// CPUs the servers run on (`taskset -c LIST`), so that a generator
    /// run on the others (`taskset -c … payledger-bench overload`) does not
    /// take the servers' CPU while it offers them more than they can do.
    #[arg(long)]
    pub server_cpus: Option<String>,
    /// Further `serve` flags of the server with admission control, e.g.
    /// `--requests-in-flight-max=32` (its defaults otherwise).
    #[arg(long, allow_hyphen_values = true)]
    pub admission_flag: Vec<String>,
    /// The sustainable update rate R the levels multiply, in updates per
    /// second, instead of the one searched in the open loop: runs that
    /// compare two servers' admission then offer the same rates.
    #[arg(long)]
    pub sustainable_rate_per_s: Option<f64>,
}

/// Longest a single request may take before it counts as an error.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
const PROJECT: &str = "bench";
const SECRET: &str = "overload-secret-1";

pub fn run(args: &OverloadArgs) -> anyhow::Result<()> {
    anyhow::ensure!(args.connections > 0 && args.calibration_connections > 0);
    anyhow::ensure!(args.levels.iter().all(|l| *l > 0.0), "--levels must be > 0");
    let root = args.data.join(format!("overload-{}", std::process::id()));
    std::fs::create_dir_all(&root)?;
    let servers = [
        ServerProcess::start(args, &root.join("on"), "on", &args.admission_flag)?,
        ServerProcess::start(
            args,
            &root.join("off"),
            "off",
            &["--requests-in-flight-max=0".to_owned()],
        )?,
    ];
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let outcome = runtime.block_on(measure(args, &servers));
    drop(servers);
    std::fs::remove_dir_all(&root).ok();
    outcome
}

async fn measure(args: &OverloadArgs, servers: &[ServerProcess; 2]) -> anyhow::Result<()> {
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(args.connections)
        .timeout(REQUEST_TIMEOUT)
        .build()?;
    let mut fleets = Vec::new();
    for server in servers {
        let token = server.token(&http).await?;
        fleets.push(Fleet::create(&http, server, &token, args.connections).await?);
    }
    let seconds = Duration::from_secs(args.seconds.max(1));
    println!(
        "## normal load: closed loop, {} connections\n",
        args.calibration_connections
    );
    println!(
        "| admission | workload | req/s | p50 ms | p99 ms | server CPU µs/req | refused | errors |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|");
    let mut sustainable = 0.0;
    for get in [false, true] {
        for (server, fleet) in servers.iter().zip(&mut fleets).rev() {
            settle(servers).await?;
            let cpu = server.cpu()?;
            let row = fleet
                .closed_loop(args.calibration_connections, seconds, get)
                .await;
            let per = server.cpu()?.saturating_sub(cpu).as_secs_f64() * 1e6 / row.answered() as f64;
            let rate = row.admitted as f64 / row.elapsed.as_secs_f64();
            if !get && server.label == "off" {
                sustainable = rate;
            }
            println!(
                "| {} | {} | {rate:.0} | {} | {} | {per:.0} | {} | {} |",
                server.label,
                if get { "get" } else { "update" },
                ms(row.admitted_latency.value_at_quantile(0.5)),
                ms(row.admitted_latency.value_at_quantile(0.99)),
                row.refused,
                row.errors,
            );
        }
    }
    anyhow::ensure!(sustainable > 0.0, "no update succeeded at normal load");
    let peak = sustainable;
    println!("\nclosed-loop peak C = {peak:.0} updates/s (admission off)\n");
    println!(
        "## offered load: open loop, up to {} connections\n",
        args.connections
    );
    for fleet in &mut fleets {
        fleet.connect_all().await?;
        // The generator's first open loop runs slow (its timers and
        // connection pool warming up): one unreported second of it.
        fleet.open_loop(WARM_UP_LOAD * peak, WARM_UP).await;
    }
    if let Some(given) = args.sustainable_rate_per_s {
        anyhow::ensure!(given > 0.0, "--sustainable-rate-per-s must be > 0");
        sustainable = given;
        println!("the levels multiply R = {given:.0} updates/s (--sustainable-rate-per-s)\n");
    } else {
        let off = servers
            .iter()
            .position(|s| s.label == "off")
            .context("off")?;
        sustainable = sustained_rate(servers, &mut fleets[off], peak, seconds).await?;
        println!(
            "\nsustainable update rate R = {sustainable:.0} updates/s ({:.0} % of C: the highest \
             open-loop rate the server without admission control keeps up with)\n",
            100.0 * sustainable / peak
        );
    }
    println!(
        "| load | admission | offered/s | sent late | admitted/s | admitted p50 ms | admitted p99 ms | admitted p99 inside the server ms | of it: slot wait p99 ms | of it: append p99 ms | refused | refused p99 ms | server CPU µs/answer | generator CPU µs/request | errors |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (n, &level) in args.levels.iter().enumerate() {
        let mut order: Vec<_> = servers.iter().zip(&mut fleets).collect();
        if n % 2 == 0 {
            order.reverse();
        }
        for (server, fleet) in order {
            fleet.fresh_payments().await?;
            settle(servers).await?;
            let rate = level * sustainable;
            let (cpu, generator) = (server.cpu()?, super::load::cpu_of_self()?);
            let inside = server.histograms(&fleet.http).await?;
            let row = fleet.open_loop(rate, seconds).await;
            let [inside, waited, appended] =
                server.histograms(&fleet.http).await?.p99s_since(&inside);
            let total = row.answered().max(1) as f64;
            let per = server.cpu()?.saturating_sub(cpu).as_secs_f64() * 1e6 / total;
            let generator = super::load::cpu_of_self()?
                .saturating_sub(generator)
                .as_secs_f64()
                * 1e6
                / total;
            println!(
                "| {level}× | {} | {rate:.0} | {:.1} % | {:.0} | {} | {} | {inside} | {waited} | {appended} | {:.1} % | {} | {per:.0} | {generator:.0} | {} |",
                server.label,
                100.0 * row.late as f64 / total,
                row.admitted as f64 / row.elapsed.as_secs_f64(),
                ms(row.admitted_latency.value_at_quantile(0.5)),
                ms(row.admitted_latency.value_at_quantile(0.99)),
                100.0 * row.refused as f64 / total,
                ms(row.refused_latency.value_at_quantile(0.99)),
                row.errors,
            );
        }
    }
    println!("\n## acknowledged updates\n");
    for (server, fleet) in servers.iter().zip(&fleets) {
        let (acknowledged, missing) = fleet.verify().await?;
        println!(
            "admission {}: {acknowledged} acknowledged updates, {missing} missing from the store",
            server.label
        );
        anyhow::ensure!(missing == 0, "acknowledged updates are missing");
    }
    Ok(())
}

/// The shares of the closed-loop peak tried, highest first, when the
/// sustainable rate is searched.
const SUSTAINED_SEARCH_SHARES: [f64; 9] = [1.0, 0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2];
/// A server keeps up with an open loop when at most this share of its
/// updates was sent late (their connection still waiting for the
/// previous answer: the server's queue grew) …
const SUSTAINED_LATE_SHARE_MAX: f64 = 0.01;
/// … and the median update waits at most this many times the median at
/// a quarter of the closed-loop peak (unloaded): a queue that holds the
/// typical update for twice its unloaded time again is one the server no
/// longer keeps up with. The median, not the p99: a single stall of this
/// machine (tens of milliseconds, at any load) moves the p99 of a few
/// seconds and would make R a matter of luck.
const SUSTAINED_P50_OVER_UNLOADED_MAX: f64 = 3.0;
/// The load, as a share of the closed-loop peak, whose median latency
/// stands for the unloaded one.
const UNLOADED_SHARE: f64 = 0.25;

/// The sustainable update rate R: the highest rate of
/// [`SUSTAINED_SEARCH_SHARES`] × the closed-loop peak that the server
/// without admission control keeps up with in the open loop. A closed loop
/// of 64 connections gathers many updates into each commit and never
/// offers more than the server takes; the open loop's arrivals come one by
/// one, and above R the server's queue grows for as long as the load
/// lasts (and the levels' "1×" would already be overload).
async fn sustained_rate(
    servers: &[ServerProcess; 2],
    fleet: &mut Fleet,
    peak: f64,
    seconds: Duration,
) -> anyhow::Result<f64> {
    println!(
        "| share of C | offered/s | sent late | answered/s | p50 ms | p99 ms | errors | keeps up |"
    );
    println!("|---:|---:|---:|---:|---:|---:|---:|---|");
    let unloaded =
        open_loop_on_fresh_payments(servers, fleet, UNLOADED_SHARE * peak, seconds).await?;
    let unloaded_p50 = unloaded.admitted_latency.value_at_quantile(0.5);
    println!(
        "| {:.0} % (unloaded) | {:.0} | | | {} | {} | {} | |",
        UNLOADED_SHARE * 100.0,
        UNLOADED_SHARE * peak,
        ms(unloaded_p50),
        ms(unloaded.admitted_latency.value_at_quantile(0.99)),
        unloaded.errors,
    );
    let mut lowest = peak;
    for share in SUSTAINED_SEARCH_SHARES {
        let rate = share * peak;
        lowest = rate;
        let row = open_loop_on_fresh_payments(servers, fleet, rate, seconds).await?;
        let late = row.late as f64 / row.answered().max(1) as f64;
        let p50 = row.admitted_latency.value_at_quantile(0.5);
        let keeps_up = row.errors == 0
            && row.refused == 0
            && late <= SUSTAINED_LATE_SHARE_MAX
            && p50 as f64 <= SUSTAINED_P50_OVER_UNLOADED_MAX * unloaded_p50 as f64;
        println!(
            "| {:.0} % | {rate:.0} | {:.1} % | {:.0} | {} | {} | {} | {} |",
            share * 100.0,
            late * 100.0,
            row.admitted as f64 / row.elapsed.as_secs_f64(),
            ms(p50),
            ms(row.admitted_latency.value_at_quantile(0.99)),
            row.errors,
            if keeps_up { "yes" } else { "no" },
        );
        if keeps_up {
            return Ok(rate);
        }
    }
    println!("\nno searched rate kept up: R is the lowest tried");
    Ok(lowest)
}

/// One open loop at `rate` for `seconds` on payments created for it,
/// once the servers are idle.
async fn open_loop_on_fresh_payments(
    servers: &[ServerProcess; 2],
    fleet: &mut Fleet,
    rate: f64,
    seconds: Duration,
) -> anyhow::Result<fleet::Measured> {
    fleet.fresh_payments().await?;
    settle(servers).await?;
    Ok(fleet.open_loop(rate, seconds).await)
}

/// The unreported open loop before the first level: its length and load
/// (as a multiple of R).
const WARM_UP: Duration = Duration::from_secs(1);
const WARM_UP_LOAD: f64 = 0.25;

/// Longest the harness waits for the servers to go idle before a
/// measurement.
const SETTLE_WAIT_MAX: Duration = Duration::from_secs(20);
/// A server is idle when it used at most this share of a CPU over
/// `SETTLE_INTERVAL`.
const SETTLE_CPU_SHARE_MAX: f64 = 0.05;
const SETTLE_INTERVAL: Duration = Duration::from_millis(250);

/// Waits until neither server works any more (background flushes and
/// compactions of the previous measurement done), or `SETTLE_WAIT_MAX`.
async fn settle(servers: &[ServerProcess; 2]) -> anyhow::Result<()> {
    let deadline = Instant::now() + SETTLE_WAIT_MAX;
    let mut before = [servers[0].cpu()?, servers[1].cpu()?];
    while Instant::now() < deadline {
        tokio::time::sleep(SETTLE_INTERVAL).await;
        let now = [servers[0].cpu()?, servers[1].cpu()?];
        let busiest = now
            .iter()
            .zip(&before)
            .map(|(now, before)| now.saturating_sub(*before).as_secs_f64())
            .fold(0.0, f64::max);
        if busiest <= SETTLE_CPU_SHARE_MAX * SETTLE_INTERVAL.as_secs_f64() {
            return Ok(());
        }
        before = now;
    }
    Ok(())
}

/// A `payledger serve` child on its own store, killed when dropped.
struct ServerProcess {
    label: &'static str,
    child: Child,
    url: String,
}

impl ServerProcess {
    fn start(
        args: &OverloadArgs,
        data: &Path,
        label: &'static str,
        flags: &[String],
    ) -> anyhow::Result<Self> {
        let binary = &args.payledger;
        let created = Command::new(binary)
            .args(["clients", "create", "--data"])
            .arg(data)
            .args(["--id", "loader", "--secret", SECRET])
            .args(["--scope", &format!("manage_project:{PROJECT}")])
            .stdout(Stdio::null())
            .status()
            .with_context(|| format!("run {}", binary.display()))?;
        anyhow::ensure!(created.success(), "payledger clients create failed");
        let log = std::fs::File::create(data.join("serve.log"))?;
        let mut command = match &args.server_cpus {
            Some(cpus) => {
                let mut taskset = Command::new("taskset");
                taskset.args(["-c", cpus]).arg(binary);
                taskset
            }
            None => Command::new(binary),
        };
        let mut child = command
            .args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data)
            .args(flags)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()?;
        let stdout = child.stdout.take().context("piped stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let url = loop {
            let line = lines
                .next()
                .context("the server exited before listening")??;
            if let Some(url) = line.strip_prefix("payledger listening on ") {
                break url.trim().to_owned();
            }
        };
        std::thread::spawn(move || lines.for_each(drop));
        Ok(Self { label, child, url })
    }

    async fn token(&self, http: &reqwest::Client) -> anyhow::Result<String> {
        let scope = format!("manage_project:{PROJECT}");
        let reply: Value = http
            .post(format!("{}/oauth/token", self.url))
            .basic_auth("loader", Some(SECRET))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", scope.as_str()),
            ])
            .send()
            .await?
            .error_for_status()?
            .json()
            .await?;
        reply["access_token"]
            .as_str()
            .map(str::to_owned)
            .context("no access_token")
    }

    fn cpu(&self) -> anyhow::Result<Duration> {
        super::load::cpu_of(self.child.id())
    }

    /// The server's own histograms over a measurement, from `/metrics`:
    /// the updates it answered (from the request's first middleware to its
    /// answer), the admitted requests' wait for a slot, and the appends'
    /// time from their hand-over to the writer until durable (all
    /// partitions together).
    async fn histograms(&self, http: &reqwest::Client) -> anyhow::Result<ServerHistograms> {
        let text = http
            .get(format!("{}/metrics", self.url))
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?;
        Ok(ServerHistograms {
            updates: buckets(
                &text,
                "payledger_http_request_duration_seconds_bucket",
                |line| {
                    line.contains(r#"route="/{pk}/payments/{id}""#)
                        && line.contains(r#"method="POST""#)
                },
            ),
            admission_wait: buckets(&text, "payledger_admission_wait_seconds_bucket", |_| true),
            appends: buckets(&text, "payledger_append_duration_seconds_bucket", |_| true),
        })
    }
}

/// Cumulative counts by bucket bound (seconds) of three of the server's
/// histograms ([`ServerProcess::histograms`]).
struct ServerHistograms {
    updates: Vec<(f64, u64)>,
    admission_wait: Vec<(f64, u64)>,
    appends: Vec<(f64, u64)>,
}

impl ServerHistograms {
    /// The p99 bound of each histogram over what was recorded between
    /// `before` and `self`, as `≤ ms` (`–` when nothing was).
    fn p99s_since(&self, before: &Self) -> [String; 3] {
        [
            (&before.updates, &self.updates),
            (&before.admission_wait, &self.admission_wait),
            (&before.appends, &self.appends),
        ]
        .map(|(before, after)| {
            server_p99(before, after)
                .map_or_else(|| "–".to_owned(), |bound| format!("≤ {:.1}", bound * 1e3))
        })
    }
}

/// The buckets of histogram lines named `name` (`…_bucket`) that `keep`
/// selects in an OpenMetrics `text`, the counts of equal bounds summed
/// over the label sets kept.
fn buckets(text: &str, name: &str, keep: impl Fn(&str) -> bool) -> Vec<(f64, u64)> {
    let mut summed: Vec<(f64, u64)> = Vec::new();
    let prefix = format!("{name}{{");
    for line in text
        .lines()
        .filter(|line| line.starts_with(&prefix) && keep(line))
    {
        let parsed = (|| {
            let bound = line.split("le=\"").nth(1)?.split('"').next()?;
            let count: u64 = line.rsplit(' ').next()?.parse().ok()?;
            let bound = if bound == "+Inf" {
                f64::INFINITY
            } else {
                bound.parse().ok()?
            };
            Some((bound, count))
        })();
        let Some((bound, count)) = parsed else {
            continue;
        };
        match summed.iter_mut().find(|(b, _)| *b == bound) {
            Some((_, total)) => *total += count,
            None => summed.push((bound, count)),
        }
    }
    summed
}

/// The bucket bound (seconds) under which 99 % of the updates answered
/// between the `before` and `after` scrapes fell: the server's own p99,
/// to the histogram's resolution (bounds double). `None` without updates.
fn server_p99(before: &[(f64, u64)], after: &[(f64, u64)]) -> Option<f64> {
    let counted = |bound: f64, of: &[(f64, u64)]| {
        of.iter()
            .find(|(b, _)| *b == bound)
            .map_or(0, |(_, count)| *count)
    };
    let mut deltas: Vec<(f64, u64)> = after
        .iter()
        .map(|&(bound, count)| (bound, count.saturating_sub(counted(bound, before))))
        .collect();
    deltas.sort_by(|a, b| a.0.total_cmp(&b.0));
    let total = deltas.last()?.1;
    if total == 0 {
        return None;
    }
    deltas
        .iter()
        .find(|(_, count)| *count as f64 >= 0.99 * total as f64)
        .map(|(bound, _)| *bound)
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

mod fleet;
use fleet::Fleet;

#[cfg(test)]
mod tests;
