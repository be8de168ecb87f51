//! Fuzzes the chunked upload protocol end to end: each input is a short sequence of chunk,
//! commit and garbage calls sent over HTTP to one real server running in the fuzzing process.
//! A model of every upload (the bytes acknowledged so far) and of the files committed under the
//! input's own folder predicts each answer: a chunk is accepted exactly when it starts at the
//! bytes received, a wrong offset names the right one, a commit lands where `files_put` would
//! put the file (conflicts, case variants, `name (1).ext`) and reads back byte for byte, a
//! committed upload is gone and a failed commit keeps it. Every answer is below 500, and every
//! client error is JSON with a message. The server's threads still hold memory at exit, so run
//! it with `ASAN_OPTIONS=detect_leaks=0`.

#![no_main]

use std::collections::BTreeMap;
use std::sync::LazyLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use cloudsync::app::Application;
use cloudsync::clock::Clock;
use cloudsync::config::Config;
use cloudsync::storage::paths::SafePath;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

/// The most operations read from one input.
const MAX_OPS: usize = 16;
/// The largest chunk an operation sends.
const MAX_CHUNK: usize = 32;
/// The server's `--max-upload-bytes`: a few chunks reach it, so 413 is exercised.
const UPLOAD_LIMIT: u64 = 48;
const ADMIN_PASSWORD: &str = "fuzz-admin-password";

/// The server of this fuzzing process and a signed-in client of it.
struct Harness {
    agent: ureq::Agent,
    base: String,
    token: String,
    root_id: i64,
}

static HARNESS: LazyLock<Harness> = LazyLock::new(start_server);
/// Numbers the inputs, each of which commits under its own folder `/f<number>`.
static INPUTS: AtomicU64 = AtomicU64::new(0);

fn start_server() -> Harness {
    // tmpfs when there is one: the server syncs every upload, and the disk would set the pace.
    let parent = match std::path::Path::new("/dev/shm") {
        shm if shm.is_dir() => shm.to_path_buf(),
        _ => std::env::temp_dir(),
    };
    let data_dir = parent.join(format!("cloudsync-fuzz-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&data_dir);
    let mut config = Config::with_data_dir(data_dir);
    config.listen = "127.0.0.1:0".parse().expect("loopback address");
    config.admin_password = Some(ADMIN_PASSWORD.into());
    config.bcrypt_cost = 4;
    config.max_upload_bytes = Some(UPLOAD_LIMIT);
    let (port_tx, port_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let clock = std::sync::Arc::new(Clock::system());
            let application = Application::build(config, clock).await.expect("server starts");
            port_tx.send(application.port()).expect("port handed over");
            application.run_until_stopped().await.expect("server runs");
        });
    });
    let port = port_rx.recv().expect("server started");
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into();
    let base = format!("http://127.0.0.1:{port}");
    let mut answer = agent
        .post(format!("{base}/1/auth/"))
        .send_form([("username", "admin"), ("password", ADMIN_PASSWORD)])
        .expect("sign-in sent");
    assert_eq!(answer.status().as_u16(), 200, "admin signs in");
    let body: Value = answer.body_mut().read_json().expect("sign-in answer is JSON");
    let token = body["session_token"].as_str().expect("a session token").to_string();
    let mut info = agent
        .get(format!("{base}/1/account/info/"))
        .header("Authorization", format!("Bearer {token}"))
        .call()
        .expect("account info sent");
    let info: Value = info.body_mut().read_json().expect("account info is JSON");
    let root_id = info["roots"]
        .as_array()
        .and_then(|roots| roots.iter().find(|root| root["type"] == "sync"))
        .and_then(|root| root["id"].as_i64())
        .expect("admin has a sync root");
    Harness { agent, base, token, root_id }
}

/// Reads the input a byte at a time; a finished input reads as zeros.
struct Input<'a> {
    data: &'a [u8],
}

