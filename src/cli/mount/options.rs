//! What a mount is asked for: `imagefs mount`'s flags merged with `-o` option lists, the form in
//! which mount(8) and fstab pass options (through `mount.fuse3`, which runs `imagefs STORE
//! MOUNTPOINT -o OPTIONS`). Pure logic: [`MountSettings::resolve`] validates every option and
//! names a bad one.

use std::fmt;
use std::path::PathBuf;

use crate::fuse::Audience;
use crate::suggest;

/// Everything a mount needs from the command line, after `-o` is applied over the flags.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) struct MountSettings {
    pub foreground: bool,
    /// Log every request (libfuse's `-d`); implies foreground.
    pub debug: bool,
    pub audience: Audience,
    pub default_permissions: bool,
    /// No `import/`, and the kernel refuses writes (`ro`, `--read-only`).
    pub read_only: bool,
    pub no_exec: bool,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub dir_mode: Option<u16>,
    pub file_mode: Option<u16>,
    pub auto_unmount: bool,
    /// Mount over a directory that has entries, hiding them (`nonempty`).
    pub nonempty: bool,
    /// The mount table's source column; default the store's path.
    pub fsname: Option<String>,
    pub sample: Sample,
    pub direct_io: bool,
    pub threads: usize,
    pub log_file: Option<PathBuf>,
}

/// Whether the mount adds the demo image.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Sample {
    /// Only into an empty store.
    IfEmpty,
    Always,
    Never,
}

/// One `-o` option that cannot be used.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum OptionError {
    Unknown {
        option: String,
        nearest: Option<&'static str>,
    },
    BadValue {
        option: &'static str,
        value: String,
        expected: &'static str,
    },
    MissingValue {
        option: &'static str,
        expected: &'static str,
    },
    Conflict {
        first: &'static str,
        second: &'static str,
    },
}

impl fmt::Display for OptionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OptionError::Unknown { option, nearest } => {
                write!(f, "unknown mount option {option:?}")?;
                if let Some(n) = nearest {
                    write!(f, "; did you mean {n:?}?")?;
                }
                write!(
                    f,
                    " (doc/CONFIGURATION.md lists them; `imagefs mount --help`)"
                )
            }
            OptionError::BadValue {
                option,
                value,
                expected,
            } => write!(f, "mount option {option}={value:?}: expected {expected}"),
            OptionError::MissingValue { option, expected } => {
                write!(
                    f,
                    "mount option {option} needs a value: {option}={expected}"
                )
            }
            OptionError::Conflict { first, second } => {
                write!(
                    f,
                    "mount options {first} and {second} contradict each other"
                )
            }
        }
    }
}

impl std::error::Error for OptionError {}

/// Options that take a value, and what the value is.
const VALUED: &[(&str, &str)] = &[
    ("uid", "a numeric user id below 4294967295"),
    ("gid", "a numeric group id below 4294967295"),
    ("dir_mode", "octal permission bits such as 0755"),
    ("file_mode", "octal permission bits such as 0644"),
    ("threads", "a number of threads, 1 to 256"),
    ("log_file", "a file path"),
    ("fsname", "a name without commas, backslashes or spaces"),
    ("subtype", "imagefs"),
];

/// Flags: ours, and FUSE's and mount(8)'s that change something here.
const FLAGS: &[&str] = &[
    "ro",
    "rw",
    "read_only",
    "allow_other",
    "allow_root",
    "default_permissions",
    "auto_unmount",
    "nonempty",
    "noexec",
    "exec",
    "foreground",
    "debug",
    "sample",
    "no_sample",
    "direct_io",
];

/// Options mount(8) and systemd put on the line for themselves, or that this mount cannot honour
/// (it is always nosuid, nodev and noatime; `defaults` makes mount(8) pass `suid,dev`), accepted
/// and ignored as every FUSE filesystem does: an fstab line must not fail on them.
const IGNORED: &[&str] = &[
    "defaults",
    "auto",
    "noauto",
    "nofail",
    "user",
    "users",
    "nouser",
    "owner",
    "group",
    "_netdev",
    "nosuid",
    "nodev",
    "noatime",
    "atime",
    "relatime",
    "norelatime",
    "strictatime",
    "nodiratime",
    "diratime",
    "sync",
    "async",
    "dirsync",
    "lazytime",
    "nolazytime",
    "suid",
    "dev",
];

