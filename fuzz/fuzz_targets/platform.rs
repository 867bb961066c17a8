//! The platform parser never panics; a parsed spec prints as a spec that parses to itself,
//! and matching never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oci::{Platform, PlatformSpec};

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(spec) = input.parse::<PlatformSpec>() {
        let printed = spec.to_string();
        let again: PlatformSpec = printed.parse().expect("a printed spec parses");
        assert_eq!(again, spec, "{input:?} -> {printed:?}");
        let mut parts = input.split('/');
        let platform = Platform::new(
            parts.next().unwrap_or(""),
            parts.next().unwrap_or(""),
            parts.next(),
        );
        let _ = (spec.native(&platform), spec.compatible(&platform), spec.rank(&platform));
        let _ = spec.vector();
        let _ = platform.to_string();
    }
});
