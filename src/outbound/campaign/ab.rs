//! A/B variants of a campaign's script: each contact gets one by a stable hash of the campaign
//! and the number (the same contact keeps its variant across retries and restarts), and the
//! comparison says how likely one variant converts better than another (a one-sided
//! two-proportion z-test).

use crate::domain::PhoneNumber;

/// FNV-1a: stable across builds and platforms, unlike the standard library's hasher.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// The variant (0-based, of `count`) a contact of a campaign (by its name) gets.
pub fn variant(campaign: &str, phone: &PhoneNumber, count: usize) -> usize {
    if count <= 1 {
        return 0;
    }
    let key = format!("{campaign}:{}", phone.as_str());
    (fnv1a(key.as_bytes()) % count as u64) as usize
}

/// Conversions out of contacts reached, for one variant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    pub reached: u64,
    pub converted: u64,
}

/// The standard normal distribution function (Abramowitz–Stegun 26.2.17, error < 7.5e-8).
fn normal_cdf(z: f64) -> f64 {
    let t = 1.0 / (1.0 + 0.231_641_9 * z.abs());
    let poly = t
        * (0.319_381_530
            + t * (-0.356_563_782
                + t * (1.781_477_937 + t * (-1.821_255_978 + t * 1.330_274_429))));
    let tail = (-z * z / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt() * poly;
    if z >= 0.0 {
        1.0 - tail
    } else {
        tail
    }
}

/// How likely `b` converts better than `a` (0..1); `None` while there is too little to compare
/// (fewer than 10 reached on either side, or no difference a test can see).
pub fn probability_better(a: Tally, b: Tally) -> Option<f64> {
    if a.reached < 10 || b.reached < 10 {
        return None;
    }
    let (na, nb) = (a.reached as f64, b.reached as f64);
    let (pa, pb) = (a.converted as f64 / na, b.converted as f64 / nb);
    let pooled = (a.converted + b.converted) as f64 / (na + nb);
    let se = (pooled * (1.0 - pooled) * (1.0 / na + 1.0 / nb)).sqrt();
    if se == 0.0 {
        return None;
    }
    Some(normal_cdf((pb - pa) / se))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contacts_split_stably_and_about_evenly() {
        let phones: Vec<PhoneNumber> = (0..3000)
            .map(|i| PhoneNumber::parse(&format!("+7916{i:07}")).unwrap())
            .collect();
        let mut counts = [0usize; 3];
        for p in &phones {
            let v = variant("Весна", p, 3);
            assert_eq!(v, variant("Весна", p, 3), "stable");
            counts[v] += 1;
        }
        assert!(
            counts.iter().all(|c| (900..=1100).contains(c)),
            "{counts:?}"
        );
        assert_eq!(variant("Весна", &phones[0], 1), 0);
        // Fixed values: the split must not change between releases.
        assert_eq!(fnv1a(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(fnv1a(b"a"), 0xaf63_dc4c_8601_ec8c);
    }

    #[test]
    fn the_comparison_reads_like_a_test_table() {
        assert!((normal_cdf(0.0) - 0.5).abs() < 1e-7);
        assert!((normal_cdf(1.96) - 0.975).abs() < 1e-4);
        assert!((normal_cdf(-1.645) - 0.05).abs() < 1e-4);
        // 20 % vs 30 % of 200 each: z ≈ 2.31, B better with ~99 %.
        let p = probability_better(
            Tally {
                reached: 200,
                converted: 40,
            },
            Tally {
                reached: 200,
                converted: 60,
            },
        )
        .unwrap();
        assert!((p - 0.9896).abs() < 0.002, "{p}");
        // The other way round: ~1 %.
        let q = probability_better(
            Tally {
                reached: 200,
                converted: 60,
            },
            Tally {
                reached: 200,
                converted: 40,
            },
        )
        .unwrap();
        assert!((p + q - 1.0).abs() < 1e-9);
        let few = Tally {
            reached: 5,
            converted: 1,
        };
        assert_eq!(probability_better(few, few), None);
        let none = Tally {
            reached: 50,
            converted: 0,
        };
        assert_eq!(probability_better(none, none), None);
    }
}
