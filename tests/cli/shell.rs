//! What the shell and man(1) get: completion scripts that parse and complete in bash, zsh and
//! fish, man pages that render for every command, and `scripts/install.sh` putting them all in
//! place.

use super::*;

/// The subcommands a user sees in `imagefs --help`.
fn visible_subcommands() -> Vec<String> {
    use clap::CommandFactory;
    imagefs::cli::Cli::command()
        .get_subcommands()
        .filter(|s| !s.is_hide_set())
        .map(|s| s.get_name().to_string())
        .collect()
}

/// `imagefs completions SHELL`, written to `dir/file`.
fn completion_script(dir: &std::path::Path, shell: &str, file: &str) -> std::path::PathBuf {
    let f = Fixture::new();
    let script = ok(cli(f.root(), &["completions", shell]));
    assert!(!script.is_empty());
    let path = dir.join(file);
    std::fs::write(&path, script).unwrap();
    path
}

#[test]
fn cli_completions_bash_parses_and_completes_subcommands_and_flags() {
    needs!("bash");
    let dir = tempfile::tempdir().unwrap();
    let script = completion_script(dir.path(), "bash", "imagefs.bash");
    run(&mut cmd(tool("bash"), &["-n", script.to_str().unwrap()]));
    // Source it, then run the completion function as bash would for the words typed so far.
    let complete = |words: &[&str]| {
        let program = format!(
            "source {}; complete -p imagefs; COMP_WORDS=({}); COMP_CWORD={}; COMP_LINE=\"${{COMP_WORDS[*]}}\"; \
             COMP_POINT=${{#COMP_LINE}}; _imagefs imagefs \"${{COMP_WORDS[COMP_CWORD]}}\" \"${{COMP_WORDS[COMP_CWORD-1]}}\"; \
             printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            script.display(),
            words
                .iter()
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" "),
            words.len() - 1
        );
        run_stdout(&mut cmd(tool("bash"), &["-c", &program]))
    };
    let all = complete(&["imagefs", ""]);
    assert!(all.starts_with("complete "), "{all}");
    assert!(
        all.contains("-F _imagefs") && all.lines().next().unwrap().ends_with(" imagefs"),
        "{all}"
    );
    let offered: Vec<&str> = all.lines().skip(1).collect();
    for sub in visible_subcommands() {
        assert!(offered.contains(&sub.as_str()), "{sub} not offered: {all}");
    }
    // Hidden commands (`sample`, `man`) are not offered (clap-rs/clap#1335 would offer them).
    assert!(
        !offered.contains(&"sample") && !offered.contains(&"man"),
        "{all}"
    );
    let im = complete(&["imagefs", "im"]);
    assert_eq!(im.lines().skip(1).collect::<Vec<_>>(), ["import"], "{im}");
    let ls = complete(&["imagefs", "ls", "--t"]);
    assert_eq!(ls.lines().skip(1).collect::<Vec<_>>(), ["--tree"], "{ls}");
    let shells = complete(&["imagefs", "completions", "z"]);
    assert_eq!(
        shells.lines().skip(1).collect::<Vec<_>>(),
        ["zsh"],
        "{shells}"
    );
}

#[test]
fn cli_completions_zsh_parses_and_registers_for_imagefs() {
    needs!("zsh");
    let dir = tempfile::tempdir().unwrap();
    let script = completion_script(dir.path(), "zsh", "_imagefs");
    run(&mut cmd(tool("zsh"), &["-n", script.to_str().unwrap()]));
    // compinit reads `#compdef imagefs` from every file on fpath: the function is bound to the
    // command. (Completing words needs a terminal under zpty; not checked here.)
    let program = format!(
        "fpath=({} $fpath); autoload -U compinit; compinit -u -d {}/zcompdump; print -r -- ${{_comps[imagefs]}}",
        dir.path().display(),
        dir.path().display()
    );
    let bound = run_stdout(&mut cmd(tool("zsh"), &["-fc", &program]));
    assert_eq!(bound.trim(), "_imagefs");
}

