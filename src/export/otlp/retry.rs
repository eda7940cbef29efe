//! Retry and throttling, as the OTLP specification defines them: which outcomes are retried,
//! exponential backoff with jitter, and server-given delays (`Retry-After`, gRPC
//! `RetryInfo`), all bounded by the export timeout.

use std::time::Duration;

/// How failed exports are retried. Every retry happens within the export timeout: an export
/// never takes longer than the timeout, whatever this policy says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (default 5); 0 disables retrying.
    pub max_retries: u32,
    /// The first backoff (default 500 ms); each next one doubles, up to `max_backoff`.
    pub initial_backoff: Duration,
    /// The longest backoff (default 5 s).
    pub max_backoff: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 5,
            initial_backoff: Duration::from_millis(500),
            max_backoff: Duration::from_secs(5),
        }
    }
}

impl RetryPolicy {
    /// No retry at all.
    pub fn none() -> Self {
        RetryPolicy {
            max_retries: 0,
            ..Self::default()
        }
    }

    /// The delay before retry number `retry` (0-based): exponential, capped, with "equal
    /// jitter" (between half and all of the nominal delay). `unit` in `[0, 1)` is the random
    /// draw.
    pub(crate) fn backoff(&self, retry: u32, unit: f64) -> Duration {
        let nominal = self
            .initial_backoff
            .saturating_mul(1u32.checked_shl(retry.min(20)).unwrap_or(u32::MAX))
            .min(self.max_backoff);
        let half = nominal / 2;
        half + half.mul_f64(unit.clamp(0.0, 1.0))
    }
}

/// What one attempt's outcome means for the export.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Try again, after the server's delay if it gave one.
    Retry(Option<Duration>),
    /// Give up now.
    Fail,
}

/// gRPC status codes (numbers as in `google.rpc.Code`).
#[cfg_attr(not(feature = "grpc"), allow(dead_code))]
pub(crate) mod code {
    pub(crate) const CANCELLED: i32 = 1;
    pub(crate) const DEADLINE_EXCEEDED: i32 = 4;
    pub(crate) const RESOURCE_EXHAUSTED: i32 = 8;
    pub(crate) const ABORTED: i32 = 10;
    pub(crate) const OUT_OF_RANGE: i32 = 11;
    pub(crate) const UNAVAILABLE: i32 = 14;
    pub(crate) const DATA_LOSS: i32 = 15;
}

/// A gRPC status: `RESOURCE_EXHAUSTED` is retryable only when the server sent `RetryInfo`
/// (it then means "throttled"; without it, "this will never fit").
#[cfg_attr(not(feature = "grpc"), allow(dead_code))]
pub(crate) fn grpc_verdict(status: i32, retry_info: Option<Duration>) -> Verdict {
    use code::*;
    match status {
        CANCELLED | DEADLINE_EXCEEDED | ABORTED | OUT_OF_RANGE | UNAVAILABLE | DATA_LOSS => {
            Verdict::Retry(retry_info)
        }
        RESOURCE_EXHAUSTED if retry_info.is_some() => Verdict::Retry(retry_info),
        _ => Verdict::Fail,
    }
}

/// An HTTP status (not 2xx): 429, 502, 503 and 504 are retryable.
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) fn http_verdict(status: u16, retry_after: Option<Duration>) -> Verdict {
    match status {
        429 | 502 | 503 | 504 => Verdict::Retry(retry_after),
        _ => Verdict::Fail,
    }
}

/// Parses a `Retry-After` value: delay seconds, or an HTTP date (relative to `now`).
#[cfg_attr(not(feature = "http"), allow(dead_code))]
pub(crate) fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    #[cfg(feature = "http")]
    {
        let when = httpdate::parse_http_date(value).ok()?;
        Some(when.duration_since(now).unwrap_or(Duration::ZERO))
    }
    #[cfg(not(feature = "http"))]
    {
        let _ = now;
        None
    }
}

