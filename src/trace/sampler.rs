//! Samplers decide, when a span starts, whether it is recorded and exported.
//!
//! The default is `ParentBased(AlwaysOn)`, or what `OTEL_TRACES_SAMPLER` /
//! `OTEL_TRACES_SAMPLER_ARG` say.

use std::fmt;
use std::sync::Arc;

use crate::attributes::KeyValue;
use crate::context::Context;
use crate::diagnostics;
use crate::error::{ConfigError, ConfigErrorKind};
use crate::trace::id::{TraceId, TraceState};
use crate::trace::span_data::{Link, SpanKind};

/// A sampling decision.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SamplingDecision {
    /// Not recorded, not exported.
    Drop,
    /// Recorded (processors see it) but not sampled (not exported).
    RecordOnly,
    /// Recorded and sampled.
    RecordAndSample,
}

/// The result of a sampling decision: the decision, attributes to add to the span, and the
/// trace state the new span carries.
#[derive(Clone, Debug, PartialEq)]
pub struct SamplingResult {
    /// The decision.
    pub decision: SamplingDecision,
    /// Attributes added to the span.
    pub attributes: Vec<KeyValue>,
    /// The trace state of the new span.
    pub trace_state: TraceState,
}

/// A user-defined sampler.
pub trait ShouldSample: Send + Sync + fmt::Debug {
    /// Decides for a span about to start.
    fn should_sample(
        &self,
        parent: &Context,
        trace_id: TraceId,
        name: &str,
        kind: SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult;
}

/// The samplers of the specification, plus user-defined ones.
#[derive(Clone, Debug)]
pub enum Sampler {
    /// Samples every span.
    AlwaysOn,
    /// Samples no span.
    AlwaysOff,
    /// Samples a deterministic fraction of traces, by trace id: the same trace id always gets
    /// the same decision, and a ratio `r` keeps about `r` of all traces.
    TraceIdRatioBased(f64),
    /// Follows the parent's sampled flag when there is a parent, otherwise asks the root
    /// sampler.
    ParentBased(Box<ParentBased>),
    /// A user-defined sampler.
    Custom(Arc<dyn ShouldSample>),
}

/// The configuration of [`Sampler::ParentBased`].
#[derive(Clone, Debug)]
pub struct ParentBased {
    /// For spans without parent.
    pub root: Sampler,
    /// Parent remote and sampled (default AlwaysOn).
    pub remote_parent_sampled: Sampler,
    /// Parent remote and not sampled (default AlwaysOff).
    pub remote_parent_not_sampled: Sampler,
    /// Parent local and sampled (default AlwaysOn).
    pub local_parent_sampled: Sampler,
    /// Parent local and not sampled (default AlwaysOff).
    pub local_parent_not_sampled: Sampler,
}

impl ParentBased {
    /// The sampler that decides for a span with this parent.
    #[inline]
    fn delegate(&self, parent: &crate::trace::SpanContext) -> &Sampler {
        if !parent.is_valid() {
            return &self.root;
        }
        match (parent.is_remote(), parent.is_sampled()) {
            (true, true) => &self.remote_parent_sampled,
            (true, false) => &self.remote_parent_not_sampled,
            (false, true) => &self.local_parent_sampled,
            (false, false) => &self.local_parent_not_sampled,
        }
    }
}

impl Sampler {
    /// `ParentBased` with `root` for root spans and the specification's defaults otherwise.
    pub fn parent_based(root: Sampler) -> Sampler {
        Sampler::ParentBased(Box::new(ParentBased {
            root,
            remote_parent_sampled: Sampler::AlwaysOn,
            remote_parent_not_sampled: Sampler::AlwaysOff,
            local_parent_sampled: Sampler::AlwaysOn,
            local_parent_not_sampled: Sampler::AlwaysOff,
        }))
    }

    /// The sampler `OTEL_TRACES_SAMPLER` and `OTEL_TRACES_SAMPLER_ARG` name, `None` when unset.
    pub fn from_env() -> Result<Option<Sampler>, ConfigError> {
        // An empty value means unset (specification).
        let Some(name) = crate::env::var("OTEL_TRACES_SAMPLER") else {
            return Ok(None);
        };
        let arg = crate::env::var("OTEL_TRACES_SAMPLER_ARG");
        Self::from_name(&name, arg.as_deref()).map(Some)
    }

