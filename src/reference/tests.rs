//! Unit tests of `reference`. distribution/reference's own tables run from
//! tests/upstream_reference.rs.

use super::*;
use std::error::Error as _;

const HEX_F: &str = "ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
const BUSYBOX_DIGEST: &str =
    "sha256:86e0e091d0da6bde2456dbb48306f3956bbeb2eae1b5b9a43045843f69fe4aaa";
const DOCKER_REF_DIGEST: &str =
    "sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582";

fn parse(s: &str) -> Reference {
    Reference::parse_normalized(s).unwrap_or_else(|e| panic!("{s:?}: {e}"))
}

// ---- normalize_test.go ----

#[test]
fn parse_normalized_adds_library_for_docker_hub() {
    let r = parse("alpine");
    assert_eq!(r.domain(), "docker.io");
    assert_eq!(r.path(), "library/alpine");
    assert_eq!(r.name(), "docker.io/library/alpine");
    assert_eq!(r.tag(), None);
    assert_eq!(r.digest(), None);
    assert!(r.is_name_only());
    assert_eq!(r.to_string(), "docker.io/library/alpine");
}

#[test]
fn parse_normalized_accepts_upstream_valid_repo_names() {
    // TestValidateReferenceName (valid) and TestValidateRemoteName (valid).
    for name in [
        "docker/docker",
        "library/debian",
        "debian",
        "docker.io/docker/docker",
        "docker.io/library/debian",
        "docker.io/debian",
        "index.docker.io/docker/docker",
        "index.docker.io/library/debian",
        "index.docker.io/debian",
        "127.0.0.1:5000/docker/docker",
        "127.0.0.1:5000/library/debian",
        "127.0.0.1:5000/debian",
        "192.168.0.1",
        "192.168.0.1:80",
        "192.168.0.1:8/debian",
        "192.168.0.2:25000/debian",
        "thisisthesongthatneverendsitgoesonandonandonthisisthesongthatnev",
        "[fc00::1]:5000/docker",
        "[fc00::1]:5000/docker/docker",
        "[fc00:1:2:3:4:5:6:7]:5000/library/debian",
        "docker.io/1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        "Docker/docker",
        "DOCKER/docker",
        "docker-rules/docker",
        "docker---rules/docker",
        "doc/docker",
        "d/docker",
        "jess/t",
        "dock__er/docker",
    ] {
        assert!(
            Reference::parse_normalized(name).is_ok(),
            "{name:?} rejected"
        );
    }
}

#[test]
fn parse_normalized_rejects_upstream_invalid_repo_names() {
    // TestValidateReferenceName (invalid) and TestValidateRemoteName (invalid).
    let too_long_namespace = format!("{}/docker", "this_is_not_a_valid_namespace".repeat(9));
    for name in [
        "https://github.com/docker/docker",
        "docker/Docker",
        "-docker",
        "-docker/docker",
        "-docker.io/docker/docker",
        "docker///docker",
        "docker.io/docker/Docker",
        "docker.io/docker///docker",
        "[fc00::1]",
        "[fc00::1]:5000",
        "fc00::1:5000/debian",
        "[fe80::1%eth0]:5000/debian",
        "[2001:db8:3:4::192.0.2.33]:5000/debian",
        "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a",
        "docker-/docker",
        "-docker-/docker",
        "____/____",
        "_docker/_docker",
        "dock..er/docker",
        "dock_.er/docker",
        "dock-.er/docker",
        "docker/",
        too_long_namespace.as_str(),
    ] {
        assert!(
            Reference::parse_normalized(name).is_err(),
            "{name:?} accepted"
        );
    }
}

