//! Path safety: the one place that decides whether a path given by a client may be used.
//!
//! A client path is read into a [`SafePath`]: a list of NFC names that cannot climb out of
//! their root. `..` and `.` in any spelling (also percent-encoded, also encoded twice),
//! backslashes, NUL and other control characters, empty names and drive letters are refused
//! with 400 before anything is touched. Symbolic links are checked later, at use time, by
//! [`super::disk_path`], because only the disk knows them.

use percent_encoding::percent_decode_str;
use unicode_normalization::UnicodeNormalization;

use crate::error::{ApiError, ApiResult};

/// The longest name of one file or folder, in bytes (the common filesystem limit).
pub const MAX_NAME_BYTES: usize = 255;
/// The most names in one path.
pub const MAX_DEPTH: usize = 64;

/// A path inside a root: `/` for the top, else `/name/name...`, with every name checked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SafePath {
    names: Vec<String>,
}

impl SafePath {
    /// The top of a root.
    pub fn top() -> SafePath {
        SafePath { names: Vec::new() }
    }

    /// Reads a path as a client wrote it in a parameter (not percent-encoded). A leading and
    /// a trailing `/` are optional.
    pub fn parse(raw: &str) -> ApiResult<SafePath> {
        let trimmed = raw.strip_prefix('/').unwrap_or(raw);
        let trimmed = trimmed.strip_suffix('/').unwrap_or(trimmed);
        if trimmed.is_empty() {
            return Ok(SafePath::top());
        }
        let mut names = Vec::new();
        for name in trimmed.split('/') {
            names.push(check_name(name)?);
        }
        if names.len() > MAX_DEPTH {
            return Err(refused(&format!("it is deeper than {MAX_DEPTH} folders")));
        }
        if names.first().is_some_and(|first| is_drive_letter(first)) {
            return Err(refused("it is an absolute path"));
        }
        Ok(SafePath { names })
    }

    /// Reads a path as it appears in a URL: percent-decoded once, then checked as
    /// [`SafePath::parse`] does.
    pub fn parse_url(raw: &str) -> ApiResult<SafePath> {
        let decoded = percent_decode_str(raw)
            .decode_utf8()
            .map_err(|_| ApiError::invalid("The path is not valid UTF-8 once decoded."))?;
        SafePath::parse(&decoded)
    }

    /// Whether this is the top of the root.
    pub fn is_top(&self) -> bool {
        self.names.is_empty()
    }

    /// The last name, or `""` for the top.
    pub fn name(&self) -> &str {
        self.names.last().map_or("", String::as_str)
    }

    /// The names from the top down.
    pub fn names(&self) -> &[String] {
        &self.names
    }

    /// The folder holding this path; the top has none.
    pub fn parent(&self) -> Option<SafePath> {
        let (_, parent) = self.names.split_last()?;
        Some(SafePath { names: parent.to_vec() })
    }

    /// This path with one more name, checked.
    pub fn join(&self, name: &str) -> ApiResult<SafePath> {
        let mut names = self.names.clone();
        names.push(check_name(name)?);
        Ok(SafePath { names })
    }

    /// The same folder with another last name (which must already be checked).
    pub fn with_name(&self, name: &str) -> ApiResult<SafePath> {
        match self.parent() {
            Some(parent) => parent.join(name),
            None => Err(ApiError::invalid("The top of a root has no name.")),
        }
    }

    /// The path as the API writes it: `/` or `/a/b`.
    pub fn as_text(&self) -> String {
        if self.names.is_empty() { "/".to_string() } else { format!("/{}", self.names.join("/")) }
    }

    /// The key two paths share when they differ only by case.
    pub fn key(&self) -> String {
        path_key(&self.as_text())
    }

    /// The path relative to the root's folder, for the disk.
    pub fn relative(&self) -> std::path::PathBuf {
        self.names.iter().collect()
    }

    /// Whether `self` is `other` or lies inside it.
    pub fn starts_with(&self, other: &SafePath) -> bool {
        self.key() == other.key()
            || (other.is_top() && !self.is_top())
            || self.key().starts_with(&format!("{}/", other.key()))
    }
}

/// The case-insensitive key of a path text (see [`SafePath::key`]).
pub fn path_key(path: &str) -> String {
    path.to_lowercase()
}

