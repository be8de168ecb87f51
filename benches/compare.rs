//! CloudSync side by side with dufs and with what this machine can physically do.
//!
//! `cargo bench --bench compare` builds the release binary, starts CloudSync and dufs on the
//! same disk, and prints one table of medians and ratios. It talks only to 127.0.0.1 and every
//! loop is bounded. Knobs: `BENCH_RUNS` (runs per figure, default 3), `BENCH_FILE_MB` (size of
//! the big file, default 1024), `BENCH_WORK` (scratch folder, default `target/bench`),
//! `BENCH_ONLY` (comma list of sections: `files,listing,small,storm`).
//!
//! Tools it needs: `curl` and `dd` (present on Debian), `wrk` (installed with apt-get when
//! missing and running as root), and `dufs` (installed with `cargo install` into
//! `target/bench-tools` when missing).

// A report on standard output, panics on broken set-ups, and a plain thread that waits for a
// port are all fine in a benchmark driver.
#![allow(
    clippy::print_stdout,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::disallowed_methods
)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const ADMIN_PASSWORD: &str = "bench-admin-password";

/// The folder sizes of the listing figures.
const LISTING_COUNTS: [usize; 2] = [10_000, 100_000];

fn main() {
    let settings = Settings::from_env();
    std::fs::create_dir_all(&settings.work).unwrap();
    let tools = Tools::ensure(&settings);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let mut report = Report::default();

    // Files, small requests and the sign-in storm run against a server with an empty data
    // folder, so that its peak memory is that of the transfers alone.
    let cloudsync = Server::cloudsync(&settings, "cloudsync-data", |_| {});
    let session = runtime.block_on(Session::open(&cloudsync.base));
    let dufs = tools.dufs.as_ref().map(|dufs| Server::dufs(dufs, &settings));

    if settings.wants("files") {
        files(&settings, &cloudsync, &session, dufs.as_ref(), &mut report);
    }
    if settings.wants("small") {
        small_requests(&tools, &cloudsync, &session, dufs.as_ref(), &mut report);
    }
    if settings.wants("storm") {
        runtime.block_on(sign_in_storm(&cloudsync, &session, &mut report));
    }
    drop(cloudsync);
    if settings.wants("listing") {
        // The listing folders are put on disk before the first start, which indexes them, so
        // that a hundred thousand entries do not take a hundred thousand uploads.
        let lister = Server::cloudsync(&settings, "cloudsync-listing", |data| {
            for count in LISTING_COUNTS {
                fill_folder(&data.join("roots").join("1").join(format!("list{count}")), count);
            }
        });
        let session = runtime.block_on(Session::open(&lister.base));
        runtime.block_on(listing(&settings, &lister, &session, dufs.as_ref(), &mut report));
    }
    report.print(&settings);
}

// ---- settings and tools ----

struct Settings {
    runs: usize,
    file_mb: u64,
    work: PathBuf,
    only: Option<Vec<String>>,
}

impl Settings {
    fn from_env() -> Settings {
        let var = |name: &str| std::env::var(name).ok().filter(|value| !value.is_empty());
        Settings {
            runs: var("BENCH_RUNS").and_then(|v| v.parse().ok()).unwrap_or(3),
            file_mb: var("BENCH_FILE_MB").and_then(|v| v.parse().ok()).unwrap_or(1024),
            work: var("BENCH_WORK").map(PathBuf::from).unwrap_or_else(|| {
                Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("bench")
            }),
            only: var("BENCH_ONLY").map(|v| v.split(',').map(str::to_string).collect()),
        }
    }

    fn wants(&self, section: &str) -> bool {
        self.only.as_ref().is_none_or(|only| only.iter().any(|s| s == section))
    }
}

struct Tools {
    wrk: Option<PathBuf>,
    dufs: Option<PathBuf>,
}

