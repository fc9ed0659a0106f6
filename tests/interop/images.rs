//! The images every interop test starts from (multi-platform with attestations, Docker schema2
//! media types, zstd layers, a single manifest, two images sharing a layer), the archives we
//! write of them (`Case`), the mounted source store, and reading tars.

use super::*;

// skopeo reads the store as `oci:STORE:NAME`, by full name (the store's `ref.name`); archives we
// export carry the tag alone there, as Docker writes it, and their extracted layouts are read
// by tag (`umoci unpack --image LAYOUT:TAG`).

/// amd64, arm64/v8, arm/v7, riscv64; an attestation manifest per platform; OCI, gzip.
pub(crate) const MULTI: &str = "example.com/interop/multi:v1";
/// Docker schema2 list and manifests; shares its base layer with MULTI and SINGLE.
pub(crate) const DOCKERTYPES: &str = "example.com/interop/dockertypes:v2";
/// zstd layers.
pub(crate) const ZSTD: &str = "example.com/interop/zstd:v3";
/// A manifest, no index.
pub(crate) const SINGLE: &str = "example.com/interop/single:v4";

pub(crate) const MULTI_P: [&str; 4] = [
    "linux/amd64",
    "linux/arm64",
    "linux/arm/v7",
    "linux/riscv64",
];
pub(crate) const DOCKERTYPES_P: [&str; 3] = ["linux/amd64", "linux/arm64", "linux/arm/v7"];
pub(crate) const ZSTD_P: [&str; 2] = ["linux/amd64", "linux/arm64"];
pub(crate) const SINGLE_P: [&str; 1] = ["linux/amd64"];

pub(crate) const IMAGES: [&str; 4] = [MULTI, DOCKERTYPES, ZSTD, SINGLE];

pub(crate) fn image_platforms(image: &str) -> &'static [&'static str] {
    match image {
        MULTI => &MULTI_P,
        DOCKERTYPES => &DOCKERTYPES_P,
        ZSTD => &ZSTD_P,
        SINGLE => &SINGLE_P,
        _ => panic!("unknown image {image}"),
    }
}

pub(crate) fn short(image: &str) -> &str {
    image.rsplit('/').next().expect("name")
}

/// `short` without ':' (skopeo and podman split `transport:PATH:REF` at a colon).
pub(crate) fn stem(image: &str) -> String {
    short(image).replace(':', "-")
}

pub(crate) fn tag(image: &str) -> &str {
    image.rsplit(':').next().expect("tag")
}

/// A store holding the four images.
pub(crate) fn source_fixture() -> Fixture {
    let f = Fixture::new();
    let with_v8 = |list: &[&str]| -> Vec<String> {
        list.iter()
            .map(|p| {
                if *p == "linux/arm64" {
                    "linux/arm64/v8".to_string()
                } else {
                    p.to_string()
                }
            })
            .collect()
    };
    let spec = |name: &str, list: &[&str], seed: u64| {
        let full = with_v8(list);
        let refs: Vec<&str> = full.iter().map(String::as_str).collect();
        let mut s = small_spec(name, &refs);
        s.seed = seed;
        s
    };
    let mut multi = spec(MULTI, &MULTI_P, 1);
    multi.attestations = true;
    add(&f.store, &multi);
    let mut docker = spec(DOCKERTYPES, &DOCKERTYPES_P, 2);
    docker.docker_media_types = true;
    add(&f.store, &docker);
    let mut zstd = spec(ZSTD, &ZSTD_P, 3);
    zstd.compression = LayerCompression::Zstd;
    add(&f.store, &zstd);
    let mut single = spec(SINGLE, &SINGLE_P, 4);
    single.single_manifest = true;
    add(&f.store, &single);
    // The shared base layer really is shared.
    let (_, a) = platform_closure(&f.store, MULTI, "linux/amd64");
    let (_, b) = platform_closure(&f.store, DOCKERTYPES, "linux/arm64");
    assert_eq!(a[1], b[1], "MULTI and DOCKERTYPES share their base layer");
    f
}

/// One archive we write: an image, and the platforms asked for (none: `image.tar`).
#[derive(Clone, Debug)]
pub(crate) struct Case {
    pub(crate) image: &'static str,
    pub(crate) platforms: Vec<&'static str>,
}

impl Case {
    pub(crate) fn label(&self) -> String {
        match self.platforms.len() {
            0 => "image.tar".to_string(),
            _ => format!("{}.tar", self.file_stem()),
        }
    }

    pub(crate) fn file_stem(&self) -> String {
        self.platforms
            .iter()
            .map(|p| p.replace('/', "-"))
            .collect::<Vec<_>>()
            .join("+")
    }

    /// The platform a one-platform consumer (docker, podman load, skopeo) ends up with: the one
    /// asked for, else amd64 (the host, which every image here has).
    pub(crate) fn expected(&self) -> &'static str {
        match self.platforms.as_slice() {
            [one] => one,
            _ => "linux/amd64",
        }
    }
}

