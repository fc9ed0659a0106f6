//! `Reference`: an image name as Docker writes it (`alpine`, `quay.io/a/b:tag`, `name@sha256:…`),
//! parsed and normalised exactly as github.com/distribution/reference does, plus its mount path form.
//!
//! Names reach us from the command line, from `io.containerd.image.name` annotations and from
//! `manifest.json` `RepoTags`. All three must agree with Docker on which image is meant, so the
//! grammar (`reference.go`, `regexp.go`) and the normalisation (`normalize.go`: `docker.io`,
//! `library/`, `latest`) follow upstream rule by rule, quirks included, rather than being "fixed".
//! The grammar is written by hand; each check names the upstream production it stands for.
//! This module knows nothing of the store, of platforms or of the filesystem.

use std::fmt;
use std::str::FromStr;

use crate::digest::{Digest, ParseDigestError};

/// Docker Hub's canonical domain: `alpine` means `docker.io/library/alpine`.
const DEFAULT_DOMAIN: &str = "docker.io";
/// Docker Hub's old "Docker Index" name, folded into [`DEFAULT_DOMAIN`].
const LEGACY_DEFAULT_DOMAIN: &str = "index.docker.io";
/// The namespace of official images, added only for one-component paths on Docker Hub.
const OFFICIAL_REPO_PREFIX: &str = "library/";
const DEFAULT_TAG: &str = "latest";
/// Always a domain when it is the first of several components, though it has no `.` or `:`.
const LOCALHOST: &str = "localhost";
/// Upstream `RepositoryNameTotalLengthMax`. Since distribution/reference v0.6 it limits the path
/// alone: the domain does not count.
const NAME_TOTAL_LENGTH_MAX: usize = 255;
/// `[\w][\w.-]{0,127}`
const TAG_LENGTH_MAX: usize = 128;

/// A named image reference: `domain/path[:tag][@digest]`, normalised.
///
/// `domain` is empty only in one upstream corner: a first component that looks like a domain to
/// the normaliser (it has a `.` or `:`) but fails the domain grammar while passing the path grammar,
/// e.g. `a_b.com/foo`. Upstream then keeps the whole name as the path with no domain; so do we.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

/// Why a string is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ParseReferenceError {
    /// The empty string.
    Empty,
    /// 64 lowercase hex characters alone: upstream refuses them because they read as an image ID.
    NameIsHexIdentifier(String),
    /// The string does not match the reference grammar.
    InvalidFormat(String),
    /// The repository name has uppercase letters (only a domain and a tag may).
    NameContainsUppercase(String),
    /// The repository path is longer than 255 characters.
    NameTooLong(String),
    /// A tag that is not `[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}`; holds the tag alone.
    InvalidTag(String),
    /// The part after `@` is shaped like a digest but is not one we accept.
    InvalidDigest {
        reference: String,
        source: ParseDigestError,
    },
    /// Path components that parse, but not to a reference whose own components they are.
    NotCanonical(String),
}

impl fmt::Display for ParseReferenceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => write!(f, "invalid reference: empty string"),
            Self::NameIsHexIdentifier(s) => write!(
                f,
                "invalid repository name {s:?}: cannot specify 64-byte hexadecimal strings"
            ),
            Self::InvalidFormat(s) => write!(f, "invalid reference format {s:?}"),
            Self::NameContainsUppercase(s) => {
                write!(
                    f,
                    "invalid reference format {s:?}: repository name must be lowercase"
                )
            }
            Self::NameTooLong(s) => write!(
                f,
                "invalid reference {s:?}: repository name must not be more than \
                 {NAME_TOTAL_LENGTH_MAX} characters"
            ),
            Self::InvalidTag(s) => write!(f, "invalid tag {s:?}"),
            Self::InvalidDigest { reference, .. } => {
                write!(f, "invalid digest in reference {reference:?}")
            }
            Self::NotCanonical(s) => write!(f, "reference {s:?} is not in canonical form"),
        }
    }
}

impl std::error::Error for ParseReferenceError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::InvalidDigest { source, .. } => Some(source),
            _ => None,
        }
    }
}

