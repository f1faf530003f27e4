//! End-to-end tests of the SDK against a real control plane started in
//! process on a free port, over real HTTP.

mod gate;
mod support;

use backstop_flags_client::{BackstopProvider, Client, ClientConfig, ClientError, Context, EvalError, Reason, State};
use support::ControlPlane;

#[tokio::test]
async fn ready_with_the_flags_then_a_flip_arrives_through_the_stream() {
    let cp = ControlPlane::start().await;
    cp.create_bool("new-checkout", true).await;
    cp.create_string("banner", "blue").await;
    let client = Client::connect(ClientConfig::new(cp.url(), cp.eval_token()));
    let state = client.wait_ready().await;
    assert!(matches!(state, State::Ready { version: 2 }), "{state:?}");
    let ctx = Context::new().with_targeting_key("u1");
    let on = client.evaluate_bool("new-checkout", &ctx).unwrap();
    assert_eq!((on.value, on.variant.as_str(), on.reason), (true, "on", Reason::Static));
    assert_eq!(client.evaluate_string("banner", &ctx).unwrap().value, "blue");
    assert!(matches!(
        client.evaluate_string("new-checkout", &ctx),
        Err(ClientError::Eval(EvalError::TypeMismatch { .. }))
    ));
    assert!(matches!(client.evaluate_bool("nope", &ctx), Err(ClientError::Eval(EvalError::FlagNotFound { .. }))));

    let version = cp.off("new-checkout").await;
    support::wait_state(&client, |s| *s == State::Ready { version }).await;
    let off = client.evaluate_bool("new-checkout", &ctx).unwrap();
    assert_eq!((off.value, off.reason), (false, Reason::Disabled));
    assert_eq!(client.snapshot().unwrap().version, version);
    cp.stop().await;
}

/// A flag nested 124 levels deep was accepted, and then no new SDK client could
/// read any flag; a misspelled `condition` became a rule for everyone. Both
/// are now refused when written, and the kill switch next to them reads.
#[tokio::test]
async fn deeply_nested_or_misspelled_flag_is_refused_and_the_kill_switch_still_reads() {
    let cp = ControlPlane::start().await;
    cp.create_bool("kill", false).await;
    let mut deep = serde_json::json!(1);
    for _ in 0..124 {
        deep = serde_json::json!({ "x": deep });
    }
    let nested =
        serde_json::json!({"enabled": true, "variants": {"a": deep}, "default_variant": "a", "off_variant": "a"});
    let (status, body) = cp.try_create("deep", nested).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("deeper than 32 levels"), "{body}");
    let typo = serde_json::json!({"enabled": true, "variants": {"on": true, "off": false},
        "default_variant": "off", "off_variant": "off",
        "rules": [{"condition": [{"attribute": "country", "op": "equals", "values": ["DE"]}], "serve": {"variant": "on"}}]});
    let (status, body) = cp.try_create("germany-only", typo).await;
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("unknown field `condition`"), "{body}");

    let client = Client::connect(ClientConfig::new(cp.url(), cp.eval_token()));
    assert!(matches!(client.wait_ready().await, State::Ready { version: 1 }), "{:?}", client.state());
    assert!(!client.evaluate_bool("kill", &Context::new()).unwrap().value);
    assert!(client.skipped().is_empty());
    cp.stop().await;
}

#[tokio::test]
async fn stale_while_the_server_is_down_then_ready_with_the_latest_state() {
    let cp = ControlPlane::start().await;
    cp.create_bool("kill", true).await;
    let client = Client::connect(ClientConfig::new(cp.url(), cp.eval_token()));
    assert!(client.wait_ready().await.is_ready());

    let (state_dir, port) = cp.stop().await;
    let stale = support::wait_state(&client, |s| matches!(s, State::Stale { .. })).await;
    assert!(matches!(stale, State::Stale { last_version: 1, .. }), "{stale:?}");
    assert!(client.state().stale_for().is_some());
    // Still serving the last snapshot, and saying so.
    assert!(client.evaluate_bool("kill", &Context::new()).unwrap().value);

    // The flip happens while the client cannot reach any server: the same
    // state directory served on another port, then stopped again.
    let elsewhere = ControlPlane::restart(state_dir, support::free_port()).await;
    let version = elsewhere.off("kill").await;
    let (state_dir, _) = elsewhere.stop().await;
    assert!(matches!(client.state(), State::Stale { last_version: 1, .. }), "{:?}", client.state());

    let cp = ControlPlane::restart(state_dir, port).await;
    support::wait_state(&client, |s| *s == State::Ready { version }).await;
    assert!(!client.evaluate_bool("kill", &Context::new()).unwrap().value);
    cp.stop().await;
}

