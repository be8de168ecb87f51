//! Crashes: concurrent uploads (whole and chunked), overwrites, copies, moves, deletes and
//! restores against the real binary, which is killed with SIGKILL in the middle and started
//! again. Every write the server answered with 2xx must be whole and indexed afterwards, with
//! its older versions still listed; a write cut off by the kill must have happened entirely or
//! not at all; a chunked upload cut off by the kill resumes from the bytes the server
//! acknowledged; no partial file may be visible; and `cloudsync check` must find the index and
//! the disk in agreement.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
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
    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next()).unwrap() % n
    }
}

/// Content of the `serial`-th write of a worker: up to 65 KiB, unique.
fn content(worker: usize, serial: u64, rng: &mut Lcg) -> Vec<u8> {
    let len = 1024 + rng.below(64 * 1024);
    let header = format!("worker {worker} write {serial}\n");
    let mut bytes = header.into_bytes();
    let fill = u8::try_from(serial % 251).unwrap();
    bytes.resize(len, fill);
    bytes
}

/// A chunked upload a worker started and has not seen committed.
#[derive(Clone, Debug)]
struct Pending {
    /// Where it is committed, and the state of that path before the commit.
    path: String,
    before: Option<String>,
    bytes: Vec<u8>,
    /// Known once the server answered the first chunk.
    upload_id: Option<String>,
    /// Bytes the server acknowledged.
    acked: usize,
    /// The end of a chunk the kill cut off: the server may or may not have kept it.
    in_flight: Option<usize>,
    /// Whether the kill cut off the commit.
    committing: bool,
}

/// The end of the chunk that starts at `start`: uploads go in three chunks.
fn chunk_end(start: usize, len: usize) -> usize {
    [len / 3, 2 * len / 3, len].into_iter().find(|&cut| cut > start).unwrap_or(len)
}

/// What one worker knows of its own folder.
#[derive(Default)]
struct Model {
    /// Every path the worker touched, with the states it may be in.
    paths: BTreeMap<String, Allowed>,
    /// The versions `(rev, hash)` of the file at a path, oldest first, as far as the worker
    /// is sure of them; also for deleted files, whose versions stay restorable.
    history: BTreeMap<String, Vec<(String, String)>>,
    /// Chunked uploads cut off by a kill, by the path they are meant for.
    uploads: BTreeMap<String, Pending>,
}

impl Model {
    fn certain(&mut self, path: &str, state: Option<String>) {
        self.paths.insert(path.to_string(), BTreeSet::from([state]));
    }
    /// A cut-off write: the path holds one of two states, and its history is no longer sure.
    fn either(&mut self, path: &str, before: Option<String>, after: Option<String>) {
        self.paths.insert(path.to_string(), BTreeSet::from([before, after]));
        self.history.remove(path);
    }
    /// An acknowledged write of `hash` at `path`, answered with the metadata `meta`.
    fn written(&mut self, path: &str, hash: &str, meta: &Value) {
        assert_eq!(meta["path"], path, "{meta}");
        assert_eq!(meta["content_hash"], hash, "{meta}");
        self.certain(path, Some(hash.to_string()));
        let rev = meta["rev"].as_str().expect("a rev").to_string();
        self.history.entry(path.to_string()).or_default().push((rev, hash.to_string()));
    }
    fn state(&self, path: &str) -> Option<Option<String>> {
        match self.paths.get(path)?.iter().collect::<Vec<_>>()[..] {
            [state] => Some(state.clone()),
            _ => None,
        }
    }
    fn present(&self, prefix: &str) -> Vec<(String, String)> {
        self.paths
            .keys()
            .filter(|path| path.starts_with(prefix))
            .filter_map(|path| Some((path.clone(), self.state(path)??)))
            .collect()
    }
    /// Paths with a known older version that differs from what the path holds now.
    fn restorable(&self, prefix: &str) -> Vec<(String, Option<String>, (String, String))> {
        let mut found = vec![];
        for (path, versions) in self.history.range(prefix.to_string()..) {
            if !path.starts_with(prefix) {
                break;
            }
            let Some(now) = self.state(path) else { continue };
            for version in versions {
                if now.as_ref() != Some(&version.1) {
                    found.push((path.clone(), now.clone(), version.clone()));
                }
            }
        }
        found
    }
    /// Moves the parts of `other` that belong to worker folders into this model.
    fn merge(&mut self, other: Model) {
        self.paths.extend(other.paths);
        self.history.extend(other.history);
        self.uploads.extend(other.uploads);
    }
    /// Splits the model by worker folder (`/w<n>/`).
    fn split(self) -> Vec<Model> {
        let worker =
            |path: &str| -> usize { path[2..].split('/').next().unwrap().parse().unwrap() };
        let mut models: Vec<Model> = (0..WORKERS).map(|_| Model::default()).collect();
        for (path, allowed) in self.paths {
            models[worker(&path)].paths.insert(path, allowed);
        }
        for (path, versions) in self.history {
            models[worker(&path)].history.insert(path, versions);
        }
        for (path, pending) in self.uploads {
            models[worker(&path)].uploads.insert(path, pending);
        }
        models
    }
}