impl Reference {
    /// Upstream `ParseNormalizedNamed`: `alpine` → `docker.io/library/alpine`, no tag added.
    /// Accepts `name`, `name:tag`, `name@digest` and `name:tag@digest`.
    pub fn parse_normalized(s: &str) -> Result<Reference, ParseReferenceError> {
        if s.is_empty() {
            return Err(ParseReferenceError::Empty);
        }
        if is_identifier(s) {
            return Err(ParseReferenceError::NameIsHexIdentifier(s.to_string()));
        }
        let (domain, remainder) = split_docker_domain(s);
        // Upstream cuts at the first ':' only, so for `name@sha256:…` the checked part runs up to
        // the algorithm; an uppercase algorithm is therefore reported as an uppercase name.
        let remote = remainder
            .split_once(':')
            .map_or(remainder.as_str(), |(r, _)| r);
        if remote.to_lowercase() != remote {
            return Err(ParseReferenceError::NameContainsUppercase(s.to_string()));
        }
        parse_reference(&format!("{domain}/{remainder}"), s)
    }

    /// Upstream `Parse`: the reference grammar alone, without normalisation, so `alpine` has
    /// no domain and the path `alpine`. For user input use [`Reference::parse_normalized`].
    pub fn parse(s: &str) -> Result<Reference, ParseReferenceError> {
        parse_reference(s, s)
    }

    /// Upstream `WithName`: a repository name alone (`[domain/]path`, no tag or digest), not
    /// normalised.
    pub fn with_name(name: &str) -> Result<Reference, ParseReferenceError> {
        let (domain, path) =
            split_name(name).ok_or_else(|| ParseReferenceError::InvalidFormat(name.to_string()))?;
        if path.len() > NAME_TOTAL_LENGTH_MAX {
            return Err(ParseReferenceError::NameTooLong(name.to_string()));
        }
        Ok(Reference {
            domain: domain.unwrap_or_default().to_string(),
            path: path.to_string(),
            tag: None,
            digest: None,
        })
    }

    /// Upstream `ParseDockerRef`: normalised, `latest` when there is neither tag nor digest, and
    /// the tag dropped when both are present (the digest is what gets pulled).
    pub fn parse_docker_ref(s: &str) -> Result<Reference, ParseReferenceError> {
        let mut reference = Reference::parse_normalized(s)?;
        if reference.digest.is_some() {
            reference.tag = None;
        }
        Ok(reference.with_default_tag())
    }

    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path without the domain, e.g. `library/alpine`.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// The full repository name, e.g. `docker.io/library/alpine`.
    pub fn name(&self) -> String {
        if self.domain.is_empty() {
            self.path.clone()
        } else {
            format!("{}/{}", self.domain, self.path)
        }
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// Upstream `TagNameOnly`: adds `latest` iff there is no tag and no digest.
    pub fn with_default_tag(&self) -> Reference {
        let mut reference = self.clone();
        if reference.is_name_only() {
            reference.tag = Some(DEFAULT_TAG.to_string());
        }
        reference
    }

    /// Upstream `WithTag`: replaces the tag and keeps any digest.
    pub fn with_tag(&self, tag: &str) -> Result<Reference, ParseReferenceError> {
        if !is_valid_tag(tag) {
            return Err(ParseReferenceError::InvalidTag(tag.to_string()));
        }
        let mut reference = self.clone();
        reference.tag = Some(tag.to_string());
        Ok(reference)
    }

    /// Upstream `TrimNamed`: the repository alone.
    pub fn without_tag_and_digest(&self) -> Reference {
        Reference {
            domain: self.domain.clone(),
            path: self.path.clone(),
            tag: None,
            digest: None,
        }
    }

    /// Upstream `FamiliarName`: `alpine`, `foo/bar`, `localhost:5000/x`, `quay.io/a/b`.
    pub fn familiar_name(&self) -> String {
        if self.domain != DEFAULT_DOMAIN {
            return self.name();
        }
        // `library/` is only dropped when one component remains, so `library/a/b` stays as is
        // (otherwise it would read back as `docker.io/a/b`).
        match self.path.strip_prefix(OFFICIAL_REPO_PREFIX) {
            Some(rest) if !rest.contains('/') => rest.to_string(),
            _ => self.path.clone(),
        }
    }

    /// Upstream `FamiliarString`: the familiar name plus `:tag` and `@digest` as present.
    /// This is the form of `manifest.json` `RepoTags` and of `Loaded image: …`.
    pub fn familiar_string(&self) -> String {
        let mut s = self.familiar_name();
        self.push_tag_and_digest(&mut s);
        s
    }

    /// Upstream `IsNameOnly`: no tag and no digest.
    pub fn is_name_only(&self) -> bool {
        self.tag.is_none() && self.digest.is_none()
    }

    /// The full string form split on `/`: `["docker.io", "library", "alpine:3.20"]`.
    /// No component is empty, `.` or `..`, or contains `/`, so each is a safe directory name.
    pub fn to_path_components(&self) -> Vec<String> {
        self.to_string().split('/').map(str::to_string).collect()
    }

    /// The inverse of [`Reference::to_path_components`]. Components that parse but are not the
    /// canonical components of what they parse to (`["alpine"]`, `["docker.io", "library"]`) are
    /// refused, so that each reference has exactly one path in the mount.
    pub fn from_path_components(parts: &[&str]) -> Result<Reference, ParseReferenceError> {
        let joined = parts.join("/");
        let reference = Reference::parse_normalized(&joined)?;
        let canonical = reference.to_path_components();
        if !canonical
            .iter()
            .map(String::as_str)
            .eq(parts.iter().copied())
        {
            return Err(ParseReferenceError::NotCanonical(joined));
        }
        Ok(reference)
    }

    fn push_tag_and_digest(&self, s: &mut String) {
        if let Some(tag) = &self.tag {
            s.push(':');
            s.push_str(tag);
        }
        if let Some(digest) = &self.digest {
            s.push('@');
            s.push_str(&digest.to_string());
        }
    }
}

/// The full normalised string: `docker.io/library/alpine:3.20`, `name@sha256:…`, `name:tag@sha256:…`.
impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.name();
        self.push_tag_and_digest(&mut s);
        f.write_str(&s)
    }
}