impl MountSettings {
    /// The defaults of `imagefs mount`.
    pub(super) fn defaults() -> MountSettings {
        MountSettings {
            foreground: false,
            debug: false,
            audience: Audience::Owner,
            default_permissions: false,
            read_only: false,
            no_exec: false,
            uid: None,
            gid: None,
            dir_mode: None,
            file_mode: None,
            auto_unmount: false,
            nonempty: false,
            fsname: None,
            sample: Sample::IfEmpty,
            direct_io: false,
            threads: 4,
            log_file: None,
        }
    }

    /// Applies `-o` lists (each comma-separated, applied left to right over the flags, so the
    /// last word wins as in mount(8)); returns what was ignored, for the debug log.
    pub(super) fn apply_options(&mut self, lists: &[String]) -> Result<Vec<String>, OptionError> {
        let mut ignored = Vec::new();
        for option in lists.iter().flat_map(|l| l.split(',')) {
            if option.is_empty() {
                continue;
            }
            let (key, value) = match option.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (option, None),
            };
            // x-systemd.*, x-gvfs-show and the like are for other programs (mount(8)).
            let for_others = key.starts_with("x-") || key.starts_with("comment");
            // Our own long options may be spelled as on the command line (dir-mode=0755).
            let key = key.replace('-', "_");
            if for_others || IGNORED.contains(&key.as_str()) {
                ignored.push(option.to_string());
                continue;
            }
            if let Some(&(name, expected)) = VALUED.iter().find(|(k, _)| *k == key) {
                let value = value.ok_or(OptionError::MissingValue {
                    option: name,
                    expected,
                })?;
                self.apply_valued(name, value, expected)?;
            } else if let Some(&name) = FLAGS.iter().find(|k| **k == key) {
                if value.is_some() {
                    return Err(OptionError::BadValue {
                        option: name,
                        value: value.unwrap_or_default().to_string(),
                        expected: "no value (it is a flag)",
                    });
                }
                self.apply_flag(name);
            } else {
                let known = VALUED.iter().map(|(k, _)| *k).chain(FLAGS.iter().copied());
                return Err(OptionError::Unknown {
                    option: option.to_string(),
                    nearest: suggest::nearest(&key, known),
                });
            }
        }
        self.check()?;
        Ok(ignored)
    }

    fn apply_flag(&mut self, name: &str) {
        match name {
            "ro" | "read_only" => self.read_only = true,
            "rw" => self.read_only = false,
            "allow_other" => self.audience = Audience::Everyone,
            "allow_root" => self.audience = Audience::OwnerAndRoot,
            "default_permissions" => self.default_permissions = true,
            "auto_unmount" => self.auto_unmount = true,
            "nonempty" => self.nonempty = true,
            "noexec" => self.no_exec = true,
            "exec" => self.no_exec = false,
            "foreground" => self.foreground = true,
            "debug" => self.debug = true,
            "sample" => self.sample = Sample::Always,
            "no_sample" => self.sample = Sample::Never,
            "direct_io" => self.direct_io = true,
            other => unreachable!("flag {other} is in FLAGS but has no effect"),
        }
    }

    fn apply_valued(
        &mut self,
        name: &'static str,
        value: &str,
        expected: &'static str,
    ) -> Result<(), OptionError> {
        let bad = || OptionError::BadValue {
            option: name,
            value: value.to_string(),
            expected,
        };
        match name {
            "uid" => self.uid = Some(parse_id(value).ok_or_else(bad)?),
            "gid" => self.gid = Some(parse_id(value).ok_or_else(bad)?),
            "dir_mode" => self.dir_mode = Some(parse_mode(value).ok_or_else(bad)?),
            "file_mode" => self.file_mode = Some(parse_mode(value).ok_or_else(bad)?),
            "threads" => self.threads = parse_threads(value).ok_or_else(bad)?,
            "log_file" if !value.is_empty() => self.log_file = Some(PathBuf::from(value)),
            "fsname"
                if !value.is_empty()
                    && !value.contains(|c: char| c == ',' || c == '\\' || c.is_whitespace()) =>
            {
                self.fsname = Some(value.to_string());
            }
            // The type is what mount(8) was given: fstab's `fuse.imagefs`.
            "subtype" if value == crate::fuse::SUBTYPE => {}
            _ => return Err(bad()),
        }
        Ok(())
    }

    /// Contradictions between options that mount(8) would otherwise resolve silently.
    fn check(&self) -> Result<(), OptionError> {
        if self.read_only && self.sample == Sample::Always {
            return Err(OptionError::Conflict {
                first: "ro",
                second: "sample",
            });
        }
        Ok(())
    }
}

