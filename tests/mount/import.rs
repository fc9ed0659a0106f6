//! Writing archives into `import/` with the tools people use (doc/SEMANTICS.md "The mount",
//! `import/`): `cp`, `cat >` into a platform directory, rsync and a `.part` rename, a
//! docker-archive, and a bad archive that must leave the store unchanged.

use std::fs;
use std::process::Command;

use super::Mounted;
use crate::common::{names, needs, output, run, run_stdout, wait_for};

/// "cp x.tar MOUNT/import/" loads every platform; the outcome is in import/.status/x.tar.json and
/// the image appears under images/.
#[test]
fn mount_cp_into_import_loads_and_reports_status() {
    needs!("fuse");
    let m = Mounted::new();
    let archive = m.foreign_archive("example.com/test/new:2", 7);
    run(Command::new("cp").arg(&archive).arg(m.path("import/")));
    let status: serde_json::Value =
        serde_json::from_slice(&fs::read(m.path("import/.status/foreign-7.tar.json")).unwrap())
            .unwrap();
    assert_eq!(status["state"], "loaded", "{status}");
    assert_eq!(status["images"][0]["name"], "example.com/test/new:2");
    wait_for("the new image in images/", || {
        m.path("images/example.com/test/new:2/by-platform/linux-riscv64.tar")
            .exists()
    });
    // The entry stays, with its size, like a file in a scratch directory.
    assert_eq!(
        fs::metadata(m.path("import/foreign-7.tar")).unwrap().len(),
        fs::metadata(&archive).unwrap().len()
    );
}

/// "MOUNT/import/linux-arm64/: load only linux/arm64", here from gzip input written by
/// `cat >`.
#[test]
fn mount_import_platform_dir_loads_only_that_platform_from_gzip() {
    needs!("fuse");
    let m = Mounted::new();
    let archive = m.foreign_archive("example.com/test/arm:3", 8);
    let gz = m.tmp("arm.tar.gz");
    run(Command::new("sh").arg("-c").arg(format!(
        "gzip -c '{}' > '{}'",
        archive.display(),
        gz.display()
    )));
    fs::create_dir_all(m.path("import/linux-arm64")).unwrap();
    run(Command::new("sh").arg("-c").arg(format!(
        "cat '{}' > '{}'",
        gz.display(),
        m.path("import/linux-arm64/arm.tar.gz").display()
    )));
    let dir = m.path("images/example.com/test/arm:3/by-platform");
    wait_for("the arm64-only image", || dir.exists());
    assert_eq!(names(&dir), ["linux-arm64", "linux-arm64.tar"]);
}

/// "a corrupt or hostile archive through cp → cp exits non-zero, store unchanged".
#[test]
fn mount_bad_archive_fails_cp_and_leaves_store_unchanged() {
    needs!("fuse");
    let m = Mounted::new();
    let index_before = fs::read(m.store.join("index.json")).unwrap();
    let blobs_before = names(&m.store.join("blobs/sha256"));
    let archive = fs::read(m.foreign_archive("example.com/test/bad:1", 9)).unwrap();
    let truncated = m.tmp("truncated.tar");
    fs::write(&truncated, &archive[..archive.len() / 2]).unwrap();
    let garbage = m.tmp("garbage.tar");
    fs::write(&garbage, vec![0x5a; 100_000]).unwrap();
    for bad in [&truncated, &garbage] {
        let out = output(Command::new("cp").arg(bad).arg(m.path("import/")));
        assert!(!out.status.success(), "cp of {} succeeded", bad.display());
    }
    let status = fs::read_to_string(m.path("import/.status/truncated.tar.json")).unwrap();
    assert!(status.contains("\"failed\""), "{status}");
    assert_eq!(fs::read(m.store.join("index.json")).unwrap(), index_before);
    assert_eq!(names(&m.store.join("blobs/sha256")), blobs_before);
}

/// rsync (temp file, then rename) and a file manager's `.part` + rename both import; a
/// second rsync of the same archive transfers nothing and fails nothing.
#[test]
fn mount_rsync_and_part_rename_into_import() {
    needs!("fuse", "rsync");
    let m = Mounted::new();
    let archive = m.foreign_archive("example.com/test/rs:1", 10);
    let dest = format!("{}/", m.path("import").display());
    run(Command::new("rsync").arg("-a").arg(&archive).arg(&dest));
    let status = fs::read_to_string(m.path("import/.status/foreign-10.tar.json")).unwrap();
    assert!(status.contains("\"loaded\""), "{status}");
    let out = run(Command::new("rsync")
        .args(["-a", "--stats"])
        .arg(&archive)
        .arg(&dest));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Number of regular files transferred: 0")
    );

    let other = m.foreign_archive("example.com/test/part:1", 11);
    let part = m.path("import/other.tar.part");
    fs::copy(&other, &part).unwrap();
    fs::rename(&part, m.path("import/other.tar")).unwrap();
    let status = fs::read_to_string(m.path("import/.status/other.tar.json")).unwrap();
    assert!(status.contains("example.com/test/part:1"), "{status}");
}

