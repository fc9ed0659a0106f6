//! `imagefs ls --tree`: platforms beneath their image, with manifest digests, sizes, and what
//! the store holds of each.

use super::*;

#[test]
fn cli_ls_tree_shows_each_platform_with_its_manifest_and_sizes_and_marks_absent_ones() {
    let f = Fixture::new();
    ok(cli(
        f.root(),
        &[
            "sample",
            "--platform",
            "linux/amd64,linux/arm64,linux/riscv64",
        ],
    ));
    let name = "example.com/imagefs/sample:latest";
    let manifest = |p: &str| {
        let doc = json(&ok(cli(f.root(), &["inspect", name, "--platform", p])));
        let digest: Digest = doc["manifestDigest"].as_str().unwrap().parse().unwrap();
        let config: Digest = doc["configDigest"].as_str().unwrap().parse().unwrap();
        let layers: Vec<Digest> = doc["manifest"]["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].as_str().unwrap().parse().unwrap())
            .collect();
        (digest, config, layers)
    };
    let (amd, _, _) = manifest("linux/amd64");
    let (arm, arm_config, arm_layers) = manifest("linux/arm64");
    let (riscv, _, _) = manifest("linux/riscv64");
    let blob = |d: &Digest| f.root().join("blobs/sha256").join(d.hex());
    let closure_size = (std::iter::once(&arm)
        .chain([&arm_config])
        .chain(&arm_layers))
    .map(|d| std::fs::metadata(blob(d)).unwrap().len())
    .sum::<u64>();

    let out = text(&ok(cli(f.root(), &["ls", "--tree"])));
    let lines: Vec<&str> = out.lines().collect();
    let header = ["IMAGE", "ID", "DISK USAGE", "CONTENT SIZE", "STORED"];
    let cols: Vec<&str> = lines[0].split("   ").filter(|c| !c.is_empty()).collect();
    assert_eq!(
        cols.iter().map(|c| c.trim()).collect::<Vec<_>>(),
        header,
        "{out}"
    );
    assert!(lines[1].starts_with(name), "{out}");
    assert!(lines[1].ends_with("complete"), "{out}");
    let row = |line: &str| {
        line.split_whitespace()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    let expect = [
        ("├─", "linux/amd64", amd),
        ("├─", "linux/arm64", arm),
        ("└─", "linux/riscv64", riscv),
    ];
    for (line, (glyph, platform, digest)) in lines[2..].iter().zip(expect) {
        let r = row(line);
        assert_eq!((r[0].as_str(), r[1].as_str()), (glyph, platform), "{out}");
        assert_eq!(r[2], digest.hex()[..12], "{out}");
        assert_eq!(r[5], "complete", "{out}");
    }
    assert_eq!(lines.len(), 5, "{out}");
    // Every column starts where its header does.
    let id_col = lines[0].find("ID").unwrap();
    assert!(
        lines[1..]
            .iter()
            .all(|l| l.chars().nth(id_col - 1) == Some(' ')),
        "{out}"
    );
    let arm_row = row(lines[3]);
    let decimal = |n: u64| format!("{:.0}kB", n as f64 / 1000.0);
    assert_eq!(arm_row[3], decimal(closure_size), "{out}");
    assert_eq!(arm_row[4], decimal(closure_size), "{out}");

    // A platform whose manifest is gone, and one missing a layer: the index still lists both.
    std::fs::remove_file(blob(&amd)).unwrap();
    let (_, _, riscv_layers) = manifest("linux/riscv64");
    let only_riscv = riscv_layers
        .iter()
        .find(|l| !arm_layers.contains(l))
        .expect("a layer of riscv64 alone");
    std::fs::remove_file(blob(only_riscv)).unwrap();
    let out = text(&ok(cli(f.root(), &["ls", "--tree"])));
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[1].ends_with("partial"), "{out}");
    let amd_row = row(lines[2]);
    assert_eq!(amd_row[2], amd.hex()[..12], "{out}");
    assert_eq!(&amd_row[3..], ["0B", "-", "absent"], "{out}");
    assert_eq!(row(lines[3])[5], "complete", "{out}");
    assert_eq!(row(lines[4])[5], "partial", "{out}");

    let out = cli(f.root(), &["ls", "--tree", "--json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
}
