//! Fuzzes the path normalizer: whatever a URL or parameter says, an accepted path has only
//! plain names (no `.`, `..`, empty names, separators or NUL), is NFC, and reads back to
//! itself.

#![no_main]

use cloudsync::storage::paths::SafePath;
use libfuzzer_sys::fuzz_target;
use unicode_normalization::UnicodeNormalization;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    for parsed in [SafePath::parse(text), SafePath::parse_url(text)] {
        let Ok(path) = parsed else { continue };
        for name in path.names() {
            assert!(!name.is_empty() && name != "." && name != "..", "bad name {name:?}");
            assert!(!name.contains(['/', '\\', '\0']), "separator in {name:?}");
            assert_eq!(name.nfc().collect::<String>(), *name, "not NFC: {name:?}");
        }
        let text = path.as_text();
        assert!(text.starts_with('/'));
        let again = SafePath::parse(&text).expect("an accepted path parses again");
        assert_eq!(again.as_text(), text);
    }
});
