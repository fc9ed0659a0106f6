//! Ports of distribution/reference normalize_test.go: `ParseNormalizedNamed`, the Docker Hub
//! defaults, `ParseAnyReference`, `ParseDockerRef`, and the domain split.

use super::*;

const DOCKER_REF_DIGEST: &str =
    "sha256:e6693c20186f837fc393390135d8a598a96a833917917789d63766cab6c59582";

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
