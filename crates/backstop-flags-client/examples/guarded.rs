//! A small service loop guarded by a flag: every second it "handles a
//! request" with the new or the old checkout, as the flag `new-checkout` says,
//! and prints the client's state. Flip it with
//! `backstop flag off new-checkout --reason "..."` and watch it switch.
//!
//! `BACKSTOP_URL=http://127.0.0.1:7070 BACKSTOP_TOKEN=$(cat STATE/eval.token) cargo run --example guarded`

use std::time::Duration;

use backstop_flags_client::{Client, ClientConfig, Context};

#[tokio::main]
async fn main() {
    let url = std::env::var("BACKSTOP_URL").unwrap_or_else(|_| "http://127.0.0.1:7070".into());
    let token = std::env::var("BACKSTOP_TOKEN").unwrap_or_default();
    let client = Client::connect(ClientConfig::new(url, token));
    client.wait_ready().await;
    for request in 0u64.. {
        let ctx = Context::new().with_targeting_key(format!("user-{}", request % 10));
        // The safe path unless the flag positively says otherwise.
        let new_checkout = client.evaluate_bool("new-checkout", &ctx).map(|r| r.value);
        let path = match &new_checkout {
            Ok(true) => "new checkout".to_owned(),
            Ok(false) => "old checkout".to_owned(),
            Err(e) => format!("old checkout ({e})"),
        };
        println!("request {request}: {path} [{}]", client.state());
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}