#[test]
#[rustfmt::skip]
fn parse_normalized_matches_upstream_repository_info_table() {
    // TestParseRepositoryInfo: (path, familiar, full, ambiguous, domain).
    let table = [
        ("fooo/bar", "fooo/bar", "docker.io/fooo/bar", "index.docker.io/fooo/bar", "docker.io"),
        ("library/ubuntu", "ubuntu", "docker.io/library/ubuntu", "library/ubuntu", "docker.io"),
        ("nonlibrary/ubuntu", "nonlibrary/ubuntu", "docker.io/nonlibrary/ubuntu", "", "docker.io"),
        ("other/library", "other/library", "docker.io/other/library", "", "docker.io"),
        ("private/moonbase", "127.0.0.1:8000/private/moonbase", "127.0.0.1:8000/private/moonbase", "", "127.0.0.1:8000"),
        ("privatebase", "127.0.0.1:8000/privatebase", "127.0.0.1:8000/privatebase", "", "127.0.0.1:8000"),
        ("private/moonbase", "example.com/private/moonbase", "example.com/private/moonbase", "", "example.com"),
        ("privatebase", "example.com/privatebase", "example.com/privatebase", "", "example.com"),
        ("private/moonbase", "example.com:8000/private/moonbase", "example.com:8000/private/moonbase", "", "example.com:8000"),
        ("privatebasee", "example.com:8000/privatebasee", "example.com:8000/privatebasee", "", "example.com:8000"),
        ("library/ubuntu-12.04-base", "ubuntu-12.04-base", "docker.io/library/ubuntu-12.04-base", "index.docker.io/library/ubuntu-12.04-base", "docker.io"),
        ("library/foo", "foo", "docker.io/library/foo", "docker.io/foo", "docker.io"),
        ("library/foo/bar", "library/foo/bar", "docker.io/library/foo/bar", "", "docker.io"),
        ("store/foo/bar", "store/foo/bar", "docker.io/store/foo/bar", "", "docker.io"),
        ("bar", "Foo/bar", "Foo/bar", "", "Foo"),
        ("bar", "FOO/bar", "FOO/bar", "", "FOO"),
    ];
    for (path, familiar, full, ambiguous, domain) in table {
        for input in [familiar, full, ambiguous] {
            if input.is_empty() {
                continue;
            }
            let r = parse(input);
            assert_eq!(r.familiar_name(), familiar, "familiar name of {input:?}");
            assert_eq!(r.to_string(), full, "full name of {input:?}");
            assert_eq!(r.domain(), domain, "domain of {input:?}");
            assert_eq!(r.path(), path, "path of {input:?}");
        }
    }
}

#[test]
fn parse_normalized_keeps_both_tag_and_digest() {
    // TestParseReferenceWithTagAndDigest.
    let short = format!("busybox:latest@{BUSYBOX_DIGEST}");
    let r = parse(&short);
    assert_eq!(r.to_string(), format!("docker.io/library/{short}"));
    assert_eq!(r.tag(), Some("latest"));
    assert_eq!(
        r.digest().map(ToString::to_string).as_deref(),
        Some(BUSYBOX_DIGEST)
    );
    assert_eq!(r.familiar_string(), short);
}

#[test]
fn parse_normalized_rejects_invalid_components() {
    // TestInvalidReferenceComponents.
    assert!(Reference::parse_normalized("-foo").is_err());
    let r = parse("busybox");
    assert_eq!(
        r.with_tag("-foo"),
        Err(ParseReferenceError::InvalidTag("-foo".to_string()))
    );
}

#[test]
fn parse_normalized_matches_upstream_any_reference_table() {
    // TestParseAnyReference, the rows that go through ParseNormalizedNamed.
    let d = "sha256:dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9c";
    let table = [
        ("redis".to_string(), "docker.io/library/redis".to_string()),
        (
            "redis:latest".into(),
            "docker.io/library/redis:latest".into(),
        ),
        (
            "docker.io/library/redis:latest".into(),
            "docker.io/library/redis:latest".into(),
        ),
        (format!("redis@{d}"), format!("docker.io/library/redis@{d}")),
        (
            format!("docker.io/library/redis@{d}"),
            format!("docker.io/library/redis@{d}"),
        ),
        ("dmcgowan/myapp".into(), "docker.io/dmcgowan/myapp".into()),
        (
            "dmcgowan/myapp:latest".into(),
            "docker.io/dmcgowan/myapp:latest".into(),
        ),
        (
            "docker.io/mcgowan/myapp:latest".into(),
            "docker.io/mcgowan/myapp:latest".into(),
        ),
        (
            format!("dmcgowan/myapp@{d}"),
            format!("docker.io/dmcgowan/myapp@{d}"),
        ),
        (
            format!("docker.io/dmcgowan/myapp@{d}"),
            format!("docker.io/dmcgowan/myapp@{d}"),
        ),
        (
            "dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9".into(),
            "docker.io/library/dbcc1c35ac38df41fd2f5e4130b32ffdb93ebae8b3dbe638c23575912276fc9"
                .into(),
        ),
        ("dbcc1".into(), "docker.io/library/dbcc1".into()),
    ];
    for (input, expected) in table {
        let r = parse(&input);
        assert_eq!(r.to_string(), expected, "{input:?}");
        assert_eq!(parse_reference(&expected, &expected), Ok(r), "{input:?}");
    }
}