impl Tools {
    fn ensure(settings: &Settings) -> Tools {
        let mut wrk = which("wrk");
        if wrk.is_none() && is_root() {
            println!("installing wrk with apt-get ...");
            let _ = Command::new("apt-get").args(["install", "-y", "-qq", "wrk"]).status();
            wrk = which("wrk");
        }
        let tools_root = settings.work.parent().unwrap().join("bench-tools");
        let dufs_path = tools_root.join("bin").join("dufs");
        let mut dufs = which("dufs").or_else(|| dufs_path.is_file().then(|| dufs_path.clone()));
        if dufs.is_none() {
            println!("installing dufs with cargo install (a few minutes, once) ...");
            let status = Command::new("cargo")
                .args(["install", "dufs", "--locked", "--root"])
                .arg(&tools_root)
                .status();
            if status.is_ok_and(|s| s.success()) {
                dufs = Some(dufs_path);
            }
        }
        if wrk.is_none() {
            println!("wrk is missing: the small-request figures are skipped");
        }
        if dufs.is_none() {
            println!("dufs is missing: its column stays empty");
        }
        Tools { wrk, dufs }
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|dir| Path::new(dir).join(name))
        .find(|candidate| candidate.is_file())
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().is_ok_and(|out| out.stdout.starts_with(b"0"))
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

// ---- servers ----

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn cloudsync(settings: &Settings, folder: &str, prepare: impl FnOnce(&Path)) -> Server {
        let data = settings.work.join(folder);
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).unwrap();
        prepare(&data);
        let port = free_port();
        let child = Command::new(env!("CARGO_BIN_EXE_cloudsync"))
            .args(["--listen", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(&data)
            .env("CLOUDSYNC_ADMIN_PASSWORD", ADMIN_PASSWORD)
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("cloudsync starts");
        Server::wait(child, port)
    }

    fn dufs(dufs: &Path, settings: &Settings) -> Server {
        let data = settings.work.join("dufs-data");
        let _ = std::fs::remove_dir_all(&data);
        std::fs::create_dir_all(&data).unwrap();
        let port = free_port();
        let child = Command::new(dufs)
            .arg(&data)
            .args(["--allow-all", "--bind", "127.0.0.1", "--port", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("dufs starts");
        Server::wait(child, port)
    }

    fn wait(child: Child, port: u16) -> Server {
        // A first start that indexes many files takes a while.
        for _ in 0..2400 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Server { child, base: format!("http://127.0.0.1:{port}") };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("server on port {port} did not start");
    }

    /// Peak resident memory of the process so far, in MiB.
    fn peak_rss_mib(&self) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|rest| rest.split_whitespace().next()?.parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A signed-in administrator and their sync root.
struct Session {
    token: String,
    root_id: i64,
}

impl Session {
    async fn open(base: &str) -> Session {
        let client = reqwest::Client::new();
        let body: Value = client
            .post(format!("{base}/1/auth/"))
            .form(&[("username", "admin"), ("password", ADMIN_PASSWORD)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let token = body["session_token"].as_str().expect("signed in").to_string();
        let info: Value = client
            .get(format!("{base}/1/account/info/"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let root_id = info["roots"][0]["id"].as_i64().expect("a sync root");
        Session { token, root_id }
    }
}

// ---- the report ----

#[derive(Default)]
struct Report {
    rows: Vec<[String; 5]>,
    notes: Vec<String>,
}

impl Report {
    fn row(&mut self, what: &str, ours: String, peer: String, limit: String, ratio: String) {
        self.rows.push([what.to_string(), ours, peer, limit, ratio]);
    }

    fn print(&self, settings: &Settings) {
        let header = ["figure", "cloudsync", "dufs", "limit", "ratio"];
        let mut widths = header.map(str::len);
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: [&str; 5]| {
            let padded: Vec<String> =
                cells.iter().zip(widths).map(|(cell, width)| format!("{cell:<width$}")).collect();
            format!("| {} |", padded.join(" | "))
        };
        let mut out = String::new();
        out.push_str(&format!(
            "\nmedians of {} runs, {} MiB file\n\n",
            settings.runs, settings.file_mb
        ));
        out.push_str(&line(header));
        out.push('\n');
        out.push_str(&line(widths.map(|w| {
            "---------------------------------------------------------------"
                .get(..w)
                .unwrap_or("---")
        })));
        out.push('\n');
        for row in &self.rows {
            out.push_str(&line([&row[0], &row[1], &row[2], &row[3], &row[4]]));
            out.push('\n');
        }
        for note in &self.notes {
            out.push_str(&format!("\n- {note}"));
        }
        println!("{out}");
        let _ = std::fs::write(settings.work.join("results.md"), out);
    }
}

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    if values.is_empty() { f64::NAN } else { values[values.len() / 2] }
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

fn fmt(value: f64, unit: &str) -> String {
    if value.is_nan() { "-".to_string() } else { format!("{value:.1} {unit}") }
}

fn ratio(ours: f64, other: f64) -> String {
    if ours.is_nan() || other.is_nan() || other == 0.0 {
        "-".to_string()
    } else {
        format!("{:.2}x", ours / other)
    }
}

// ---- big files ----

/// Times one curl transfer and answers seconds, failing on a non-2xx status.
fn curl(args: &[&str]) -> f64 {
    let output = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code} %{time_total}"])
        .args(args)
        .output()
        .expect("curl runs");
    let text = String::from_utf8_lossy(&output.stdout).to_string();
    let mut parts = text.split_whitespace();
    let code: u16 = parts.next().and_then(|c| c.parse().ok()).unwrap_or(0);
    // A file:// transfer has no HTTP status; curl reports 000 for it.
    let local = args.iter().any(|arg| arg.starts_with("file://"));
    assert!(
        output.status.success() && (local || (200..300).contains(&code)),
        "curl {args:?}: {text}"
    );
    parts.next().and_then(|t| t.parse().ok()).unwrap_or(f64::NAN)
}

fn big_file(settings: &Settings) -> PathBuf {
    let path = settings.work.join(format!("big-{}.bin", settings.file_mb));
    if !path.is_file() {
        println!("writing a {} MiB random file ...", settings.file_mb);
        let status = Command::new("dd")
            .args(["if=/dev/urandom", "bs=1M", "status=none"])
            .arg(format!("count={}", settings.file_mb))
            .arg(format!("of={}", path.display()))
            .status()
            .unwrap();
        assert!(status.success());
    }
    path
}

fn files(
    settings: &Settings,
    cloudsync: &Server,
    session: &Session,
    dufs: Option<&Server>,
    report: &mut Report,
) {
    let file = big_file(settings);
    let file_arg = file.display().to_string();
    let mb = settings.file_mb as f64 * 1.048_576;
    let auth = format!("Authorization: Bearer {}", session.token);
    let ours_put =
        format!("{}/1/files_put/{}/big.bin?overwrite=true", cloudsync.base, session.root_id);
    let ours_get = format!("{}/1/files/{}/big.bin", cloudsync.base, session.root_id);

    let mut dd = Vec::new();
    let mut up = (Vec::new(), Vec::new());
    let mut down = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..settings.runs {
        let target = settings.work.join("dd-target.bin");
        let started = Instant::now();
        let status = Command::new("dd")
            .arg(format!("if={file_arg}"))
            .arg(format!("of={}", target.display()))
            .args(["bs=4M", "conv=fsync", "status=none"])
            .status()
            .unwrap();
        assert!(status.success());
        dd.push(mb / started.elapsed().as_secs_f64());
        let _ = std::fs::remove_file(&target);

        up.0.push(mb / curl(&["-H", &auth, "-T", &file_arg, &ours_put]));
        down.0.push(mb / curl(&["-H", &auth, &ours_get]));
        if let Some(dufs) = dufs {
            let url = format!("{}/big.bin", dufs.base);
            up.1.push(mb / curl(&["-T", &file_arg, &url]));
            down.1.push(mb / curl(&[&url]));
        }
        down.2.push(mb / curl(&[&format!("file://{file_arg}")]));
    }
    let (dd, up_ours, up_dufs) = (median(dd), median(up.0), median(up.1));
    let (down_ours, down_dufs, down_limit) = (median(down.0), median(down.1), median(down.2));
    report.row(
        "upload 1 file (MB/s)",
        fmt(up_ours, ""),
        fmt(up_dufs, ""),
        fmt(dd, "(dd)"),
        format!("{} of dd, {} of dufs", ratio(up_ours, dd), ratio(up_ours, up_dufs)),
    );
    report.row(
        "download 1 file (MB/s)",
        fmt(down_ours, ""),
        fmt(down_dufs, ""),
        fmt(down_limit, "(curl file://)"),
        format!("{} of dufs", ratio(down_ours, down_dufs)),
    );
    report.row(
        "peak memory after up+down (MiB)",
        fmt(cloudsync.peak_rss_mib(), ""),
        dufs.map_or("-".into(), |d| fmt(d.peak_rss_mib(), "")),
        "64 (target)".into(),
        "-".into(),
    );
}

// ---- listings ----

async fn listing(
    settings: &Settings,
    cloudsync: &Server,
    session: &Session,
    dufs: Option<&Server>,
    report: &mut Report,
) {
    for count in LISTING_COUNTS {
        let folder = format!("list{count}");
        let peer = match dufs {
            Some(dufs) => {
                fill_folder(&settings.work.join("dufs-data").join(&folder), count);
                time_gets(&format!("{}/{folder}/?json", dufs.base), None, 20).await
            }
            None => Vec::new(),
        };
        let (peer50, peer99) = (percentile(&peer, 50.0), percentile(&peer, 99.0));
        if count <= 25_000 {
            let url = format!(
                "{}/1/metadata/{}/{folder}?file_limit=25000",
                cloudsync.base, session.root_id
            );
            let ours = time_gets(&url, Some(&session.token), 20).await;
            let (p50, p99) = (percentile(&ours, 50.0), percentile(&ours, 99.0));
            report.row(
                &format!("list {count} entries p50 / p99 (ms)"),
                format!("{p50:.1} / {p99:.1}"),
                format!("{peer50:.1} / {peer99:.1}"),
                "-".into(),
                format!("{} of dufs (p50)", ratio(p50, peer50)),
            );
        } else {
            // One metadata answer lists at most 25,000 entries (the contract's file_limit);
            // a sync client reads a larger folder through the paged delta feed.
            let mut walks = Vec::new();
            for _ in 0..settings.runs {
                walks.push(delta_walk(cloudsync, session).await);
            }
            let walk = median(walks);
            report.row(
                &format!("list {count} entries: whole delta feed / dufs p50 (ms)"),
                format!("{walk:.0}"),
                format!("{peer50:.1}"),
                "1000 (target)".into(),
                format!("{} of dufs (p50)", ratio(walk, peer50)),
            );
        }
    }
}

/// Writes `count` one-byte files into a folder.
fn fill_folder(dir: &Path, count: usize) {
    std::fs::create_dir_all(dir).unwrap();
    for index in 0..count {
        std::fs::write(dir.join(format!("file-{index:06}.txt")), b"x").unwrap();
    }
}

/// Reads the whole delta feed of the session's root, page after page, and answers the time in
/// milliseconds.
async fn delta_walk(server: &Server, session: &Session) -> f64 {
    let client = reqwest::Client::new();
    let started = Instant::now();
    let mut cursor = String::new();
    let mut entries = 0usize;
    loop {
        let mut form = vec![("root", session.root_id.to_string())];
        if !cursor.is_empty() {
            form.push(("cursor", cursor.clone()));
        }
        let body: Value = client
            .post(format!("{}/1/delta/", server.base))
            .bearer_auth(&session.token)
            .form(&form)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        entries += body["entries"].as_array().map_or(0, Vec::len);
        cursor = body["cursor"].as_str().unwrap_or_default().to_string();
        if body["has_more"] != true {
            break;
        }
    }
    assert!(entries >= 100_000, "the feed listed {entries} entries");
    started.elapsed().as_secs_f64() * 1000.0
}

/// Times `n` sequential GETs (after one warm-up) and answers sorted milliseconds.
async fn time_gets(url: &str, token: Option<&str>, n: usize) -> Vec<f64> {
    let client = reqwest::Client::new();
    let get = || {
        let request = client.get(url);
        match token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    };
    let warm = get().send().await.unwrap();
    assert!(warm.status().is_success(), "{url} answered {}", warm.status());
    warm.bytes().await.unwrap();
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let started = Instant::now();
        let response = get().send().await.unwrap();
        response.bytes().await.unwrap();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
    }
    times.sort_by(f64::total_cmp);
    times
}

// ---- small requests ----

/// Runs wrk and answers requests per second.
fn wrk(wrk: &Path, url: &str, headers: &[String]) -> f64 {
    let mut command = Command::new(wrk);
    command.args(["-t2", "-c64", "-d10s"]);
    for header in headers {
        command.args(["-H", header]);
    }
    let output = command.arg(url).output().expect("wrk runs");
    let text = String::from_utf8_lossy(&output.stdout);
    text.lines()
        .find_map(|line| line.strip_prefix("Requests/sec:"))
        .and_then(|rest| rest.trim().parse().ok())
        .unwrap_or(f64::NAN)
}

fn small_requests(
    tools: &Tools,
    cloudsync: &Server,
    session: &Session,
    dufs: Option<&Server>,
    report: &mut Report,
) {
    let Some(wrk_path) = &tools.wrk else { return };
    let ours_url = format!("{}/1/account/info/", cloudsync.base);
    let auth = format!("Authorization: Bearer {}", session.token);
    let peer_url = dufs.map(|dufs| format!("{}/small.txt", dufs.base));
    if let Some(url) = &peer_url {
        let status = Command::new("curl")
            .args(["-sS", "-o", "/dev/null", "-T", "-", url])
            .stdin(Stdio::piped())
            .spawn()
            .and_then(|mut child| {
                use std::io::Write;
                child.stdin.take().unwrap().write_all(b"{\"hello\": \"world\"}")?;
                child.wait()
            });
        assert!(status.is_ok_and(|s| s.success()));
    }
    for (label, extra) in [("keep-alive", None), ("Connection: close", Some("Connection: close"))] {
        let mut headers = vec![auth.clone()];
        headers.extend(extra.map(str::to_string));
        let ours = median((0..1).map(|_| wrk(wrk_path, &ours_url, &headers)).collect());
        let peer = peer_url.as_ref().map_or(f64::NAN, |url| {
            median(
                (0..1)
                    .map(|_| {
                        wrk(
                            wrk_path,
                            url,
                            &extra.map(str::to_string).into_iter().collect::<Vec<_>>(),
                        )
                    })
                    .collect(),
            )
        });
        report.row(
            &format!("small requests, 64 conns, {label} (req/s)"),
            fmt(ours, ""),
            fmt(peer, ""),
            "-".into(),
            format!("{} of dufs", ratio(ours, peer)),
        );
    }
}

// ---- sign-in storm ----

async fn sign_in_storm(cloudsync: &Server, session: &Session, report: &mut Report) {
    let client = reqwest::Client::new();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut stormers = Vec::new();
    for _ in 0..20 {
        let (client, stop) = (client.clone(), stop.clone());
        let url = format!("{}/1/auth/", cloudsync.base);
        stormers.push(tokio::spawn(async move {
            let mut count = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let form = [("username", "admin"), ("password", ADMIN_PASSWORD)];
                let response = client.post(&url).form(&form).send().await.unwrap();
                assert!(response.status().is_success());
                count += 1;
            }
            count
        }));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    let url = format!("{}/1/account/info/", cloudsync.base);
    let mut times = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let started = Instant::now();
        let response = client.get(&url).bearer_auth(&session.token).send().await.unwrap();
        response.bytes().await.unwrap();
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let mut sign_ins = 0;
    for stormer in stormers {
        sign_ins += stormer.await.unwrap();
    }
    times.sort_by(f64::total_cmp);
    report.row(
        "account info p50 / p99 while 20 clients sign in (ms)",
        format!("{:.1} / {:.1}", percentile(&times, 50.0), percentile(&times, 99.0)),
        "-".into(),
        "50 (p99 target)".into(),
        "-".into(),
    );
    report.notes.push(format!("{sign_ins} sign-ins at bcrypt cost 12 in 10.5 s during the storm"));
}