impl FromStr for Reference {
    type Err = ParseReferenceError;

    fn from_str(s: &str) -> Result<Reference, ParseReferenceError> {
        Reference::parse_normalized(s)
    }
}

/// What upstream `ParseAnyReference` returns: an image ID or digest, or a normalised name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AnyReference {
    /// 64 lowercase hex digits alone (an image ID, read as `sha256:<hex>`) or `sha256:<hex>`.
    Digest(Digest),
    /// Anything else, through [`Reference::parse_normalized`].
    Named(Reference),
}

/// Upstream `ParseAnyReference`, what `docker image` commands parse a REF with: an image ID
/// (64 lowercase hex digits) or a digest, else a name. Upstream also takes digests of other
/// algorithms (`sha512:…`) here; [`Digest`] holds only sha256, so those read as a name
/// (`sha512` with a tag) or fail.
pub fn parse_any(s: &str) -> Result<AnyReference, ParseReferenceError> {
    if is_identifier(s) {
        let digest = Digest::from_hex(s).map_err(|source| ParseReferenceError::InvalidDigest {
            reference: s.to_string(),
            source,
        })?;
        return Ok(AnyReference::Digest(digest));
    }
    if let Ok(digest) = s.parse::<Digest>() {
        return Ok(AnyReference::Digest(digest));
    }
    Reference::parse_normalized(s).map(AnyReference::Named)
}

/// Upstream `anchoredNameRegexp`'s submatches: `(domain, path)` of a repository name, the
/// domain empty when there is none; `None` when `name` is not a repository name.
pub fn split_repository_name(name: &str) -> Option<(&str, &str)> {
    split_name(name).map(|(domain, path)| (domain.unwrap_or_default(), path))
}

/// Upstream `ReferenceRegexp`'s submatches: `(name, tag, digest)`, empty when absent; `None`
/// when `s` does not match the reference grammar. No length limit and no digest check beyond
/// its shape apply here, as in the regexp.
pub fn split_reference(s: &str) -> Option<(&str, &str, &str)> {
    let parts = match_reference(s).ok()?;
    let name_len = parts.domain.map_or(0, |d| d.len() + 1) + parts.path.len();
    Some((
        &s[..name_len],
        parts.tag.unwrap_or_default(),
        parts.digest.unwrap_or_default(),
    ))
}

/// Upstream `domainAndPort` production: a domain name or bracketed IPv6 address, with an
/// optional port.
pub fn is_domain(s: &str) -> bool {
    is_domain_and_port(s)
}

/// Upstream `anchoredIdentifierRegexp`: 64 lowercase hex digits, what an image ID looks like.
pub fn is_image_id(s: &str) -> bool {
    is_identifier(s)
}

