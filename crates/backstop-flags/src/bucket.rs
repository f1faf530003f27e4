//! Sticky percentage buckets: where a user falls in a flag's rollout, forever and everywhere.
//!
//! The algorithm is part of backstop's contract (the server and every SDK must
//! agree, across versions and platforms; changing it would reshuffle every
//! running rollout):
//!
//! ```text
//! digest = SHA-256(flag_key_bytes ++ b"/" ++ targeting_key_bytes)   // UTF-8, nothing else
//! bucket = u64::from_be_bytes(digest[0..8]) % 10_000                 // in [0, 10000)
//! ```
//!
//! For example `SHA-256("new-checkout/user-1")` starts with `912b626900e74c09`,
//! so user `user-1` is in bucket `0x912b626900e74c09 % 10000 = 5337` of flag
//! `new-checkout`. Flag keys cannot contain `/`, so the input is unambiguous. The
//! flag key is part of the input, so flags bucket independently; renaming a flag
//! reshuffles its users. The modulo bias of 2^64 over 10,000 is below 10^-15.
//!
//! A rollout lays its variants out in order over `[0, 10000)`, each taking
//! `weight * 100` buckets: `[("on", 10), ("off", 90)]` serves `on` to buckets
//! `[0, 1000)`. Growing the first variant's weight therefore only adds users to
//! it; put the variant being rolled out first. All rules of a flag share one
//! bucket per user, so a user in the first 10% of one rule's rollout is also in
//! the first 10% of another's.

use sha2::{Digest, Sha256};

/// The number of buckets; one bucket is 0.01%.
pub const BUCKETS: u32 = 10_000;

/// The bucket of `targeting_key` in flag `flag_key`, in `[0, BUCKETS)`.
pub fn bucket(flag_key: &str, targeting_key: &str) -> u32 {
    let mut hasher = Sha256::new();
    hasher.update(flag_key.as_bytes());
    hasher.update(b"/");
    hasher.update(targeting_key.as_bytes());
    let digest = hasher.finalize();
    let mut head = [0u8; 8];
    head.copy_from_slice(&digest[..8]);
    // The modulo keeps the value below 10,000, so the cast is lossless.
    (u64::from_be_bytes(head) % u64::from(BUCKETS)) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Pinned values, computed independently with
    /// `printf '%s' "new-checkout/user-1" | sha256sum` and a modulo in Python.
    /// If this test fails, every running rollout would reshuffle: don't "fix" it.
    #[test]
    fn pinned_vectors() {
        let cases = [
            ("new-checkout", "user-1", 5337),
            ("new-checkout", "user-2", 7620),
            ("search-v2", "user-1", 9851),
            ("new-checkout", "", 2627),
        ];
        for (flag, user, expected) in cases {
            assert_eq!(bucket(flag, user), expected, "{flag}/{user}");
        }
    }

    #[test]
    fn same_key_same_bucket() {
        for i in 0..100 {
            let user = format!("user-{i}");
            let first = bucket("new-checkout", &user);
            assert!(first < BUCKETS);
            assert_eq!(bucket("new-checkout", &user), first);
        }
    }
}
