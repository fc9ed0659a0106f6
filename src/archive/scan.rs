//! Reading an image tar into a [`Catalog`]: decompression chosen by magic number, validation of
//! every entry (paths, links, types, duplicates, truncation), and a record of where each file's
//! content is, so the importer can decide what to keep only after `index.json` (which Docker
//! writes after the blobs) has been seen.
//!
//! Two ways in. From a pipe, each file is spooled into a temp file inside the store while it is
//! hashed (one pass, constant memory). From an uncompressed regular file, only headers and the
//! metadata files are read; blob bytes are copied later, and only for what is selected.

use std::collections::BTreeMap;
use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, Write};
use std::os::unix::fs::FileExt;

use super::ImportError;
use super::import_progress::{ImportProgress, Tally};
use super::tar_reader::{HeaderError, Kind, Member, Skip, TarReader};
use crate::digest::Digest;
use crate::oci::{self, Descriptor};
use crate::store::{SpooledBlob, Store};

/// Metadata files read into memory as they pass (everything else is content).
/// Written by old docker-archives; never needed, never stored.
const REPOSITORIES: &str = "repositories";
/// Most entries an archive may have. Image archives hold tens to a few thousand; the catalog
/// keeps a little metadata (and a temp file, from a pipe) per entry, so this bounds both.
pub(super) const MAX_ENTRIES: usize = 100_000;
/// Most bytes of entry paths and link targets the catalog keeps. Each path is at most 4 KiB
/// (`tar_reader::MAX_PATH`), but 100,000 of them would still be 400 MB; real archives need well
/// under 1 MiB (a few thousand paths of ~80 bytes).
pub(super) const MAX_NAME_BYTES: usize = 16 << 20;
/// Symlink chains longer than this are treated as loops.
const MAX_LINK_HOPS: usize = 32;
const COPY_BUFFER: usize = 1 << 20;

/// The compression of an input, from its first bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
    Xz,
    Bzip2,
}

impl Compression {
    pub fn sniff(prefix: &[u8]) -> Compression {
        match prefix {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            [0xfd, b'7', b'z', b'X', b'Z', 0x00, ..] => Compression::Xz,
            [b'B', b'Z', b'h', ..] => Compression::Bzip2,
            _ => Compression::None,
        }
    }

    /// Wraps `input` in the matching decoder. Concatenated streams are decoded whole, as
    /// `gzip -d` and friends do.
    pub fn decoder<'a>(self, input: impl BufRead + 'a) -> io::Result<Box<dyn Read + 'a>> {
        Ok(match self {
            Compression::None => Box::new(input),
            Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(input)),
            Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(input)?),
            Compression::Xz => Box::new(liblzma::bufread::XzDecoder::new_multi_decoder(input)),
            Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(input)),
        })
    }
}

/// Where a file's content is.
enum Content<'s> {
    /// Spooled into the store's ingest directory, hashed; `None` once published.
    Spooled {
        blob: Option<SpooledBlob<'s>>,
        digest: Digest,
    },
    /// Not copied because the store already holds the blob its path names.
    AlreadyStored { digest: Digest },
    /// At this offset of the (seekable, uncompressed) archive file.
    InArchive { offset: u64 },
}

struct FileEntry<'s> {
    size: u64,
    content: Content<'s>,
}

/// What an archive holds, by validated path.
pub(super) struct Catalog<'s> {
    store: &'s Store,
    archive: Option<File>,
    files: BTreeMap<String, FileEntry<'s>>,
    links: BTreeMap<String, String>,
    pub oci_layout: Option<Vec<u8>>,
    pub index_json: Option<Vec<u8>>,
    pub manifest_json: Option<Vec<u8>>,
    /// Paths staged for publishing, in staging order.
    staged: Vec<String>,
    /// Paths whose bytes the tally has counted, so a file the plan names twice counts once.
    counted: HashSet<String>,
    tally: Tally,
    progress: &'s dyn ImportProgress,
}

/// Counts bytes read, for progress.
struct Counting<'p, R> {
    inner: R,
    count: u64,
    progress: &'p dyn ImportProgress,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        self.progress.read(self.count);
        Ok(n)
    }
}