impl Input<'_> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&first, rest)) => {
                self.data = rest;
                first
            }
            None => 0,
        }
    }

    fn bytes(&mut self, wanted: usize) -> Vec<u8> {
        let (taken, rest) = self.data.split_at(wanted.min(self.data.len()));
        self.data = rest;
        taken.to_vec()
    }

    fn chunk(&mut self) -> Vec<u8> {
        let length = usize::from(self.byte()) % (MAX_CHUNK + 1);
        self.bytes(length)
    }

    fn text(&mut self, alphabet: &[u8]) -> String {
        let length = usize::from(self.byte() % 6);
        (0..length)
            .map(|_| char::from(alphabet[usize::from(self.byte()) % alphabet.len()]))
            .collect()
    }
}

/// One chunked upload of this input, as the client knows it.
struct Upload {
    id: String,
    /// The bytes the server acknowledged.
    bytes: Vec<u8>,
    /// Whether the upload still exists (not committed).
    open: bool,
}

/// A file or folder committed by this input.
struct Node {
    /// The path as the server stores it (case and NFC).
    path: String,
    /// The file's bytes and rev; `None` for a folder.
    file: Option<(Vec<u8>, String)>,
}

/// What an answer came back as.
struct Answer {
    status: u16,
    body: Value,
}

struct Run {
    folder: String,
    uploads: Vec<Upload>,
    /// This input's entries by path key (lowercase).
    tree: BTreeMap<String, Node>,
}

fuzz_target!(|data: &[u8]| {
    let harness = &*HARNESS;
    let number = INPUTS.fetch_add(1, Ordering::Relaxed);
    let mut run = Run { folder: format!("f{number}"), uploads: Vec::new(), tree: BTreeMap::new() };
    let mut input = Input { data };
    for _ in 0..MAX_OPS {
        if input.data.is_empty() {
            break;
        }
        match input.byte() % 8 {
            0 | 1 => run.start(harness, &mut input),
            2 | 3 => run.append(harness, &mut input),
            4 => run.append_unknown(harness, &mut input),
            5 => run.append_odd_offset(harness, &mut input),
            _ => run.commit(harness, &mut input),
        }
    }
    run.check_files(harness);
});

impl Run {
    /// A first chunk, with `offset` absent, zero, empty, wrong or unreadable.
    fn start(&mut self, harness: &Harness, input: &mut Input<'_>) {
        let offset = match input.byte() % 8 {
            3 => Some(input.text(b"0123456789+- .x")),
            4 => Some("0".to_string()),
            5 => Some(String::new()),
            6 => Some((1 + u32::from(input.byte())).to_string()),
            _ => None,
        };
        let chunk = input.chunk();
        self.start_with(harness, offset, chunk);
    }

    /// Sends a first chunk and checks the answer.
    fn start_with(&mut self, harness: &Harness, offset: Option<String>, chunk: Vec<u8>) {
        let mut query = Vec::new();
        if let Some(offset) = &offset {
            query.push(("offset", offset.as_str()));
        }
        let answer = put_chunk(harness, &query, &chunk);
        match parse_offset(offset.as_deref()) {
            Err(()) => expect_error(&answer, 400, "an unreadable offset on a first chunk"),
            Ok(Some(offset)) if offset != 0 => {
                expect_error(&answer, 400, "a first chunk at a non-zero offset");
                assert_eq!(answer.body["offset"], 0, "the expected offset of a new upload");
            }
            Ok(_) => {
                assert_eq!(answer.status, 200, "a first chunk is accepted: {}", answer.body);
                assert_eq!(answer.body["offset"], chunk.len(), "offset after the first chunk");
                assert!(answer.body["expires"].is_string(), "an expiry: {}", answer.body);
                let id = answer.body["upload_id"].as_str().expect("an upload id").to_string();
                assert!(
                    self.uploads.iter().all(|upload| upload.id != id),
                    "a new upload reuses the id {id}"
                );
                self.uploads.push(Upload { id, bytes: chunk, open: true });
            }
        }
    }

