//! "Did you mean": the nearest of some names to one that matched none, by edit distance, for
//! error messages (`linux/arm65` → `linux/arm64`, `exmaple.com/app:1` → `example.com/app:1`).

/// The most edits a suggestion may be away: more is a different name, not a typo.
const MAX_EDITS: usize = 2;

/// The candidate nearest to `wanted`, when it is a typo away (at most two edits, and no more
/// than a third of its length); the first of equally near ones; none when `wanted` is itself
/// a candidate. Linear in the candidates:
/// each comparison stops as soon as it exceeds the bound.
pub fn nearest<'a>(wanted: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = MAX_EDITS.min(wanted.chars().count() / 3);
    let mut best: Option<(usize, &str)> = None;
    for c in candidates {
        if c == wanted {
            // Present: whatever failed, it was no typo.
            return None;
        }
        let bound = best.map_or(limit, |(d, _)| d.saturating_sub(1));
        if let Some(d) = edits_within(wanted, c, bound)
            && best.is_none_or(|(b, _)| d < b)
        {
            best = Some((d, c));
        }
    }
    best.map(|(_, c)| c)
}

/// The Levenshtein distance of `a` and `b` if it is at most `bound`, computed only in the band
/// of width `2 * bound + 1` around the diagonal (so O(len * bound)).
fn edits_within(a: &str, b: &str, bound: usize) -> Option<usize> {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    if a.len().abs_diff(b.len()) > bound {
        return None;
    }
    let over = bound + 1;
    let mut prev: Vec<usize> = (0..=b.len()).map(|j| j.min(over)).collect();
    let mut row = vec![over; b.len() + 1];
    for i in 1..=a.len() {
        row.fill(over);
        row[0] = i.min(over);
        let (lo, hi) = (i.saturating_sub(bound).max(1), (i + bound).min(b.len()));
        for j in lo..=hi {
            let substitute = prev[j - 1] + usize::from(a[i - 1] != b[j - 1]);
            row[j] = substitute.min(prev[j] + 1).min(row[j - 1] + 1).min(over);
        }
        std::mem::swap(&mut prev, &mut row);
    }
    let d = prev[b.len()];
    (d <= bound).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_within_the_bound_are_exact_and_others_none() {
        assert_eq!(edits_within("arm64", "arm64", 2), Some(0));
        assert_eq!(edits_within("arm65", "arm64", 2), Some(1));
        assert_eq!(edits_within("amd46", "amd64", 2), Some(2));
        assert_eq!(edits_within("kitten", "sitting", 2), None);
        assert_eq!(edits_within("kitten", "sitting", 3), Some(3));
        assert_eq!(edits_within("", "ab", 2), Some(2));
        assert_eq!(edits_within("abc", "", 2), None);
    }

    #[test]
    fn the_nearest_typo_is_suggested_and_a_different_name_is_not() {
        let platforms = ["linux/amd64", "linux/arm64", "linux/arm/v7"];
        assert_eq!(nearest("linux/arm65", platforms), Some("linux/arm64"));
        assert_eq!(nearest("linux/amd46", platforms), Some("linux/amd64"));
        assert_eq!(nearest("windows/amd64", platforms), None);
        assert_eq!(
            nearest("linux/arm64", platforms),
            None,
            "an exact match is no typo"
        );
        // Short names need a closer match: one edit in "ab" is half of it.
        assert_eq!(nearest("ab", ["ac"]), None);
        let names = ["example.com/app:1", "example.com/api:1"];
        assert_eq!(
            nearest("exmaple.com/app:1", names),
            Some("example.com/app:1")
        );
    }
}
