//! Import progress as `IMAGEFS_PROGRESS=lines` prints it: reading, then verifying and storing
//! the selected blobs, each figure climbing, the total reached only when storing ends; from a
//! file, a compressed file and a pipe, with a platform filter, and not at all with `-q`.

use super::*;

/// `(phase, done, total)` of each `IMAGEFS_PROGRESS=lines` line an import printed.
fn progress_lines(stderr: &str) -> Vec<(String, u64, Option<u64>)> {
    let bytes = |s: &str| s.trim_end_matches(" B").parse::<u64>().expect(s);
    stderr
        .lines()
        .filter_map(|l| l.strip_prefix("imagefs: progress: importing: "))
        .map(|l| {
            let (phase, rest) = l.split_once(' ').expect(l);
            let (done, total) = match rest.split_once(" / ") {
                Some((d, t)) => (d, Some(bytes(t.split(" (").next().expect(l)))),
                None => (rest, None),
            };
            (phase.to_string(), bytes(done), total)
        })
        .collect()
}

/// The phases come in order (reading, verifying, storing), each figure climbs, and `storing`
/// reaches its total only on the last line, after lines that show it under way.
#[track_caller]
fn assert_honest_progress(stderr: &str, input_total: Option<u64>) {
    let lines = progress_lines(stderr);
    let phases = ["reading", "verifying", "storing"];
    let rank = |p: &str| {
        phases
            .iter()
            .position(|x| *x == p)
            .unwrap_or_else(|| panic!("unknown phase {p}: {stderr}"))
    };
    for pair in lines.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        assert!(rank(&a.0) <= rank(&b.0), "phases out of order: {stderr}");
        if a.0 == b.0 {
            assert!(a.1 <= b.1, "{} went down: {stderr}", a.0);
            assert_eq!(a.2, b.2, "{} total changed: {stderr}", a.0);
        }
    }
    for (phase, done, total) in &lines {
        assert!(
            total.is_none_or(|t| *done <= t),
            "{phase} over its total: {stderr}"
        );
    }
    let reading: Vec<_> = lines.iter().filter(|l| l.0 == "reading").collect();
    assert!(!reading.is_empty(), "no reading lines: {stderr}");
    assert!(reading.iter().all(|l| l.2 == input_total), "{stderr}");
    let storing: Vec<_> = lines.iter().filter(|l| l.0 == "storing").collect();
    let (_, done, total) = lines.last().expect("progress lines");
    assert_eq!(lines.last().unwrap().0, "storing", "{stderr}");
    assert_eq!(Some(*done), *total, "storing ends at its total: {stderr}");
    let reached = lines
        .iter()
        .position(|l| l.0 == "storing" && Some(l.1) == l.2);
    assert_eq!(
        reached,
        Some(lines.len() - 1),
        "total reached early: {stderr}"
    );
    // Storing was seen under way: several MiB of blobs are made durable one by one.
    assert!(storing.len() >= 3, "storing in one jump: {stderr}");
    assert_eq!(storing[0].1, 0, "{stderr}");
}

#[test]
fn cli_import_progress_reports_verified_and_stored_bytes_in_order() {
    needs!("gzip");
    let source = Fixture::new();
    // Two platforms, 3 MB layers: several 1 MiB progress steps in every phase.
    ok(cli(
        source.root(),
        &[
            "sample",
            "--platform",
            "linux/amd64,linux/arm64",
            "--layer-size",
            "3000000",
            "--stored",
        ],
    ));
    let archive = source.path("a.tar");
    let name = "example.com/imagefs/sample:latest";
    ok(cli(
        source.root(),
        &["export", name, "-o", archive.to_str().unwrap()],
    ));
    let size = std::fs::metadata(&archive).unwrap().len();
    let gz = source.path("a.tar.gz");
    run(&mut cmd(tool("gzip"), &["-k", archive.to_str().unwrap()]));
    let gz_size = std::fs::metadata(&gz).unwrap().len();

    let lines = |c: &mut Command| {
        c.env("IMAGEFS_PROGRESS", "lines");
    };
    // An uncompressed file: read by seeking, then every selected blob copied and hashed.
    let f = Fixture::new();
    let mut c = imagefs(f.root());
    lines(c.args(["import", archive.to_str().unwrap()]));
    let out = output(&mut c);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_honest_progress(&text(&out.stderr), Some(size));
    let verifying = progress_lines(&text(&out.stderr))
        .into_iter()
        .filter(|l| l.0 == "verifying")
        .count();
    assert!(verifying >= 3, "copying in one jump: {}", text(&out.stderr));

    // A compressed file: its compressed bytes are what `reading` counts.
    let f = Fixture::new();
    let mut c = imagefs(f.root());
    lines(c.args(["import", gz.to_str().unwrap()]));
    let out = output(&mut c);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_honest_progress(&text(&out.stderr), Some(gz_size));

    // A pipe: no total while reading.
    let f = Fixture::new();
    let mut c = imagefs(f.root());
    lines(c.arg("import"));
    let out = run_with_input(c, &std::fs::read(&archive).unwrap());
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_honest_progress(&text(&out.stderr), None);

    // A platform filter: verifying and storing count the selected bytes only.
    let f = Fixture::new();
    let mut c = imagefs(f.root());
    lines(c.args([
        "import",
        "--platform",
        "linux/arm64",
        archive.to_str().unwrap(),
    ]));
    let out = output(&mut c);
    assert_honest_progress(&text(&out.stderr), Some(size));
    let stored = progress_lines(&text(&out.stderr)).last().unwrap().1;
    let published: u64 = f
        .store
        .list_blobs()
        .unwrap()
        .iter()
        .map(|d| f.store.blob_size(d).unwrap())
        .sum();
    assert_eq!(stored, published);
    assert!(stored < size * 3 / 4, "{stored} of {size}");

    // `-q`, or no terminal and no request: no progress at all.
    let f = Fixture::new();
    let mut c = imagefs(f.root());
    lines(c.args(["-q", "import", archive.to_str().unwrap()]));
    let out = output(&mut c);
    assert!(out.status.success());
    assert!(progress_lines(&text(&out.stderr)).is_empty());
    let out = cli(
        Fixture::new().root(),
        &["import", archive.to_str().unwrap()],
    );
    assert!(out.status.success());
    assert!(
        !text(&out.stderr).contains("progress"),
        "{}",
        text(&out.stderr)
    );
}