/// A seekable archive file passes over content without reading it.
impl Skip for Counting<'_, BufReader<File>> {
    fn skip(&mut self, n: u64) -> io::Result<()> {
        let n = i64::try_from(n).map_err(|_| io::Error::other("seek beyond any file"))?;
        self.inner.seek_relative(n)?;
        self.count += n as u64;
        self.progress.read(self.count);
        Ok(())
    }
}

/// A decompressed stream passes over content by reading it.
struct Streamed<R>(R);

impl<R: Read> Read for Streamed<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl<R: Read> Skip for Streamed<R> {}

impl<'s> Catalog<'s> {
    /// Reads a tar stream (compressed or not) in one pass, spooling every content file.
    pub(super) fn from_stream(
        store: &'s Store,
        input: impl Read,
        progress: &'s dyn ImportProgress,
    ) -> Result<Catalog<'s>, ImportError> {
        let raw = Counting {
            inner: input,
            count: 0,
            progress,
        };
        let mut buffered = BufReader::with_capacity(COPY_BUFFER, raw);
        let compression = Compression::sniff(buffered.fill_buf().map_err(ImportError::Input)?);
        let decoded = compression.decoder(buffered).map_err(ImportError::Input)?;
        let mut catalog = Catalog::empty(store, None, progress);
        let mut tar = TarReader::new(Streamed(decoded));
        catalog.scan(&mut tar, |tar, member, path, catalog| {
            catalog.spool(&mut tar.data(), path, member.size)
        })?;
        // Read to the end so decoders verify their checksums and writers into a pipe finish.
        io::copy(&mut tar.into_inner().0, &mut io::sink()).map_err(|e| tar_error(None, e))?;
        Ok(catalog)
    }

    /// Reads the headers of an uncompressed tar file, seeking past content.
    pub(super) fn from_file(
        store: &'s Store,
        file: File,
        progress: &'s dyn ImportProgress,
    ) -> Result<Catalog<'s>, ImportError> {
        let len = file.metadata().map_err(ImportError::Input)?.len();
        let mut reader = file.try_clone().map_err(ImportError::Input)?;
        // The clone shares the file offset with every other handle on this file.
        reader
            .seek(io::SeekFrom::Start(0))
            .map_err(ImportError::Input)?;
        let mut catalog = Catalog::empty(store, Some(file), progress);
        let input = Counting {
            inner: BufReader::new(reader),
            count: 0,
            progress,
        };
        let mut tar = TarReader::new(input);
        catalog.scan(&mut tar, |_, member, path, catalog| {
            let offset = member.data_offset;
            let size = member.size;
            if offset + size > len {
                return Err(ImportError::Truncated {
                    entry: Some(path.to_string()),
                });
            }
            catalog.insert(
                path,
                FileEntry {
                    size,
                    content: Content::InArchive { offset },
                },
            )
        })?;
        // The padding after the end-of-archive blocks is read too, as far as anyone can tell.
        progress.read(len);
        Ok(catalog)
    }

    fn empty(
        store: &'s Store,
        archive: Option<File>,
        progress: &'s dyn ImportProgress,
    ) -> Catalog<'s> {
        Catalog {
            store,
            archive,
            files: BTreeMap::new(),
            links: BTreeMap::new(),
            oci_layout: None,
            index_json: None,
            manifest_json: None,
            staged: Vec::new(),
            counted: HashSet::new(),
            tally: Tally::default(),
            progress,
        }
    }

    /// Validates every entry up to the end-of-archive block; hands regular content files to
    /// `on_file`.
    fn scan<R: Skip>(
        &mut self,
        tar: &mut TarReader<R>,
        mut on_file: impl FnMut(&mut TarReader<R>, &Member, &str, &mut Self) -> Result<(), ImportError>,
    ) -> Result<(), ImportError> {
        let mut count = 0usize;
        let mut name_bytes = 0usize;
        let mut previous: Option<String> = None;
        loop {
            let member = match tar.next_member() {
                Ok(Some(member)) => member,
                Ok(None) => break,
                // No byte at all: not an archive.
                Err(HeaderError::NoEndOfArchive) if count == 0 => {
                    return Err(ImportError::EmptyArchive);
                }
                Err(e) => return Err(header_error(previous, e)),
            };
            count += 1;
            if count > MAX_ENTRIES {
                return Err(ImportError::TooManyEntries { limit: MAX_ENTRIES });
            }
            name_bytes += member.path.len() + member.link.len();
            if name_bytes > MAX_NAME_BYTES {
                return Err(ImportError::NamesTooLarge {
                    limit: MAX_NAME_BYTES,
                });
            }
            let shown = String::from_utf8_lossy(&member.path).into_owned();
            let path = clean_path(&member.path, &shown)?;
            let size = member.size;
            previous = Some(shown.clone());
            match member.kind {
                Kind::Directory | Kind::GlobalHeader => {}
                Kind::Regular => {
                    if path.is_empty() {
                        return Err(ImportError::UnsafePath {
                            entry: shown,
                            reason: "a file named like the archive root",
                        });
                    }
                    match path.as_str() {
                        oci::OCI_LAYOUT_FILE | oci::INDEX_FILE | oci::LEGACY_MANIFEST_FILE => {
                            let bytes = read_metadata(&mut tar.data(), &path, size)?;
                            self.insert_metadata(&path, bytes)?;
                        }
                        REPOSITORIES => {}
                        _ => on_file(tar, &member, &path, self)?,
                    }
                }
                Kind::Symlink | Kind::HardLink => {
                    let target_shown = String::from_utf8_lossy(&member.link).into_owned();
                    let base = if member.kind == Kind::Symlink {
                        path.rsplit_once('/').map_or("", |(dir, _)| dir).to_string()
                    } else {
                        // Hard link targets are archive paths, not relative to the entry.
                        String::new()
                    };
                    let target = resolve_link_target(&base, &member.link).ok_or_else(|| {
                        ImportError::LinkEscapes {
                            entry: shown.clone(),
                            target: target_shown.clone(),
                        }
                    })?;
                    if self.links.insert(path.clone(), target).is_some()
                        || self.files.contains_key(&path)
                    {
                        return Err(ImportError::DuplicateEntry { entry: shown });
                    }
                }
                Kind::CharDevice => return Err(special(shown, "character device")),
                Kind::BlockDevice => return Err(special(shown, "block device")),
                Kind::Fifo => return Err(special(shown, "fifo")),
                Kind::Other(_) => return Err(special(shown, "entry of an unsupported type")),
            }
        }
        if count == 0 {
            return Err(ImportError::EmptyArchive);
        }
        Ok(())
    }

    fn insert_metadata(&mut self, path: &str, bytes: Vec<u8>) -> Result<(), ImportError> {
        let slot = match path {
            oci::OCI_LAYOUT_FILE => &mut self.oci_layout,
            oci::INDEX_FILE => &mut self.index_json,
            _ => &mut self.manifest_json,
        };
        if slot.replace(bytes).is_some() {
            return Err(ImportError::DuplicateEntry {
                entry: path.to_string(),
            });
        }
        Ok(())
    }

    fn insert(&mut self, path: &str, entry: FileEntry<'s>) -> Result<(), ImportError> {
        if self.links.contains_key(path) || self.files.insert(path.to_string(), entry).is_some() {
            return Err(ImportError::DuplicateEntry {
                entry: path.to_string(),
            });
        }
        Ok(())
    }

    /// Copies one entry's content into a temp file in the store, hashing it.
    fn spool(&mut self, entry: &mut impl Read, path: &str, size: u64) -> Result<(), ImportError> {
        // A blob the store already holds need not be copied again (re-importing is a no-op).
        if let Some(digest) = blob_path_digest(path)
            && self.store.blob_size(&digest) == Some(size)
        {
            let copied =
                io::copy(entry, &mut io::sink()).map_err(|e| tar_error(Some(path.into()), e))?;
            if copied != size {
                return Err(ImportError::Truncated {
                    entry: Some(path.to_string()),
                });
            }
            return self.insert(
                path,
                FileEntry {
                    size,
                    content: Content::AlreadyStored { digest },
                },
            );
        }
        let mut writer = self.store.blob_writer()?;
        let mut buf = vec![0u8; size.clamp(1, COPY_BUFFER as u64) as usize];
        loop {
            let n = match entry.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(tar_error(Some(path.into()), e)),
            };
            writer
                .write_all(&buf[..n])
                .map_err(|e| ingest_error(self.store, e))?;
        }
        // A short count, not an error, is what an input ending mid-entry gives.
        if writer.len() != size {
            return Err(ImportError::Truncated {
                entry: Some(path.to_string()),
            });
        }
        let blob = writer.into_spooled()?;
        let digest = blob.digest();
        self.insert(
            path,
            FileEntry {
                size,
                content: Content::Spooled {
                    blob: Some(blob),
                    digest,
                },
            },
        )
    }

    /// The store this catalog stages into.
    pub(super) fn store(&self) -> &'s Store {
        self.store
    }

    /// Follows symlinks and hard links (also in leading components) to a file path.
    pub(super) fn resolve(&self, path: &str) -> Option<String> {
        let mut current = path.to_string();
        for _ in 0..MAX_LINK_HOPS {
            if self.files.contains_key(&current) {
                return Some(current);
            }
            // Find the longest prefix (whole components) that is a link, and substitute it.
            let mut substituted = None;
            let mut prefix_end = current.len();
            loop {
                let prefix = &current[..prefix_end];
                if let Some(target) = self.links.get(prefix) {
                    substituted = Some(format!("{target}{}", &current[prefix_end..]));
                    break;
                }
                match prefix.rfind('/') {
                    Some(i) => prefix_end = i,
                    None => break,
                }
            }
            current = substituted?;
        }
        None
    }

    /// The archive path of the blob a digest names (`blobs/sha256/<hex>`), links followed.
    pub(super) fn blob_path(&self, digest: &Digest) -> Option<String> {
        self.resolve(&oci::blob_path(digest))
    }

    /// Size of a file, links followed.
    pub(super) fn size_of(&self, path: &str) -> Option<u64> {
        self.files.get(path).map(|f| f.size)
    }

    /// Reads a whole (small) file; `limit` guards memory.
    pub(super) fn read_file(&self, path: &str, limit: u64) -> Result<Vec<u8>, ImportError> {
        let entry = self
            .files
            .get(path)
            .ok_or_else(|| ImportError::MissingEntry {
                entry: path.to_string(),
                needed_by: "the archive metadata".to_string(),
            })?;
        if entry.size > limit {
            return Err(ImportError::BadDocument {
                entry: path.to_string(),
                source: oci::DocumentError::TooLarge {
                    size: entry.size,
                    limit,
                },
            });
        }
        let mut bytes = vec![0u8; entry.size as usize];
        self.read_range(path, 0, &mut bytes)?;
        Ok(bytes)
    }

    /// Reads `buf.len()` bytes of a file from `offset`.
    pub(super) fn read_range(
        &self,
        path: &str,
        offset: u64,
        buf: &mut [u8],
    ) -> Result<(), ImportError> {
        let entry = self
            .files
            .get(path)
            .expect("callers resolve paths through the catalog");
        let read = |file: &File, at: u64, buf: &mut [u8]| file.read_exact_at(buf, at);
        let result = match &entry.content {
            Content::Spooled { blob: Some(w), .. } => read(
                &File::open(w.path()).map_err(ImportError::Input)?,
                offset,
                buf,
            ),
            Content::Spooled { blob: None, digest } | Content::AlreadyStored { digest } => {
                let d = Descriptor::new("", *digest, entry.size);
                read(&self.store.open_blob(&d)?, offset, buf)
            }
            Content::InArchive { offset: start } => {
                let file = self
                    .archive
                    .as_ref()
                    .expect("in-archive content implies a file");
                read(file, start + offset, buf)
            }
        };
        result.map_err(ImportError::Input)
    }

    /// Makes the file at `path` ready to publish, verified against `expected` (digest and size)
    /// when given: spooled content is compared, in-archive content is copied into a temp file in
    /// the store while hashing. Nothing becomes visible until [`Catalog::commit_staged`]. Returns
    /// the content's digest.
    pub(super) fn stage(
        &mut self,
        path: &str,
        expected: Option<(Digest, u64)>,
    ) -> Result<Digest, ImportError> {
        // Progress counts each file once, however often the plan names it.
        let first = self.counted.insert(path.to_string());
        if let Some((digest, size)) = expected {
            // The store's copy is verified; the archive's need not be read at all.
            if self.store.blob_size(&digest) == Some(size) {
                if first {
                    self.tally.verify(size, true, self.progress);
                }
                return Ok(digest);
            }
        }
        let store = self.store;
        let entry = self
            .files
            .get_mut(path)
            .expect("callers resolve paths through the catalog");
        if let Some((digest, size)) = expected
            && entry.size != size
        {
            return Err(ImportError::SizeMismatch {
                entry: path.to_string(),
                digest,
                expected: size,
                found: entry.size,
            });
        }
        if let Content::InArchive { offset } = entry.content {
            let file = self
                .archive
                .as_ref()
                .expect("in-archive content implies a file");
            let mut writer = store.blob_writer()?;
            let mut buf = vec![0u8; entry.size.clamp(1, COPY_BUFFER as u64) as usize];
            let mut done = 0u64;
            while done < entry.size {
                let n = (buf.len() as u64).min(entry.size - done) as usize;
                file.read_exact_at(&mut buf[..n], offset + done)
                    .map_err(ImportError::Input)?;
                writer
                    .write_all(&buf[..n])
                    .map_err(|e| ingest_error(store, e))?;
                done += n as u64;
                if first {
                    self.tally.verify(n as u64, false, self.progress);
                }
            }
            let blob = writer.into_spooled()?;
            let digest = blob.digest();
            entry.content = Content::Spooled {
                blob: Some(blob),
                digest,
            };
        } else if first {
            // Hashed while it was read; what remains is comparing digests.
            let held = matches!(entry.content, Content::AlreadyStored { .. });
            self.tally.verify(entry.size, held, self.progress);
        }
        let digest = match &entry.content {
            Content::Spooled { digest, .. } | Content::AlreadyStored { digest } => *digest,
            Content::InArchive { .. } => unreachable!("copied just above"),
        };
        if let Some((want, _)) = expected
            && digest != want
        {
            return Err(ImportError::DigestMismatch {
                entry: path.to_string(),
                expected: want,
                found: digest,
            });
        }
        self.staged.push(path.to_string());
        Ok(digest)
    }

    /// Tells the progress observer how many bytes the plan will verify and store.
    pub(super) fn planned(&self, bytes: u64) {
        self.progress.planned(bytes);
    }

    /// Publishes every staged file into the store.
    pub(super) fn commit_staged(&mut self) -> Result<(), ImportError> {
        self.tally.begin_storing(self.progress);
        for path in std::mem::take(&mut self.staged) {
            let entry = self
                .files
                .get_mut(&path)
                .expect("staged paths are catalogued");
            if let Content::Spooled { blob, digest } = &mut entry.content {
                if let Some(w) = blob.take() {
                    w.commit(Some((*digest, entry.size)))?;
                    self.tally.store(entry.size, self.progress);
                }
                entry.content = Content::AlreadyStored { digest: *digest };
            }
        }
        Ok(())
    }
}

