//! OFREP's bodies.

use backstop_api::{
    BulkEntry, BulkEvaluation, BulkMetadata, Evaluated, EvaluationFailure, EvaluationRequest, EventStream, RefetchEvent,
};
use backstop_flags::Reason;
use insta::assert_snapshot;
use serde_json::json;

use crate::{reads_as, round_trip};

fn evaluated(key: &str, value: bool, reason: Reason) -> Evaluated {
    Evaluated {
        key: key.into(),
        metadata: serde_json::Map::new(),
        reason,
        value: value.into(),
        variant: if value { "on" } else { "off" }.into(),
    }
}

#[test]
fn evaluation_request() {
    let req = EvaluationRequest {
        context: Some(json!({"targetingKey": "user-1", "plan": "beta"}).as_object().unwrap().clone()),
    };
    assert_snapshot!(round_trip(&req));
    assert_eq!(serde_json::from_value::<EvaluationRequest>(json!({})).unwrap(), EvaluationRequest::default());
}

#[test]
fn single_evaluation() {
    assert_snapshot!(round_trip(&evaluated("new-checkout", true, Reason::Split)));
    // As the server writes it today.
    let e: Evaluated = reads_as(json!({
        "key": "k", "value": {"limit": 10}, "reason": "STATIC", "variant": "big", "metadata": {},
    }));
    assert_eq!(e.value.as_object().map(|o| o["limit"].clone()), Some(json!(10)));
}

#[test]
fn failures() {
    let not_found = EvaluationFailure {
        error_code: "FLAG_NOT_FOUND".into(),
        error_details: "flag `nope` does not exist".into(),
        key: Some("nope".into()),
    };
    assert_snapshot!("failure_with_key", round_trip(&not_found));
    let limited = EvaluationFailure {
        error_code: "GENERAL".into(),
        error_details: "more than 100 evaluations per second with this token; retry in 1s".into(),
        key: None,
    };
    assert_snapshot!("failure_without_key", round_trip(&limited));
}

#[test]
fn bulk_evaluation() {
    let bulk = BulkEvaluation {
        event_streams: vec![EventStream {
            inactivity_delay_sec: 120,
            kind: "sse".into(),
            url: "http://127.0.0.1:7878/ofrep/v1/events".into(),
        }],
        flags: vec![
            BulkEntry::Evaluated(evaluated("new-checkout", false, Reason::Disabled)),
            BulkEntry::Failed(EvaluationFailure {
                error_code: "TARGETING_KEY_MISSING".into(),
                error_details: "flag `rollout` needs a targeting key".into(),
                key: Some("rollout".into()),
            }),
        ],
        metadata: BulkMetadata { stream: "/v1/flags/stream".into(), version: 9 },
    };
    assert_snapshot!(round_trip(&bulk));
}

#[test]
fn refetch_event() {
    assert_snapshot!(round_trip(&RefetchEvent { etag: "W/\"9-1f2e\"".into(), kind: "refetchEvaluation".into() }));
}