/// How a request that did not succeed went.
enum Failure {
    /// The server answered with an error.
    Refused(StatusCode, String),
    /// No whole answer: the request may or may not have taken effect.
    CutOff(String),
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Failure::Refused(status, body) => write!(f, "{status} {body}"),
            Failure::CutOff(error) => write!(f, "cut off: {error}"),
        }
    }
}

/// The JSON of a successful answer.
async fn answer(sent: reqwest::Result<reqwest::Response>) -> Result<Value, Failure> {
    let response = sent.map_err(|error| Failure::CutOff(error.to_string()))?;
    let status = response.status();
    let body = response.text().await.map_err(|error| Failure::CutOff(error.to_string()))?;
    if !status.is_success() {
        return Err(Failure::Refused(status, body));
    }
    serde_json::from_str(&body)
        .map_err(|error| Failure::Refused(status, format!("{error}: {body}")))
}

/// Acknowledged operations of each kind, over all workers and rounds.
#[derive(Default)]
struct Tally(Mutex<BTreeMap<&'static str, usize>>);

impl Tally {
    fn add(&self, kind: &'static str) {
        *self.0.lock().unwrap().entry(kind).or_default() += 1;
    }
    fn get(&self, kind: &str) -> usize {
        self.0.lock().unwrap().get(kind).copied().unwrap_or(0)
    }
}

/// One writer, working in its own folder `/w<index>/` until a request fails, which after the
/// kill they all do.
struct Worker {
    client: reqwest::Client,
    server: Arc<String>,
    token: Arc<String>,
    index: usize,
    round: u64,
    prefix: String,
    rng: Lcg,
    model: Model,
    tally: Arc<Tally>,
}

type Step = Result<(), String>;

impl Worker {
    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.server)
    }

    /// Where a new write goes: an existing file a third of the time, else a new name.
    fn target(
        &mut self,
        serial: u64,
        files: &[(String, String)],
        tag: &str,
    ) -> (String, Option<String>) {
        if !files.is_empty() && self.rng.below(3) == 0 {
            let (path, hash) = &files[self.rng.below(files.len())];
            (path.clone(), Some(hash.clone()))
        } else {
            let folder = self.rng.below(3);
            (format!("{}d{folder}/r{}-{tag}{serial}.bin", self.prefix, self.round), None)
        }
    }

    /// Writes until a request fails; answers the model and the failure, when it came before
    /// the kill.
    async fn run(
        mut self,
        acks: Arc<AtomicUsize>,
        killed: Arc<AtomicBool>,
    ) -> (Model, Option<String>) {
        let mut outcome = Ok(());
        // Chunked uploads the last kill cut off are finished first.
        for pending in std::mem::take(&mut self.model.uploads).into_values() {
            outcome = self.finish_chunked(pending).await;
            if outcome.is_err() {
                break;
            }
            self.tally.add("resumed chunked upload");
        }
        let mut serial = 0;
        while outcome.is_ok() {
            outcome = self.step(serial).await;
            if outcome.is_ok() {
                acks.fetch_add(1, Ordering::SeqCst);
            }
            serial += 1;
        }
        let before_kill = !killed.load(Ordering::SeqCst);
        (self.model, outcome.err().filter(|_| before_kill))
    }

    async fn step(&mut self, serial: u64) -> Step {
        let files = self.model.present(&self.prefix);
        let choice = if files.is_empty() { 0 } else { self.rng.below(13) };
        match choice {
            0..=4 => self.upload(serial, &files).await,
            5 | 6 => self.chunked(serial, &files).await,
            7 => self.copy(serial, &files).await,
            8 | 9 => self.move_file(serial, &files).await,
            10 => self.delete(&files).await,
            _ => self.restore(serial, &files).await,
        }
    }

    async fn upload(&mut self, serial: u64, files: &[(String, String)]) -> Step {
        let (path, before) = self.target(serial, files, "f");
        let bytes = content(self.index, serial, &mut self.rng);
        let hash = sha256_hex(&bytes);
        let sent = self
            .client
            .put(self.url(&format!("/1/files_put/1{path}")))
            .bearer_auth(self.token.as_str())
            .body(bytes)
            .send()
            .await;
        self.settle(answer(sent).await, &path, before, hash, "upload")
    }

    async fn chunked(&mut self, serial: u64, files: &[(String, String)]) -> Step {
        let (path, before) = self.target(serial, files, "u");
        let bytes = content(self.index, serial, &mut self.rng);
        let pending = Pending {
            path,
            before,
            bytes,
            upload_id: None,
            acked: 0,
            in_flight: None,
            committing: false,
        };
        self.finish_chunked(pending).await?;
        self.tally.add("chunked upload");
        Ok(())
    }

    /// Sends the chunks the server has not acknowledged, then commits. A chunk or commit cut
    /// off by the kill leaves the upload in the model, to be finished after the restart.
    async fn finish_chunked(&mut self, mut pending: Pending) -> Step {
        let hash = sha256_hex(&pending.bytes);
        let path = pending.path.clone();
        if pending.committing && self.model.state(&path) == Some(Some(hash.clone())) {
            return Ok(()); // The commit the kill cut off had taken effect.
        }
        while pending.acked < pending.bytes.len() {
            let end = chunk_end(pending.acked, pending.bytes.len());
            let mut request =
                self.client.put(self.url("/1/chunked_upload/")).bearer_auth(self.token.as_str());
            if let Some(id) = &pending.upload_id {
                let offset = pending.acked.to_string();
                request = request.query(&[("upload_id", id.as_str()), ("offset", &offset)]);
            }
            let sent = request.body(pending.bytes[pending.acked..end].to_vec()).send().await;
            match answer(sent).await {
                Ok(state) => {
                    assert_eq!(state["offset"], end, "{state}");
                    let id = state["upload_id"].as_str().expect("an upload id");
                    assert!(pending.upload_id.as_deref().is_none_or(|known| known == id));
                    pending.upload_id = Some(id.to_string());
                    pending.acked = end;
                    pending.in_flight = None;
                }
                Err(Failure::Refused(StatusCode::BAD_REQUEST, body))
                    if pending.in_flight.is_some() =>
                {
                    // The chunk the kill cut off had reached the disk: the server asks for
                    // the bytes after it, and for no other offset.
                    let expected: Value = serde_json::from_str(&body).unwrap();
                    let in_flight = pending.in_flight.take().unwrap();
                    assert_eq!(expected["offset"], in_flight, "{body}");
                    pending.acked = in_flight;
                    self.tally.add("cut-off chunk found kept");
                }
                Err(failure) => {
                    if let Failure::CutOff(_) = failure {
                        if pending.upload_id.is_some() {
                            pending.in_flight = Some(end);
                        }
                        self.model.uploads.insert(path.clone(), pending);
                    }
                    return Err(format!("chunk of {path}: {failure}"));
                }
            }
        }
        pending.committing = true;
        let id = pending.upload_id.clone().unwrap();
        let sent = self
            .client
            .post(self.url(&format!("/1/commit_chunked_upload/1{path}")))
            .bearer_auth(self.token.as_str())
            .form(&[("upload_id", id.as_str()), ("overwrite", "true")])
            .send()
            .await;
        match answer(sent).await {
            Ok(meta) => {
                self.model.written(&path, &hash, &meta);
                Ok(())
            }
            Err(failure) => {
                if let Failure::CutOff(_) = failure {
                    self.model.either(&path, pending.before.clone(), Some(hash));
                    self.model.uploads.insert(path.clone(), pending);
                }
                Err(format!("commit of {path}: {failure}"))
            }
        }
    }

    /// Records how a write of `hash` at `path` (which held `before`) went: acknowledged, it is
    /// certain; cut off by the kill, the path holds either state.
    fn settle(
        &mut self,
        outcome: Result<Value, Failure>,
        path: &str,
        before: Option<String>,
        hash: String,
        kind: &'static str,
    ) -> Step {
        match outcome {
            Ok(meta) => {
                self.model.written(path, &hash, &meta);
                self.tally.add(kind);
                Ok(())
            }
            Err(failure) => {
                if let Failure::CutOff(_) = failure {
                    self.model.either(path, before, Some(hash));
                }
                Err(format!("{kind} {path}: {failure}"))
            }
        }
    }

    /// A file operation given as a form; answers the metadata.
    async fn fileop(&self, op: &str, form: &[(&str, &str)]) -> Result<Value, Failure> {
        let sent = self
            .client
            .post(self.url(&format!("/1/fileops/{op}/")))
            .bearer_auth(self.token.as_str())
            .form(form)
            .send()
            .await;
        answer(sent).await
    }

    async fn copy(&mut self, serial: u64, files: &[(String, String)]) -> Step {
        let (from, hash) = files[self.rng.below(files.len())].clone();
        let to = format!("{}d{}/r{}-c{serial}.bin", self.prefix, self.rng.below(3), self.round);
        let form = [("root", "1"), ("from_path", from.as_str()), ("to_path", to.as_str())];
        // A copy starts its own history.
        let copied = self.fileop("copy", &form).await;
        self.settle(copied, &to, None, hash, "copy")
    }

    async fn move_file(&mut self, serial: u64, files: &[(String, String)]) -> Step {
        let (from, hash) = files[self.rng.below(files.len())].clone();
        let to = format!("{}d{}/r{}-m{serial}.bin", self.prefix, self.rng.below(3), self.round);
        let form = [("root", "1"), ("from_path", from.as_str()), ("to_path", to.as_str())];
        match self.fileop("move", &form).await {
            Ok(meta) => {
                assert_eq!(meta["path"], to.as_str(), "{meta}");
                self.model.certain(&from, None);
                self.model.certain(&to, Some(hash));
                // The versions follow the file.
                if let Some(versions) = self.model.history.remove(&from) {
                    self.model.history.insert(to, versions);
                }
                self.tally.add("move");
                Ok(())
            }
            Err(failure) => {
                if let Failure::CutOff(_) = failure {
                    self.model.either(&from, Some(hash.clone()), None);
                    self.model.either(&to, None, Some(hash));
                }
                Err(format!("move {from}: {failure}"))
            }
        }
    }

    async fn delete(&mut self, files: &[(String, String)]) -> Step {
        let (path, hash) = files[self.rng.below(files.len())].clone();
        match self.fileop("delete", &[("root", "1"), ("path", path.as_str())]).await {
            Ok(meta) => {
                assert_eq!(meta["is_deleted"], true, "{meta}");
                // The versions stay restorable.
                self.model.certain(&path, None);
                self.tally.add("delete");
                Ok(())
            }
            Err(failure) => {
                if let Failure::CutOff(_) = failure {
                    self.model.either(&path, Some(hash), None);
                }
                Err(format!("delete {path}: {failure}"))
            }
        }
    }

    /// Brings back an older version of a file, or a deleted file; uploads when the worker
    /// knows of nothing to restore.
    async fn restore(&mut self, serial: u64, files: &[(String, String)]) -> Step {
        let candidates = self.model.restorable(&self.prefix);
        if candidates.is_empty() {
            return self.upload(serial, files).await;
        }
        let (path, now, (rev, hash)) = candidates[self.rng.below(candidates.len())].clone();
        let sent = self
            .client
            .post(self.url(&format!("/1/restore/1{path}")))
            .bearer_auth(self.token.as_str())
            .form(&[("rev", rev.as_str())])
            .send()
            .await;
        let kind = if now.is_none() { "undelete" } else { "restore" };
        self.settle(answer(sent).await, &path, now, hash, kind)
    }
}