/// Octal permission bits, `755` or `0755`; at most 0o7777.
pub(super) fn parse_mode(s: &str) -> Option<u16> {
    let digits = s.strip_prefix("0o").unwrap_or(s);
    if digits.is_empty() || digits.len() > 5 {
        return None;
    }
    u16::from_str_radix(digits, 8).ok().filter(|m| *m <= 0o7777)
}

/// A uid or gid; not 4294967295, which is -1 to the kernel ("no change"), and shows as the
/// overflow id.
pub(super) fn parse_id(s: &str) -> Option<u32> {
    s.parse().ok().filter(|id| *id != u32::MAX)
}

/// 1 to 256 FUSE worker threads.
pub(super) fn parse_threads(s: &str) -> Option<usize> {
    s.parse().ok().filter(|n| (1..=256).contains(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn apply(list: &str) -> Result<MountSettings, OptionError> {
        let mut s = MountSettings::defaults();
        s.apply_options(&[list.to_string()])?;
        Ok(s)
    }

    #[test]
    fn an_fstab_line_with_systemd_and_mount_options_is_accepted() {
        let s = apply("defaults,allow_other,_netdev,x-systemd.automount,x-systemd.idle-timeout=60,x-gvfs-show,comment=x,nofail,noauto,user,noexec,nosuid,nodev").unwrap();
        assert_eq!(s.audience, Audience::Everyone);
        assert!(s.no_exec);
        assert!(!s.read_only);
    }

    #[test]
    fn fuse_options_set_what_they_name() {
        let s = apply("ro,allow_root,uid=1000,gid=100,default_permissions,nonempty,auto_unmount")
            .unwrap();
        assert!(s.read_only && s.default_permissions && s.nonempty && s.auto_unmount);
        assert_eq!(s.audience, Audience::OwnerAndRoot);
        assert_eq!((s.uid, s.gid), (Some(1000), Some(100)));
    }

    #[test]
    fn our_own_options_take_either_spelling() {
        let s = apply("dir-mode=0750,file_mode=640,threads=8,direct_io,no-sample,log_file=/tmp/l")
            .unwrap();
        assert_eq!((s.dir_mode, s.file_mode), (Some(0o750), Some(0o640)));
        assert_eq!(s.threads, 8);
        assert!(s.direct_io);
        assert_eq!(s.sample, Sample::Never);
        assert_eq!(s.log_file, Some(PathBuf::from("/tmp/l")));
    }

    #[test]
    fn the_last_word_wins() {
        assert!(!apply("ro,rw").unwrap().read_only);
        assert!(apply("rw,ro").unwrap().read_only);
    }

    #[test]
    fn an_unknown_option_is_named_with_a_suggestion() {
        let e = apply("allow_othr").unwrap_err();
        assert_eq!(
            e,
            OptionError::Unknown {
                option: "allow_othr".into(),
                nearest: Some("allow_other")
            }
        );
        assert!(e.to_string().contains("did you mean \"allow_other\"?"));
        assert!(matches!(
            apply("frobnicate").unwrap_err(),
            OptionError::Unknown { nearest: None, .. }
        ));
    }

    #[test]
    fn bad_values_say_what_was_expected() {
        for (list, option) in [
            ("uid=alice", "uid"),
            ("uid=4294967295", "uid"),
            ("gid=-1", "gid"),
            ("fsname=a b", "fsname"),
            ("fsname=a\\b", "fsname"),
            ("dir_mode=999", "dir_mode"),
            ("file_mode=", "file_mode"),
            ("threads=0", "threads"),
            ("threads=100000", "threads"),
            ("subtype=other", "subtype"),
            ("ro=1", "ro"),
        ] {
            match apply(list).unwrap_err() {
                OptionError::BadValue { option: o, .. } => assert_eq!(o, option, "{list}"),
                e => panic!("{list}: {e:?}"),
            }
        }
        assert_eq!(
            apply("uid").unwrap_err(),
            OptionError::MissingValue {
                option: "uid",
                expected: "a numeric user id below 4294967295"
            }
        );
    }

    #[test]
    fn contradictions_are_refused() {
        assert!(matches!(
            apply("ro,sample").unwrap_err(),
            OptionError::Conflict { .. }
        ));
    }

    #[test]
    fn modes_are_octal_and_bounded() {
        assert_eq!(parse_mode("755"), Some(0o755));
        assert_eq!(parse_mode("0o2755"), Some(0o2755));
        assert_eq!(parse_mode("17777"), None);
        assert_eq!(parse_mode("8"), None);
        assert_eq!(parse_mode(""), None);
    }
}
