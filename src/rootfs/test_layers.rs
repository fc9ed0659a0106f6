//! Layer tars built in code for the rootfs unit tests (the `tar` crate, with raw names where
//! it would refuse them, e.g. `..`).

use std::io::Read;
use std::sync::Arc;

use tar::{EntryType, Header};

use super::toc::{LayerToc, Skipped, TocLimits};

/// One entry's header fields; `Spec::new` gives a root-owned 0644 regular file at mtime 1.
#[derive(Clone)]
pub(crate) struct Spec<'a> {
    pub kind: EntryType,
    pub mode: u32,
    pub uid: u64,
    pub gid: u64,
    pub mtime: u64,
    pub link: &'a [u8],
    pub device: (u32, u32),
    pub pax: Vec<(&'a str, &'a [u8])>,
}

impl Spec<'_> {
    pub(crate) fn new(kind: EntryType) -> Self {
        let mode = if kind == EntryType::Directory {
            0o755
        } else {
            0o644
        };
        Spec {
            kind,
            mode,
            uid: 0,
            gid: 0,
            mtime: 1,
            link: b"",
            device: (0, 0),
            pax: Vec::new(),
        }
    }
}

pub(crate) struct Layer {
    b: tar::Builder<Vec<u8>>,
}

impl Layer {
    pub(crate) fn new() -> Layer {
        Layer {
            b: tar::Builder::new(Vec::new()),
        }
    }

    /// Any entry; names and link targets over 100 bytes go in PAX `path`/`linkpath` records.
    pub(crate) fn add(&mut self, path: &[u8], spec: &Spec<'_>, data: &[u8]) -> &mut Layer {
        let mut pax = spec.pax.clone();
        if path.len() > 100 {
            pax.push(("path", path));
        }
        if spec.link.len() > 100 {
            pax.push(("linkpath", spec.link));
        }
        if !pax.is_empty() {
            self.b.append_pax_extensions(pax).unwrap();
        }
        let mut h = Header::new_ustar();
        h.set_entry_type(spec.kind);
        h.set_mode(spec.mode);
        h.set_uid(spec.uid);
        h.set_gid(spec.gid);
        h.set_mtime(spec.mtime);
        h.set_size(data.len() as u64);
        let name = &mut h.as_old_mut().name;
        let n = path.len().min(100);
        name[..n].copy_from_slice(&path[..n]);
        if !spec.link.is_empty() && spec.link.len() <= 100 {
            h.set_link_name_literal(spec.link).unwrap();
        }
        if matches!(spec.kind, EntryType::Char | EntryType::Block) {
            h.set_device_major(spec.device.0).unwrap();
            h.set_device_minor(spec.device.1).unwrap();
        }
        h.set_cksum();
        self.b.append(&h, data).unwrap();
        self
    }

    pub(crate) fn file(&mut self, path: &str, data: &[u8]) -> &mut Layer {
        self.add(path.as_bytes(), &Spec::new(EntryType::Regular), data)
    }

    pub(crate) fn file_mode(&mut self, path: &str, mode: u32, data: &[u8]) -> &mut Layer {
        let spec = Spec {
            mode,
            ..Spec::new(EntryType::Regular)
        };
        self.add(path.as_bytes(), &spec, data)
    }

    pub(crate) fn dir(&mut self, path: &str, mode: u32) -> &mut Layer {
        let spec = Spec {
            mode,
            ..Spec::new(EntryType::Directory)
        };
        self.add(path.as_bytes(), &spec, b"")
    }

    pub(crate) fn symlink(&mut self, path: &str, target: &str) -> &mut Layer {
        let spec = Spec {
            link: target.as_bytes(),
            mode: 0o777,
            ..Spec::new(EntryType::Symlink)
        };
        self.add(path.as_bytes(), &spec, b"")
    }

    pub(crate) fn hardlink(&mut self, path: &str, target: &str) -> &mut Layer {
        let spec = Spec {
            link: target.as_bytes(),
            ..Spec::new(EntryType::Link)
        };
        self.add(path.as_bytes(), &spec, b"")
    }

    /// `.wh.<name>` beside `path`'s last component.
    pub(crate) fn whiteout(&mut self, path: &str) -> &mut Layer {
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path));
        let marker = if dir.is_empty() {
            format!(".wh.{name}")
        } else {
            format!("{dir}/.wh.{name}")
        };
        self.file(&marker, b"")
    }

    pub(crate) fn opaque(&mut self, dir: &str) -> &mut Layer {
        self.file(&format!("{dir}/.wh..wh..opq"), b"")
    }

    pub(crate) fn bytes(&mut self) -> Vec<u8> {
        let b = std::mem::replace(&mut self.b, tar::Builder::new(Vec::new()));
        b.into_inner().unwrap()
    }

    pub(crate) fn toc(&mut self) -> (LayerToc, Vec<Skipped>) {
        LayerToc::read(&self.bytes()[..], &TocLimits::default()).unwrap()
    }

    pub(crate) fn arc(&mut self) -> Arc<LayerToc> {
        let (toc, skipped) = self.toc();
        assert!(skipped.is_empty(), "{skipped:?}");
        Arc::new(toc)
    }
}

/// The data of `entry` read at its offset from the layer bytes, as a reader would.
pub(crate) fn data_at(layer: &[u8], offset: u64, size: u64) -> Vec<u8> {
    let mut out = Vec::new();
    (&layer[offset as usize..])
        .take(size)
        .read_to_end(&mut out)
        .unwrap();
    out
}