/// The tag grammar alone: `[\w][\w.-]{0,127}` (`\w` is ASCII `[0-9A-Za-z_]`).
pub fn is_valid_tag(s: &str) -> bool {
    let is_word = |b: u8| b.is_ascii_alphanumeric() || b == b'_';
    match s.as_bytes() {
        [first, rest @ ..] => {
            s.len() <= TAG_LENGTH_MAX
                && is_word(*first)
                && rest.iter().all(|&b| is_word(b) || b == b'.' || b == b'-')
        }
        [] => false,
    }
}

/// Upstream `splitDockerDomain`, applied to the whole input (tag and digest included, as upstream
/// does). The first component is a domain if it is `localhost`, contains `.` or `:`, or contains
/// an uppercase letter (repository paths may not, so it cannot be one).
fn split_docker_domain(name: &str) -> (&str, String) {
    let Some((maybe_domain, maybe_remote)) = name.split_once('/') else {
        // A single component is always a Docker Hub official image, even `localhost` or
        // `example.com`: upstream must not read `ubuntu:latest` as host:port.
        return (DEFAULT_DOMAIN, format!("{OFFICIAL_REPO_PREFIX}{name}"));
    };
    let (domain, remote) = if maybe_domain == LOCALHOST
        || maybe_domain.contains(['.', ':'])
        || maybe_domain.to_lowercase() != maybe_domain
    {
        let domain = if maybe_domain == LEGACY_DEFAULT_DOMAIN {
            DEFAULT_DOMAIN
        } else {
            maybe_domain
        };
        (domain, maybe_remote)
    } else {
        (DEFAULT_DOMAIN, name)
    };
    if domain == DEFAULT_DOMAIN && !remote.contains('/') {
        (domain, format!("{OFFICIAL_REPO_PREFIX}{remote}"))
    } else {
        (domain, remote.to_string())
    }
}

/// Upstream `Parse`: the grammar without normalisation. `input` is what the caller was given,
/// quoted in errors.
fn parse_reference(s: &str, input: &str) -> Result<Reference, ParseReferenceError> {
    if s.is_empty() {
        return Err(ParseReferenceError::Empty);
    }
    let parts = match match_reference(s) {
        Ok(parts) => parts,
        Err(mismatch) => {
            // Upstream reports uppercase only when lowercasing would have made it valid.
            let lower = s.to_lowercase();
            if lower != s && match_reference(&lower).is_ok() {
                return Err(ParseReferenceError::NameContainsUppercase(
                    input.to_string(),
                ));
            }
            return Err(match mismatch {
                Mismatch::Format => ParseReferenceError::InvalidFormat(input.to_string()),
                Mismatch::Tag(tag) => ParseReferenceError::InvalidTag(tag.to_string()),
            });
        }
    };
    if parts.path.len() > NAME_TOTAL_LENGTH_MAX {
        return Err(ParseReferenceError::NameTooLong(input.to_string()));
    }
    let digest = match parts.digest {
        Some(d) => {
            Some(
                d.parse::<Digest>()
                    .map_err(|source| ParseReferenceError::InvalidDigest {
                        reference: input.to_string(),
                        source,
                    })?,
            )
        }
        None => None,
    };
    Ok(Reference {
        domain: parts.domain.unwrap_or_default().to_string(),
        path: parts.path.to_string(),
        tag: parts.tag.map(str::to_string),
        digest,
    })
}

/// The pieces of a string matching upstream `ReferenceRegexp` plus `anchoredNameRegexp`.
#[derive(Debug, PartialEq, Eq)]
struct Parts<'a> {
    domain: Option<&'a str>,
    path: &'a str,
    tag: Option<&'a str>,
    digest: Option<&'a str>,
}

#[derive(Debug, PartialEq, Eq)]
enum Mismatch<'a> {
    Format,
    Tag(&'a str),
}

