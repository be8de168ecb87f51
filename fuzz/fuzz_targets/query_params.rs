//! Fuzzes the strict urlencoded decoder behind query strings and form bodies: any bytes give
//! parameters or a clean error, never a panic, and the typed readers never panic either.

#![no_main]

use cloudsync::api::params::Params;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(params) = Params::from_urlencoded(data) {
        for name in ["a", "session_token", "path", ""] {
            if let Some(value) = params.get(name) {
                // Decoded values are whole UTF-8 strings by construction; reading them back
                // through the typed readers must answer, not panic.
                let _ = value.len();
            }
        }
        let _ = params.bool("a", false);
        let _ = params.opt_bool("a");
        let _ = params.int::<i64>("a");
        let _ = params.nullable_int("a");
        let _ = params.required("path");
        let _ = params.paging();
    }
});
