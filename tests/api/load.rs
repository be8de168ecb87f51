//! Load: 200 concurrent clients signing in, listing, uploading and downloading against the
//! real binary on 127.0.0.1 for `CLOUDSYNC_LOAD_SECONDS` (5 by default, so that `cargo test`
//! stays quick; `CLOUDSYNC_LOAD_SECONDS=60 cargo test --test api load` is the long run). No
//! answer may be a 5xx or mention a locked database, no connection may fail, and the
//! server's resident memory must stay flat between the first and the last third of the run.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::process::ServerProcess;

/// Concurrent clients.
const CLIENTS: usize = 200;
/// Sign in again after this many requests.
const REQUESTS_PER_SESSION: usize = 40;

fn run_for() -> Duration {
    let seconds = std::env::var("CLOUDSYNC_LOAD_SECONDS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(5);
    Duration::from_secs(seconds)
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

#[derive(Default)]
struct Tally {
    sign_ins: AtomicUsize,
    uploads: AtomicUsize,
    listings: AtomicUsize,
    downloads: AtomicUsize,
    share_downloads: AtomicUsize,
    problems: Mutex<Vec<String>>,
}

impl Tally {
    fn problem(&self, what: String) {
        self.problems.lock().unwrap().push(what);
    }
}

/// Sends a request and answers its status and body; anything but the expected status, a
/// body naming a locked database, or a failed connection is written down as a problem.
async fn exchange(
    tally: &Tally,
    what: &str,
    request: reqwest::RequestBuilder,
    expected: u16,
) -> Option<Vec<u8>> {
    match request.send().await {
        Ok(response) => {
            let status = response.status().as_u16();
            let body = match response.bytes().await {
                Ok(body) => body.to_vec(),
                Err(error) => {
                    tally.problem(format!("{what}: body broke off: {error}"));
                    return None;
                }
            };
            if String::from_utf8_lossy(&body).contains("database is locked") {
                tally.problem(format!("{what}: {status} database is locked"));
            }
            if status != expected {
                let text = String::from_utf8_lossy(&body);
                tally.problem(format!("{what}: {status} {}", text.get(..200).unwrap_or(&text)));
                return None;
            }
            Some(body)
        }
        Err(error) => {
            tally.problem(format!("{what}: {error}"));
            None
        }
    }
}

async fn client_loop(
    server: Arc<String>,
    client: reqwest::Client,
    index: usize,
    until: Instant,
    tally: Arc<Tally>,
    seeds: Arc<Vec<(String, String)>>,
    share_link: Arc<String>,
) {
    let mut token = String::new();
    let mut uploaded: Option<(String, String)> = None;
    let mut step = 0usize;
    while Instant::now() < until {
        if step.is_multiple_of(REQUESTS_PER_SESSION) {
            let request = client.post(format!("{server}/1/auth/")).form(&[
                ("username", "admin"),
                ("password", crate::process::PROCESS_ADMIN_PASSWORD),
            ]);
            let Some(body) = exchange(&tally, "sign-in", request, 200).await else { return };
            let answer: serde_json::Value = serde_json::from_slice(&body).unwrap();
            token = answer["session_token"].as_str().unwrap().to_string();
            tally.sign_ins.fetch_add(1, Ordering::Relaxed);
        }
        // One step in ten writes a file; the rest read, as sync clients mostly do.
        let (path, hash) = match &uploaded {
            Some((path, hash)) if step.is_multiple_of(2) => (path.clone(), hash.clone()),
            _ => seeds[(index + step) % seeds.len()].clone(),
        };
        match (index + step) % 10 {
            0 => {
                let path = format!("/c{index}/f{}.txt", step % 5);
                let size = 2048 + (index * 131 + step * 977) % 14_000;
                let bytes = format!("client {index} step {step} ").repeat(size / 20).into_bytes();
                let hash = sha256_hex(&bytes);
                let request = client
                    .put(format!("{server}/1/files_put/1{path}"))
                    .bearer_auth(&token)
                    .body(bytes);
                if exchange(&tally, "upload", request, 201).await.is_some() {
                    uploaded = Some((path, hash));
                    tally.uploads.fetch_add(1, Ordering::Relaxed);
                }
            }
            1 | 4 | 7 => {
                let folder = if uploaded.is_some() { format!("/c{index}") } else { "/seed".into() };
                let request = client
                    .get(format!("{server}/1/metadata/1{folder}"))
                    .query(&[("list", "true")])
                    .bearer_auth(&token);
                if exchange(&tally, "listing", request, 200).await.is_some() {
                    tally.listings.fetch_add(1, Ordering::Relaxed);
                }
            }
            9 => {
                // A visitor of the share link of the seed folder: no token at all.
                let (seed, hash) = &seeds[(index + step) % seeds.len()];
                let name = seed.trim_start_matches("/seed/");
                let request = client.get(format!("{server}/s/{share_link}/download/{name}"));
                if let Some(body) = exchange(&tally, "share download", request, 200).await {
                    if sha256_hex(&body) != *hash {
                        tally.problem(format!("share download {name}: other bytes"));
                    }
                    tally.share_downloads.fetch_add(1, Ordering::Relaxed);
                }
            }
            _ => {
                let request = client.get(format!("{server}/1/files/1{path}")).bearer_auth(&token);
                if let Some(body) = exchange(&tally, "download", request, 200).await {
                    if sha256_hex(&body) != hash {
                        tally.problem(format!("download {path}: other bytes than uploaded"));
                    }
                    tally.downloads.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        step += 1;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_clients_meet_no_server_error_no_locked_database_and_flat_memory() {
    let data_dir = tempfile::tempdir().unwrap();
    let server = ServerProcess::start(data_dir.path()).await;
    let address = Arc::new(server.address.clone());
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .pool_max_idle_per_host(CLIENTS)
        .build()
        .unwrap();
    // Files every client reads, stored before the clock starts.
    let admin = server.admin_token(&client).await;
    let mut seeds = Vec::new();
    for number in 0..10 {
        let path = format!("/seed/s{number}.txt");
        let bytes = format!("seed {number} ").repeat(400 * (number + 1)).into_bytes();
        let response = client
            .put(server.url(&format!("/1/files_put/1{path}")))
            .bearer_auth(&admin)
            .body(bytes.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 201);
        seeds.push((path, sha256_hex(&bytes)));
    }
    let seeds = Arc::new(seeds);
    let response = client
        .post(server.url("/1/shares/create/"))
        .bearer_auth(&admin)
        .form(&[("root", "1"), ("path", "/seed")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let link: serde_json::Value = response.json().await.unwrap();
    let share_link = Arc::new(link["id"].as_str().unwrap().to_string());
    let length = run_for();
    let started = Instant::now();
    let until = started + length;
    let tally = Arc::new(Tally::default());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|index| {
            let seeds = seeds.clone();
            tokio::spawn(client_loop(
                address.clone(),
                client.clone(),
                index,
                until,
                tally.clone(),
                seeds,
                share_link.clone(),
            ))
        })
        .collect();
    let mut samples = Vec::new();
    while Instant::now() < until {
        if let Some(rss) = server.rss_kib() {
            samples.push((started.elapsed(), rss));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for task in clients {
        task.await.unwrap();
    }
    let elapsed = started.elapsed();
    let log = server.kill().await;

    let (sign_ins, uploads, listings, downloads, share_downloads) = (
        tally.sign_ins.load(Ordering::Relaxed),
        tally.uploads.load(Ordering::Relaxed),
        tally.listings.load(Ordering::Relaxed),
        tally.downloads.load(Ordering::Relaxed),
        tally.share_downloads.load(Ordering::Relaxed),
    );

    let third = length / 3;
    let peak = |from: Duration, to: Duration| {
        samples.iter().filter(|(at, _)| *at >= from && *at < to).map(|(_, rss)| *rss).max()
    };
    let first = peak(Duration::ZERO, third).expect("memory samples in the first third");
    let last = peak(length - third, length).expect("memory samples in the last third");
    let requests = sign_ins + uploads + listings + downloads + share_downloads;
    #[allow(clippy::cast_precision_loss, reason = "a rate for people")]
    let rate = requests as f64 / elapsed.as_secs_f64();
    eprintln!(
        "load: {CLIENTS} clients for {:.1} s: {requests} requests ({rate:.0}/s: {sign_ins} \
         sign-ins, {uploads} uploads, {listings} listings, {downloads} downloads, {share_downloads} \
         share downloads); \
         peak RSS {first} KiB in the first third, {last} KiB in the last",
        elapsed.as_secs_f64()
    );
    let problems = tally.problems.lock().unwrap().clone();
    assert!(
        problems.is_empty(),
        "{} problems, first: {:#?}",
        problems.len(),
        &problems[..problems.len().min(10)]
    );
    let log_problems: Vec<&String> = log
        .iter()
        .filter(|line| line.contains("database is locked") || line.contains("status=5"))
        .collect();
    assert!(log_problems.is_empty(), "{log_problems:#?}");
    assert!(
        sign_ins > 0 && uploads > 0 && listings > 0 && downloads > 0 && share_downloads > 0,
        "every kind ran"
    );
    // Flat within a generous margin: caches and allocator arenas settle in the first third;
    // a leak per request would pass this bound within a long run.
    assert!(last <= first * 3 / 2 + 32 * 1024, "memory grew from {first} KiB to {last} KiB");
}
