//! A cache item read back from the store never panics, whatever it holds: times beyond what
//! `SystemTime` can hold, out of order, any payload (the service's versioned `StoredAnswer`:
//! any version, any layout). A decoded entry has its times in order and writes back as the
//! same answer; anything else is a miss (the caller then overwrites the item).
#![no_main]

use cache::{Item, StoredAnswer, decode};
use libfuzzer_sys::fuzz_target;

fn u64_at(data: &[u8], at: usize) -> u64 {
    let mut bytes = [0u8; 8];
    for (i, b) in bytes.iter_mut().enumerate() {
        *b = data.get(at + i).copied().unwrap_or(0);
    }
    u64::from_le_bytes(bytes)
}

fuzz_target!(|data: &[u8]| {
    let item = Item {
        key: "k".to_owned(),
        fetched_at: u64_at(data, 0),
        fresh_until: u64_at(data, 8),
        expires_at: u64_at(data, 16),
        payload: String::from_utf8_lossy(data.get(24..).unwrap_or_default()).into_owned(),
    };
    if let Ok(entry) = decode::<StoredAnswer>(&item) {
        assert!(entry.fetched_at <= entry.fresh_until);
        assert!(entry.fresh_until <= entry.keep_until);
        // what the cache writes back for it reads as the same answer
        let written = serde_json::to_string(&*entry.value).expect("an answer serializes");
        let again: StoredAnswer = serde_json::from_str(&written).expect("written, read back");
        assert_eq!(again, *entry.value, "{written}");
        // what the service does with an entry: compare and format its times
        let _ = entry.is_fresh(std::time::SystemTime::now());
        let _ = output::timestamp::rfc3339(entry.keep_until);
    }
});