/// Runs the workers against a fresh start of the server, kills it with SIGKILL once `after`
/// operations were acknowledged, and answers the merged model.
async fn write_and_kill(
    data_dir: &Path,
    round: u64,
    model: Model,
    after: usize,
    tally: &Arc<Tally>,
) -> Model {
    let server = ServerProcess::start(data_dir).await;
    let token = Arc::new(server.admin_token(&reqwest::Client::new()).await);
    let address = Arc::new(server.address.clone());
    let acks = Arc::new(AtomicUsize::new(0));
    let killed = Arc::new(AtomicBool::new(false));
    let client = reqwest::Client::builder().timeout(Duration::from_secs(20)).build().unwrap();
    let tasks: Vec<_> = model
        .split()
        .into_iter()
        .enumerate()
        .map(|(index, model)| {
            let worker = Worker {
                client: client.clone(),
                server: address.clone(),
                token: token.clone(),
                index,
                round,
                prefix: format!("/w{index}/"),
                rng: Lcg(u64::try_from(index).unwrap() * 7919 + round * 104_729),
                model,
                tally: tally.clone(),
            };
            tokio::spawn(worker.run(acks.clone(), killed.clone()))
        })
        .collect();
    tokio::time::timeout(Duration::from_secs(60), async {
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
        merged.merge(model);
    }
    assert!(!log.iter().any(|line| line.contains("database is locked")), "{log:#?}");
    let open = merged.paths.values().filter(|allowed| allowed.len() > 1).count();
    eprintln!(
        "round {round}: killed after {} acknowledged operations, {open} paths in flight, {} \
         chunked uploads cut off",
        acks.load(Ordering::SeqCst),
        merged.uploads.len()
    );
    merged
}

/// Checks every path against its allowed states through the API and on disk, and every
/// version the model is sure of against the path's revisions. Answers the model with each
/// path's actual state, which is certain again.
async fn verify(data_dir: &Path, model: Model) -> Model {
    let server = ServerProcess::start(data_dir).await;
    let client = reqwest::Client::new();
    let token = server.admin_token(&client).await;
    let get = |path: String| client.get(server.url(&path)).bearer_auth(&token).send();
    let mut settled = Model { uploads: model.uploads, ..Model::default() };
    for (path, allowed) in &model.paths {
        let response = get(format!("/1/files/1{path}")).await.unwrap();
        let state = match response.status().as_u16() {
            200 => {
                let hash = sha256_hex(&response.bytes().await.unwrap());
                let meta: Value =
                    get(format!("/1/metadata/1{path}")).await.unwrap().json().await.unwrap();
                assert_eq!(meta["content_hash"], hash.as_str(), "{path} is indexed as it is");
                // Where a cut-off write left the history unsure, it starts again from here.
                let rev = meta["rev"].as_str().unwrap().to_string();
                let known = model.history.get(path).cloned().unwrap_or_default();
                let versions = if known.last() == Some(&(rev.clone(), hash.clone())) {
                    known
                } else {
                    vec![(rev, hash.clone())]
                };
                settled.history.insert(path.clone(), versions);
                Some(hash)
            }
            404 => {
                if let Some(versions) = model.history.get(path) {
                    settled.history.insert(path.clone(), versions.clone());
                }
                None
            }
            other => panic!("{path}: status {other}"),
        };
        assert!(allowed.contains(&state), "{path} is {state:?}; allowed {allowed:?}");
        settled.certain(path, state);
    }
    // Acknowledged versions survive: each is listed with its hash. (`check` finds their bytes.)
    let mut kept = 0;
    for (path, versions) in &settled.history {
        let listed: Value = get(format!("/1/revisions/1{path}?rev_limit=1000"))
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let listed: BTreeMap<&str, &str> = listed["results"]
            .as_array()
            .unwrap_or_else(|| panic!("revisions of {path}: {listed}"))
            .iter()
            .map(|version| {
                (version["rev"].as_str().unwrap(), version["content_hash"].as_str().unwrap())
            })
            .collect();
        for (rev, hash) in versions {
            assert_eq!(listed.get(rev.as_str()), Some(&hash.as_str()), "{path} version {rev}");
            kept += 1;
        }
    }
    eprintln!("{kept} known versions of {} paths are listed", settled.history.len());
    // Nothing else is visible: every file in the listings and on disk is a known, whole one.
    let mut folders = vec!["/".to_string()];
    let mut listed = BTreeSet::new();
    while let Some(folder) = folders.pop() {
        let listing: Value =
            get(format!("/1/metadata/1{folder}")).await.unwrap().json().await.unwrap();
        for entry in listing["contents"].as_array().unwrap() {
            let path = entry["path"].as_str().unwrap().to_string();
            if entry["is_dir"] == true {
                folders.push(path);
            } else {
                let known = settled.state(&path);
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
    let tally = Arc::new(Tally::default());

    // First kill early, while the folders are still being made; the restart reconciles.
    let model = write_and_kill(data, 1, Model::default(), 15, &tally).await;
    let model = verify(data, model).await;

    // Second kill later, with overwrites, copies, moves, deletes and restores of existing
    // files in flight; this time `check --repair` mends the stopped folder before the restart.
    let model = write_and_kill(data, 2, model, 80, &tally).await;
    let (status, output) = run_check(data, &["--repair"]).await;
    assert_eq!(status, 0, "every crash leftover is repairable:\n{output}");
    eprintln!("check --repair after the second kill:\n{output}");
    let (status, output) = run_check(data, &[]).await;
    assert_eq!(status, 0, "{output}");
    let model = verify(data, model).await;

    // More kills, then the restart's own reconcile alone; check on the stopped folder.
    let mut model = model;
    for round in 3..=4 {
        model = write_and_kill(data, round, model, 60, &tally).await;
        model = verify(data, model).await;
        let (status, output) = run_check(data, &[]).await;
        assert_eq!(status, 0, "the index and the disk agree after the restart:\n{output}");
    }
    eprintln!("acknowledged: {:?}", tally.0.lock().unwrap());
    assert!(model.present("/").len() >= 15, "enough files took part");
    for kind in ["upload", "chunked upload", "copy", "move", "delete", "restore"] {
        assert!(tally.get(kind) > 0, "no {kind} was acknowledged: {:?}", tally.0.lock().unwrap());
    }
}
