//! Crashes: concurrent uploads, overwrites, moves and deletes against the real binary, which
//! is killed with SIGKILL in the middle and started again. Every write the server answered
//! with 2xx must be whole and indexed afterwards, a write cut off by the kill must have
//! happened entirely or not at all, no partial file may be visible, and `cloudsync check`
//! must find the index and the disk in agreement.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use serde_json::Value;

use crate::process::{ServerProcess, run_check};

/// Concurrent writers.
const WORKERS: usize = 12;

/// The states a path may be in: `None` is absent, `Some(hash)` a file with that SHA-256.
type Allowed = BTreeSet<Option<String>>;

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// A small deterministic generator, so that every run makes the same operations.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 =
            self.0.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// Content of the `serial`-th write of a worker: up to 65 KiB, unique.
fn content(worker: usize, serial: u64, rng: &mut Lcg) -> Vec<u8> {
    let len = 1024 + usize::try_from(rng.below(64 * 1024)).unwrap();
    let header = format!("worker {worker} write {serial}\n");
    let mut bytes = header.into_bytes();
    let fill = u8::try_from(serial % 251).unwrap();
    bytes.resize(len, fill);
    bytes
}

/// What one worker knows of its own folder.
#[derive(Default)]
struct Model {
    /// Every path the worker touched, with the states it may be in.
    paths: BTreeMap<String, Allowed>,
}

impl Model {
    fn certain(&mut self, path: &str, state: Option<String>) {
        self.paths.insert(path.to_string(), BTreeSet::from([state]));
    }
    fn either(&mut self, path: &str, before: Option<String>, after: Option<String>) {
        self.paths.insert(path.to_string(), BTreeSet::from([before, after]));
    }
    fn present(&self, prefix: &str) -> Vec<(String, String)> {
        self.paths
            .iter()
            .filter(|(path, _)| path.starts_with(prefix))
            .filter_map(|(path, allowed)| match allowed.iter().collect::<Vec<_>>()[..] {
                [Some(hash)] => Some((path.clone(), hash.clone())),
                _ => None,
            })
            .collect()
    }
}

/// Writes into `/w<worker>/` until a request fails, which after the kill they all do.
/// Answers the worker's model and whether a request failed before the kill.
async fn worker(
    server: Arc<String>,
    token: Arc<String>,
    worker: usize,
    round: u64,
    mut model: Model,
    acks: Arc<AtomicUsize>,
    killed: Arc<AtomicBool>,
) -> (Model, Option<String>) {
    let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let mut rng = Lcg(u64::try_from(worker).unwrap() * 7919 + round * 104_729);
    let prefix = format!("/w{worker}/");
    for serial in 0.. {
        let files = model.present(&prefix);
        let choice = if files.is_empty() { 0 } else { rng.below(10) };
        let outcome = if choice < 6 {
            let overwrite = !files.is_empty() && rng.below(3) == 0;
            let (path, before) = if overwrite {
                let (path, hash) = &files[usize::try_from(rng.below(files.len() as u64)).unwrap()];
                (path.clone(), Some(hash.clone()))
            } else {
                (format!("{prefix}d{}/r{round}-f{serial}.bin", rng.below(3)), None)
            };
            let bytes = content(worker, serial, &mut rng);
            let hash = sha256_hex(&bytes);
            let sent = client
                .put(format!("{server}/1/files_put/1{path}"))
                .bearer_auth(token.as_str())
                .body(bytes)
                .send()
                .await;
            match sent {
                Ok(response) if response.status().is_success() => {
                    model.certain(&path, Some(hash));
                    Ok(())
                }
                Ok(response) => Err(format!("upload {path}: {}", response.status())),
                Err(error) => {
                    model.either(&path, before, Some(hash));
                    Err(format!("upload {path}: {error}"))
                }
            }
        } else {
            let (path, hash) = &files[usize::try_from(rng.below(files.len() as u64)).unwrap()];
            let (op, form) = if choice < 8 {
                let to = format!("{prefix}d{}/r{round}-m{serial}.bin", rng.below(3));
                (
                    "move",
                    vec![("root", "1".to_string()), ("from_path", path.clone()), ("to_path", to)],
                )
            } else {
                ("delete", vec![("root", "1".to_string()), ("path", path.clone())])
            };
            let sent = client
                .post(format!("{server}/1/fileops/{op}"))
                .bearer_auth(token.as_str())
                .form(&form)
                .send()
                .await;
            let to = form.get(2).map(|(_, to)| to.clone());
            match sent {
                Ok(response) if response.status().is_success() => {
                    model.certain(path, None);
                    if let Some(to) = &to {
                        model.certain(to, Some(hash.clone()));
                    }
                    Ok(())
                }
                Ok(response) => Err(format!("{op} {path}: {}", response.status())),
                Err(error) => {
                    model.either(path, Some(hash.clone()), None);
                    if let Some(to) = &to {
                        model.either(to, None, Some(hash.clone()));
                    }
                    Err(format!("{op} {path}: {error}"))
                }
            }
        };
        match outcome {
            Ok(()) => {
                acks.fetch_add(1, Ordering::SeqCst);
            }
            Err(problem) => {
                let before_kill = !killed.load(Ordering::SeqCst);
                return (model, before_kill.then_some(problem));
            }
        }
    }
    unreachable!("the loop ends with the kill")
}

