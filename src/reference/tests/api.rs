//! Our own API over `Reference`: familiar and display forms, tags, path components, errors.

use std::error::Error as _;

use super::*;

#[test]
fn parse_normalized_rejects_malformed_separators() {
    for input in [
        "",
        "/foo",
        "foo/",
        "foo//bar",
        "foo:",
        "foo@",
        ":tag",
        "foo:tag:tag",
        "foo@sha256:",
        "foo::tag",
        "foo/bar:",
        "foo..bar",
        "foo.-bar",
        "localhost:/x",
        "docker.io/",
    ] {
        assert!(
            Reference::parse_normalized(input).is_err(),
            "{input:?} accepted"
        );
    }
    assert_eq!(
        Reference::parse_normalized(""),
        Err(ParseReferenceError::Empty)
    );
    assert_eq!(
        Reference::parse_normalized("foo:"),
        Err(ParseReferenceError::InvalidTag(String::new()))
    );
}

#[test]
fn familiar_string_round_trips_familiar_inputs() {
    for input in [
        "alpine".to_string(),
        "alpine:latest".into(),
        "alpine:3.20".into(),
        "foo/bar".into(),
        "foo/bar:1".into(),
        "library/foo/bar".into(),
        "localhost/x".into(),
        "localhost:5000/x".into(),
        "quay.io/a/b".into(),
        "example.com:8080/a/b:tag".into(),
        "[::1]:5000/foo:tag".into(),
        "Foo/bar".into(),
        format!("alpine@{BUSYBOX_DIGEST}"),
        format!("alpine:3.20@{BUSYBOX_DIGEST}"),
        format!("quay.io/a/b@{BUSYBOX_DIGEST}"),
    ] {
        assert_eq!(parse(&input).familiar_string(), input);
    }
    assert_eq!(
        parse("docker.io/library/alpine:latest").familiar_string(),
        "alpine:latest"
    );
    assert_eq!(parse("index.docker.io/foo/bar").familiar_name(), "foo/bar");
}

#[test]
fn display_round_trips_through_parse_normalized() {
    for input in [
        "alpine".to_string(),
        "alpine:3.20".into(),
        "localhost/x:y".into(),
        "[2001:db8::1]/repo".into(),
        "Foo/bar:T".into(),
        format!("alpine:3.20@{BUSYBOX_DIGEST}"),
        format!("library/a/b@{BUSYBOX_DIGEST}"),
    ] {
        let r = parse(&input);
        assert_eq!(parse(&r.to_string()), r, "{input:?}");
        assert_eq!(r.to_string().parse::<Reference>(), Ok(r.clone()));
    }
    assert_eq!(
        parse("alpine:3.20").to_string(),
        "docker.io/library/alpine:3.20"
    );
    assert_eq!(
        parse(&format!("alpine@{BUSYBOX_DIGEST}")).to_string(),
        format!("docker.io/library/alpine@{BUSYBOX_DIGEST}")
    );
}

#[test]
fn default_tag_added_only_to_name_only_references() {
    let name_only = parse("alpine");
    assert_eq!(name_only.with_default_tag().tag(), Some("latest"));
    assert_eq!(parse("alpine:3").with_default_tag().tag(), Some("3"));
    let digested = parse(&format!("alpine@{BUSYBOX_DIGEST}"));
    assert_eq!(digested.with_default_tag(), digested);
    assert!(!digested.is_name_only());
    assert!(!parse("alpine:3").is_name_only());
}

#[test]
fn with_tag_replaces_tag_and_keeps_digest() {
    // TestWithTag: a digest survives WithTag.
    let r = parse(&format!("test.com:8000/foo@{BUSYBOX_DIGEST}"));
    let tagged = r.with_tag("TAG5").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        tagged.to_string(),
        format!("test.com:8000/foo:TAG5@{BUSYBOX_DIGEST}")
    );
    assert_eq!(
        parse("foo:a").with_tag("b").map(|r| r.familiar_string()),
        Ok("foo:b".into())
    );
    assert!(r.with_tag("no/slash").is_err());
}

#[test]
fn without_tag_and_digest_leaves_the_repository() {
    let r = parse(&format!("quay.io/a/b:1@{BUSYBOX_DIGEST}")).without_tag_and_digest();
    assert_eq!(r.to_string(), "quay.io/a/b");
    assert!(r.is_name_only());
}

#[test]
fn path_components_round_trip() {
    let tagged = parse("alpine:3.20");
    assert_eq!(
        tagged.to_path_components(),
        ["docker.io", "library", "alpine:3.20"]
    );
    let digested = parse(&format!("alpine@{BUSYBOX_DIGEST}"));
    let last = format!("alpine@{BUSYBOX_DIGEST}");
    assert_eq!(
        digested.to_path_components(),
        ["docker.io", "library", last.as_str()]
    );
    for input in [
        "alpine".to_string(),
        "alpine:3.20".into(),
        "foo/bar/baz:x".into(),
        "localhost:5000/x".into(),
        "[::1]:5000/foo:tag".into(),
        "Foo/bar".into(),
        "a_b.com/foo".into(),
        format!("alpine@{BUSYBOX_DIGEST}"),
        format!("quay.io/a/b:1@{BUSYBOX_DIGEST}"),
    ] {
        let r = parse(&input);
        let components = r.to_path_components();
        assert!(
            components
                .iter()
                .all(|c| !c.is_empty() && c != "." && c != "..")
        );
        let borrowed: Vec<&str> = components.iter().map(String::as_str).collect();
        assert_eq!(
            Reference::from_path_components(&borrowed),
            Ok(r),
            "{input:?}"
        );
    }
}

#[test]
fn from_path_components_rejects_non_canonical_paths() {
    for parts in [
        &["alpine"][..],
        &["docker.io", "library"],
        &["docker.io", "foo"],
        &["index.docker.io", "library", "alpine"],
        &["library", "alpine"],
    ] {
        assert_eq!(
            Reference::from_path_components(parts),
            Err(ParseReferenceError::NotCanonical(parts.join("/"))),
            "{parts:?}"
        );
    }
    assert_eq!(
        Reference::from_path_components(&[]),
        Err(ParseReferenceError::Empty)
    );
    assert!(Reference::from_path_components(&["docker.io", "", "alpine"]).is_err());
    assert!(Reference::from_path_components(&["docker.io", "..", "alpine"]).is_err());
}

#[test]
fn errors_are_lowercase_and_quote_the_input() {
    let err = Reference::parse_normalized("docker/Docker").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid reference format \"docker/Docker\": repository name must be lowercase"
    );
    let input = "repo@sha256:ffffffffffffffffffffffffffffffffff";
    let err = Reference::parse_normalized(input).unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid digest in reference \"repo@sha256:ffffffffffffffffffffffffffffffffff\""
    );
    assert!(err.source().is_some());
    for err in [
        ParseReferenceError::Empty,
        ParseReferenceError::NameIsHexIdentifier("x".into()),
        ParseReferenceError::InvalidFormat("x".into()),
        ParseReferenceError::NameTooLong("x".into()),
        ParseReferenceError::InvalidTag("x".into()),
        ParseReferenceError::NotCanonical("x".into()),
    ] {
        let message = err.to_string();
        assert!(message.starts_with(|c: char| c.is_lowercase()), "{message}");
        assert!(!message.ends_with('.'), "{message}");
    }
}