/// Checks one name and returns it in NFC.
pub fn check_name(name: &str) -> ApiResult<String> {
    if name.is_empty() {
        return Err(refused("it has an empty name (two slashes in a row)"));
    }
    // A name given on its own (a multipart file name) must not smuggle in more names.
    if name.contains('/') {
        return Err(refused("a file name contains a slash"));
    }
    if name.contains('\\') {
        return Err(refused("it contains a backslash"));
    }
    if name.contains('\0') {
        return Err(refused("it contains a NUL character"));
    }
    if name.chars().any(char::is_control) {
        return Err(refused("it contains a control character"));
    }
    if name == "." || name == ".." {
        return Err(refused("it contains '.' or '..'"));
    }
    // A name that would turn into a dangerous one if some layer decoded it once more.
    if let Ok(again) = percent_decode_str(name).decode_utf8()
        && again != name
    {
        let again = again.trim();
        if again == "." || again == ".." || again.contains(['/', '\\', '\0']) {
            return Err(refused("it contains an encoded '..', slash, backslash or NUL"));
        }
    }
    let name: String = name.nfc().collect();
    if name.len() > MAX_NAME_BYTES {
        return Err(refused(&format!("a name is longer than {MAX_NAME_BYTES} bytes")));
    }
    Ok(name)
}

fn is_drive_letter(name: &str) -> bool {
    let bytes = name.as_bytes();
    bytes.len() == 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

fn refused(why: &str) -> ApiError {
    ApiError::invalid(format!("The path is refused: {why}."))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hostile_paths_are_refused() {
        let table = [
            "..",
            "/..",
            "/a/../../etc/passwd",
            "/a/./b",
            "a/..",
            "/a\\..\\b",
            "\\etc\\passwd",
            "/a\0b",
            "/a//b",
            "//server/share",
            "/%2e%2e/etc",
            "/%2E%2E",
            "/a%2f..",
            "/a%5c..",
            "/%00",
            "/C:/Windows",
            "/a\nb",
        ];
        for raw in table {
            assert!(SafePath::parse(raw).is_err(), "parse accepted {raw:?}");
        }
        let url_table =
            ["/%2e%2e/etc", "/%252e%252e/etc", "/a%2F..%2F..", "/a%5Cb", "/%00", "/%FF"];
        for raw in url_table {
            assert!(SafePath::parse_url(raw).is_err(), "parse_url accepted {raw:?}");
        }
    }

    #[test]
    fn ordinary_paths_are_kept_with_their_case_and_in_nfc() {
        let table = [
            ("/", "/", "/"),
            ("", "/", "/"),
            ("/Docs/", "/Docs", "/docs"),
            ("Docs/Report 1.pdf", "/Docs/Report 1.pdf", "/docs/report 1.pdf"),
            ("/a..b/.hidden", "/a..b/.hidden", "/a..b/.hidden"),
            ("/Cafe\u{301}", "/Caf\u{e9}", "/caf\u{e9}"),
            ("/50%", "/50%", "/50%"),
        ];
        for (raw, text, key) in table {
            let path = SafePath::parse(raw).unwrap();
            assert_eq!(path.as_text(), text, "{raw:?}");
            assert_eq!(path.key(), key, "{raw:?}");
        }
        assert_eq!(SafePath::parse_url("/a%20b/%C3%A9").unwrap().as_text(), "/a b/\u{e9}");
    }

    #[test]
    fn parents_names_and_prefixes() {
        let path = SafePath::parse("/A/b/c.txt").unwrap();
        assert_eq!(path.name(), "c.txt");
        assert_eq!(path.parent().unwrap().as_text(), "/A/b");
        assert!(path.starts_with(&SafePath::parse("/a").unwrap()));
        assert!(!path.starts_with(&SafePath::parse("/A/bc").unwrap()));
        assert!(path.starts_with(&SafePath::top()));
        assert!(SafePath::top().parent().is_none());
        assert!(path.join("..").is_err());
        assert!(path.join("../../x").is_err(), "a name with slashes is refused");
        assert!(check_name("a/b").is_err());
        assert_eq!(path.with_name("d.txt").unwrap().as_text(), "/A/b/d.txt");
    }
}
