//! Random access into gzip streams written by the real tools (GNU gzip, pigz), through the
//! library's `rootfs::zran`: every read against the decompressed bytes. The unit tests beside
//! the code cover flate2's output, hand-built headers and hostile input.

mod common;

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

use common::*;
use imagefs::rootfs::zran::{GzipIndex, GzipReader};
use rand::{Rng, SeedableRng};

/// Text-like data with some randomness: a few MiB, many deflate blocks.
fn sample_data(len: usize) -> Vec<u8> {
    let words = [
        "usr/",
        "lib/",
        "share/",
        "doc/",
        "locale",
        ".so.6",
        "\n",
        "python3.11",
        " ",
    ];
    let mut rng = rand::rngs::StdRng::seed_from_u64(7);
    let mut v = Vec::with_capacity(len + 16);
    while v.len() < len {
        v.extend_from_slice(words[rng.random_range(0..words.len())].as_bytes());
        if rng.random_range(0..5) == 0 {
            v.extend_from_slice(format!("{:x}", rng.random::<u32>()).as_bytes());
        }
    }
    v.truncate(len);
    v
}

/// Run `program args… < input` and return its stdout.
fn filter(program: &str, args: &[&str], input: &Path) -> Vec<u8> {
    let out = Command::new(tool(program))
        .args(args)
        .stdin(std::fs::File::open(input).unwrap())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Index `gz` at a 64 KiB span and check reads at both ends, at `boundaries` and at random
/// places against `expected`, then a sequential read through one reader with one restart.
fn check(gz: &[u8], expected: &[u8], boundaries: &[u64]) {
    let mut decoded = Vec::new();
    flate2::read::MultiGzDecoder::new(gz)
        .read_to_end(&mut decoded)
        .unwrap();
    assert!(decoded == expected, "the tool's output decodes to the data");
    let index = GzipIndex::build(gz, 64 * 1024).unwrap();
    assert_eq!(index.uncompressed_size(), expected.len() as u64);
    assert!(index.checkpoint_count() > 10, "{index:?}");
    let index = GzipIndex::from_bytes(&index.to_bytes()).unwrap();
    let mut file = tempfile::tempfile().unwrap();
    file.write_all(gz).unwrap();
    let mut reader = GzipReader::new(&index, &file).unwrap();
    let size = expected.len() as u64;
    let mut cases = vec![(0, 10), (size - 1, 10), (size, 10)];
    cases.extend(boundaries.iter().map(|&b| (b - 100, 200)));
    let mut rng = rand::rngs::StdRng::seed_from_u64(1);
    cases.extend((0..100).map(|_| (rng.random_range(0..size), rng.random_range(1..300_000))));
    for (offset, len) in cases {
        let mut buf = vec![0u8; len];
        let n = reader.read_at(offset, &mut buf).unwrap();
        let lo = offset.min(size) as usize;
        let hi = (lo + len).min(expected.len());
        assert_eq!(n, hi - lo, "read at {offset}+{len}");
        assert!(buf[..n] == expected[lo..hi], "read at {offset}+{len}");
    }
    let mut sequential = GzipReader::new(&index, &file).unwrap();
    let mut all = Vec::new();
    let mut buf = vec![0u8; 128 * 1024];
    while let n @ 1.. = sequential.read(&mut buf).unwrap() {
        all.extend_from_slice(&buf[..n]);
    }
    assert!(all == expected);
    assert_eq!(sequential.restarts(), 1);
}

#[test]
fn gnu_gzip_levels_1_and_9_of_text_and_random_data_with_a_file_name() {
    needs!("gzip");
    let dir = tempfile::tempdir().unwrap();
    let mut random = vec![0u8; 2 << 20];
    rand::rngs::StdRng::seed_from_u64(3).fill(&mut random[..]);
    for data in [sample_data(4 << 20), random] {
        let path = dir.path().join("layer.tar");
        std::fs::write(&path, &data).unwrap();
        for level in ["-1", "-9"] {
            // `-c FILE` (not stdin): the header carries FNAME and the mtime.
            let out = Command::new(tool("gzip"))
                .args([level, "-c"])
                .arg(&path)
                .output()
                .unwrap();
            assert!(out.status.success());
            assert_eq!(out.stdout[3] & 8, 8, "gzip wrote FNAME");
            check(&out.stdout, &data, &[]);
        }
    }
}

#[test]
fn pigz_output_and_concatenated_pigz_members() {
    needs!("pigz");
    let dir = tempfile::tempdir().unwrap();
    let data = sample_data(4 << 20);
    let path = dir.path().join("layer.tar");
    std::fs::write(&path, &data).unwrap();
    // Small chunks on several threads: many sync-flushed deflate chunks in one member.
    let gz = filter("pigz", &["-p", "4", "-b", "128", "-c"], &path);
    check(&gz, &data, &[]);
    let independent = filter("pigz", &["-p", "4", "-i", "-b", "64", "-9", "-c"], &path);
    check(&independent, &data, &[]);
    // Two pigz members back to back (`cat a.gz b.gz`), crossed by reads.
    let both = [gz.clone(), independent].concat();
    check(
        &both,
        &[data.clone(), data.clone()].concat(),
        &[data.len() as u64],
    );
}
