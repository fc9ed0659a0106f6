//! TEMPORARY stub: replaced by the real module (helper in progress).
use crate::digest::Digest;
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Reference { domain: String, path: String, tag: Option<String>, digest: Option<Digest> }
#[derive(Debug)]
pub struct ParseReferenceError(String);
impl std::fmt::Display for ParseReferenceError { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(&self.0) } }
impl std::error::Error for ParseReferenceError {}
impl Reference {
    pub fn parse_normalized(s: &str) -> Result<Reference, ParseReferenceError> {
        if s.is_empty() { return Err(ParseReferenceError("empty".into())); }
        let (rest, digest) = match s.split_once('@') { Some((a, d)) => (a, Some(d.parse().map_err(|_| ParseReferenceError(s.into()))?)), None => (s, None) };
        let (name, tag) = match rest.rsplit_once(':') { Some((n, t)) if !t.contains('/') => (n, Some(t.to_string())), _ => (rest, None) };
        let (domain, path) = match name.split_once('/') { Some((d, p)) if d.contains('.') || d.contains(':') || d == "localhost" => (d.to_string(), p.to_string()), _ => ("docker.io".to_string(), if name.contains('/') { name.to_string() } else { format!("library/{name}") }) };
        Ok(Reference { domain, path, tag, digest })
    }
    pub fn parse_docker_ref(s: &str) -> Result<Reference, ParseReferenceError> { let mut r = Self::parse_normalized(s)?; if r.digest.is_some() { r.tag = None; } Ok(r.with_default_tag()) }
    pub fn domain(&self) -> &str { &self.domain }
    pub fn path(&self) -> &str { &self.path }
    pub fn name(&self) -> String { format!("{}/{}", self.domain, self.path) }
    pub fn tag(&self) -> Option<&str> { self.tag.as_deref() }
    pub fn digest(&self) -> Option<&Digest> { self.digest.as_ref() }
    pub fn with_default_tag(&self) -> Reference { let mut r = self.clone(); if r.tag.is_none() && r.digest.is_none() { r.tag = Some("latest".into()); } r }
    pub fn with_tag(&self, tag: &str) -> Result<Reference, ParseReferenceError> { let mut r = self.clone(); r.tag = Some(tag.into()); Ok(r) }
    pub fn without_tag_and_digest(&self) -> Reference { Reference { domain: self.domain.clone(), path: self.path.clone(), tag: None, digest: None } }
    pub fn familiar_name(&self) -> String { if self.domain == "docker.io" { self.path.strip_prefix("library/").unwrap_or(&self.path).to_string() } else { self.name() } }
    pub fn familiar_string(&self) -> String { let mut s = self.familiar_name(); if let Some(t) = &self.tag { s += ":"; s += t; } if let Some(d) = &self.digest { s += "@"; s += &d.to_string(); } s }
    pub fn is_name_only(&self) -> bool { self.tag.is_none() && self.digest.is_none() }
}
impl std::fmt::Display for Reference { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { write!(f, "{}", self.name())?; if let Some(t) = &self.tag { write!(f, ":{t}")?; } if let Some(d) = &self.digest { write!(f, "@{d}")?; } Ok(()) } }
impl std::str::FromStr for Reference { type Err = ParseReferenceError; fn from_str(s: &str) -> Result<Self, Self::Err> { Self::parse_normalized(s) } }
pub fn is_valid_tag(s: &str) -> bool { !s.is_empty() && s.len() <= 128 }
