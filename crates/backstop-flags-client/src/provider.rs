//! [`BackstopProvider`]: the client as an OpenFeature `FeatureProvider`, so an
//! application can use the standard `open-feature` API.
//!
//! Backstop reasons map one to one to OpenFeature's; evaluation errors map to
//! FLAG_NOT_FOUND, TYPE_MISMATCH, TARGETING_KEY_MISSING, INVALID_CONTEXT and
//! PARSE_ERROR, and evaluating before the first snapshot is PROVIDER_NOT_READY.

use backstop_flags::{Context, EvalError, Reason};
use open_feature::provider::{FeatureProvider, ProviderMetadata, ProviderStatus, ResolutionDetails};
use open_feature::{
    EvaluationContext, EvaluationContextFieldValue, EvaluationError, EvaluationErrorCode, EvaluationReason,
    EvaluationResult, FlagMetadata, StructValue,
};

use crate::client::{Client, Resolved};
use crate::error::ClientError;
use crate::state::State;

/// An OpenFeature provider backed by a [`Client`].
#[derive(Debug)]
pub struct BackstopProvider {
    client: Client,
    metadata: ProviderMetadata,
}

impl BackstopProvider {
    pub fn new(client: Client) -> Self {
        BackstopProvider { client, metadata: ProviderMetadata::new("backstop") }
    }

    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// The backstop context of an OpenFeature one. Date-times become Unix
/// timestamps (seconds); structure fields (opaque `Any` values) are left out.
pub(crate) fn context_of(ctx: &EvaluationContext) -> Context {
    let mut out = Context { targeting_key: ctx.targeting_key.clone(), ..Context::default() };
    for (name, value) in &ctx.custom_fields {
        let json = match value {
            EvaluationContextFieldValue::Bool(b) => serde_json::Value::from(*b),
            EvaluationContextFieldValue::Int(i) => serde_json::Value::from(*i),
            EvaluationContextFieldValue::Float(f) => serde_json::Value::from(*f),
            EvaluationContextFieldValue::String(s) => serde_json::Value::from(s.as_str()),
            EvaluationContextFieldValue::DateTime(t) => serde_json::Value::from(t.unix_timestamp()),
            EvaluationContextFieldValue::Struct(_) => continue,
        };
        out.attributes.insert(name.clone(), json);
    }
    out
}

fn reason(r: Reason) -> EvaluationReason {
    match r {
        Reason::Static => EvaluationReason::Static,
        Reason::Default => EvaluationReason::Default,
        Reason::TargetingMatch => EvaluationReason::TargetingMatch,
        Reason::Split => EvaluationReason::Split,
        Reason::Disabled => EvaluationReason::Disabled,
        Reason::Error => EvaluationReason::Error,
    }
}

fn error(e: ClientError) -> EvaluationError {
    let message = e.to_string();
    let code = match e {
        ClientError::NotReady { .. } => EvaluationErrorCode::ProviderNotReady,
        ClientError::Eval(e) => match e {
            EvalError::FlagNotFound { .. } => EvaluationErrorCode::FlagNotFound,
            EvalError::TypeMismatch { .. } => EvaluationErrorCode::TypeMismatch,
            EvalError::TargetingKeyMissing { .. } => EvaluationErrorCode::TargetingKeyMissing,
            EvalError::InvalidContext { .. } | EvalError::ContextNotAnObject { .. } => {
                EvaluationErrorCode::InvalidContext
            }
            EvalError::Parse { .. } => EvaluationErrorCode::ParseError,
            EvalError::General { .. } => EvaluationErrorCode::General("GENERAL".into()),
        },
    };
    EvaluationError { code, message: Some(message) }
}

fn details<T, U>(
    r: Result<Resolved<T>, ClientError>,
    value: impl FnOnce(T) -> EvaluationResult<U>,
) -> EvaluationResult<ResolutionDetails<U>> {
    let r = r.map_err(error)?;
    let flag_version = i64::try_from(r.flag_version).unwrap_or(i64::MAX);
    Ok(ResolutionDetails {
        value: value(r.value)?,
        variant: Some(r.variant),
        reason: Some(reason(r.reason)),
        flag_metadata: Some(FlagMetadata::default().with_value("flagVersion", flag_version)),
    })
}

#[async_trait::async_trait]
impl FeatureProvider for BackstopProvider {
    fn status(&self) -> ProviderStatus {
        match self.client.state() {
            State::Connecting => ProviderStatus::NotReady,
            // Polling serves a configuration current to within its interval.
            State::Ready { .. } | State::Polling { .. } => ProviderStatus::Ready,
            State::Stale { .. } => ProviderStatus::STALE,
            State::Error { .. } => ProviderStatus::Error,
        }
    }

    fn metadata(&self) -> &ProviderMetadata {
        &self.metadata
    }

    async fn resolve_bool_value(
        &self,
        key: &str,
        ctx: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<bool>> {
        details(self.client.evaluate_bool(key, &context_of(ctx)), Ok)
    }

    async fn resolve_int_value(&self, key: &str, ctx: &EvaluationContext) -> EvaluationResult<ResolutionDetails<i64>> {
        details(self.client.evaluate_int(key, &context_of(ctx)), Ok)
    }

    async fn resolve_float_value(
        &self,
        key: &str,
        ctx: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<f64>> {
        details(self.client.evaluate_float(key, &context_of(ctx)), Ok)
    }

    async fn resolve_string_value(
        &self,
        key: &str,
        ctx: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<String>> {
        details(self.client.evaluate_string(key, &context_of(ctx)), Ok)
    }

    async fn resolve_struct_value(
        &self,
        key: &str,
        ctx: &EvaluationContext,
    ) -> EvaluationResult<ResolutionDetails<StructValue>> {
        details(self.client.evaluate_object(key, &context_of(ctx)), |object| {
            match open_feature::Value::try_from(serde_json::Value::Object(object))? {
                open_feature::Value::Struct(s) => Ok(s),
                _ => Err(EvaluationError { code: EvaluationErrorCode::TypeMismatch, message: None }),
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_openfeature_codes() {
        let key = || "k".to_owned();
        let cases = [
            (ClientError::NotReady { state: "connecting".into() }, EvaluationErrorCode::ProviderNotReady),
            (EvalError::FlagNotFound { key: key() }.into(), EvaluationErrorCode::FlagNotFound),
            (
                EvalError::TypeMismatch {
                    key: key(),
                    expected: backstop_flags::FlagType::Boolean,
                    actual: backstop_flags::FlagType::String,
                }
                .into(),
                EvaluationErrorCode::TypeMismatch,
            ),
            (EvalError::TargetingKeyMissing { key: key() }.into(), EvaluationErrorCode::TargetingKeyMissing),
            (EvalError::Parse { detail: "x".into() }.into(), EvaluationErrorCode::ParseError),
        ];
        for (e, code) in cases {
            assert_eq!(error(e).code, code);
        }
    }

    #[test]
    fn context_carries_targeting_key_and_fields() {
        let ctx = EvaluationContext::default()
            .with_targeting_key("u1")
            .with_custom_field("plan", "pro")
            .with_custom_field("seats", 3)
            .with_custom_field("beta", true);
        let got = context_of(&ctx);
        let expected = Context::new()
            .with_targeting_key("u1")
            .with_attribute("plan", "pro")
            .with_attribute("seats", 3)
            .with_attribute("beta", true);
        assert_eq!(got, expected);
    }
}
