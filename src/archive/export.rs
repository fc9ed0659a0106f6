//! Streams an [`ArchivePlan`] to a writer, re-hashing every blob as it is copied so that a blob
//! corrupted in the store fails the export instead of travelling silently (containerd's
//! "unexpected digest … copied").

use std::io::{self, Read, Write};

use super::ArchiveError;
use super::plan::{ArchivePlan, PlanBody};
use super::tar_header::BLOCK;
use crate::digest::Hasher;

const COPY_BUFFER: usize = 1 << 20;

/// Reports bytes written so far (for progress display); called after every chunk.
pub type Progress<'a> = &'a mut dyn FnMut(u64);

/// Writes the whole archive to `out`.
pub fn write_archive(
    plan: &ArchivePlan,
    out: &mut dyn Write,
    progress: Progress<'_>,
) -> Result<(), ArchiveError> {
    let zeros = [0u8; BLOCK as usize];
    let mut buf = vec![0u8; COPY_BUFFER];
    let mut written = 0u64;
    let put = |out: &mut dyn Write, bytes: &[u8], written: &mut u64| -> Result<(), ArchiveError> {
        out.write_all(bytes).map_err(ArchiveError::Output)?;
        *written += bytes.len() as u64;
        Ok(())
    };
    for entry in plan.entries() {
        put(out, entry.header, &mut written)?;
        let len = match entry.body {
            PlanBody::None => 0,
            PlanBody::Bytes(b) => {
                put(out, b, &mut written)?;
                b.len() as u64
            }
            PlanBody::Blob(d) => {
                let mut file = plan.store().open_blob(d)?;
                let mut hasher = Hasher::new();
                let mut remaining = d.size;
                while remaining > 0 {
                    let want = (buf.len() as u64).min(remaining) as usize;
                    let n = match file.read(&mut buf[..want]) {
                        Ok(0) => {
                            return Err(ArchiveError::BlobChanged {
                                digest: d.digest,
                                found: None,
                            });
                        }
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            return Err(ArchiveError::BlobRead {
                                digest: d.digest,
                                source: e,
                            });
                        }
                    };
                    hasher.update(&buf[..n]);
                    put(out, &buf[..n], &mut written)?;
                    remaining -= n as u64;
                    progress(written);
                }
                let found = hasher.finish();
                if found != d.digest {
                    return Err(ArchiveError::BlobChanged {
                        digest: d.digest,
                        found: Some(found),
                    });
                }
                d.size
            }
        };
        let pad = len.next_multiple_of(BLOCK) - len;
        put(out, &zeros[..pad as usize], &mut written)?;
    }
    put(out, &zeros, &mut written)?;
    put(out, &zeros, &mut written)?;
    debug_assert_eq!(written, plan.size());
    out.flush().map_err(ArchiveError::Output)?;
    progress(written);
    Ok(())
}
