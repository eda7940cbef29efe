//! Appending to a `Vec` without first building the element in a local.
//!
//! `vec.push(Struct { .. })` builds the struct on the stack with one store per field, then
//! copies it into the vector in 16-byte blocks. A load that spans two recent smaller stores
//! cannot be forwarded from them, so the copy waits until they reach the cache: about a dozen
//! cycles per element, on every attribute and event a span records. Writing the element
//! straight into the vector's spare capacity avoids the copy.

/// Appends an element to `v`, written field by field straight into the slot past its end:
/// `push_fields!(vec, Type { field: expr, .. })` names every field of `Type`.
macro_rules! push_fields {
    ($v:expr, $t:ident { $($f:ident : $e:expr),+ $(,)? }) => {{
        let v: &mut Vec<$t> = $v;
        if v.len() == v.capacity() {
            v.reserve(1);
        }
        let len = v.len();
        // Naming every field in a pattern fails to compile when one is missing, so the
        // slot is always fully written.
        #[allow(unused)]
        let _all_fields = |x: &$t| {
            let $t { $($f: _),+ } = x;
        };
        // All values first, so that a panic in one leaves the vector as it was.
        let ($($f,)+) = ($($e,)+);
        // SAFETY: after `reserve`, the capacity exceeds `len`, so slot `len` is allocated
        // and unused; the pattern above proves every field is written before the length
        // grows to include the slot.
        unsafe {
            let slot = v.as_mut_ptr().add(len);
            $(std::ptr::addr_of_mut!((*slot).$f).write($f);)+
            v.set_len(len + 1);
        }
    }};
}
pub(crate) use push_fields;

#[cfg(test)]
mod tests {
    #[derive(Debug, PartialEq)]
    struct Pair {
        name: String,
        values: Vec<u32>,
        n: u8,
    }

    #[test]
    fn elements_are_written_whole_and_the_vector_grows() {
        let mut v: Vec<Pair> = Vec::new();
        for i in 0..20u8 {
            let name = format!("p{i}");
            push_fields!(
                &mut v,
                Pair {
                    // The fields are evaluated before any is written, in order.
                    values: vec![u32::from(i); 2],
                    n: i,
                    name: name,
                }
            );
        }
        assert_eq!(v.len(), 20);
        assert_eq!(
            v[19],
            Pair {
                name: "p19".into(),
                values: vec![19, 19],
                n: 19
            }
        );
    }
}
