//! Text matching that does not care about script: 油烟 finds 油煙.

/// Folds text for matching: traditional characters to simplified, full-width ASCII to
/// half-width, letters to lower case.
pub fn fold(text: &str) -> String {
    let simplified = simplet2s::convert(text);
    simplified
        .chars()
        .map(|c| match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            '\u{3000}' => ' ',
            _ => c,
        })
        .flat_map(char::to_lowercase)
        .collect()
}

/// The stored search text of several fields.
pub fn searchable(fields: &[&str]) -> String {
    fold(&fields.join(" "))
}

/// The terms of a query: folded, split at spaces and punctuation; every term must match.
pub fn search_terms(query: &str) -> Vec<String> {
    fold(query)
        .split(|c: char| {
            c.is_whitespace()
                || (c.is_ascii_punctuation() && c != '-')
                || "，。、；：？！“”‘’（）《》【】".contains(c)
        })
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scripts_fold_together() {
        assert_eq!(fold("餐飲業油煙"), fold("餐饮业油烟"));
        assert!(searchable(&["餐饮服务业油烟污染的监管"]).contains(&fold("油煙")));
        assert_eq!(fold("ＡＢＣ１"), "abc1");
    }

    #[test]
    fn queries_split_into_terms() {
        assert_eq!(search_terms(" 油煙，擾民 "), vec!["油烟", "扰民"]);
        assert!(search_terms("  ").is_empty());
    }
}