    /// A next chunk of one of this input's uploads, at the right offset or off by some bytes.
    fn append(&mut self, harness: &Harness, input: &mut Input<'_>) {
        let Some(index) = self.pick(input) else { return };
        let shift = match input.byte() {
            0..160 => 0,
            high => i64::from(high - 160) - 48,
        };
        // The id as the answer gave it, or with surrounding spaces (which a commit ignores).
        let padded = input.byte() % 4 == 0;
        let chunk = input.chunk();
        let upload = &self.uploads[index];
        let offset = (upload.bytes.len() as i64 + shift).to_string();
        let id = if padded { format!(" {} ", upload.id) } else { upload.id.clone() };
        let answer = put_chunk(harness, &[("upload_id", &id), ("offset", &offset)], &chunk);
        self.expect_append(index, shift == 0, &chunk, &answer);
    }

    /// What a next chunk to `uploads[index]` must answer; `offset_right` when it was sent at
    /// the bytes acknowledged so far.
    fn expect_append(&mut self, index: usize, offset_right: bool, chunk: &[u8], answer: &Answer) {
        let upload = &mut self.uploads[index];
        if !upload.open {
            expect_error(answer, 404, "a chunk to a committed upload");
            return;
        }
        if !offset_right {
            expect_error(answer, 400, "a chunk at a wrong offset");
            assert_eq!(answer.body["offset"], upload.bytes.len(), "the expected offset");
            return;
        }
        let total = upload.bytes.len() + chunk.len();
        if total as u64 > UPLOAD_LIMIT {
            expect_error(answer, 413, "an upload past the server's limit");
            return;
        }
        assert_eq!(answer.status, 200, "a chunk at the right offset: {}", answer.body);
        assert_eq!(answer.body["upload_id"], upload.id.as_str());
        assert_eq!(answer.body["offset"], total, "offset after a chunk");
        upload.bytes.extend_from_slice(chunk);
    }

    /// A chunk naming an upload that is not there: made up, or a real id spelled otherwise.
    fn append_unknown(&mut self, harness: &Harness, input: &mut Input<'_>) {
        let kind = input.byte();
        let real = self.pick(input).map(|index| self.uploads[index].id.clone());
        let id = match (kind % 6, &real) {
            (0, _) | (_, None) => "nope".to_string(),
            (1, _) => "0".repeat(32),
            (2, Some(real)) => real.to_uppercase(),
            (3, Some(real)) => format!("{real}0"),
            (4, Some(real)) => real[..real.len() - 1].to_string(),
            (_, Some(real)) => format!("{real}/"),
        };
        if real.as_ref() == Some(&id) {
            // An id of digits only reads the same in capitals.
            return;
        }
        let offset = u32::from(input.byte() % 64).to_string();
        let chunk = input.chunk();
        let answer = put_chunk(harness, &[("upload_id", &id), ("offset", &offset)], &chunk);
        expect_error(&answer, 404, "a chunk to an unknown upload");
    }

    /// A next chunk whose `offset` is text: missing, empty, signs, spaces, letters, huge.
    fn append_odd_offset(&mut self, harness: &Harness, input: &mut Input<'_>) {
        let Some(index) = self.pick(input) else { return };
        let length = self.uploads[index].bytes.len();
        let offset = match input.byte() % 10 {
            0 => None,
            1 => Some(String::new()),
            2 => Some(format!("+{length}")),
            3 => Some(format!(" {length} ")),
            4 => Some(format!("{length}.0")),
            5 => Some(format!("0{length}")),
            6 => Some("99999999999999999999".to_string()),
            7 => Some(format!("-{length}")),
            8 => Some(format!("0x{length:x}")),
            _ => Some(input.text(b"0123456789+- .xe")),
        };
        let chunk = input.chunk();
        let id = self.uploads[index].id.clone();
        let mut query = vec![("upload_id", id.as_str())];
        if let Some(offset) = &offset {
            query.push(("offset", offset.as_str()));
        }
        let answer = put_chunk(harness, &query, &chunk);
        match parse_offset(offset.as_deref()) {
            Err(()) => expect_error(&answer, 400, "an unreadable offset"),
            Ok(None) if self.uploads[index].open => {
                expect_error(&answer, 400, "a next chunk without an offset");
            }
            Ok(None) => expect_error(&answer, 404, "a chunk to a committed upload"),
            Ok(Some(offset)) => {
                let right = offset == length as i64;
                self.expect_append(index, right, &chunk, &answer);
            }
        }
    }