fn ingest_error(store: &Store, e: io::Error) -> ImportError {
    ImportError::Store(crate::store::StoreError::Io {
        op: "write into",
        path: store.root().join("ingest"),
        source: e,
    })
}

/// The digest a `blobs/sha256/<hex>` path names, if it is one.
fn blob_path_digest(path: &str) -> Option<Digest> {
    let hex = path.strip_prefix(oci::BLOB_DIR)?.strip_prefix('/')?;
    Digest::from_hex(hex).ok()
}

fn special(entry: String, kind: &'static str) -> ImportError {
    ImportError::SpecialEntry { entry, kind }
}

/// A header that could not be read; `after` is the last member read before it.
fn header_error(after: Option<String>, e: HeaderError) -> ImportError {
    match e {
        HeaderError::Truncated | HeaderError::NoEndOfArchive => {
            ImportError::Truncated { entry: None }
        }
        HeaderError::Io(e) => tar_error(None, e),
        HeaderError::Malformed(reason) => ImportError::BadHeader { after, reason },
        HeaderError::TooLarge { kind, size, limit } => ImportError::MetaEntryTooLarge {
            after,
            kind,
            size,
            limit,
        },
    }
}

fn tar_error(entry: Option<String>, e: io::Error) -> ImportError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        return ImportError::Truncated { entry };
    }
    // tar-rs quotes the raw header bytes in some messages; binary noise helps nobody.
    let message = e.to_string();
    let source = if message.chars().all(|c| !c.is_control() && c != '\u{fffd}') {
        e
    } else {
        io::Error::new(
            e.kind(),
            "not a valid tar header (bad numeric field or checksum)",
        )
    };
    ImportError::MalformedTar { entry, source }
}