/// Runs the workers against a fresh start of the server, kills it with SIGKILL once `after`
/// writes were acknowledged, and answers the merged model.
async fn write_and_kill(data_dir: &Path, round: u64, model: Model, after: usize) -> Model {
    let server = ServerProcess::start(data_dir).await;
    let token = Arc::new(server.admin_token(&reqwest::Client::new()).await);
    let address = Arc::new(server.address.clone());
    let acks = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let mut models: Vec<Model> = (0..WORKERS).map(|_| Model::default()).collect();
    for (path, allowed) in model.paths {
        let worker: usize = path[2..].split('/').next().unwrap().parse().unwrap();
        models[worker].paths.insert(path, allowed);
    }
    let tasks: Vec<_> = models
        .into_iter()
        .enumerate()
        .map(|(index, model)| {
            tokio::spawn(worker(
                address.clone(),
                token.clone(),
                index,
                round,
                model,
                acks.clone(),
                killed.clone(),
            ))
        })
        .collect();
    tokio::time::timeout(Duration::from_secs(30), async {
        while acks.load(Ordering::SeqCst) < after {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await
    .expect("the writers make progress");
    killed.store(true, Ordering::SeqCst);
    let log = server.kill().await;
    let mut merged = Model::default();
    for task in tasks {
        let (model, problem) = task.await.unwrap();
        assert!(problem.is_none(), "a request failed before the kill: {problem:?}\n{log:#?}");
        merged.paths.extend(model.paths);
    }
    assert!(!log.iter().any(|line| line.contains("database is locked")), "{log:#?}");
    let open = merged.paths.values().filter(|allowed| allowed.len() > 1).count();
    eprintln!(
        "round {round}: killed after {} acknowledged writes, {open} paths in flight",
        acks.load(Ordering::SeqCst)
    );
    merged
}

/// Checks every path against its allowed states through the API and on disk, and answers
/// the model with each path's actual state, which is certain again.
async fn verify(data_dir: &Path, model: Model) -> Model {
    let server = ServerProcess::start(data_dir).await;
    let client = reqwest::Client::new();
    let token = server.admin_token(&client).await;
    let mut settled = Model::default();
    for (path, allowed) in &model.paths {
        let response = client
            .get(server.url(&format!("/1/files/1{path}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap();
        let state = match response.status().as_u16() {
            200 => {
                let hash = sha256_hex(&response.bytes().await.unwrap());
                let meta: Value = client
                    .get(server.url(&format!("/1/metadata/1{path}")))
                    .bearer_auth(&token)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap();
                assert_eq!(meta["content_hash"], hash.as_str(), "{path} is indexed as it is");
                Some(hash)
            }
            404 => None,
            other => panic!("{path}: status {other}"),
        };
        assert!(allowed.contains(&state), "{path} is {state:?}; allowed {allowed:?}");
        settled.certain(path, state);
    }
    // Nothing else is visible: every file in the listings and on disk is a known, whole one.
    let mut folders = vec!["/".to_string()];
    let mut listed = BTreeSet::new();
    while let Some(folder) = folders.pop() {
        let listing: Value = client
            .get(server.url(&format!("/1/metadata/1{folder}")))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        for entry in listing["contents"].as_array().unwrap() {
            let path = entry["path"].as_str().unwrap().to_string();
            if entry["is_dir"] == true {
                folders.push(path);
            } else {
                let known = settled.paths.get(&path).and_then(|states| states.first().cloned());
                assert_eq!(known, Some(entry["content_hash"].as_str().map(String::from)), "{path}");
                listed.insert(path);
            }
        }
    }
    let present: BTreeSet<String> =
        settled.present("/").into_iter().map(|(path, _)| path).collect();
    assert_eq!(listed, present, "the listings show exactly the files that exist");
    let mut on_disk = BTreeSet::new();
    disk_files(&data_dir.join("roots/1"), "", &mut on_disk);
    assert_eq!(on_disk, present, "the disk holds exactly the listed files");
    server.kill().await;
    settled
}

fn disk_files(dir: &Path, prefix: &str, found: &mut BTreeSet<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        let path = format!("{prefix}/{}", entry.file_name().to_string_lossy());
        if entry.file_type().unwrap().is_dir() {
            disk_files(&entry.path(), &path, found);
        } else {
            found.insert(path);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill_and_the_index_agrees_with_the_disk() {
    let data_dir = tempfile::tempdir().unwrap();
    let data = data_dir.path();

    // First kill early, while the folders are still being made; the restart reconciles.
    let model = write_and_kill(data, 1, Model::default(), 15).await;
    let model = verify(data, model).await;

    // Second kill later, with overwrites, moves and deletes of existing files in flight;
    // this time `check --repair` mends the stopped folder before the restart.
    let model = write_and_kill(data, 2, model, 50).await;
    let (status, output) = run_check(data, &["--repair"]).await;
    assert_eq!(status, 0, "every crash leftover is repairable:\n{output}");
    eprintln!("check --repair after the second kill:\n{output}");
    let (status, output) = run_check(data, &[]).await;
    assert_eq!(status, 0, "{output}");
    let model = verify(data, model).await;

    // A third kill, then the restart's own reconcile alone; check on the stopped folder.
    let model = write_and_kill(data, 3, model, 30).await;
    let model = verify(data, model).await;
    let (status, output) = run_check(data, &[]).await;
    assert_eq!(status, 0, "the index and the disk agree after the restart:\n{output}");
    assert!(model.present("/").len() >= 15, "enough files took part");
}