    /// A commit of one of this input's uploads (or of an unknown id) to a path made of a few
    /// awkward names, with the write options varied.
    fn commit(&mut self, harness: &Harness, input: &mut Input<'_>) {
        const NAMES: [&str; 14] = [
            "a", "A", "b.txt", "B.TXT", "é", "É", "e\u{301}", " ", ".", "..", "/", "/./", "/../",
            "a (1)",
        ];
        // Mostly an upload still open; now and then any (committing twice), the id with spaces
        // around it, or no id. Rare choices avoid 0x00 and 0xFF, which mutations favour.
        let id_kind = input.byte() % 16;
        if !matches!(id_kind, 5 | 9) && self.uploads.iter().all(|upload| !upload.open) {
            // Something to commit: a new upload of one chunk.
            let chunk = input.chunk();
            self.start_with(harness, None, chunk);
        }
        let index = if id_kind == 5 { self.pick(input) } else { self.pick_open(input) };
        let reuse = input.byte();
        let mut fresh = || {
            let parts = usize::from(input.byte() % 7);
            (0..parts).map(|_| NAMES[usize::from(input.byte()) % NAMES.len()]).collect::<String>()
        };
        // A path of this input again (so that commits meet), in another case or below it, or
        // a new one inside the input's folder.
        let full = match (
            reuse % 6,
            self.tree.values().nth(usize::from(reuse) % self.tree.len().max(1)),
        ) {
            (0, Some(node)) => node.path.clone(),
            (1, Some(node)) => node.path.to_uppercase(),
            (2, Some(node)) => node.path.to_lowercase(),
            (3, Some(node)) => format!("{}/{}", node.path, fresh()),
            _ => format!("{}/{}", self.folder, fresh()),
        };
        let flags = input.byte();
        let overwrite = flag(flags % 16);
        let autorename = flag(flags / 16);
        let rev_kind = input.byte() % 4;

        let mut form: Vec<(&str, String)> = Vec::new();
        let upload = match (index, id_kind) {
            (_, 9) => None,
            (Some(index), 4) => {
                // Surrounding spaces are trimmed from the id.
                form.push(("upload_id", format!(" {} ", self.uploads[index].id)));
                Some(index)
            }
            (Some(index), _) => {
                form.push(("upload_id", self.uploads[index].id.clone()));
                Some(index)
            }
            (None, _) => {
                form.push(("upload_id", "0".repeat(32)));
                None
            }
        };
        if let Some(value) = overwrite {
            form.push(("overwrite", value.to_string()));
        }
        if let Some(value) = autorename {
            form.push(("autorename", value.to_string()));
        }
        let expected_path = SafePath::parse(&normalize_slashes(&full));
        let current_rev = expected_path.as_ref().ok().and_then(|path| {
            self.tree.get(&path.key()).and_then(|node| node.file.as_ref().map(|(_, rev)| rev))
        });
        match (rev_kind, current_rev) {
            (1, _) => form.push(("parent_rev", "0123456789abcdef".to_string())),
            (2, Some(rev)) => form.push(("parent_rev", rev.clone())),
            (3, _) => form.push(("parent_rev", String::new())),
            _ => {}
        }
        let parent_rev = form
            .iter()
            .find(|(name, value)| *name == "parent_rev" && !value.is_empty())
            .map(|(_, value)| value.clone());

        let url = format!(
            "{}/1/commit_chunked_upload/{}/{}",
            harness.base,
            harness.root_id,
            encode(full.trim_start_matches('/'), true)
        );
        let answer = send(
            harness
                .agent
                .post(&url)
                .header("Authorization", bearer(harness))
                .send_form(form.clone()),
        );

        let Ok(path) = expected_path else {
            expect_error(&answer, 400, "a refused path");
            return;
        };
        let (Ok(overwrite), Ok(autorename)) = (read_flag(overwrite), read_flag(autorename)) else {
            expect_error(&answer, 400, "an unreadable overwrite or autorename");
            return;
        };
        if id_kind == 9 {
            expect_error(&answer, 400, "a commit without an upload_id");
            return;
        }
        let Some(index) = upload.filter(|&index| self.uploads[index].open) else {
            expect_error(&answer, 404, "a commit of an unknown or committed upload");
            return;
        };
        match self.place(&path, overwrite, autorename, parent_rev.as_deref()) {
            Err(why) => {
                expect_error(&answer, 409, why);
                // The upload stays: the next chunk at its length is accepted.
            }
            Ok((target, folders)) => {
                assert_eq!(answer.status, 201, "a commit to {target}: {}", answer.body);
                assert_eq!(answer.body["path"], target.as_str(), "where the commit landed");
                assert_eq!(answer.body["root_id"], harness.root_id);
                let bytes = self.uploads[index].bytes.clone();
                assert_eq!(answer.body["bytes"], bytes.len(), "committed size");
                let rev = answer.body["rev"].as_str().expect("a rev").to_string();
                assert_eq!(download(harness, &target), bytes, "the committed file {target}");
                for folder in folders {
                    let key = folder.to_lowercase();
                    self.tree.insert(key, Node { path: folder, file: None });
                }
                let key = target.to_lowercase();
                self.tree.insert(key, Node { path: target, file: Some((bytes, rev)) });
                self.uploads[index].open = false;
            }
        }
    }