#[test]
fn parse_normalized_splits_domain_like_upstream() {
    // TestNormalizedSplitHostname.
    for (input, domain, path) in [
        ("test.com/foo", "test.com", "foo"),
        ("test_com/foo", "docker.io", "test_com/foo"),
        ("docker/migrator", "docker.io", "docker/migrator"),
        ("test.com:8080/foo", "test.com:8080", "foo"),
        ("test-com:8080/foo", "test-com:8080", "foo"),
        ("foo", "docker.io", "library/foo"),
        ("xn--n3h.com/foo", "xn--n3h.com", "foo"),
        ("xn--n3h.com:18080/foo", "xn--n3h.com:18080", "foo"),
        ("docker.io/foo", "docker.io", "library/foo"),
        ("docker.io/library/foo", "docker.io", "library/foo"),
        ("docker.io/library/foo/bar", "docker.io", "library/foo/bar"),
        ("index.docker.io/foo", "docker.io", "library/foo"),
        ("localhost/x", "localhost", "x"),
        ("localhost:5000/x", "localhost:5000", "x"),
        ("localhost", "docker.io", "library/localhost"),
        ("example.com:8080/a/b:tag", "example.com:8080", "a/b"),
        ("[::1]:5000/foo", "[::1]:5000", "foo"),
        ("foo/bar", "docker.io", "foo/bar"),
    ] {
        let r = parse(input);
        assert_eq!((r.domain(), r.path()), (domain, path), "{input:?}");
    }
}

#[test]
fn parse_docker_ref_matches_upstream_table() {
    // TestParseDockerRef.
    for (input, expected) in [
        (
            "busybox".to_string(),
            "docker.io/library/busybox:latest".to_string(),
        ),
        (
            "busybox:latest".into(),
            "docker.io/library/busybox:latest".into(),
        ),
        (
            format!("busybox@{DOCKER_REF_DIGEST}"),
            format!("docker.io/library/busybox@{DOCKER_REF_DIGEST}"),
        ),
        (
            "library/busybox".into(),
            "docker.io/library/busybox:latest".into(),
        ),
        (
            "docker.io/busybox".into(),
            "docker.io/library/busybox:latest".into(),
        ),
        (
            "docker.io/library/busybox".into(),
            "docker.io/library/busybox:latest".into(),
        ),
        (
            "docker.io/busybox:latest".into(),
            "docker.io/library/busybox:latest".into(),
        ),
        (
            "library/busybox:latest".into(),
            "docker.io/library/busybox:latest".into(),
        ),
        (
            "docker.io/library/busybox:latest".into(),
            "docker.io/library/busybox:latest".into(),
        ),
        (
            "gcr.io/library/busybox".into(),
            "gcr.io/library/busybox:latest".into(),
        ),
        (
            format!("gcr.io/library/busybox:latest@{DOCKER_REF_DIGEST}"),
            format!("gcr.io/library/busybox@{DOCKER_REF_DIGEST}"),
        ),
    ] {
        let r = Reference::parse_docker_ref(&input).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(r.to_string(), expected, "{input:?}");
        assert!(
            parse_reference(&expected, &expected).is_ok(),
            "{expected:?}"
        );
    }
}

#[test]
fn parse_normalized_rejects_hex_identifier_but_not_near_misses() {
    let id = "1a3f5e7d9c1b3a5f7e9d1c3b5a7f9e1d3c5b7a9f1e3d5d7c9b1a3f5e7d9c1b3a";
    assert_eq!(
        Reference::parse_normalized(id),
        Err(ParseReferenceError::NameIsHexIdentifier(id.to_string()))
    );
    assert_eq!(parse(&id[..63]).path(), format!("library/{}", &id[..63]));
    assert_eq!(
        parse(&format!("docker.io/{id}")).path(),
        format!("library/{id}")
    );
    // Uppercase hex is not an identifier, but then it is an uppercase name.
    assert!(matches!(
        Reference::parse_normalized(&id.to_uppercase()),
        Err(ParseReferenceError::NameContainsUppercase(_))
    ));
}

