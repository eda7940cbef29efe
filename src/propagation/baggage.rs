//! W3C Baggage: the `baggage` header.
//!
//! `baggage: user.id=42,tenant=acme;plan=gold` — members `name=value` with optional
//! `;property` metadata. Values are percent-encoded. The W3C limits apply both ways: at most
//! 64 members and 8192 bytes in all; a member over 4096 bytes, a name that is not an HTTP
//! token, a value with a forbidden character or one that does not decode to UTF-8 is skipped
//! (never a partial member).

use percent_encoding::{percent_decode_str, utf8_percent_encode, AsciiSet, CONTROLS};

use crate::baggage::Baggage;
use crate::context::Context;
use crate::propagation::{Extractor, Injector, TextMapPropagator};

const BAGGAGE: &str = "baggage";
const MAX_MEMBERS: usize = 64;
const MAX_TOTAL_BYTES: usize = 8192;
const MAX_MEMBER_BYTES: usize = 4096;

/// Characters percent-encoded in values: everything outside `baggage-octet`, and `%`.
const VALUE_ENCODE: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b',')
    .add(b';')
    .add(b'\\')
    .add(b'%');

/// The W3C Baggage propagator.
#[derive(Clone, Copy, Debug, Default)]
pub struct BaggagePropagator {
    _private: (),
}

impl BaggagePropagator {
    /// A new propagator.
    pub fn new() -> Self {
        BaggagePropagator::default()
    }
}

impl TextMapPropagator for BaggagePropagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let header = encode(cx.baggage());
        if !header.is_empty() {
            injector.set(BAGGAGE, header);
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let headers = extractor.get_all(BAGGAGE);
        if headers.is_empty() {
            return cx.clone();
        }
        let extracted = decode(&headers);
        if extracted.is_empty() {
            return cx.clone();
        }
        // Added to the context's baggage (an extracted entry replaces one of the same name),
        // as Python's propagator sets each entry: what the process put there stays.
        let mut baggage = cx.baggage().clone();
        for (name, value, metadata) in extracted.iter() {
            baggage.insert_with_metadata(name.to_string(), value.to_string(), metadata.clone());
        }
        cx.with_baggage(baggage)
    }

    fn fields(&self) -> Vec<String> {
        vec![BAGGAGE.to_string()]
    }
}

/// The header value for `baggage`, within the limits.
pub(crate) fn encode(baggage: &Baggage) -> String {
    let mut out = String::new();
    let mut members = 0;
    for (name, value, metadata) in baggage.iter() {
        if members == MAX_MEMBERS {
            break;
        }
        if !is_token(name) {
            continue;
        }
        let mut member = format!("{name}={}", utf8_percent_encode(value, VALUE_ENCODE));
        // Metadata that is not a valid property list is left out (the entry is kept).
        if let Some(props) = Some(metadata.as_str())
            .filter(|m| !m.is_empty())
            .and_then(parse_properties)
        {
            member.push(';');
            member.push_str(&props);
        }
        let sep = usize::from(!out.is_empty());
        if member.len() > MAX_MEMBER_BYTES || out.len() + sep + member.len() > MAX_TOTAL_BYTES {
            continue;
        }
        if sep == 1 {
            out.push(',');
        }
        out.push_str(&member);
        members += 1;
    }
    out
}

/// The baggage in `headers` (joined in order): valid members only, within the limits.
pub(crate) fn decode(headers: &[&str]) -> Baggage {
    let mut baggage = Baggage::new();
    let mut total = 0usize;
    for member in headers.iter().flat_map(|h| h.split(',')) {
        if baggage.len() == MAX_MEMBERS {
            break;
        }
        let member = member.trim_matches(is_ows);
        if member.is_empty() || member.len() > MAX_MEMBER_BYTES {
            continue;
        }
        let sep = usize::from(total > 0);
        if total + sep + member.len() > MAX_TOTAL_BYTES {
            continue;
        }
        if let Some((name, value, properties)) = parse_member(member) {
            baggage.insert_with_metadata(name.to_string(), value, properties);
            total += sep + member.len();
        }
    }
    baggage
}

/// `key OWS "=" OWS value *( OWS ";" OWS property )`, value percent-decoded.
fn parse_member(member: &str) -> Option<(&str, String, String)> {
    let (kv, props) = match member.split_once(';') {
        Some((kv, props)) => (kv, Some(props)),
        None => (member, None),
    };
    let (name, value) = kv.split_once('=')?;
    let (name, value) = (name.trim_matches(is_ows), value.trim_matches(is_ows));
    if !is_token(name) || !value.bytes().all(is_baggage_octet) {
        return None;
    }
    let value = percent_decode_str(value).decode_utf8().ok()?.into_owned();
    let properties = match props {
        Some(p) => parse_properties(p)?,
        None => String::new(),
    };
    Some((name, value, properties))
}

/// Validates `prop (;prop)*` where `prop` is `key` or `key=value`; returns them normalized
/// (trimmed, joined by `;`).
fn parse_properties(props: &str) -> Option<String> {
    let mut out = Vec::new();
    for p in props.split(';') {
        let p = p.trim_matches(is_ows);
        match p.split_once('=') {
            None if is_token(p) => out.push(p.to_string()),
            Some((k, v)) => {
                let (k, v) = (k.trim_matches(is_ows), v.trim_matches(is_ows));
                if !is_token(k) || !v.bytes().all(is_baggage_octet) {
                    return None;
                }
                out.push(format!("{k}={v}"));
            }
            None => return None,
        }
    }
    Some(out.join(";"))
}

fn is_ows(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// An HTTP token (RFC 7230 `tchar`s, at least one).
fn is_token(s: &str) -> bool {
    !s.is_empty()
        && s.bytes().all(|c| {
            c.is_ascii_alphanumeric()
                || matches!(
                    c,
                    b'!' | b'#'
                        | b'$'
                        | b'%'
                        | b'&'
                        | b'\''
                        | b'*'
                        | b'+'
                        | b'-'
                        | b'.'
                        | b'^'
                        | b'_'
                        | b'`'
                        | b'|'
                        | b'~'
                )
        })
}

/// `baggage-octet`: printable ASCII except space, `"`, `,`, `;` and `\`.
fn is_baggage_octet(c: u8) -> bool {
    matches!(c, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_encoding_and_metadata() {
        let mut b = Baggage::new();
        b.insert("user.id", "42");
        b.insert("msg", "hello, wörld;100%");
        b.insert_with_metadata("tenant", "acme", "plan=gold;vip");
        b.insert("bad key", "dropped");
        let h = encode(&b);
        assert_eq!(
            h,
            "user.id=42,msg=hello%2C%20w%C3%B6rld%3B100%25,tenant=acme;plan=gold;vip"
        );
        let back = decode(&[&h]);
        assert_eq!(back.get("msg"), Some("hello, wörld;100%"));
        assert_eq!(back.get("user.id"), Some("42"));
        assert_eq!(
            back.get_with_metadata("tenant").unwrap().1.as_str(),
            "plan=gold;vip"
        );
        assert_eq!(back.len(), 3);
    }
}
