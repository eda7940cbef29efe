//! W3C Baggage: the Baggage API in the context, and the `baggage` header rules.

use std::collections::HashMap;

use otlp_sdk::baggage::{self, Baggage};
use otlp_sdk::context::Context;
use otlp_sdk::propagation::{BaggagePropagator, Extractor, TextMapPropagator};

fn extract(headers: &[&str]) -> Baggage {
    let mut map = http::HeaderMap::new();
    for h in headers {
        map.append("baggage", http::HeaderValue::from_str(h).unwrap());
    }
    BaggagePropagator::new()
        .extract_with_context(&Context::new(), &map)
        .baggage()
        .clone()
}

fn inject(b: Baggage) -> Option<String> {
    let mut m: HashMap<String, String> = HashMap::new();
    BaggagePropagator::new().inject_context(&Context::new().with_baggage(b), &mut m);
    m.remove("baggage")
}

/// Name, value, metadata.
type Entry = (String, String, String);

fn entries(b: &Baggage) -> Vec<Entry> {
    b.iter()
        .map(|(n, v, m)| (n.to_string(), v.to_string(), m.as_str().to_string()))
        .collect()
}

fn e(n: &str, v: &str, m: &str) -> Entry {
    (n.to_string(), v.to_string(), m.to_string())
}

#[test]
fn extraction_rules() {
    let cases: Vec<(&str, &str, Vec<Entry>)> = vec![
        (
            "simple",
            "k1=v1,k2=v2",
            vec![e("k1", "v1", ""), e("k2", "v2", "")],
        ),
        (
            "whitespace and properties",
            " k1 = v1 ; p1 ; p2 = x ,\tk2=v2 ",
            vec![e("k1", "v1", "p1;p2=x"), e("k2", "v2", "")],
        ),
        (
            "percent-decoding",
            "k=hello%20world%2C%F0%9F%98%80%25",
            vec![e("k", "hello world,\u{1F600}%", "")],
        ),
        ("empty value", "k=", vec![e("k", "", "")]),
        ("invalid UTF-8 skipped", "a=%FF,b=1", vec![e("b", "1", "")]),
        (
            "key with a space skipped",
            "k y=v,b=1",
            vec![e("b", "1", "")],
        ),
        ("missing key skipped", "=v,b=1", vec![e("b", "1", "")]),
        ("missing equals skipped", "k,b=1", vec![e("b", "1", "")]),
        (
            "quote in value skipped",
            "a=x\"y,b=1",
            vec![e("b", "1", "")],
        ),
        (
            "backslash in value skipped",
            "a=x\\y,b=1",
            vec![e("b", "1", "")],
        ),
        (
            "space inside value skipped",
            "a=x y,b=1",
            vec![e("b", "1", "")],
        ),
        (
            "invalid property skipped",
            "a=1;p q,b=1",
            vec![e("b", "1", "")],
        ),
        ("empty members ignored", ",,a=1,,", vec![e("a", "1", "")]),
        ("last duplicate wins", "a=1,a=2", vec![e("a", "2", "")]),
        (
            "token punctuation in keys",
            "a!#$&'*+-.^_`|~z=1",
            vec![e("a!#$&'*+-.^_`|~z", "1", "")],
        ),
    ];
    for (name, header, expected) in cases {
        assert_eq!(entries(&extract(&[header])), expected, "{name}: {header:?}");
    }
}

#[test]
fn several_headers_are_joined() {
    let b = extract(&["a=1", "b=2,c=3"]);
    assert_eq!(
        entries(&b),
        vec![e("a", "1", ""), e("b", "2", ""), e("c", "3", "")]
    );
}