/// `name [":" tag] ["@" digest]`. The split points are unambiguous, which is what lets a
/// hand-written matcher agree with the regexp: no production but the digest may contain `@`, and a
/// `:` followed by no `/` cannot belong to the name (a port or an IPv6 address in the domain is
/// always followed by the `/` that ends the domain), so it must start the tag.
fn match_reference(s: &str) -> Result<Parts<'_>, Mismatch<'_>> {
    let (rest, digest) = match s.split_once('@') {
        Some((rest, digest)) if is_digest_pattern(digest) => (rest, Some(digest)),
        Some(_) => return Err(Mismatch::Format),
        None => (s, None),
    };
    let (name, tag) = match rest.rsplit_once(':') {
        Some((name, tag)) if !tag.contains('/') => (name, Some(tag)),
        _ => (rest, None),
    };
    let (domain, path) = split_name(name).ok_or(Mismatch::Format)?;
    // Blamed on the tag only when the name is good, so `[::1]` is a bad format, not a bad tag `1]`.
    if let Some(tag) = tag
        && !is_valid_tag(tag)
    {
        return Err(Mismatch::Tag(tag));
    }
    Ok(Parts {
        domain,
        path,
        tag,
        digest,
    })
}

/// `anchoredNameRegexp`: `[domainAndPort "/"] remoteName`. The regexp prefers the domain branch;
/// if the first component is a valid domain, the rest is a valid remote name with it exactly when
/// it is without it, so taking the domain whenever it is valid gives the regexp's answer.
fn split_name(name: &str) -> Option<(Option<&str>, &str)> {
    if let Some((first, rest)) = name.split_once('/')
        && is_domain_and_port(first)
    {
        return is_remote_name(rest).then_some((Some(first), rest));
    }
    is_remote_name(name).then_some((None, name))
}

/// `remoteName`: `pathComponent ("/" pathComponent)*`.
fn is_remote_name(s: &str) -> bool {
    s.split('/').all(is_path_component)
}

/// `pathComponent`: `[a-z0-9]+ (separator [a-z0-9]+)*` with `separator` = `[._] | __ | -+`.
fn is_path_component(s: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let bytes = s.as_bytes();
    let (Some(&first), Some(&last)) = (bytes.first(), bytes.last()) else {
        return false;
    };
    if !alnum(first) || !alnum(last) {
        return false;
    }
    // Alphanumeric runs are maximal, so each run between them must be one whole separator.
    bytes
        .split(|&b| alnum(b))
        .filter(|sep| !sep.is_empty())
        .all(|sep| matches!(sep, b"." | b"_" | b"__") || sep.iter().all(|&b| b == b'-'))
}

/// `domainAndPort`: `(domainName | "[" [a-fA-F0-9:]+ "]") (":" [0-9]+)?`.
fn is_domain_and_port(s: &str) -> bool {
    let (host_ok, port) = if let Some(bracketed) = s.strip_prefix('[') {
        match bracketed.split_once(']') {
            Some((address, port)) => (
                !address.is_empty() && address.bytes().all(|b| b.is_ascii_hexdigit() || b == b':'),
                port,
            ),
            None => return false,
        }
    } else {
        match s.find(':') {
            Some(i) => (is_domain_name(&s[..i]), &s[i..]),
            None => (is_domain_name(s), ""),
        }
    };
    host_ok
        && (port.is_empty()
            || port
                .strip_prefix(':')
                .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())))
}

/// `domainName`: components of `[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?` joined by `.`.
/// Uppercase is allowed here, unlike in paths.
fn is_domain_name(s: &str) -> bool {
    s.split('.').all(|component| {
        let bytes = component.as_bytes();
        match (bytes.first(), bytes.last()) {
            (Some(first), Some(last)) => {
                first.is_ascii_alphanumeric()
                    && last.is_ascii_alphanumeric()
                    && bytes
                        .iter()
                        .all(|b| b.is_ascii_alphanumeric() || *b == b'-')
            }
            _ => false,
        }
    })
}

/// `digestPat`: `[A-Za-z][A-Za-z0-9]*([-_+.][A-Za-z][A-Za-z0-9]*)* ":" [[:xdigit:]]{32,}`.
/// Only the shape: whether we support the algorithm is [`Digest`]'s decision, made later.
fn is_digest_pattern(s: &str) -> bool {
    let Some((algorithm, encoded)) = s.split_once(':') else {
        return false;
    };
    let component_ok = |c: &str| {
        let bytes = c.as_bytes();
        bytes.first().is_some_and(u8::is_ascii_alphabetic)
            && bytes.iter().all(u8::is_ascii_alphanumeric)
    };
    encoded.len() >= 32
        && encoded.bytes().all(|b| b.is_ascii_hexdigit())
        && algorithm.split(['-', '_', '+', '.']).all(component_ok)
}

/// `identifier`: `[a-f0-9]{64}`, what an image ID looks like.
fn is_identifier(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests;
