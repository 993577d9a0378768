//! Citation markers in answers: `[n]`, `[n, m]`, `[n-m]`, mapped back to the numbered sources.

use crate::types::{Citation, Hit};

/// Source numbers cited in `answer`, in order of first appearance, without duplicates.
/// Bracketed text that is not a list of numbers or ranges is ignored.
pub fn parse_markers(answer: &str) -> Vec<usize> {
    let mut out: Vec<usize> = Vec::new();
    let mut rest = answer;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else { break };
        let inside = &after[..close];
        if let Some(numbers) = parse_list(inside) {
            for n in numbers {
                if !out.contains(&n) {
                    out.push(n);
                }
            }
        }
        rest = &after[close + 1..];
    }
    out
}

fn parse_list(inside: &str) -> Option<Vec<usize>> {
    let mut numbers = Vec::new();
    for part in inside.split(',') {
        let part = part.trim();
        if let Some((a, b)) = part.split_once(['-', '–']) {
            let (a, b): (usize, usize) = (a.trim().parse().ok()?, b.trim().parse().ok()?);
            if a == 0 || b < a || b - a > 50 {
                return None;
            }
            numbers.extend(a..=b);
        } else {
            let n: usize = part.parse().ok()?;
            if n == 0 {
                return None;
            }
            numbers.push(n);
        }
    }
    (!numbers.is_empty()).then_some(numbers)
}

/// `answer` with every marker's numbers raised by `offset`: an answer written from a part of
/// the sources numbered from 1, renumbered as the whole list numbers them. Ranges are written
/// out as lists; other bracketed text is left as it is.
pub fn renumber(answer: &str, offset: usize) -> String {
    map_markers(answer, &|n| n + offset)
}

/// `answer` with every marker's numbers mapped by `f` (ranges written out as lists); other
/// bracketed text is left as it is.
pub fn map_markers(answer: &str, f: &dyn Fn(usize) -> usize) -> String {
    let mut out = String::with_capacity(answer.len());
    let mut rest = answer;
    while let Some(open) = rest.find('[') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find(']') else {
            rest = &rest[open..];
            break;
        };
        match parse_list(&after[..close]) {
            Some(numbers) => {
                let list: Vec<String> = numbers.iter().map(|&n| f(n).to_string()).collect();
                out.push_str(&format!("[{}]", list.join(", ")));
            }
            None => out.push_str(&rest[open..open + close + 2]),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

/// The citation for source `n` (1-based) of `hits`.
pub fn citation(n: usize, hit: &Hit) -> Citation {
    Citation {
        n,
        document_id: hit.doc_id,
        place: hit.place.clone(),
        text: hit.text.clone(),
        supported: None,
        html: None,
    }
}

/// The citations `answer` makes, keeping only numbers that name one of `sources`.
pub fn cite(answer: &str, sources: &[Hit]) -> Vec<Citation> {
    parse_markers(answer)
        .into_iter()
        .filter(|&n| n <= sources.len())
        .map(|n| citation(n, &sources[n - 1]))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_single_lists_and_ranges() {
        assert_eq!(
            parse_markers("A [2]. B [1, 3]. C [4-6] and [2]."),
            vec![2, 1, 3, 4, 5, 6]
        );
        assert_eq!(
            parse_markers("no markers, [x], [], [0], [3-1]"),
            Vec::<usize>::new()
        );
        assert_eq!(parse_markers("unclosed [1"), Vec::<usize>::new());
    }

    #[test]
    fn renumbering_shifts_every_marker_and_leaves_other_brackets() {
        assert_eq!(
            renumber("A [2]. B [1, 3]. C [4-5], [x] and [unclosed", 10),
            "A [12]. B [11, 13]. C [14, 15], [x] and [unclosed"
        );
        assert_eq!(renumber("日本語[1]。", 2), "日本語[3]。");
        assert_eq!(renumber("none", 3), "none");
    }

    #[test]
    fn numbers_beyond_the_sources_are_dropped() {
        let mut hit = Hit::for_test("t");
        hit.place.end_line = 2;
        let cites = cite("x [1] y [7]", &[hit]);
        assert_eq!(cites.len(), 1);
        assert_eq!(cites[0].n, 1);
        assert_eq!(cites[0].place.path, "/a.md");
    }
}