/// image.tar, a one-platform and a two-platform tar of each image (one only for SINGLE).
pub(crate) fn cases() -> Vec<Case> {
    let mut out = Vec::new();
    for image in IMAGES {
        out.push(Case {
            image,
            platforms: vec![],
        });
        if image == SINGLE {
            out.push(Case {
                image,
                platforms: vec!["linux/amd64"],
            });
        } else {
            out.push(Case {
                image,
                platforms: vec!["linux/arm64"],
            });
            out.push(Case {
                image,
                platforms: vec!["linux/amd64", "linux/arm64"],
            });
        }
    }
    out
}

/// The source store, mounted; archives come from `imagefs export` and from the mount.
pub(crate) struct Source {
    // Fields drop in order: unmount before the fixture's temp dir is removed.
    pub(crate) mount: Mount,
    pub(crate) f: Fixture,
}

impl Source {
    pub(crate) fn new() -> Source {
        let f = source_fixture();
        let mount = Mount::start(f.root(), &f.path("mnt"), &f.path("mount.log"));
        Source { f, mount }
    }

    pub(crate) fn export(&self, case: &Case) -> PathBuf {
        let out = self
            .f
            .path(&format!("{}-{}", stem(case.image), case.label()));
        if !out.exists() {
            let mut c = imagefs(self.f.root());
            c.arg("export").arg(case.image).arg("-o").arg(&out);
            for p in &case.platforms {
                c.args(["--platform", p]);
            }
            run_stdout(&mut c);
        }
        out
    }

    pub(crate) fn mounted(&self, case: &Case) -> PathBuf {
        let dir = self.mount.mnt.join("images").join(case.image);
        match case.platforms.len() {
            0 => dir.join("image.tar"),
            _ => dir.join("by-platform").join(case.label()),
        }
    }

    /// Both sources of a case's archive; the mount's bytes are checked equal to the export's.
    pub(crate) fn archives(&self, case: &Case) -> Vec<(&'static str, PathBuf)> {
        let exported = self.export(case);
        let mounted = self.mounted(case);
        let a = fs::read(&exported).expect("read export");
        let b = fs::read(&mounted).unwrap_or_else(|e| panic!("read {}: {e}", mounted.display()));
        assert!(a == b, "{} differs from imagefs export", mounted.display());
        vec![("imagefs export", exported), ("mount", mounted)]
    }
}

/// `(directory, file name)`: skopeo and podman split `transport:PATH[:REF]` at a colon (and
/// resolve symlinks first), and mount paths hold `name:tag`; such tools run in the directory.
pub(crate) fn split(path: &Path) -> (PathBuf, String) {
    (
        path.parent().expect("parent").to_path_buf(),
        path.file_name()
            .expect("file name")
            .to_string_lossy()
            .into_owned(),
    )
}

pub(crate) fn p(path: &Path) -> &str {
    path.to_str().expect("utf-8 path")
}

/// Names of the blobs in a tar (`blobs/sha256/<hex>` files).
pub(crate) fn tar_blobs(path: &Path) -> BTreeSet<String> {
    let file = fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut archive = tar::Archive::new(file);
    let mut out = BTreeSet::new();
    for e in archive.entries().expect("tar entries") {
        let e = e.expect("tar entry");
        let name = String::from_utf8_lossy(&e.path_bytes()).into_owned();
        if e.header().entry_type().is_file()
            && let Some(hex) = name.strip_prefix("blobs/sha256/")
        {
            out.insert(format!("sha256:{hex}"));
        }
    }
    out
}

/// One file of a tar.
pub(crate) fn tar_file(path: &Path, name: &str) -> Option<Vec<u8>> {
    let file = fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut archive = tar::Archive::new(file);
    for e in archive.entries().expect("tar entries") {
        let mut e = e.expect("tar entry");
        if String::from_utf8_lossy(&e.path_bytes()) == name {
            let mut data = Vec::new();
            std::io::Read::read_to_end(&mut e, &mut data).expect("read entry");
            return Some(data);
        }
    }
    None
}

/// `index.json` → `manifests[0]` of one of our archives.
pub(crate) fn top_descriptor(path: &Path) -> Value {
    let index = json(&tar_file(path, "index.json").expect("index.json"));
    index["manifests"][0].clone()
}

/// `manifest.json` → the config digest of its first entry.
pub(crate) fn manifest_json_config(path: &Path) -> String {
    let m = json(&tar_file(path, "manifest.json").expect("manifest.json"));
    m[0]["Config"]
        .as_str()
        .expect("Config")
        .replace("blobs/sha256/", "sha256:")
}

/// The config digest of one platform of a stored image.
pub(crate) fn config_of(store: &imagefs::store::Store, image: &str, platform: &str) -> Digest {
    platform_closure(store, image, platform).1[0]
}

pub(crate) fn hexes(set: &BTreeSet<String>) -> String {
    set.iter().map(|d| &d[7..19]).collect::<Vec<_>>().join(" ")
}
