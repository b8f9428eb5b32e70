//! The knowledge base's rules, pure: who may read an article
//! ([`Visibility`], [`Audience`]), the words a search is made of
//! ([`terms`]: only letters and digits reach a full-text query, so no
//! query syntax can be typed in; [`suggestion_terms`] less the most
//! common words), and how articles are suggested for a
//! ticket ([`rank_suggestions`]: the ticket's software, its words, the
//! software installed on its machines), and [`draft`]: an article
//! drafted from a resolved ticket. The store runs the searches and
//! calls these.

pub mod draft;

use std::collections::{BTreeSet, HashMap};

/// The most words a search uses; the rest are ignored.
pub const MAX_TERMS: usize = 16;
/// The longest word a search uses; longer ones are cut.
pub const MAX_TERM_CHARS: usize = 64;
/// The most results a search or a suggestion answers.
pub const MAX_RESULTS: usize = 100;

/// Who may read an article.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Operators only.
    Technicians,
    /// Operators and the requesters of the help desk too.
    Requesters,
}

impl Visibility {
    /// As stored and as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Technicians => "technicians",
            Visibility::Requesters => "requesters",
        }
    }

    /// From the API's or the store's spelling.
    pub fn parse(text: &str) -> Result<Visibility, String> {
        match text.trim() {
            "technicians" => Ok(Visibility::Technicians),
            "requesters" => Ok(Visibility::Requesters),
            other => Err(format!(
                "visibility `{other}` is not known; give technicians or requesters"
            )),
        }
    }
}

/// Who is reading, which decides the articles they see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Operators: every article.
    Operators,
    /// Requesters: only articles visible to [`Visibility::Requesters`].
    Requesters,
}

impl Audience {
    /// The one visibility this audience is limited to, if any.
    pub fn only(self) -> Option<Visibility> {
        match self {
            Audience::Operators => None,
            Audience::Requesters => Some(Visibility::Requesters),
        }
    }
}

/// The words of a search: runs of letters and digits, lower-cased,
/// each once, at most [`MAX_TERMS`] of [`MAX_TERM_CHARS`] characters.
/// Everything else (quotes, `*`, `-`, parentheses, `:`) separates words,
/// so what a user types is never full-text query syntax; `OR`, `NEAR`
/// and `AND` become plain words.
pub fn terms(query: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for word in query.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        let word: String = word.to_lowercase().chars().take(MAX_TERM_CHARS).collect();
        if seen.insert(word.clone()) {
            out.push(word);
            if out.len() == MAX_TERMS {
                break;
            }
        }
    }
    out
}

/// Words too common to suggest an article by (a ticket's text is
/// prose; a search is what the operator typed, and keeps them).
const STOP_WORDS: &[&str] = &[
    "a", "an", "and", "are", "as", "at", "be", "but", "by", "can", "cannot", "does", "doesn",
    "don", "for", "from", "has", "have", "i", "in", "is", "it", "its", "me", "my", "no", "not",
    "of", "on", "or", "since", "so", "t", "that", "the", "this", "to", "was", "when", "with",
];

/// The words of a ticket's text that suggest articles: its [`terms`]
/// less [`STOP_WORDS`].
pub fn suggestion_terms(text: &str) -> Vec<String> {
    let mut words = terms(text);
    words.retain(|w| !STOP_WORDS.contains(&w.as_str()));
    words
}

/// Why an article is suggested for a ticket, and how strongly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// The article.
    pub id: i64,
    /// It applies to the software the ticket is about.
    pub ticket_software: bool,
    /// Its place among the articles matching the ticket's words (0 the
    /// best), if it matches them.
    pub text_rank: Option<usize>,
    /// The software it applies to that the ticket's machines have
    /// installed, by name.
    pub installed: Vec<String>,
}

impl Suggestion {
    /// The ticket's own software counts most, then its words, then
    /// software merely installed on its machines (a machine has
    /// hundreds of packages, a ticket names one).
    fn weight(&self) -> u32 {
        4 * u32::from(self.ticket_software)
            + 2 * u32::from(self.text_rank.is_some())
            + u32::from(!self.installed.is_empty())
    }
}

/// Articles to suggest for a ticket, best first, at most `limit`:
/// `text_hits` are the articles matching the ticket's words, best first;
/// `applies` each article's software or hardware names; `ticket_software`
/// what the ticket is about and `installed` the software on its
/// machines (names compared without case). Ties keep the text's order,
/// then the newest article (the largest id) first.
pub fn rank_suggestions(
    text_hits: &[i64],
    applies: &[(i64, Vec<String>)],
    ticket_software: &[String],
    installed: &[String],
    limit: usize,
) -> Vec<Suggestion> {
    let named: BTreeSet<String> = ticket_software
        .iter()
        .map(|s| s.trim().to_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    let installed: BTreeSet<String> = installed.iter().map(|s| s.to_lowercase()).collect();
    // By id: a knowledge base's every article can apply to something
    // installed (thousands), so no linear lookups.
    let mut all: Vec<Suggestion> = Vec::new();
    let mut at: HashMap<i64, usize> = HashMap::new();
    let mut entry = |id: i64, all: &mut Vec<Suggestion>| -> usize {
        *at.entry(id).or_insert_with(|| {
            all.push(Suggestion {
                id,
                ticket_software: false,
                text_rank: None,
                installed: Vec::new(),
            });
            all.len() - 1
        })
    };
    for (rank, &id) in text_hits.iter().enumerate() {
        let i = entry(id, &mut all);
        all[i].text_rank.get_or_insert(rank);
    }
    for (id, names) in applies {
        let lower: Vec<String> = names.iter().map(|n| n.to_lowercase()).collect();
        let for_ticket = lower.iter().any(|n| named.contains(n));
        let on_machines: Vec<String> = names
            .iter()
            .zip(&lower)
            .filter(|(_, l)| installed.contains(*l))
            .map(|(n, _)| n.clone())
            .collect();
        if for_ticket || !on_machines.is_empty() {
            let i = entry(*id, &mut all);
            all[i].ticket_software |= for_ticket;
            all[i].installed = on_machines;
        }
    }
    all.sort_by(|a, b| {
        b.weight()
            .cmp(&a.weight())
            .then(
                a.text_rank
                    .unwrap_or(usize::MAX)
                    .cmp(&b.text_rank.unwrap_or(usize::MAX)),
            )
            .then(b.id.cmp(&a.id))
    });
    all.truncate(limit.min(MAX_RESULTS));
    all
}

#[cfg(test)]
mod tests;
