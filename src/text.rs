//! Text as it enters and is matched: hygiene at the boundary (one normal form, no
//! invisible characters, names on one trimmed line) and matching that does not care about
//! script (油烟 finds 油煙).

use serde_json::Value;
use unicode_normalization::{is_nfc_quick, IsNormalized, UnicodeNormalization};
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::error::FieldError;

/// Whether a field names something (a code, a name, a title, a domain): such text is one
/// trimmed line, so that two organisations that look the same are the same.
pub fn names_something(field: &str) -> bool {
    let key = field.rsplit(['.', ']']).next().unwrap_or(field);
    matches!(key, "code" | "name" | "title" | "domain")
        || key.ends_with("_code")
        || key.ends_with("_name")
}

/// What is wrong with a piece of text a person typed, if anything: a control character
/// (other than a tab or a line break in free text), an invisible format character
/// (zero-width, bidirectional overrides, a byte-order mark), and in a name a line break,
/// a tab or a non-breaking space.
pub fn text_problem(text: &str, is_name: bool) -> Option<String> {
    let bad = text.chars().find(|&c| {
        (c.is_control() && (is_name || !matches!(c, '\t' | '\n' | '\r')))
            || c.general_category() == GeneralCategory::Format
            || (is_name && NOT_IN_NAMES.contains(&c))
    })?;
    let what = if NOT_IN_NAMES.contains(&bad) {
        "a non-breaking space or a line separator"
    } else if bad.is_control() {
        "a control character or a line break"
    } else {
        "an invisible formatting character"
    };
    Some(format!(
        "contains {what} (U+{:04X}); type it again without",
        bad as u32
    ))
}

/// The same rules as a JSON Schema pattern (ECMA-262), for the contract: a class of every
/// character of the Basic Multilingual Plane that [`text_problem`] refuses. Made once.
pub fn refused_pattern(is_name: bool) -> &'static str {
    use std::sync::LazyLock;
    static FREE_TEXT: LazyLock<String> = LazyLock::new(|| pattern_of(false));
    static NAMES: LazyLock<String> = LazyLock::new(|| pattern_of(true));
    if is_name {
        &NAMES
    } else {
        &FREE_TEXT
    }
}

fn pattern_of(is_name: bool) -> String {
    let refused = |c: char| text_problem(c.encode_utf8(&mut [0; 4]), is_name).is_some();
    let mut class = String::new();
    let mut code = 0u32;
    while code <= 0xFFFF {
        let Some(c) = char::from_u32(code).filter(|&c| refused(c)) else {
            code += 1;
            continue;
        };
        let start = c as u32;
        let mut end = start;
        while char::from_u32(end + 1).is_some_and(refused) {
            end += 1;
        }
        class.push_str(&format!("\\u{start:04X}"));
        if end > start {
            class.push_str(&format!("-\\u{end:04X}"));
        }
        code = end + 1;
    }
    format!("^[^{class}]*$")
}

/// List entries travel through CSV as one line each, with `|` between parts: an entry
/// holding either would not come back the same, so it is refused when written.
pub fn separator_problem(text: &str) -> Option<String> {
    if text.contains(['\n', '\r']) {
        Some("must be one line; make each entry its own list element".into())
    } else if text.contains(['|', '｜']) {
        Some("must not contain '|' or '｜' (they separate the parts of an entry in CSV)".into())
    } else {
        None
    }
}

/// Spaces that do not break and separators that do, which a name never holds.
const NOT_IN_NAMES: [char; 5] = ['\u{00A0}', '\u{2007}', '\u{202F}', '\u{2028}', '\u{2029}'];

/// Text in its one normal form (NFC), trimmed when it names something; the problem with
/// it, if any, as a field error at `field`.
pub fn clean(field: &str, text: &mut String) -> Option<FieldError> {
    let is_name = names_something(field);
    if is_nfc_quick(text.chars()) != IsNormalized::Yes {
        *text = text.nfc().collect();
    }
    // Checked before trimming: a name ending in a non-breaking space is refused, not
    // quietly made equal to another.
    let problem = text_problem(text, is_name).map(|message| FieldError::new(field, message));
    if is_name && text.trim().len() != text.len() {
        *text = text.trim().to_string();
    }
    problem
}

/// Cleans every string of a JSON document in place (see [`clean`]), naming each bad field
/// by its path (`items[2].name`).
pub fn clean_json(value: &mut Value, path: &str, errors: &mut Vec<FieldError>) {
    match value {
        Value::String(text) => errors.extend(clean(path, text)),
        // JSON has one number type: 19.0 is the integer 19 (and JSON Schema says so), so a
        // whole number written with a fraction is read as the integer it is.
        Value::Number(number) if number.is_f64() => {
            let float = number.as_f64().unwrap_or(f64::NAN);
            if float.fract() == 0.0 && float.abs() < 9.007_199_254_740_992e15 {
                *value = Value::from(float as i64);
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter_mut().enumerate() {
                clean_json(item, &format!("{path}[{i}]"), errors);
            }
        }
        Value::Object(fields) => {
            for (key, item) in fields.iter_mut() {
                let path = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                clean_json(item, &path, errors);
            }
        }
        _ => {}
    }
}

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
    #[test]
    fn the_contract_s_pattern_refuses_exactly_what_the_server_refuses() {
        for is_name in [false, true] {
            let pattern = regex::Regex::new(super::refused_pattern(is_name)).unwrap();
            for code in (0..=0xFFFFu32).filter(|c| !(0xD800..=0xDFFF).contains(c)) {
                let c = char::from_u32(code).unwrap().to_string();
                assert_eq!(
                    pattern.is_match(&c),
                    super::text_problem(&c, is_name).is_none(),
                    "U+{code:04X}, name: {is_name}"
                );
            }
        }
    }

    use super::*;

    #[test]
    fn scripts_fold_together() {
        assert_eq!(fold("餐飲業油煙"), fold("餐饮业油烟"));
        assert!(searchable(&["餐饮服务业油烟污染的监管"]).contains(&fold("油煙")));
        assert_eq!(fold("ＡＢＣ１"), "abc1");
    }

    #[test]
    fn names_are_one_visible_line_in_one_normal_form() {
        let clean_as = |field: &str, text: &str| {
            let mut text = text.to_string();
            let problem = clean(field, &mut text);
            (text, problem.map(|p| p.field))
        };
        for invisible in ['\u{200B}', '\u{202E}', '\u{FEFF}', '\u{00A0}', '\u{0007}'] {
            let name = format!("泸县自然资源和规划局{invisible}");
            assert_eq!(
                clean_as("items[0].name", &name).1.as_deref(),
                Some("items[0].name"),
                "U+{:04X}",
                invisible as u32
            );
        }
        assert_eq!(
            clean_as("name", "  泸县司法局 "),
            ("泸县司法局".into(), None)
        );
        // Decomposed é becomes the composed one.
        assert_eq!(clean_as("title", "e\u{301}").0, "\u{e9}");
        // Free text keeps its lines and tabs, but no invisible characters.
        assert_eq!(clean_as("comments", "第一条\n\t第二条").1, None);
        assert_eq!(
            clean_as("comments", "a\u{202E}b").1.as_deref(),
            Some("comments")
        );
        assert_eq!(clean_as("comments", "a\u{00A0}b").1, None);
        assert_eq!(
            clean_as("unit_code", "x\ny").1.as_deref(),
            Some("unit_code")
        );
    }

    #[test]
    fn queries_split_into_terms() {
        assert_eq!(search_terms(" 油煙，擾民 "), vec!["油烟", "扰民"]);
        assert!(search_terms("  ").is_empty());
    }
}