    /// What a provider built without a sampler uses: the environment's, as the
    /// specification reads it. A bad `OTEL_TRACES_SAMPLER_ARG` is reported and ignored (the
    /// named sampler gets its default argument); an unknown `OTEL_TRACES_SAMPLER` is
    /// reported and the default used.
    pub(crate) fn from_env_or_default() -> Sampler {
        match Self::from_env() {
            Ok(s) => s.unwrap_or_default(),
            Err(e) if e.setting() == "OTEL_TRACES_SAMPLER_ARG" => {
                diagnostics::report(&format!("{e}; ignoring it"));
                crate::env::var("OTEL_TRACES_SAMPLER")
                    .and_then(|name| Self::from_name(&name, None).ok())
                    .unwrap_or_default()
            }
            Err(e) => {
                diagnostics::report(&format!("{e}; using parentbased_always_on"));
                Sampler::default()
            }
        }
    }

    fn from_name(name: &str, arg: Option<&str>) -> Result<Sampler, ConfigError> {
        let ratio = || -> Result<f64, ConfigError> {
            match arg {
                None | Some("") => Ok(1.0),
                Some(a) => match a.parse::<f64>() {
                    Ok(r) if (0.0..=1.0).contains(&r) => Ok(r),
                    Ok(_) => Err(ConfigError::new(
                        ConfigErrorKind::OutOfRange,
                        "OTEL_TRACES_SAMPLER_ARG",
                        a,
                        "the ratio must be within [0, 1]",
                    )),
                    Err(_) => Err(ConfigError::new(
                        ConfigErrorKind::Invalid,
                        "OTEL_TRACES_SAMPLER_ARG",
                        a,
                        "not a number",
                    )),
                },
            }
        };
        // Enum values in any case (the specification's guidance).
        Ok(match name.trim().to_ascii_lowercase().as_str() {
            "always_on" => Sampler::AlwaysOn,
            "always_off" => Sampler::AlwaysOff,
            "traceidratio" => Sampler::TraceIdRatioBased(ratio()?),
            "parentbased_always_on" => Sampler::parent_based(Sampler::AlwaysOn),
            "parentbased_always_off" => Sampler::parent_based(Sampler::AlwaysOff),
            "parentbased_traceidratio" => {
                Sampler::parent_based(Sampler::TraceIdRatioBased(ratio()?))
            }
            _ => {
                return Err(ConfigError::new(
                    ConfigErrorKind::Invalid,
                    "OTEL_TRACES_SAMPLER",
                    name,
                    "expected always_on, always_off, traceidratio, parentbased_always_on, \
                     parentbased_always_off or parentbased_traceidratio",
                ))
            }
        })
    }

    /// Decides for a span about to start.
    pub fn should_sample(
        &self,
        parent: &Context,
        trace_id: TraceId,
        name: &str,
        kind: SpanKind,
        attributes: &[KeyValue],
        links: &[Link],
    ) -> SamplingResult {
        let decision = match self {
            Sampler::AlwaysOn => SamplingDecision::RecordAndSample,
            Sampler::AlwaysOff => SamplingDecision::Drop,
            Sampler::TraceIdRatioBased(r) => ratio_decision(*r, trace_id),
            Sampler::ParentBased(pb) => {
                return pb
                    .delegate(parent.span_context())
                    .should_sample(parent, trace_id, name, kind, attributes, links);
            }
            Sampler::Custom(s) => {
                return s.should_sample(parent, trace_id, name, kind, attributes, links)
            }
        };
        SamplingResult {
            decision,
            attributes: Vec::new(),
            trace_state: parent.span_context().trace_state().clone(),
        }
    }

    /// The decision of the built-in samplers that need nothing but the parent's flags
    /// (`AlwaysOn`, `AlwaysOff`, and `ParentBased` over those): these add no attribute and
    /// keep the parent's trace state, so a span start can skip building a
    /// [`SamplingResult`]. `None` for the others.
    #[inline]
    pub(crate) fn quick_decision(
        &self,
        parent: &crate::trace::SpanContext,
    ) -> Option<SamplingDecision> {
        match self {
            Sampler::AlwaysOn => Some(SamplingDecision::RecordAndSample),
            Sampler::AlwaysOff => Some(SamplingDecision::Drop),
            Sampler::ParentBased(pb) => match pb.delegate(parent) {
                Sampler::AlwaysOn => Some(SamplingDecision::RecordAndSample),
                Sampler::AlwaysOff => Some(SamplingDecision::Drop),
                _ => None,
            },
            _ => None,
        }
    }