    /// Where a commit to `path` lands, as `files_put` places files: folders above are created
    /// or reused in their stored case, a file in the way is a conflict; an existing folder, a
    /// name differing by case, `overwrite=false` or a stale `parent_rev` conflict, and with
    /// `autorename` the first free `name (n).ext` is taken. Answers the stored path and the
    /// folders created.
    fn place(
        &self,
        path: &SafePath,
        overwrite: bool,
        autorename: bool,
        parent_rev: Option<&str>,
    ) -> Result<(String, Vec<String>), &'static str> {
        let names = path.names();
        let (last, above) = names.split_last().expect("a commit path names a file");
        let mut actual = String::new();
        let mut created = Vec::new();
        for name in above {
            let wanted = format!("{actual}/{name}");
            match self.tree.get(&wanted.to_lowercase()) {
                Some(Node { file: Some(_), .. }) => return Err("a file in the way of a folder"),
                Some(Node { path, file: None }) => actual = path.clone(),
                None => {
                    created.push(wanted.clone());
                    actual = wanted;
                }
            }
        }
        let target = format!("{actual}/{last}");
        let Some(current) = self.tree.get(&target.to_lowercase()) else {
            return Ok((target, created));
        };
        let conflict = match &current.file {
            None => true,
            Some((_, rev)) => {
                current.path != target || !overwrite || parent_rev.is_some_and(|given| given != rev)
            }
        };
        if !conflict {
            return Ok((target, created));
        }
        if !autorename {
            return Err("a commit onto an existing entry without autorename");
        }
        let (stem, extension) = match last.rfind('.') {
            Some(at) if at > 0 => last.split_at(at),
            _ => (last.as_str(), ""),
        };
        let free = (1..)
            .map(|number| format!("{actual}/{stem} ({number}){extension}"))
            .find(|candidate| !self.tree.contains_key(&candidate.to_lowercase()))
            .expect("a free name");
        Ok((free, created))
    }

    /// Every file this input committed reads back as the model holds it.
    fn check_files(&self, harness: &Harness) {
        for node in self.tree.values() {
            if let Some((bytes, _)) = &node.file {
                assert_eq!(&download(harness, &node.path), bytes, "the file {}", node.path);
            }
        }
    }

    /// One of this input's uploads not committed yet, chosen by the next byte.
    fn pick_open(&self, input: &mut Input<'_>) -> Option<usize> {
        let open: Vec<usize> = (0..self.uploads.len()).filter(|&i| self.uploads[i].open).collect();
        let choice = usize::from(input.byte());
        (!open.is_empty()).then(|| open[choice % open.len()])
    }

    /// One of this input's uploads, chosen by the next byte.
    fn pick(&self, input: &mut Input<'_>) -> Option<usize> {
        let choice = usize::from(input.byte());
        (!self.uploads.is_empty()).then(|| choice % self.uploads.len())
    }
}

