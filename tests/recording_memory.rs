//! Hostile recordings cannot exhaust memory: the three files that once took the service down run
//! through the real transcription path while a counting allocator measures the peak heap.
//! (One test in this binary, so nothing else allocates while it measures.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use callops::analysis::transcribe::{transcribe, TranscribeError};
use callops::bench::recordings::InstantStt;
use callops::speech::audio::{AudioError, AudioLimits};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let now = CURRENT.fetch_add(new_size - layout.size(), Ordering::Relaxed)
                    + (new_size - layout.size());
                PEAK.fetch_max(now, Ordering::Relaxed);
            } else {
                CURRENT.fetch_sub(layout.size() - new_size, Ordering::Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// A 16-bit stereo PCM WAV of `frames` frames whose header claims `rate` (a quiet tone).
fn wav(rate: u32, frames: usize) -> Vec<u8> {
    callops::bench::recordings::stereo_wav_claiming(rate, frames)
}

const MB: usize = 1024 * 1024;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_recordings_are_refused_within_bounded_memory() {
    let roles = vec![
        callops::domain::Speaker::Manager,
        callops::domain::Speaker::Client,
    ];
    let cases: Vec<(&str, Vec<u8>, i64)> = vec![
        // 4 KB claiming 4,294,967,291 Hz (a prime: the resampler's FFT would need 17 GB).
        ("4 KB at 4294967291 Hz", wav(4_294_967_291, 1000), 120),
        // 20 KB claiming 1 Hz: read as 2.8 hours of audio.
        ("20 KB at 1 Hz", wav(1, 5000), 120),
        // A valid 200 MB file: 109 minutes where the PBX said 120 s.
        (
            "200 MB, 109 min, PBX 120 s",
            wav(8000, 109 * 60 * 8000),
            120,
        ),
    ];
    for (name, bytes, pbx_secs) in cases {
        let stt = InstantStt::default();
        let base = CURRENT.load(Ordering::SeqCst);
        PEAK.store(base, Ordering::SeqCst);
        let limits = AudioLimits::for_call(pbx_secs, AudioLimits::DEFAULT_MAX);
        let result = transcribe(&stt, bytes, Some("wav"), &roles, limits).await;
        let peak = PEAK.load(Ordering::SeqCst).saturating_sub(base);
        eprintln!(
            "{name}: {result:?} peak heap above the file: {} MB",
            peak / MB
        );
        match result {
            Err(TranscribeError::Audio(AudioError::UnsupportedRate(_)))
            | Err(TranscribeError::Audio(AudioError::TooLong { .. })) => {}
            other => panic!("{name}: refused with a reason, got {other:?}"),
        }
        assert_eq!(
            stt.uploads.load(Ordering::SeqCst),
            0,
            "{name}: nothing uploaded (billed)"
        );
        assert!(peak < 500 * MB, "{name}: peak {} MB", peak / MB);
    }

    // A long real call within its limits streams: memory does not grow with its length.
    let stt = InstantStt::default();
    let bytes = wav(8000, 21 * 60 * 8000);
    let base = CURRENT.load(Ordering::SeqCst);
    PEAK.store(base, Ordering::SeqCst);
    let t = transcribe(
        &stt,
        bytes,
        Some("wav"),
        &roles,
        AudioLimits::for_call(21 * 60, AudioLimits::DEFAULT_MAX),
    )
    .await
    .expect("a long call transcribes");
    let peak = PEAK.load(Ordering::SeqCst).saturating_sub(base);
    eprintln!("21 min stereo: peak heap {} MB", peak / MB);
    assert_eq!(
        stt.uploads.load(Ordering::SeqCst),
        6,
        "3 pieces per channel"
    );
    assert_eq!(t.duration_ms, 21 * 60 * 1000);
    // Decoded whole, 16 kHz f32 for both channels would be 323 MB on its own.
    assert!(peak < 250 * MB, "peak {} MB", peak / MB);
}