#[test]
fn extraction_limits() {
    // At most 64 members.
    let many: Vec<String> = (0..70).map(|i| format!("k{i}=v")).collect();
    let b = extract(&[&many.join(",")]);
    assert_eq!(b.len(), 64);
    assert_eq!(b.get("k63"), Some("v"));
    assert_eq!(b.get("k64"), None);

    // A member over 4096 bytes is skipped, the others kept.
    let big = format!("big={}", "x".repeat(4100));
    let b = extract(&[&format!("a=1,{big},b=2")]);
    assert_eq!(entries(&b), vec![e("a", "1", ""), e("b", "2", "")]);

    // At most 8192 bytes in all: 2000-byte members, only four fit.
    let members: Vec<String> = (0..6)
        .map(|i| format!("k{i}={}", "v".repeat(1995)))
        .collect();
    let joined = members.join(",");
    let b = extract(&[&joined]);
    assert_eq!(b.len(), 4);
    let size: usize = b
        .iter()
        .map(|(n, v, _)| n.len() + 1 + v.len())
        .sum::<usize>()
        + 3;
    assert!(size <= 8192);
}

#[test]
fn absent_or_invalid_header_keeps_the_context() {
    let base = Context::new().with_baggage([("keep", "me")].into_iter().collect());
    let p = BaggagePropagator::new();
    let out = p.extract_with_context(&base, &HashMap::<String, String>::new());
    assert_eq!(out.baggage().get("keep"), Some("me"));
    let mut h = HashMap::new();
    h.insert("baggage".to_string(), "not valid".to_string());
    let out = p.extract_with_context(&base, &h);
    assert_eq!(out.baggage().get("keep"), Some("me"));
    // A valid header adds to it (as Python's propagator does: see
    // `extracted_entries_are_added_to_the_contexts_baggage`).
    h.insert("baggage".to_string(), "new=1".to_string());
    let out = p.extract_with_context(&base, &h);
    assert_eq!(out.baggage().get("keep"), Some("me"));
    assert_eq!(out.baggage().get("new"), Some("1"));
}

#[test]
fn injection_encodes_and_applies_limits() {
    assert_eq!(inject(Baggage::new()), None);

    let mut b = Baggage::new();
    b.insert("user.id", "42");
    b.insert("msg", "a b,c;d\"e\\f%g=h/é");
    b.insert_with_metadata("t", "x", "p1; p2=v");
    b.insert("not a token", "skipped");
    b.insert_with_metadata("bad.meta", "kept", "p q");
    let header = inject(b).unwrap();
    assert_eq!(
        header,
        "user.id=42,msg=a%20b%2Cc%3Bd%22e%5Cf%25g=h/%C3%A9,t=x;p1;p2=v,bad.meta=kept"
    );
    let back = extract(&[&header]);
    assert_eq!(back.get("msg"), Some("a b,c;d\"e\\f%g=h/é"));
    assert_eq!(back.get_with_metadata("t").unwrap().1.as_str(), "p1;p2=v");

    let many: Baggage = (0..70).map(|i| (format!("k{i}"), "v")).collect();
    assert_eq!(inject(many).unwrap().split(',').count(), 64);

    let mut big = Baggage::new();
    big.insert("a", "1");
    big.insert("huge", "x".repeat(5000));
    big.insert("b", "2");
    assert_eq!(inject(big).unwrap(), "a=1,b=2");

    let wide: Baggage = (0..6)
        .map(|i| (format!("k{i}"), "v".repeat(1995)))
        .collect();
    let h = inject(wide).unwrap();
    assert!(h.len() <= 8192);
    assert_eq!(h.split(',').count(), 4);
}

#[test]
fn baggage_travels_through_the_current_context() {
    let cx = baggage::set_baggage("user.id", "42", &Context::current());
    let _g = cx.attach();
    let mut h = http::HeaderMap::new();
    BaggagePropagator::new().inject(&mut h);
    assert_eq!(Extractor::get(&h, "baggage"), Some("user.id=42"));
    assert_eq!(BaggagePropagator::new().fields(), ["baggage"]);
}

#[test]
fn extracted_entries_are_added_to_the_contexts_baggage() {
    let local = baggage::set_baggage("local", "1", &Context::new());
    let local = baggage::set_baggage("both", "mine", &local);
    let mut carrier: HashMap<String, String> = HashMap::new();
    carrier.insert("baggage".into(), "remote=2,both=theirs".into());
    let cx = BaggagePropagator::new().extract_with_context(&local, &carrier);
    assert_eq!(cx.baggage().get("local"), Some("1"), "kept");
    assert_eq!(cx.baggage().get("remote"), Some("2"));
    assert_eq!(cx.baggage().get("both"), Some("theirs"), "the header wins");
}