#[test]
fn parse_normalized_reads_bare_digest_as_name_and_tag() {
    // Upstream quirk: without ParseAnyReference, `sha256:<hex>` is repository `sha256`,
    // tag `<hex>`.
    let r = parse(&format!("sha256:{HEX_F}"));
    assert_eq!(r.name(), "docker.io/library/sha256");
    assert_eq!(r.tag(), Some(HEX_F));
}

#[test]
fn parse_normalized_keeps_path_of_invalid_domain_without_domain() {
    // `a_b.com` has a '.', so the normaliser takes it for a domain; the grammar refuses it as
    // one and upstream keeps it as a path component with no domain at all.
    let r = parse("a_b.com/foo:1");
    assert_eq!(
        (r.domain(), r.path(), r.tag()),
        ("", "a_b.com/foo", Some("1"))
    );
    assert_eq!(r.to_string(), "a_b.com/foo:1");
    assert_eq!(r.familiar_string(), "a_b.com/foo:1");
    assert_eq!(parse(&r.to_string()), r);
}

// ---- reference_test.go: TestReferenceParse (upstream Parse, no normalisation) ----

#[test]
#[rustfmt::skip]
fn parse_reference_matches_upstream_table() {
    // TestReferenceParse, valid rows: (input, domain, name, tag, digest). `<F>` stands for
    // `sha256:` and 64 'f's.
    let a127 = format!("{}a", "a/".repeat(127));
    let a255 = "a".repeat(255);
    let long_tagged = format!("{a127}:tag-puts-this-over-max");
    let long_path = format!("example.com/{a255}:tag");
    let long_name = format!("example.com/{a255}");
    let table = [
        ("test_com", "", "test_com", "", ""),
        ("test.com:tag", "", "test.com", "tag", ""),
        ("test.com:5000", "", "test.com", "5000", ""),
        ("test.com/repo:tag", "test.com", "test.com/repo", "tag", ""),
        ("test:5000/repo", "test:5000", "test:5000/repo", "", ""),
        ("test:5000/repo:tag", "test:5000", "test:5000/repo", "tag", ""),
        ("test:5000/repo@<F>", "test:5000", "test:5000/repo", "", "<F>"),
        ("test:5000/repo:tag@<F>", "test:5000", "test:5000/repo", "tag", "<F>"),
        ("lowercase:Uppercase", "", "lowercase", "Uppercase", ""),
        (&long_tagged, "a", &a127, "tag-puts-this-over-max", ""),
        ("sub-dom1.foo.com/bar/baz/quux", "sub-dom1.foo.com", "sub-dom1.foo.com/bar/baz/quux", "", ""),
        ("sub-dom1.foo.com/bar/baz/quux:some-long-tag", "sub-dom1.foo.com", "sub-dom1.foo.com/bar/baz/quux", "some-long-tag", ""),
        ("b.gcr.io/test.example.com/my-app:test.example.com", "b.gcr.io", "b.gcr.io/test.example.com/my-app", "test.example.com", ""),
        ("xn--n3h.com/myimage:xn--n3h.com", "xn--n3h.com", "xn--n3h.com/myimage", "xn--n3h.com", ""),
        ("foo_bar.com:8080", "", "foo_bar.com", "8080", ""),
        ("foo/foo_bar.com:8080", "foo", "foo/foo_bar.com", "8080", ""),
        ("192.168.1.1", "", "192.168.1.1", "", ""),
        ("192.168.1.1:tag", "", "192.168.1.1", "tag", ""),
        ("192.168.1.1:5000", "", "192.168.1.1", "5000", ""),
        ("192.168.1.1/repo", "192.168.1.1", "192.168.1.1/repo", "", ""),
        ("192.168.1.1:5000/repo", "192.168.1.1:5000", "192.168.1.1:5000/repo", "", ""),
        ("192.168.1.1:5000/repo:5050", "192.168.1.1:5000", "192.168.1.1:5000/repo", "5050", ""),
        ("[2001:db8::1]/repo", "[2001:db8::1]", "[2001:db8::1]/repo", "", ""),
        ("[2001:db8:1:2:3:4:5:6]/repo:tag", "[2001:db8:1:2:3:4:5:6]", "[2001:db8:1:2:3:4:5:6]/repo", "tag", ""),
        ("[2001:db8::1]:5000/repo", "[2001:db8::1]:5000", "[2001:db8::1]:5000/repo", "", ""),
        ("[2001:db8::1]:5000/repo:tag", "[2001:db8::1]:5000", "[2001:db8::1]:5000/repo", "tag", ""),
        ("[2001:db8::1]:5000/repo@<F>", "[2001:db8::1]:5000", "[2001:db8::1]:5000/repo", "", "<F>"),
        ("[2001:db8::1]:5000/repo:tag@<F>", "[2001:db8::1]:5000", "[2001:db8::1]:5000/repo", "tag", "<F>"),
        ("[2001:db8::]:5000/repo", "[2001:db8::]:5000", "[2001:db8::]:5000/repo", "", ""),
        ("[::1]:5000/repo", "[::1]:5000", "[::1]:5000/repo", "", ""),
        (&long_path, "example.com", &long_name, "tag", ""),
    ];
    let expand = |s: &str| s.replace("<F>", &format!("sha256:{HEX_F}"));
    for (input, domain, name, tag, digest) in table {
        let input = expand(input);
        let r = parse_reference(&input, &input).unwrap_or_else(|e| panic!("{input:?}: {e}"));
        assert_eq!(r.to_string(), input);
        assert_eq!(r.domain(), domain, "{input:?}");
        assert_eq!(r.name(), name, "{input:?}");
        assert_eq!(r.tag().unwrap_or(""), tag, "{input:?}");
        let found = r.digest().map(ToString::to_string).unwrap_or_default();
        assert_eq!(found, expand(digest), "{input:?}");
    }
}