#[tokio::test]
async fn a_refused_token_is_an_error_that_says_so() {
    let cp = ControlPlane::start().await;
    let client = Client::connect(ClientConfig::new(cp.url(), "not-the-token"));
    match client.wait_ready().await {
        State::Error { message } => {
            assert!(message.contains("refused the token"), "{message}");
            assert!(message.contains("not valid for this server"), "the server's own words: {message}");
        }
        other => panic!("expected an error, got {other:?}"),
    }
    match client.evaluate_bool("anything", &Context::new()) {
        Err(ClientError::NotReady { state }) => assert!(state.contains("refused"), "{state}"),
        other => panic!("{other:?}"),
    }
    cp.stop().await;
}

#[tokio::test]
async fn openfeature_api_evaluates_through_the_provider() {
    use open_feature::provider::FeatureProvider;
    use open_feature::{EvaluationContext, EvaluationErrorCode, EvaluationReason, OpenFeature};

    // Before any snapshot: PROVIDER_NOT_READY, never a silent default.
    let nowhere = Client::connect(ClientConfig::new(format!("http://127.0.0.1:{}", support::free_port()), "t"));
    let not_ready = BackstopProvider::new(nowhere);
    let err = not_ready.resolve_bool_value("kill", &EvaluationContext::default()).await.unwrap_err();
    assert_eq!(err.code, EvaluationErrorCode::ProviderNotReady);

    let cp = ControlPlane::start().await;
    cp.create_bool("kill", true).await;
    cp.create_rollout("split").await;
    let client = Client::connect(ClientConfig::new(cp.url(), cp.eval_token()));
    assert!(client.wait_ready().await.is_ready());
    let mut api = OpenFeature::singleton_mut().await;
    api.set_provider(BackstopProvider::new(client.clone())).await;
    let of = api.create_client();
    drop(api);

    let ctx = EvaluationContext::default().with_targeting_key("u1");
    let details = of.get_bool_details("kill", Some(&ctx), None).await.unwrap();
    assert!(details.value);
    assert_eq!(details.reason, Some(EvaluationReason::Static));
    assert_eq!(details.variant.as_deref(), Some("on"));
    let code = |r: Result<_, open_feature::EvaluationError>| r.map(|_: bool| ()).unwrap_err().code;
    assert_eq!(code(of.get_bool_value("missing", Some(&ctx), None).await), EvaluationErrorCode::FlagNotFound);
    let mismatch = of.get_string_value("kill", Some(&ctx), None).await.unwrap_err().code;
    assert_eq!(mismatch, EvaluationErrorCode::TypeMismatch);
    let anonymous = EvaluationContext::default();
    assert_eq!(
        code(of.get_bool_value("split", Some(&anonymous), None).await),
        EvaluationErrorCode::TargetingKeyMissing
    );
    assert_eq!(of.get_bool_details("split", Some(&ctx), None).await.unwrap().reason, Some(EvaluationReason::Split));

    let version = cp.off("kill").await;
    support::wait_state(&client, |s| *s == State::Ready { version }).await;
    let details = of.get_bool_details("kill", Some(&ctx), None).await.unwrap();
    assert_eq!((details.value, details.reason), (false, Some(EvaluationReason::Disabled)));
    cp.stop().await;
}

#[tokio::test]
async fn polls_when_the_stream_is_refused_then_streams_again() {
    use std::sync::atomic::Ordering;
    use std::time::Duration;

    let cp = ControlPlane::start().await;
    cp.create_bool("kill", true).await;
    let gate = gate::Gate::start(cp.port()).await;
    let mut config = ClientConfig::new(gate.url(), cp.eval_token());
    config.poll_interval = Duration::from_millis(100);
    let client = Client::connect(config);

    let state = client.wait_ready().await;
    match &state {
        State::Polling { version: 1, message } => assert!(message.contains("502"), "{message}"),
        other => panic!("expected polling, got {other:?}"),
    }
    assert!(!state.is_ready() && state.is_current());
    assert!(client.evaluate_bool("kill", &Context::new()).unwrap().value);

    // A flip reaches the client through polling.
    let version = cp.off("kill").await;
    support::wait_state(&client, |s| matches!(s, State::Polling { version: v, .. } if *v == version)).await;
    assert!(!client.evaluate_bool("kill", &Context::new()).unwrap().value);
    assert!(gate.refused.load(Ordering::SeqCst) >= 2, "it kept trying the stream");
    assert!(gate.polls.load(Ordering::SeqCst) >= 2);

    // Once the stream gets through, the client follows it and stops polling.
    gate.let_streams_through();
    support::wait_state(&client, |s| *s == State::Ready { version }).await;
    let polls = gate.polls.load(Ordering::SeqCst);
    let version = cp.on("kill").await;
    support::wait_state(&client, |s| *s == State::Ready { version }).await;
    assert!(client.evaluate_bool("kill", &Context::new()).unwrap().value);
    assert_eq!(gate.polls.load(Ordering::SeqCst), polls, "no polling while streaming");
    cp.stop().await;
}
