//! The reference parser never panics, and a parsed reference's canonical form parses back
//! to the same reference.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oci::Reference;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(reference) = Reference::parse(input) {
        let canonical = reference.canonical();
        let again = Reference::parse(&canonical).expect("a canonical form parses");
        assert_eq!(again, reference, "{input:?} -> {canonical:?}");
        assert!(!reference.repository().is_empty());
        let _ = reference.manifest_reference();
    }
});