/// `overwrite`/`autorename` as sent: absent, true, false, 1, 0 or now and then unreadable.
fn flag(choice: u8) -> Option<&'static str> {
    const FLAGS: [Option<&str>; 16] = [
        None,
        Some("true"),
        Some("false"),
        Some("1"),
        Some("0"),
        None,
        Some("false"),
        Some("true"),
        Some("false"),
        Some("maybe"),
        None,
        Some("false"),
        Some("true"),
        Some("false"),
        Some("0"),
        Some("false"),
    ];
    FLAGS[usize::from(choice) % FLAGS.len()]
}

/// The flag as the contract reads it (default true).
fn read_flag(value: Option<&str>) -> Result<bool, ()> {
    match value {
        None | Some("true" | "1") => Ok(true),
        Some("false" | "0") => Ok(false),
        Some(_) => Err(()),
    }
}

/// `offset` as a whole number: absent or blank is none, surrounding spaces are ignored.
fn parse_offset(text: Option<&str>) -> Result<Option<i64>, ()> {
    match text.map(str::trim) {
        None | Some("") => Ok(None),
        Some(text) => text.parse().map(Some).map_err(|_| ()),
    }
}

/// The path the server reads from a URL: runs of slashes are one, a trailing one is dropped.
fn normalize_slashes(path: &str) -> String {
    let mut out = String::new();
    for name in path.split('/').filter(|name| !name.is_empty()) {
        out.push('/');
        out.push_str(name);
    }
    out
}

fn bearer(harness: &Harness) -> String {
    format!("Bearer {}", harness.token)
}

/// `PUT /1/chunked_upload/` with the query parameters and the chunk.
fn put_chunk(harness: &Harness, query: &[(&str, &str)], chunk: &[u8]) -> Answer {
    let query: Vec<String> =
        query.iter().map(|(name, value)| format!("{name}={}", encode(value, false))).collect();
    let url = format!("{}/1/chunked_upload/?{}", harness.base, query.join("&"));
    send(harness.agent.put(&url).header("Authorization", bearer(harness)).send(chunk))
}

/// Reads an answer, checking what every answer must be: no server error, JSON, and a client
/// error with its code and message.
fn send(result: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Answer {
    let mut response = result.expect("the server answers (no dropped connection)");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().expect("an answer body");
    assert!(status < 500, "server error {status}: {text}");
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|error| panic!("answer {status} is not JSON ({error}): {text:?}"));
    if status >= 400 {
        assert_eq!(body["success"], false, "an error says so: {body}");
        assert!(body["error"].as_str().is_some_and(|code| !code.is_empty()), "code: {body}");
        assert!(body["message"].as_str().is_some_and(|text| !text.is_empty()), "text: {body}");
    }
    Answer { status, body }
}

fn expect_error(answer: &Answer, status: u16, what: &str) {
    assert_eq!(answer.status, status, "{what}: {}", answer.body);
}

/// The bytes of a file of the admin's root.
fn download(harness: &Harness, path: &str) -> Vec<u8> {
    let url = format!("{}/1/files/{}{}", harness.base, harness.root_id, encode(path, true));
    let mut response = harness
        .agent
        .get(&url)
        .header("Authorization", bearer(harness))
        .call()
        .expect("the server answers a download");
    let status = response.status().as_u16();
    let bytes = response.body_mut().read_to_vec().expect("the downloaded bytes");
    assert_eq!(status, 200, "download of {path}: {}", String::from_utf8_lossy(&bytes));
    bytes
}

/// Percent-encodes everything but unreserved characters (and `/` in paths).
fn encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for &byte in text.as_bytes() {
        if byte.is_ascii_alphanumeric() || b"-._~".contains(&byte) || (keep_slash && byte == b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}
