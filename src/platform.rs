//! TEMPORARY stub: replaced by the real module (helper in progress).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Default, serde::Deserialize)]
pub struct Platform {
    #[serde(default)] pub architecture: String,
    #[serde(default)] pub os: String,
    #[serde(default, rename = "os.version")] pub os_version: String,
    #[serde(default, rename = "os.features")] pub os_features: Vec<String>,
    #[serde(default)] pub variant: String,
}
#[derive(Debug)]
pub struct ParsePlatformError(String);
impl std::fmt::Display for ParsePlatformError { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(&self.0) } }
impl std::error::Error for ParsePlatformError {}
impl Platform {
    pub fn new(os: &str, architecture: &str, variant: &str) -> Platform { Platform { os: os.into(), architecture: architecture.into(), variant: variant.into(), ..Default::default() } }
    pub fn parse(spec: &str) -> Result<Platform, ParsePlatformError> { let p: Vec<&str> = spec.split('/').collect(); Ok(Platform::new(p[0], p.get(1).copied().unwrap_or(""), p.get(2).copied().unwrap_or("")).normalize()) }
    pub fn parse_list(specs: &[String]) -> Result<Vec<Platform>, ParsePlatformError> { let mut v = vec![]; for s in specs { for x in s.split(',') { v.push(Platform::parse(x.trim())?); } } Ok(v) }
    pub fn normalize(&self) -> Platform { let mut p = self.clone(); if p.architecture == "aarch64" { p.architecture = "arm64".into(); } if p.architecture == "arm64" && p.variant == "v8" { p.variant.clear(); } if p.architecture == "arm" && p.variant.is_empty() { p.variant = "v7".into(); } p }
    pub fn format(&self) -> String { if self.variant.is_empty() { format!("{}/{}", self.os, self.architecture) } else { format!("{}/{}/{}", self.os, self.architecture, self.variant) } }
    pub fn format_all(&self) -> String { self.format() }
    pub fn file_name(&self) -> String { self.normalize().format().replace('/', "-") }
    pub fn from_file_name(name: &str) -> Result<Platform, ParsePlatformError> { Platform::parse(&name.replace('-', "/")) }
    pub fn host() -> Platform { Platform::new("linux", "amd64", "") }
    pub fn is_unknown(&self) -> bool { self.os == "unknown" && self.architecture == "unknown" }
}
impl std::fmt::Display for Platform { fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result { f.write_str(&self.format_all()) } }
pub fn matches_exact(requested: &Platform, candidate: &Platform) -> bool { let (a, b) = (requested.normalize(), candidate.normalize()); a.os == b.os && a.architecture == b.architecture && a.variant == b.variant }
#[derive(Clone, Debug)]
pub struct Only { v: Vec<Platform> }
impl Only {
    pub fn new(p: &Platform) -> Only { Only { v: vec![p.normalize()] } }
    pub fn host() -> Only { Only::new(&Platform::host()) }
    pub fn matches(&self, c: &Platform) -> bool { self.rank(c).is_some() }
    pub fn rank(&self, c: &Platform) -> Option<usize> { self.v.iter().position(|p| matches_exact(p, c)) }
    pub fn platforms(&self) -> &[Platform] { &self.v }
}
