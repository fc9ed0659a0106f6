//! Streams an [`ArchivePlan`] to a writer, re-hashing every blob as it is copied so that a blob
//! corrupted in the store fails the export instead of travelling silently (containerd's
//! "unexpected digest … copied").

use std::fs::File;
use std::io::{self, Read, Write};
use std::sync::mpsc;

use super::ExportError;
use super::plan::{ArchivePlan, PlanBody};
use super::tar_header::BLOCK;
use crate::digest::Hasher;
use crate::oci::Descriptor;

const COPY_BUFFER: usize = 1 << 20;

/// Reports bytes written so far (for progress display); called after every chunk.
pub type Progress<'a> = &'a mut dyn FnMut(u64);

/// Writes the whole archive to `out`.
pub fn write_archive(
    plan: &ArchivePlan,
    out: &mut dyn Write,
    progress: Progress<'_>,
) -> Result<(), ExportError> {
    let zeros = [0u8; BLOCK as usize];
    let mut written = 0u64;
    let put = |out: &mut dyn Write, bytes: &[u8], written: &mut u64| -> Result<(), ExportError> {
        out.write_all(bytes).map_err(ExportError::Output)?;
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
                let file = plan.store().open_blob(d)?;
                copy_verified(d, file, out, &mut written, progress)?;
                d.size
            }
        };
        let pad = len.next_multiple_of(BLOCK) - len;
        put(out, &zeros[..pad as usize], &mut written)?;
    }
    put(out, &zeros, &mut written)?;
    put(out, &zeros, &mut written)?;
    debug_assert_eq!(written, plan.size());
    out.flush().map_err(ExportError::Output)?;
    progress(written);
    Ok(())
}

/// Copies a blob to `out` while a second thread hashes what was copied, so verification costs
/// no wall time on a machine with a spare core. Buffers circulate between the two threads; the
/// digest is checked once the last chunk is hashed.
fn copy_verified(
    d: &Descriptor,
    mut file: File,
    out: &mut dyn Write,
    written: &mut u64,
    progress: Progress<'_>,
) -> Result<(), ExportError> {
    const BUFFERS: usize = 3;
    let (to_hash, hash_rx) = mpsc::sync_channel::<(Vec<u8>, usize)>(BUFFERS);
    let (to_fill, fill_rx) = mpsc::sync_channel::<Vec<u8>>(BUFFERS);
    for _ in 0..BUFFERS {
        to_fill
            .send(vec![0u8; COPY_BUFFER])
            .expect("receiver is alive");
    }
    std::thread::scope(|scope| {
        // The OS may refuse a thread (a process or cgroup limit): the export fails, it does
        // not panic.
        let hasher = std::thread::Builder::new()
            .name("export-hash".into())
            .spawn_scoped(scope, move || {
                let mut hasher = Hasher::new();
                for (buf, n) in hash_rx {
                    hasher.update(&buf[..n]);
                    // The copier may have finished (or failed) already; a closed channel is fine.
                    let _ = to_fill.send(buf);
                }
                hasher.finish()
            })
            .map_err(|source| ExportError::HasherThread {
                digest: d.digest,
                source,
            })?;
        let mut remaining = d.size;
        let copied: Result<(), ExportError> = (|| {
            while remaining > 0 {
                let mut buf = fill_rx.recv().expect("the hasher returns every buffer");
                let want = (buf.len() as u64).min(remaining) as usize;
                let n = loop {
                    match file.read(&mut buf[..want]) {
                        Ok(0) => {
                            return Err(ExportError::BlobChanged {
                                digest: d.digest,
                                found: None,
                            });
                        }
                        Ok(n) => break n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => {
                            return Err(ExportError::BlobRead {
                                digest: d.digest,
                                source: e,
                            });
                        }
                    }
                };
                out.write_all(&buf[..n]).map_err(ExportError::Output)?;
                *written += n as u64;
                remaining -= n as u64;
                progress(*written);
                to_hash
                    .send((buf, n))
                    .expect("the hasher runs until the channel closes");
            }
            Ok(())
        })();
        drop(to_hash);
        let found = hasher.join().expect("hashing does not panic");
        copied?;
        if found != d.digest {
            return Err(ExportError::BlobChanged {
                digest: d.digest,
                found: Some(found),
            });
        }
        Ok(())
    })
}