#[test]
fn parse_reference_reports_upstream_errors() {
    use ParseReferenceError as E;
    let too_long = format!("domain/{}:tag", "a".repeat(256));
    let format_errors = [
        ":justtag".to_string(),
        format!("@sha256:{HEX_F}"),
        "aa/asdf$$^/aa".into(),
        "[2001:db8::1]".into(),
        "[2001:db8::1]:5000".into(),
        "[2001:db8::1]:tag".into(),
        "[fe80::1%eth0]:5000/repo".into(),
        "[fe80::1%@invalidzone]:5000/repo".into(),
    ];
    for input in format_errors {
        assert_eq!(
            parse_reference(&input, &input),
            Err(E::InvalidFormat(input.clone()))
        );
    }
    for input in ["Uppercase:tag", "test:5000/Uppercase/lowercase:tag"] {
        assert_eq!(
            parse_reference(input, input),
            Err(E::NameContainsUppercase(input.to_string()))
        );
    }
    assert_eq!(parse_reference("", ""), Err(E::Empty));
    assert_eq!(
        parse_reference(&too_long, &too_long),
        Err(E::NameTooLong(too_long.clone()))
    );
    assert_eq!(
        parse_reference("repo:invalid~tag", "repo:invalid~tag"),
        Err(E::InvalidTag("invalid~tag".into()))
    );
    // The grammar accepts these digests' shape; the digest type then refuses them.
    for input in [
        "repo@sha256:ffffffffffffffffffffffffffffffffff".to_string(),
        format!("validname@invaliddigest:{HEX_F}"),
        // Upstream accepts sha512; the store holds sha256 only (see crate::digest).
        format!("xn--7o8h.com/myimage:xn--7o8h.com@sha512:{HEX_F}{HEX_F}"),
    ] {
        assert!(
            matches!(
                parse_reference(&input, &input),
                Err(E::InvalidDigest { ref reference, .. }) if *reference == input
            ),
            "{input:?}"
        );
    }
}

#[test]
fn parse_limits_path_not_domain_to_255() {
    let ok = format!("example.com/{}", "a".repeat(255));
    assert_eq!(parse(&ok).path().len(), 255);
    let too_long = format!("example.com/{}", "a".repeat(256));
    assert_eq!(
        Reference::parse_normalized(&too_long),
        Err(ParseReferenceError::NameTooLong(too_long.clone()))
    );
    // `library/` counts: a 248-character official name is already too long.
    assert!(Reference::parse_normalized(&"a".repeat(247)).is_ok());
    assert!(Reference::parse_normalized(&"a".repeat(248)).is_err());
}

// ---- regexp_test.go ----