/// The minimal `google.rpc.Status` / `RetryInfo` messages, to read a gRPC server's retry
/// delay from the `grpc-status-details-bin` trailer.
#[cfg_attr(not(feature = "grpc"), allow(dead_code))]
pub(crate) mod rpc {
    use std::time::Duration;

    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Status {
        #[prost(int32, tag = "1")]
        pub(crate) code: i32,
        #[prost(string, tag = "2")]
        pub(crate) message: String,
        #[prost(message, repeated, tag = "3")]
        pub(crate) details: Vec<Any>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct Any {
        #[prost(string, tag = "1")]
        pub(crate) type_url: String,
        #[prost(bytes = "vec", tag = "2")]
        pub(crate) value: Vec<u8>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct RetryInfo {
        #[prost(message, optional, tag = "1")]
        pub(crate) retry_delay: Option<ProtoDuration>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub(crate) struct ProtoDuration {
        #[prost(int64, tag = "1")]
        pub(crate) seconds: i64,
        #[prost(int32, tag = "2")]
        pub(crate) nanos: i32,
    }

    #[cfg(test)]
    pub(crate) const RETRY_INFO_TYPE: &str = "type.googleapis.com/google.rpc.RetryInfo";

    /// The retry delay in encoded `google.rpc.Status` details, if any.
    pub(crate) fn retry_delay(details: &[u8]) -> Option<Duration> {
        use prost::Message;
        if details.is_empty() {
            return None;
        }
        let status = Status::decode(details).ok()?;
        let info = status
            .details
            .iter()
            .find(|a| a.type_url.ends_with("google.rpc.RetryInfo"))?;
        let info = RetryInfo::decode(info.value.as_slice()).ok()?;
        let d = info.retry_delay.unwrap_or_default();
        Some(
            Duration::from_secs(d.seconds.max(0) as u64)
                + Duration::from_nanos(d.nanos.max(0) as u64),
        )
    }

    /// Encodes a status with a `RetryInfo` of `delay`.
    #[cfg(test)]
    pub(crate) fn encode_retry_info(code: i32, delay: Duration) -> Vec<u8> {
        use prost::Message;
        let info = RetryInfo {
            retry_delay: Some(ProtoDuration {
                seconds: delay.as_secs() as i64,
                nanos: delay.subsec_nanos() as i32,
            }),
        };
        Status {
            code,
            message: String::new(),
            details: vec![Any {
                type_url: RETRY_INFO_TYPE.to_string(),
                value: info.encode_to_vec(),
            }],
        }
        .encode_to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    #[test]
    fn backoff_grows_caps_and_jitters() {
        let p = RetryPolicy::default();
        assert_eq!(p.backoff(0, 0.0), Duration::from_millis(250));
        assert_eq!(p.backoff(0, 1.0), Duration::from_millis(500));
        assert_eq!(p.backoff(1, 1.0), Duration::from_millis(1000));
        assert_eq!(p.backoff(10, 1.0), Duration::from_secs(5));
        assert_eq!(p.backoff(40, 0.0), Duration::from_millis(2500));
    }

    #[test]
    fn classification_follows_the_spec() {
        for c in [1, 4, 10, 11, 14, 15] {
            assert_eq!(grpc_verdict(c, None), Verdict::Retry(None), "code {c}");
        }
        assert_eq!(grpc_verdict(8, None), Verdict::Fail);
        let d = Some(Duration::from_secs(1));
        assert_eq!(grpc_verdict(8, d), Verdict::Retry(d));
        for c in [2, 3, 5, 7, 9, 12, 13, 16] {
            assert_eq!(grpc_verdict(c, None), Verdict::Fail, "code {c}");
        }
        for s in [429, 502, 503, 504] {
            assert_eq!(http_verdict(s, None), Verdict::Retry(None));
        }
        for s in [400, 401, 403, 404, 413, 500, 501] {
            assert_eq!(http_verdict(s, None), Verdict::Fail);
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
        assert_eq!(parse_retry_after(" 3 ", now), Some(Duration::from_secs(3)));
        assert_eq!(parse_retry_after("soon", now), None);
        #[cfg(feature = "http")]
        {
            let later = httpdate::fmt_http_date(now + Duration::from_secs(7));
            assert_eq!(parse_retry_after(&later, now), Some(Duration::from_secs(7)));
            let past = httpdate::fmt_http_date(now - Duration::from_secs(7));
            assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
        }
    }

    #[test]
    fn retry_info_round_trips() {
        let bytes = rpc::encode_retry_info(8, Duration::from_millis(1500));
        assert_eq!(rpc::retry_delay(&bytes), Some(Duration::from_millis(1500)));
        assert_eq!(rpc::retry_delay(&[]), None);
    }
}
