//! Spanish or English, chosen once from the locale (`LC_ALL`, then `LC_MESSAGES`, then `LANG`,
//! as gettext does). Messages are written as `tr("english", "español")` at the call site, so
//! the two versions of a sentence are read and changed together.

use std::sync::OnceLock;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Lang {
    En,
    Es,
}

static LANG: OnceLock<Lang> = OnceLock::new();

/// The language of the first locale variable that is set and non-empty.
pub fn detect(var: impl Fn(&str) -> Option<String>) -> Lang {
    for key in ["LC_ALL", "LC_MESSAGES", "LANG"] {
        if let Some(v) = var(key).filter(|v| !v.is_empty()) {
            return if v.to_ascii_lowercase().starts_with("es") {
                Lang::Es
            } else {
                Lang::En
            };
        }
    }
    Lang::En
}

pub fn lang() -> Lang {
    *LANG.get_or_init(|| detect(|k| std::env::var(k).ok()))
}

/// The message in the user's language.
pub fn tr(en: &'static str, es: &'static str) -> &'static str {
    match lang() {
        Lang::En => en,
        Lang::Es => es,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(pairs: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            pairs
                .iter()
                .find(|(key, _)| *key == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn lc_all_wins_over_lang() {
        assert_eq!(
            detect(env(&[("LC_ALL", "es_ES.UTF-8"), ("LANG", "en_US")])),
            Lang::Es
        );
        assert_eq!(detect(env(&[("LC_ALL", "C"), ("LANG", "es_ES")])), Lang::En);
    }

    #[test]
    fn empty_variables_are_skipped() {
        assert_eq!(
            detect(env(&[("LC_ALL", ""), ("LANG", "es_MX.UTF-8")])),
            Lang::Es
        );
        assert_eq!(detect(env(&[])), Lang::En);
    }
}