fn read_metadata(entry: &mut impl Read, path: &str, size: u64) -> Result<Vec<u8>, ImportError> {
    if size > oci::MAX_DOCUMENT_SIZE {
        return Err(ImportError::BadDocument {
            entry: path.to_string(),
            source: oci::DocumentError::TooLarge {
                size,
                limit: oci::MAX_DOCUMENT_SIZE,
            },
        });
    }
    let mut bytes = Vec::with_capacity(size as usize);
    entry
        .read_to_end(&mut bytes)
        .map_err(|e| tar_error(Some(path.into()), e))?;
    if bytes.len() as u64 != size {
        return Err(ImportError::Truncated {
            entry: Some(path.to_string()),
        });
    }
    Ok(bytes)
}

/// Normalises an entry path: no leading `./`, no empty or `.` components. Absolute paths and
/// `..` components are refused outright, whatever they would resolve to.
fn clean_path(raw: &[u8], shown: &str) -> Result<String, ImportError> {
    let unsafe_path = |reason| ImportError::UnsafePath {
        entry: shown.to_string(),
        reason,
    };
    let path = std::str::from_utf8(raw).map_err(|_| unsafe_path("not valid UTF-8"))?;
    if path.starts_with('/') {
        return Err(unsafe_path("absolute path"));
    }
    let mut parts = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(unsafe_path("parent-directory component")),
            p if p.contains('\\') => return Err(unsafe_path("backslash in path")),
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// Resolves a link target against `base` (the link's directory); `None` if it leaves the archive.
fn resolve_link_target(base: &str, target: &[u8]) -> Option<String> {
    let target = std::str::from_utf8(target).ok()?;
    if target.starts_with('/') || target.is_empty() {
        return None;
    }
    let mut parts: Vec<&str> = base.split('/').filter(|p| !p.is_empty()).collect();
    for part in target.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            p => parts.push(p),
        }
    }
    (!parts.is_empty()).then(|| parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_path_normalises_and_refuses_escapes() {
        assert_eq!(
            clean_path(b"./blobs//sha256/x", "").unwrap(),
            "blobs/sha256/x"
        );
        assert_eq!(clean_path(b"index.json", "").unwrap(), "index.json");
        for bad in [
            &b"/etc/passwd"[..],
            b"../x",
            b"blobs/../../x",
            b"a/..",
            b"\xff",
        ] {
            assert!(clean_path(bad, "x").is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn link_targets_resolve_inside_the_archive_only() {
        assert_eq!(
            resolve_link_target("abc", b"../def/layer.tar").as_deref(),
            Some("def/layer.tar")
        );
        assert_eq!(resolve_link_target("", b"./x").as_deref(), Some("x"));
        assert_eq!(resolve_link_target("abc", b"../../etc/passwd"), None);
        assert_eq!(resolve_link_target("abc", b"/etc/passwd"), None);
        assert_eq!(resolve_link_target("", b".."), None);
    }

    #[test]
    fn compression_is_recognised_by_magic() {
        assert_eq!(Compression::sniff(&[0x1f, 0x8b, 8]), Compression::Gzip);
        assert_eq!(
            Compression::sniff(&[0x28, 0xb5, 0x2f, 0xfd]),
            Compression::Zstd
        );
        assert_eq!(Compression::sniff(b"\xfd7zXZ\0"), Compression::Xz);
        assert_eq!(Compression::sniff(b"BZh9"), Compression::Bzip2);
        assert_eq!(Compression::sniff(b"blobs/"), Compression::None);
        assert_eq!(Compression::sniff(b""), Compression::None);
    }
}
