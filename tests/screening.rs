//! Who answered, on the clip set (`assets/screening`, espeak-ng Russian voices): every person is
//! taken for a person (the agent must never hang up on one), and the machines and screeners are
//! told by their beep or their words. `callops bench screening` prints the same run in full.

use callops::bench::screening::{default_dir, evaluate, load};
use callops::domain::AnsweredBy;

#[test]
fn people_voicemails_screeners_and_menus_are_told_apart() {
    let clips = load(&default_dir()).expect("the clip set loads");
    assert!(clips.len() >= 20, "at least 20 clips");
    for kind in AnsweredBy::ALL
        .into_iter()
        .filter(|k| *k != AnsweredBy::Uncertain)
    {
        assert!(clips.iter().any(|c| c.kind == kind), "no {kind} clip");
    }
    let results = evaluate(&clips);
    for r in results.iter().filter(|r| r.kind == AnsweredBy::Human) {
        assert_eq!(r.with_words.who, AnsweredBy::Human, "{}", r.file);
        assert_eq!(
            r.audio_only.who,
            AnsweredBy::Human,
            "{}: by timing alone",
            r.file
        );
    }
    let right = results
        .iter()
        .filter(|r| r.with_words.who == r.kind)
        .count();
    assert!(
        right * 10 >= results.len() * 9,
        "{right}/{} right: {:#?}",
        results.len(),
        results
            .iter()
            .filter(|r| r.with_words.who != r.kind)
            .map(|r| (&r.file, r.with_words))
            .collect::<Vec<_>>()
    );
    // A beep alone is enough for a voicemail that has one.
    for r in results
        .iter()
        .filter(|r| r.audio_only.who == AnsweredBy::Voicemail)
    {
        assert_eq!(r.kind, AnsweredBy::Voicemail, "{}", r.file);
    }
}
