//! Ports of reference_test.go `TestReferenceParse`: upstream `Parse`, without normalisation, and
//! its errors.

use super::*;

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
