//! The compatibility matrix: each test records every leg (ok, asserted peer limitation, or FAIL
//! with its message) and fails at the end if any leg failed; the rows are assembled into
//! `target/compatibility.md` (and `doc/COMPATIBILITY.md` under `IMAGEFS_WRITE_COMPAT=1`).

use super::*;

#[derive(Clone, Debug)]
pub(crate) struct Row {
    pub(crate) peer: String,
    pub(crate) direction: String,
    pub(crate) format: String,
    pub(crate) what: String,
    pub(crate) result: String,
}

pub(crate) struct Matrix {
    pub(crate) test: &'static str,
    pub(crate) rows: Vec<Row>,
    pub(crate) failures: Vec<String>,
    pub(crate) versions: Vec<String>,
}

pub(crate) const TESTS: [&str; 11] = [
    "ctr_imports_our_archives",
    "ctr_exports_import_into_imagefs",
    "ctr_and_imagefs_agree_per_platform",
    "podman_loads_our_archives",
    "podman_saves_import_into_imagefs",
    "dockerd_20_10_round_trips",
    "skopeo_reads_our_archives",
    "skopeo_reads_the_store_by_full_name",
    "skopeo_archives_import_into_imagefs",
    "umoci_unpacks_our_one_platform_tars",
    "umoci_unpacks_from_the_store_by_full_name",
];

impl Matrix {
    pub(crate) fn new(test: &'static str, versions: Vec<String>) -> Matrix {
        assert!(TESTS.contains(&test), "{test} is not listed in TESTS");
        Matrix {
            test,
            rows: Vec::new(),
            failures: Vec::new(),
            versions,
        }
    }

    /// Runs one leg; a panic marks it FAIL (with the message) and the test goes on.
    pub(crate) fn leg(
        &mut self,
        peer: &str,
        direction: &str,
        format: &str,
        what: &str,
        f: impl FnOnce() -> String,
    ) {
        let result = match catch_unwind(AssertUnwindSafe(f)) {
            Ok(note) if note.is_empty() => "ok".to_string(),
            Ok(note) => format!("ok ({note})"),
            Err(e) => {
                let msg = e
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| e.downcast_ref::<&str>().map(|s| s.to_string()))
                    .unwrap_or_else(|| "panic".to_string());
                self.failures
                    .push(format!("[{peer} | {direction} | {format} | {what}] {msg}"));
                let first = msg.lines().next().unwrap_or_default();
                let first: String = first.chars().take(300).collect();
                format!("**FAIL**: {}", first.replace('|', "\\|"))
            }
        };
        self.rows.push(Row {
            peer: peer.to_string(),
            direction: direction.to_string(),
            format: format.to_string(),
            what: what.to_string(),
            result,
        });
    }

    /// A leg a peer cannot do, asserted as such (its exact error) and recorded as a limitation.
    pub(crate) fn limitation(
        &mut self,
        peer: &str,
        direction: &str,
        format: &str,
        what: &str,
        err: &str,
    ) {
        let err = err.trim().replace('\n', " ").replace('|', "\\|");
        self.rows.push(Row {
            peer: peer.to_string(),
            direction: direction.to_string(),
            format: format.to_string(),
            what: what.to_string(),
            result: format!("peer limitation: `{err}`"),
        });
    }

    /// A leg the peer cannot do: `out` must fail with `expected` in its output (so a peer that
    /// gains the feature, or fails otherwise, shows up as FAIL); recorded with that line.
    pub(crate) fn known_limitation(
        &mut self,
        peer: &str,
        direction: &str,
        format: &str,
        what: &str,
        expected: &str,
        out: &Output,
    ) {
        let all = format!("{}{}", text(&out.stderr), text(&out.stdout));
        // Without logrus' timestamp, so that regenerating the matrix changes nothing.
        let line = all.lines().find(|l| l.contains(expected)).map(|l| {
            let l = l.trim();
            l.find("msg=").map_or(l, |i| &l[i..]).to_string()
        });
        match (out.status.success(), line) {
            (false, Some(line)) => self.limitation(peer, direction, format, what, &line),
            (ok, _) => self.leg(peer, direction, format, what, || {
                panic!(
                    "expected the known peer limitation `{expected}`, got success={ok}: {}",
                    all.trim()
                )
            }),
        }
    }

    pub(crate) fn finish(self) {
        write_fragment(&self);
        assert!(
            self.failures.is_empty(),
            "{} leg(s) failed:\n{}",
            self.failures.len(),
            self.failures.join("\n\n")
        );
    }
}

pub(crate) fn fragments_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("interop-matrix")
}

pub(crate) static FRAGMENTS: OnceLock<Mutex<()>> = OnceLock::new();