#[test]
fn domain_grammar_matches_upstream_table() {
    for (input, expected) in [
        ("test.com", true),
        ("test.com:10304", true),
        ("test.com:http", false),
        ("localhost", true),
        ("localhost:8080", true),
        ("a", true),
        ("a.b", true),
        ("ab.cd.com", true),
        ("a-b.com", true),
        ("-ab.com", false),
        ("ab-.com", false),
        ("ab.c-om", true),
        ("ab.-com", false),
        ("ab.com-", false),
        ("0101.com", true),
        ("001a.com", true),
        ("b.gbc.io:443", true),
        ("b.gbc.io", true),
        ("xn--n3h.com", true),
        ("Asdf.com", true),
        ("192.168.1.1:75050", true),
        ("192.168.1.1:750050", true),
        ("[fd00:1:2::3]:75050", true),
        ("[fd00:1:2::3]75050", false),
        ("[fd00:1:2::3]::75050", false),
        ("[fd00:1:2::3%eth0]:75050", false),
        ("[fd00123123123]:75050", true),
        ("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:75050", true),
        ("[2001:0db8:85a3:0000:0000:8a2e:0370:7334]:750505", true),
        ("fd00:1:2::3:75050", false),
        ("", false),
        ("a..b", false),
        ("[]", false),
        ("a:", false),
    ] {
        assert_eq!(is_domain_and_port(input), expected, "{input:?}");
    }
}

#[test]
fn name_grammar_matches_upstream_table() {
    let a128 = format!("{}a", "a/".repeat(128));
    let a127 = format!("{}a", "a/".repeat(127));
    // (input, Some((domain, path))) or None for no match.
    let table: Vec<(&str, Option<(&str, &str)>)> = vec![
        ("", None),
        ("short", Some(("", "short"))),
        ("simple/name", Some(("simple", "name"))),
        ("library/ubuntu", Some(("library", "ubuntu"))),
        ("docker/stevvooe/app", Some(("docker", "stevvooe/app"))),
        (
            "aa/aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb",
            Some(("aa", "aa/aa/aa/aa/aa/aa/aa/aa/bb/bb/bb/bb/bb/bb")),
        ),
        ("aa/aa/bb/bb/bb", Some(("aa", "aa/bb/bb/bb"))),
        ("a/a/a/a", Some(("a", "a/a/a"))),
        ("a/a/a/a/", None),
        ("a//a/a", None),
        ("a", Some(("", "a"))),
        ("a/aa", Some(("a", "aa"))),
        ("a/aa/a", Some(("a", "aa/a"))),
        ("foo.com", Some(("", "foo.com"))),
        ("foo.com/", None),
        ("foo.com:8080/bar", Some(("foo.com:8080", "bar"))),
        ("foo.com:http/bar", None),
        ("foo.com/bar", Some(("foo.com", "bar"))),
        ("foo.com/bar/baz", Some(("foo.com", "bar/baz"))),
        ("localhost:8080/bar", Some(("localhost:8080", "bar"))),
        (
            "sub-dom1.foo.com/bar/baz/quux",
            Some(("sub-dom1.foo.com", "bar/baz/quux")),
        ),
        ("blog.foo.com/bar/baz", Some(("blog.foo.com", "bar/baz"))),
        ("a^a", None),
        ("aa/asdf$$^/aa", None),
        ("asdf$$^/aa", None),
        ("aa-a/a", Some(("aa-a", "a"))),
        (a128.as_str(), Some(("a", a127.as_str()))),
        ("a-/a/a/a", None),
        ("foo.com/a-/a/a", None),
        ("-foo/bar", None),
        ("foo/bar-", None),
        ("foo-/bar", None),
        ("foo/-bar", None),
        ("_foo/bar", None),
        ("foo_bar", Some(("", "foo_bar"))),
        ("foo_bar.com", Some(("", "foo_bar.com"))),
        ("foo_bar.com:8080", None),
        ("foo_bar.com:8080/app", None),
        ("foo.com/foo_bar", Some(("foo.com", "foo_bar"))),
        ("____/____", None),
        ("_docker/_docker", None),
        ("docker_/docker_", None),
        (
            "b.gcr.io/test.example.com/my-app",
            Some(("b.gcr.io", "test.example.com/my-app")),
        ),
        ("xn--n3h.com/myimage", Some(("xn--n3h.com", "myimage"))),
        ("xn--7o8h.com/myimage", Some(("xn--7o8h.com", "myimage"))),
        (
            "example.com/xn--7o8h.com/myimage",
            Some(("example.com", "xn--7o8h.com/myimage")),
        ),
        (
            "example.com/some_separator__underscore/myimage",
            Some(("example.com", "some_separator__underscore/myimage")),
        ),
        ("example.com/__underscore/myimage", None),
        ("example.com/..dots/myimage", None),
        ("example.com/.dots/myimage", None),
        ("example.com/nodouble..dots/myimage", None),
        ("docker./docker", None),
        (".docker/docker", None),
        ("docker-/docker", None),
        ("-docker/docker", None),
        ("do..cker/docker", None),
        ("do__cker:8080/docker", None),
        ("do__cker/docker", Some(("", "do__cker/docker"))),
        (
            "registry.io/foo/project--id.module--name.ver---sion--name",
            Some((
                "registry.io",
                "foo/project--id.module--name.ver---sion--name",
            )),
        ),
        ("Asdf.com/foo/bar", Some(("Asdf.com", "foo/bar"))),
        ("Foo/FarB", None),
        ("a___b", None),
    ];
    for (input, expected) in table {
        let found = split_name(input).map(|(d, p)| (d.unwrap_or(""), p));
        assert_eq!(found, expected, "{input:?}");
    }
}