    /// The sampler's description, as the specification spells it.
    pub fn description(&self) -> String {
        match self {
            Sampler::AlwaysOn => "AlwaysOnSampler".into(),
            Sampler::AlwaysOff => "AlwaysOffSampler".into(),
            Sampler::TraceIdRatioBased(r) => format!("TraceIdRatioBased{{{r}}}"),
            Sampler::ParentBased(pb) => format!("ParentBased{{root={}}}", pb.root.description()),
            Sampler::Custom(s) => format!("{s:?}"),
        }
    }
}

impl Default for Sampler {
    fn default() -> Self {
        Sampler::parent_based(Sampler::AlwaysOn)
    }
}

/// Threshold sampling on the 56 least significant bits of the trace id (the randomness the
/// W3C Trace Context level 2 guarantees): keep the trace when its randomness is at or above
/// `(1 - ratio) * 2^56`.
fn ratio_decision(ratio: f64, trace_id: TraceId) -> SamplingDecision {
    const MAX: u64 = 1 << 56;
    if ratio >= 1.0 {
        return SamplingDecision::RecordAndSample;
    }
    if ratio.is_nan() || ratio <= 0.0 {
        return SamplingDecision::Drop;
    }
    let threshold = ((1.0 - ratio) * MAX as f64).round() as u64;
    let randomness = (trace_id.to_u128() as u64) & (MAX - 1);
    if randomness >= threshold {
        SamplingDecision::RecordAndSample
    } else {
        SamplingDecision::Drop
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quick_decisions_agree_with_should_sample() {
        use crate::trace::{SpanContext, SpanId, TraceFlags, TraceState};
        let tid = TraceId::from_u128(0x1234);
        let parent = |remote: bool, sampled: bool| {
            let flags = TraceFlags::default().with_sampled(sampled);
            let sc = SpanContext::new(
                tid,
                SpanId::from_u64(7),
                flags,
                remote,
                TraceState::default(),
            );
            Context::new().with_remote_span_context(sc)
        };
        let parents = [
            Context::new(),
            parent(true, true),
            parent(true, false),
            parent(false, true),
            parent(false, false),
        ];
        let samplers = [
            Sampler::AlwaysOn,
            Sampler::AlwaysOff,
            Sampler::default(),
            Sampler::parent_based(Sampler::AlwaysOff),
            Sampler::TraceIdRatioBased(0.5),
            Sampler::parent_based(Sampler::TraceIdRatioBased(0.5)),
        ];
        let mut quick = 0;
        for s in &samplers {
            for p in &parents {
                let full = s.should_sample(p, tid, "n", SpanKind::Internal, &[], &[]);
                if let Some(d) = s.quick_decision(p.span_context()) {
                    quick += 1;
                    assert_eq!(d, full.decision, "{s:?} {p:?}");
                    assert!(full.attributes.is_empty());
                    assert_eq!(&full.trace_state, p.span_context().trace_state());
                }
            }
        }
        // Everything but the ratio sampler (and a root under ParentBased(ratio)) is quick.
        assert_eq!(quick, 4 * 5 + 4);
    }

    #[test]
    fn env_names_parse() {
        assert!(matches!(
            Sampler::from_name("always_off", None),
            Ok(Sampler::AlwaysOff)
        ));
        assert!(matches!(
            Sampler::from_name("traceidratio", Some("0.25")),
            Ok(Sampler::TraceIdRatioBased(r)) if r == 0.25
        ));
        let e = Sampler::from_name("traceidratio", Some("2")).unwrap_err();
        assert_eq!(e.kind(), ConfigErrorKind::OutOfRange);
        let e = Sampler::from_name("sometimes", None).unwrap_err();
        assert_eq!(e.setting(), "OTEL_TRACES_SAMPLER");
    }

    #[test]
    fn ratio_is_deterministic_and_close() {
        let s = Sampler::TraceIdRatioBased(0.3);
        let cx = Context::new();
        let mut kept = 0;
        let n = 20_000u64;
        let mut x = 0x9e3779b97f4a7c15u64;
        for _ in 0..n {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let tid = TraceId::from_u128(((x as u128) << 64) | x as u128);
            let d1 = s
                .should_sample(&cx, tid, "s", SpanKind::Internal, &[], &[])
                .decision;
            let d2 = s
                .should_sample(&cx, tid, "s", SpanKind::Internal, &[], &[])
                .decision;
            assert_eq!(d1, d2);
            if d1 == SamplingDecision::RecordAndSample {
                kept += 1;
            }
        }
        let frac = kept as f64 / n as f64;
        assert!((frac - 0.3).abs() < 0.02, "kept {frac}");
    }
}