/// A docker-archive (no OCI layout) written with cp loads too.
#[test]
fn mount_docker_archive_import() {
    needs!("fuse", "skopeo");
    let m = Mounted::new();
    let docker = m.tmp("docker.tar");
    m.skopeo_copy(
        "linux-amd64.tar",
        &format!(
            "docker-archive:{}:example.com/test/docker:1",
            docker.display()
        ),
    );
    run(Command::new("cp").arg(&docker).arg(m.path("import/")));
    wait_for("the docker-archive image", || {
        m.path("images/example.com/test/docker:1/by-platform/linux-amd64.tar")
            .exists()
    });
}

/// "`import/.status/<name>.json` … is JSON, named so that file managers type it as such; `rm`
/// of it forgets the upload": `cat` and `python3 -m json.tool` read it, in `import/` and in a
/// platform directory.
#[test]
fn mount_status_files_are_json_named_for_their_upload() {
    needs!("fuse", "python3");
    let m = Mounted::new();
    let archive = m.foreign_archive("example.com/test/json:1", 12);
    fs::create_dir_all(m.path("import/linux-riscv64")).unwrap();
    for dir in ["import", "import/linux-riscv64"] {
        run(Command::new("cp").arg(&archive).arg(m.path(dir)));
        let status = m.path(&format!("{dir}/.status/foreign-12.tar.json"));
        assert_eq!(
            names(&m.path(&format!("{dir}/.status"))),
            ["foreign-12.tar.json"]
        );
        let cat = run_stdout(Command::new("cat").arg(&status));
        let pretty = run_stdout(
            Command::new("python3")
                .args(["-m", "json.tool"])
                .arg(&status),
        );
        let parsed: serde_json::Value = serde_json::from_str(&pretty).unwrap();
        assert_eq!(
            parsed,
            serde_json::from_str::<serde_json::Value>(&cat).unwrap()
        );
        assert_eq!(parsed["state"], "loaded", "{dir}: {cat}");
        assert_eq!(parsed["name"], "foreign-12.tar", "{dir}: {cat}");
        // The upload's own name has no status: only `<name>.json` does.
        assert!(!m.path(&format!("{dir}/.status/foreign-12.tar")).exists());
        run(Command::new("rm").arg(&status));
        assert!(!status.exists(), "{dir}: the status is still there");
        // The kernel may keep the upload's entry for its 1 s entry cache.
        wait_for("rm of the status to forget the upload", || {
            !m.path(&format!("{dir}/foreign-12.tar")).exists()
        });
    }
}

/// "`import/` lists … the common ones …, every platform a stored image has … and those made
/// with `mkdir`": `ls import/` shows them, so a file manager can drop into one.
#[test]
fn mount_import_lists_platform_directories() {
    needs!("fuse");
    let m = Mounted::new();
    let common = [
        "linux-386",
        "linux-amd64",
        "linux-arm-v6",
        "linux-arm-v7",
        "linux-arm64",
        "linux-ppc64le",
        "linux-riscv64",
        "linux-s390x",
    ];
    let listed = run_stdout(Command::new("ls").arg(m.path("import")));
    let listed: Vec<&str> = listed.lines().collect();
    assert_eq!(listed, common, "ls import/");
    let all = run_stdout(Command::new("ls").arg("-a").arg(m.path("import")));
    assert!(all.lines().any(|n| n == ".status"), "{all}");
    // An image of a platform beyond the common ones, imported through the CLI, adds its own.
    let src = m.tmp("src-mips");
    run(crate::common::imagefs(&src).args([
        "sample",
        "--name",
        "example.com/test/mips:1",
        "--platform",
        "linux/mips64le",
    ]));
    let archive = m.tmp("mips.tar");
    run(crate::common::imagefs(&src)
        .args(["export", "example.com/test/mips:1", "-o"])
        .arg(&archive));
    run(crate::common::imagefs(&m.store).arg("import").arg(&archive));
    wait_for("linux-mips64le under import/", || {
        names(&m.path("import")).contains(&"linux-mips64le".to_string())
    });
    fs::create_dir_all(m.path("import/linux-mips64le")).unwrap();
    assert_eq!(
        fs::read_dir(m.path("import/linux-mips64le/.status"))
            .unwrap()
            .count(),
        0
    );
}
