//! Integration tests of backstop-flags through its public API only.

mod new_checkout;
mod rollout;
