//! Measures `rootfs::zran` on one gzip file, for scripts/bench-zran.sh: index build time, the
//! index's size, cold random 4 KiB reads (a fresh reader each, so each restarts at a
//! checkpoint), and a sequential read through one reader.
//!
//! `cargo run --release --example zran_bench -- FILE.gz [SPAN_BYTES] [READS]`

use std::io::Read;
use std::time::Instant;

use imagefs::rootfs::zran::{DEFAULT_SPAN, GzipIndex, GzipReader};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .ok_or("usage: zran_bench FILE.gz [SPAN_BYTES] [READS]")?;
    let span = args
        .next()
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(DEFAULT_SPAN);
    let reads: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(200);

    let file = std::fs::File::open(&path)?;
    let start = Instant::now();
    let index = GzipIndex::build(std::io::BufReader::with_capacity(256 << 10, &file), span)?;
    let build = start.elapsed().as_secs_f64();
    let bytes = index.to_bytes();
    println!("build_seconds {build:.3}");
    println!("uncompressed_bytes {}", index.uncompressed_size());
    println!("compressed_bytes {}", index.compressed_size());
    println!("checkpoints {}", index.checkpoint_count());
    println!("index_bytes {}", bytes.len());
    println!("index_memory_bytes {}", index.memory_size());

    // Offsets spread evenly (a fixed stride, no RNG) so that runs compare.
    let size = index.uncompressed_size();
    let mut buf = vec![0u8; 4096];
    let mut times = Vec::new();
    for i in 0..reads {
        let offset = (size / reads) * i + (i * 7919) % (size / reads).max(1);
        let mut reader = GzipReader::new(&index, &file)?;
        let start = Instant::now();
        reader.read_at(offset, &mut buf)?;
        times.push(start.elapsed().as_secs_f64() * 1e3);
    }
    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    println!("cold_4k_read_ms_mean {mean:.2}");
    println!("cold_4k_read_ms_p50 {:.2}", times[times.len() / 2]);
    println!("cold_4k_read_ms_max {:.2}", times[times.len() - 1]);

    let mut reader = GzipReader::new(&index, &file)?;
    let mut chunk = vec![0u8; 128 << 10];
    let start = Instant::now();
    while reader.read(&mut chunk)? > 0 {}
    println!(
        "sequential_128k_reads_seconds {:.3}",
        start.elapsed().as_secs_f64()
    );
    println!("sequential_restarts {}", reader.restarts());
    Ok(())
}