#[test]
fn reference_grammar_matches_upstream_table() {
    let d = "sha256:be178c0543eb17f5f3043021c9e5fcf30285e557a4fc309cce97ff9ca6182912";
    // (input, Some((name, tag, digest))) or None for no match.
    // (name, tag, digest) when it matches.
    type Matched<'a> = Option<(String, &'a str, &'a str)>;
    let table: Vec<(String, Matched)> = vec![
        (
            "registry.com:8080/myapp:tag".into(),
            Some(("registry.com:8080/myapp".into(), "tag", "")),
        ),
        (
            format!("registry.com:8080/myapp@{d}"),
            Some(("registry.com:8080/myapp".into(), "", d)),
        ),
        (
            format!("registry.com:8080/myapp:tag2@{d}"),
            Some(("registry.com:8080/myapp".into(), "tag2", d)),
        ),
        ("registry.com:8080/myapp@sha256:badbadbadbad".into(), None),
        ("registry.com:8080/myapp:invalid~tag".into(), None),
        ("bad_hostname.com:8080/myapp:tag".into(), None),
        (
            format!("localhost:8080@{d}"),
            Some(("localhost".into(), "8080", d)),
        ),
        (
            format!("localhost:8080/name@{d}"),
            Some(("localhost:8080/name".into(), "", d)),
        ),
        (format!("localhost:http/name@{d}"), None),
        (format!("localhost@{d}"), Some(("localhost".into(), "", d))),
        ("registry.com:8080/myapp@bad".into(), None),
        ("registry.com:8080/myapp@2bad".into(), None),
        (format!("a@{d}@{d}"), None),
    ];
    for (input, expected) in table {
        let found = match_reference(&input).ok().map(|p| {
            let name = match p.domain {
                Some(domain) => format!("{domain}/{}", p.path),
                None => p.path.to_string(),
            };
            (name, p.tag.unwrap_or(""), p.digest.unwrap_or(""))
        });
        assert_eq!(found, expected, "{input:?}");
    }
}

#[test]
fn identifier_grammar_matches_upstream_table() {
    for (input, expected) in [
        (
            "da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821",
            true,
        ),
        (
            "7EC43B381E5AEFE6E04EFB0B3F0693FF2A4A50652D64AEC573905F2DB5889A1C",
            false,
        ),
        (
            "da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf",
            false,
        ),
        (
            "sha256:da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf9821",
            false,
        ),
        (
            "da304e823d8ca2b9d863a3c897baeb852ba21ea9a9f1414736394ae7fcaf98218482",
            false,
        ),
    ] {
        assert_eq!(is_identifier(input), expected, "{input:?}");
    }
}

#[test]
fn is_valid_tag_follows_upstream_grammar() {
    for tag in [
        "latest",
        "3.20",
        "TAG5",
        "_x",
        "a-b.c_d",
        "5000",
        &"a".repeat(128),
    ] {
        assert!(is_valid_tag(tag), "{tag:?} rejected");
    }
    for tag in [
        "",
        "-foo",
        ".foo",
        "invalid~tag",
        "a/b",
        "a:b",
        "a@b",
        "é",
        &"a".repeat(129),
    ] {
        assert!(!is_valid_tag(tag), "{tag:?} accepted");
    }
}

// ---- our own API ----

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
