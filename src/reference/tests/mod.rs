//! Unit tests of `reference`, by upstream test file: normalize_test.go, reference_test.go
//! (`Parse`) and regexp_test.go, then our own API; this file holds what they share.
//! distribution/reference's own tables run from tests/upstream_reference.rs.

use super::*;

mod api;
mod grammar;
mod normalize;
mod parse;

const HEX_F: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
const BUSYBOX_DIGEST: &str =
    "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";

fn parse(s: &str) -> Reference {
    Reference::parse_normalized(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}