pub(crate) fn write_fragment(m: &Matrix) {
    let lock = FRAGMENTS.get_or_init(|| {
        // First test to finish in this process: forget the previous run's fragments.
        let _ = fs::remove_dir_all(fragments_dir());
        Mutex::new(())
    });
    let _guard = lock.lock().unwrap_or_else(|e| e.into_inner());
    fs::create_dir_all(fragments_dir()).expect("fragments dir");
    let rows: Vec<Value> = m
        .rows
        .iter()
        .map(|r| {
            serde_json::json!({
                "peer": r.peer, "direction": r.direction, "format": r.format,
                "what": r.what, "result": r.result,
            })
        })
        .collect();
    let doc = serde_json::json!({ "rows": rows, "versions": m.versions });
    fs::write(
        fragments_dir().join(format!("{}.json", m.test)),
        serde_json::to_vec_pretty(&doc).expect("json"),
    )
    .expect("write fragment");
    assemble();
}

/// Builds the matrix from every fragment present; writes target/compatibility.md, and the
/// generated part of doc/COMPATIBILITY.md under IMAGEFS_WRITE_COMPAT=1.
pub(crate) fn assemble() {
    let mut versions = BTreeSet::new();
    let mut body = String::new();
    let mut total = (0, 0, 0);
    for test in TESTS {
        let path = fragments_dir().join(format!("{test}.json"));
        body.push_str(&format!("\n### `{test}`\n\n"));
        let Ok(bytes) = fs::read(&path) else {
            body.push_str("_not run in this test run_\n");
            continue;
        };
        let doc = json(&bytes);
        for v in doc["versions"].as_array().into_iter().flatten() {
            versions.insert(v.as_str().unwrap_or_default().to_string());
        }
        body.push_str("| peer | direction | format / source | images | result |\n");
        body.push_str("|---|---|---|---|---|\n");
        // Consecutive rows that differ only in the images are merged.
        let mut merged: Vec<(String, String, String, Vec<String>, String)> = Vec::new();
        for r in doc["rows"].as_array().into_iter().flatten() {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_string();
            let result = s("result");
            if result.starts_with("ok") {
                total.0 += 1;
            } else if result.starts_with("peer limitation") {
                total.1 += 1;
            } else {
                total.2 += 1;
            }
            match merged.last_mut() {
                Some(last)
                    if last.0 == s("peer")
                        && last.1 == s("direction")
                        && last.2 == s("format")
                        && last.4 == result =>
                {
                    if !last.3.contains(&s("what")) {
                        last.3.push(s("what"));
                    }
                }
                _ => merged.push((
                    s("peer"),
                    s("direction"),
                    s("format"),
                    vec![s("what")],
                    result,
                )),
            }
        }
        for (peer, dir, format, what, result) in merged {
            body.push_str(&format!(
                "| {peer} | {dir} | {format} | {} | {result} |\n",
                what.join(", ")
            ));
        }
    }
    let mut out = String::new();
    out.push_str(
        "<!-- Generated by tests/interop/ (IMAGEFS_WRITE_COMPAT=1 cargo test --test interop); do not edit by hand. -->\n\n",
    );
    out.push_str(&format!(
        "Legs: {} ok, {} peer limitations (asserted), {} failing.\n\nVersions tested:\n\n",
        total.0, total.1, total.2
    ));
    for v in &versions {
        out.push_str(&format!("- {v}\n"));
    }
    out.push_str(&body);
    let target = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .expect("target dir")
        .join("compatibility.md");
    fs::write(&target, &out).expect("write target/compatibility.md");
    if std::env::var("IMAGEFS_WRITE_COMPAT").as_deref() == Ok("1") {
        let doc = Path::new(env!("CARGO_MANIFEST_DIR")).join("doc/COMPATIBILITY.md");
        let text = fs::read_to_string(&doc).expect("doc/COMPATIBILITY.md");
        const BEGIN: &str = "<!-- BEGIN GENERATED MATRIX -->\n";
        const END: &str = "<!-- END GENERATED MATRIX -->";
        let (Some(a), Some(b)) = (text.find(BEGIN), text.find(END)) else {
            panic!("doc/COMPATIBILITY.md lacks the generated-matrix markers");
        };
        let new = format!("{}{BEGIN}{out}{}", &text[..a], &text[b..]);
        fs::write(&doc, new).expect("write doc/COMPATIBILITY.md");
    }
}

pub(crate) fn versions_of(list: &[(&str, Command)]) -> Vec<String> {
    list.iter()
        .map(|(label, _)| label.to_string())
        .zip(list.iter().map(|(_, c)| {
            let mut copy = Command::new(c.get_program());
            copy.args(c.get_args());
            version(copy)
        }))
        .map(|(label, v)| format!("{label}: `{v}`"))
        .collect()
}

pub(crate) fn imagefs_version() -> (&'static str, Command) {
    ("imagefs", cmd(bin(), &["--version"]))
}

pub(crate) fn version(mut c: Command) -> String {
    run_stdout(&mut c)
        .lines()
        .next()
        .unwrap_or_default()
        .trim()
        .to_string()
}
