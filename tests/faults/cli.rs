//! Kill -9 of `imagefs import`, reading an archive from a file (plain tar, staged by seeking;
//! gzip, spooled as a stream) or from a pipe, at the kill points the campaign draws.

use std::collections::BTreeMap;
use std::fs;
use std::sync::Arc;
use std::time::Instant;

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

use super::{Feed, Importer, KINDS, Lab, Landed, Request, Trigger, Victim, kills, seed};

impl Victim for Importer {
    fn exited(&mut self) -> bool {
        Importer::exited(self)
    }

    fn kill(&mut self) {
        Importer::kill(self)
    }
}

/// A clean CLI import, asserted successful.
fn import_cli(lab: &Lab, request: Request, feed: &Feed, ctx: &str) {
    let (status, err) = Importer::spawn(&lab.store, request, feed).finish();
    assert!(status.success(), "{ctx}: import {request:?} failed: {err}");
}

fn cli_campaign(test: &str, pipe: bool, default_kills: usize) {
    let started = Instant::now();
    let seed = seed(test);
    let mut rng = StdRng::seed_from_u64(seed);
    let mut lab = Lab::new(seed);
    let plain = Arc::new(fs::read(&lab.archive).unwrap());
    let gz = Arc::new(fs::read(&lab.archive_gz).unwrap());
    // A file import reads a plain tar by seeking (staging copies blob ranges into ingest/) and a
    // gzip file as a stream (spooling every entry); a pipe is always a stream.
    let feeds = [
        if pipe {
            Feed::Pipe(plain.clone())
        } else {
            Feed::File(lab.archive.clone())
        },
        if pipe {
            Feed::Pipe(gz.clone())
        } else {
            Feed::File(lab.archive_gz.clone())
        },
    ];
    let mut profiles = BTreeMap::new();
    for (f, feed) in feeds.iter().enumerate() {
        for request in [Request::All, Request::Arm64] {
            let p = lab.profile(request, |lab| import_cli(lab, request, feed, "profile"));
            profiles.insert((f, request), p);
        }
    }
    let archive_len = lab.archive_len();
    let first_kind = rng.random_range(0..KINDS);
    let rounds = kills(default_kills);
    for round in 0..rounds {
        let request = Request::pick(&mut rng);
        let f = rng.random_range(0..feeds.len());
        let profile = profiles.get_mut(&(f, request)).expect("profiled");
        let trigger = Trigger::pick(first_kind + round, &mut rng, profile, archive_len);
        let ctx = format!("{test} seed {seed} round {round} ({request:?}, feed {f}, {trigger:?})");
        let aim = lab.aim(trigger);
        let mut imp = Importer::spawn(&lab.store, request, &feeds[f]);
        let landed = lab.strike(aim, profile, &mut imp, &ctx);
        let status = imp.status.expect("ended");
        let present = lab.check_after_kill(profile, &format!("{ctx} -> {landed:?}"));
        if status.success() {
            assert!(present, "{ctx}: import reported success, image absent");
        }
        if landed == Landed::Finished {
            assert!(status.success(), "{ctx}: import failed: {}", imp.stderr());
        }
        import_cli(&lab, request, &feeds[f], &format!("{ctx}: re-import"));
        lab.assert_imported(request, profile, &format!("{ctx}: after re-import"));
        lab.reset(&ctx);
    }
    lab.summary(test, started);
    lab.assert_coverage(test, rounds);
}

#[test]
fn kill_9_during_cli_import_from_file_leaves_no_partial_image() {
    cli_campaign(
        "kill_9_during_cli_import_from_file_leaves_no_partial_image",
        false,
        12,
    );
}

#[test]
fn kill_9_during_cli_import_from_pipe_leaves_no_partial_image() {
    cli_campaign(
        "kill_9_during_cli_import_from_pipe_leaves_no_partial_image",
        true,
        10,
    );
}
