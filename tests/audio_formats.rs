//! Real encoders make the files (Debian's lame, oggenc, flac, espeak-ng; `.ci/run` installs
//! them): mp3, ogg/vorbis and flac in stereo, and Russian speech, decoded by the same code the
//! pipeline uses. Without the tools the test says so and skips.

use std::process::Command;

use callops::speech::audio::{
    decode, resample, stereo_wav_bytes, tone, zero_crossing_hz, TARGET_RATE,
};

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok()
}

#[test]
fn mp3_ogg_and_flac_stereo_decode_with_channels_intact() {
    let tools = ["lame", "oggenc", "flac"];
    if let Some(missing) = tools.iter().find(|t| !have(t)) {
        eprintln!("skipped: {missing} not installed (apt-get install lame vorbis-tools flac)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("call.wav");
    std::fs::write(
        &wav,
        stereo_wav_bytes(&tone(440.0, 3.0, 16000), &tone(880.0, 3.0, 16000), 16000),
    )
    .unwrap();
    let encodes: [(&str, Vec<&str>); 3] = [
        ("mp3", vec!["lame", "--quiet", "-b", "64"]),
        ("ogg", vec!["oggenc", "--quiet", "-o"]),
        ("flac", vec!["flac", "--silent", "-f", "-o"]),
    ];
    for (ext, cmd) in encodes {
        let out = dir.path().join(format!("call.{ext}"));
        let mut c = Command::new(cmd[0]);
        c.args(&cmd[1..]);
        if ext == "mp3" {
            c.arg(&wav).arg(&out);
        } else {
            c.arg(&out).arg(&wav);
        }
        assert!(c.status().unwrap().success(), "{ext} encoder failed");
        let bytes = std::fs::read(&out).unwrap();
        let pcm = decode(&bytes, Some(ext)).unwrap_or_else(|e| panic!("{ext}: {e}"));
        assert_eq!(pcm.channels.len(), 2, "{ext} keeps both channels");
        let ms = pcm.duration_ms();
        assert!((2900..=3200).contains(&ms), "{ext}: {ms} ms");
        let right = resample(&pcm.channels[1], pcm.sample_rate, TARGET_RATE).unwrap();
        let hz = zero_crossing_hz(&right[4000..40000], TARGET_RATE);
        assert!((hz - 880.0).abs() < 30.0, "{ext}: right channel at {hz} Hz");
        // Without the extension hint the format is still found.
        assert!(decode(&bytes, None).is_ok(), "{ext} probed without a hint");
    }
}

#[test]
fn russian_speech_from_espeak_decodes_as_mono() {
    if !have("espeak-ng") {
        eprintln!("skipped: espeak-ng not installed (apt-get install espeak-ng)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("speech.wav");
    let ok = Command::new("espeak-ng")
        .args(["-v", "ru", "-w"])
        .arg(&wav)
        .arg("Добрый день! Агентство недвижимости Квартал, меня зовут Анна.")
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let pcm = decode(&std::fs::read(&wav).unwrap(), Some("wav")).unwrap();
    assert_eq!(pcm.channels.len(), 1);
    assert!(pcm.duration_ms() > 1500, "{} ms", pcm.duration_ms());
    let energy: f32 = pcm.channels[0].iter().map(|s| s * s).sum();
    assert!(energy > 1.0, "speech, not silence");
}
