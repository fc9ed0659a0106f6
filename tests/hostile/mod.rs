//! Builders for hostile tar input (raw headers, PAX records, gzip members, memory bombs) and
//! the measurements the hostile-input tests make (peak RSS of the CLI and of a mount daemon).

use crate::common::*;

/// A USTAR header for `name` with `kind` and a size field of `size` (which may differ from the
/// data that follows, as Go writes for sizes in PAX records).
pub(crate) fn header_bytes(name: &str, kind: tar::EntryType, size: u64) -> Vec<u8> {
    let mut h = tar::Header::new_ustar();
    h.as_ustar_mut().expect("ustar").name[..name.len()].copy_from_slice(name.as_bytes());
    h.set_entry_type(kind);
    h.set_mode(0o644);
    h.set_size(size);
    h.set_cksum();
    h.as_bytes().to_vec()
}

/// One gzip member (gzip readers decode concatenated members as one stream).
pub(crate) fn gzip_member(data: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    gz.write_all(data).expect("gzip");
    gz.finish().expect("gzip")
}

/// A gzip file of about 1 MB that inflates to a meta entry (`kind`) of 1 GiB before a valid
/// archive: one header member, then the same compressed 1 MiB member 1024 times (written
/// streamed, never held whole), then the archive.
pub(crate) fn write_meta_bomb(path: &std::path::Path, kind: tar::EntryType, rest: &[u8]) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).expect("create bomb"));
    out.write_all(&gzip_member(&header_bytes("././@LongLink", kind, 1 << 30)))
        .expect("write");
    let chunk = gzip_member(&vec![b'a'; 1 << 20]);
    for _ in 0..1024 {
        out.write_all(&chunk).expect("write");
    }
    out.write_all(&gzip_member(rest)).expect("write");
    out.flush().expect("flush");
}

/// Imports `path` with the CLI under `/usr/bin/time -f %M`; returns stderr, the max RSS in KiB
/// and whether the import succeeded.
pub(crate) fn cli_import_measured(f: &Fixture, path: &std::path::Path) -> (String, u64, bool) {
    let cli = imagefs(f.root());
    let out = output(
        std::process::Command::new(tool("/usr/bin/time"))
            .args(["-f", "RSS_KIB=%M"])
            .arg(cli.get_program())
            .args(cli.get_args())
            .arg("import")
            .arg(path)
            .env_remove("IMAGEFS_STORE")
            .env_remove("XDG_DATA_HOME"),
    );
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let rss = stderr
        .lines()
        .find_map(|l| l.strip_prefix("RSS_KIB="))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("no RSS figure in {stderr:?}"));
    eprintln!("max RSS {rss} KiB");
    (stderr, rss, out.status.success())
}

/// A PAX record (`"%d key=value\n"`, the length counting itself).
pub(crate) fn pax_record(key: &str, value: &str) -> String {
    let body = format!(" {key}={value}\n");
    let mut len = body.len() + 1;
    while format!("{len}{body}").len() != len {
        len += 1;
    }
    format!("{len}{body}")
}

/// A GNU long-name entry for `name`, then a symlink header (target `x`) it names.
pub(crate) fn long_named_symlink(out: &mut Vec<u8>, name: &[u8]) {
    out.extend(header_bytes(
        "././@LongLink",
        tar::EntryType::GNULongName,
        name.len() as u64,
    ));
    out.extend_from_slice(name);
    out.resize(out.len().next_multiple_of(512), 0);
    let mut h = tar::Header::new_gnu();
    h.as_gnu_mut().expect("gnu").name[..5].copy_from_slice(b"short");
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_link_name("x").expect("link name");
    h.set_size(0);
    h.set_cksum();
    out.extend_from_slice(h.as_bytes());
}

/// The peak resident set of a live process, in KiB (`VmHWM`).
pub(crate) fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM in {status}"))
}