#[test]
fn cli_completions_fish_completes_subcommands_and_flags() {
    needs!("fish");
    let dir = tempfile::tempdir().unwrap();
    let script = completion_script(dir.path(), "fish", "imagefs.fish");
    run(&mut cmd(tool("fish"), &["-n", script.to_str().unwrap()]));
    let complete = |line: &str| {
        let program = format!("source {}; complete -C '{line}'", script.display());
        let out = run_stdout(&mut cmd(tool("fish"), &["--no-config", "-c", &program]));
        out.lines()
            .map(|l| l.split('\t').next().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let all = complete("imagefs ");
    for sub in visible_subcommands() {
        assert!(all.contains(&sub), "{sub} not offered: {all:?}");
    }
    assert_eq!(complete("imagefs im"), ["import"]);
    assert!(!all.contains(&"sample".to_string()) && !all.contains(&"man".to_string()));
    assert!(complete("imagefs ls --").contains(&"--tree".to_string()));
}

#[test]
fn cli_man_pages_render_and_cover_every_subcommand() {
    needs!("man");
    let dir = tempfile::tempdir().unwrap();
    let man1 = dir.path().join("man1");
    let f = Fixture::new();
    let listed = text(&ok(cli(
        f.root(),
        &["man", "--dir", man1.to_str().unwrap()],
    )));
    let subs = visible_subcommands();
    let mut pages = vec!["imagefs.1".to_string()];
    pages.extend(subs.iter().map(|s| format!("imagefs-{s}.1")));
    let mut found = names(&man1);
    found.sort();
    let mut expected = pages.clone();
    expected.sort();
    assert_eq!(found, expected);
    assert_eq!(listed.lines().count(), pages.len(), "{listed}");
    let render = |page: &str| {
        let path = man1.join(page);
        let out = output(
            cmd(tool("man"), &["--warnings", "-l", path.to_str().unwrap()]).env("MANWIDTH", "200"),
        );
        assert!(out.status.success(), "{page}: {}", text(&out.stderr));
        // groff's warnings (a malformed request, a bad escape) go to stderr.
        assert_eq!(text(&out.stderr), "", "{page}");
        text(&out.stdout)
    };
    let top = render("imagefs.1");
    assert!(top.contains("SUBCOMMANDS"), "{top}");
    for sub in &subs {
        assert!(
            top.contains(&format!("imagefs-{sub}(1)")),
            "{sub} missing: {top}"
        );
        let page = render(&format!("imagefs-{sub}.1"));
        assert!(page.contains(&format!("imagefs-{sub}")), "{page}");
    }
    // Hidden commands are for tests and installers, not the manual.
    assert!(
        !top.contains("imagefs-sample") && !top.contains("imagefs-man"),
        "{top}"
    );
    let import = render("imagefs-import.1");
    assert!(import.contains("--platform"), "{import}");
    let ls = render("imagefs-ls.1");
    assert!(ls.contains("--tree"), "{ls}");
}

#[test]
fn cli_install_script_puts_binary_man_pages_completions_unit_and_mount_helper_in_place() {
    needs!("bash", "mount.fuse3");
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/install.sh");
    let dest = tempfile::tempdir().unwrap();
    let out = output(
        cmd(
            tool("bash"),
            &[script, "--no-build", "--binary", bin(), "--mount-helper"],
        )
        .env("DESTDIR", dest.path())
        .env("PREFIX", "/opt/imagefs"),
    );
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let root = dest.path().join("opt/imagefs");
    let installed = root.join("bin/imagefs");
    assert_eq!(
        std::fs::read(&installed).unwrap(),
        std::fs::read(bin()).unwrap()
    );
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&installed), 0o755);
    let mut expected = vec![
        "bin/imagefs".to_string(),
        "share/man/man1/imagefs.1".to_string(),
    ];
    expected.extend(
        visible_subcommands()
            .iter()
            .map(|s| format!("share/man/man1/imagefs-{s}.1")),
    );
    let completions = [
        ("bash", "share/bash-completion/completions/imagefs"),
        ("zsh", "share/zsh/site-functions/_imagefs"),
        ("fish", "share/fish/vendor_completions.d/imagefs.fish"),
    ];
    expected.extend(completions.iter().map(|(_, p)| p.to_string()));
    expected.push("lib/systemd/system/imagefs.service".to_string());
    for file in &expected {
        let path = root.join(file);
        assert!(
            path.is_file(),
            "{file} not installed: {}",
            text(&out.stdout)
        );
        assert!(
            std::fs::metadata(&path).unwrap().len() > 0,
            "{file} is empty"
        );
        if file != "bin/imagefs" {
            assert_eq!(mode(&path), 0o644, "{file}");
        }
        let said = format!("installed {}", path.display());
        assert!(
            text(&out.stdout).contains(&said),
            "{said}: {}",
            text(&out.stdout)
        );
    }
    // The unit runs the installed binary.
    let unit = std::fs::read_to_string(root.join("lib/systemd/system/imagefs.service")).unwrap();
    assert!(
        unit.contains("ExecStart=/opt/imagefs/bin/imagefs --store"),
        "{unit}"
    );
    assert!(!unit.contains("/usr/local/bin"), "{unit}");
    // The mount helper: in DESTDIR's /sbin, where mount(8) looks, named for the type.
    let helper = dest.path().join("sbin/mount.fuse.imagefs");
    let target = std::fs::read_link(&helper).unwrap();
    assert!(target.ends_with("mount.fuse3"), "{}", target.display());
    assert!(
        target.is_absolute() && target.is_file(),
        "{}",
        target.display()
    );
    // Nothing else, and nothing outside DESTDIR/PREFIX but the helper.
    let mut all = Vec::new();
    let mut stack = vec![dest.path().to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p == helper {
                continue;
            }
            match p.is_dir() {
                true => stack.push(p),
                false => all.push(p.strip_prefix(&root).expect("under the prefix").to_owned()),
            }
        }
    }
    assert_eq!(all.len(), expected.len(), "{all:?}");
    let f = Fixture::new();
    for (shell, file) in completions {
        let generated = ok(cli(f.root(), &["completions", shell]));
        assert_eq!(
            std::fs::read(root.join(file)).unwrap(),
            generated,
            "{shell}"
        );
    }

    // Without a binary to install, it says which one it looked for.
    let out = output(
        cmd(tool("bash"), &[script, "--binary", "/nonexistent/imagefs"])
            .env("DESTDIR", dest.path()),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("no executable /nonexistent/imagefs"),
        "{}",
        text(&out.stderr)
    );
    let out = output(cmd(tool("bash"), &[script, "--no-build"]).env("PREFIX", "relative"));
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("PREFIX must be absolute"),
        "{}",
        text(&out.stderr)
    );
}
