//! A token server's answer: what a pull token's JWT claims say it grants
//! (`oci::token_claims::granted_repositories`). Never panics; whatever it returns names at
//! most `MAX_GRANTS` repositories, each granted in the input.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(granted) = oci::token_claims::granted_repositories(token) {
        assert!(granted.len() <= oci::token_claims::MAX_GRANTS);
    }
});
