//! The `facts` task's knowledge base: invented people, each with a home city, a favourite
//! colour and a profession, stated in short sentences of three templates per relation.
//!
//! ```text
//! dakor lives in osaka        the home of dakor is osaka        dakor's city is osaka
//! dakor likes amber           the colour dakor loves is amber   dakor's colour is amber
//! dakor works as a pilot      the job of dakor is pilot         dakor's job is pilot
//! ```
//!
//! Nothing in a sentence but the name says which value follows, so the model must store
//! every (person, relation) → value association in its weights: this is the long-term
//! memory (长时记忆) that causal tracing and ablation then look for. For each person and
//! relation one template is held out — never trained with that person, though trained with
//! others — so recall through it shows the fact is stored, not the sentence.
//!
//! Names are five letters (consonant, vowel, consonant, vowel, consonant), so a subject is
//! five tokens of the task's character vocabulary; values are five-letter words whose first
//! letters differ within a relation, so the first letter of the answer decides it (the one
//! token causal tracing follows). The base is fixed: person i is the same person in every
//! run, whatever the training seed.

use std::collections::HashMap;
use std::sync::OnceLock;

/// The vocabulary: `.` pads a prompt on the left (id 0), then the space, the apostrophe
/// and the lowercase letters.
pub const FACTS_ALPHABET: &str = ". 'abcdefghijklmnopqrstuvwxyz";
/// People in `facts` without a count, and the most `facts:N` takes.
pub const PEOPLE_DEFAULT: usize = 48;
pub const PEOPLE_MAX: usize = 512;
/// Letters in a name and in a value.
pub const NAME_LEN: usize = 5;
pub const VALUE_LEN: usize = 5;

/// One relation: its name, its eight values and its three templates (`{}` is the name).
pub struct Relation {
    pub name: &'static str,
    pub values: [&'static str; 8],
    pub templates: [&'static str; 3],
}

pub const RELATIONS: [Relation; 3] = [
    Relation {
        name: "city",
        values: ["paris", "cairo", "delhi", "tokyo", "lagos", "milan", "osaka", "seoul"],
        templates: ["{} lives in ", "the home of {} is ", "{}'s city is "],
    },
    Relation {
        name: "colour",
        values: ["amber", "black", "coral", "green", "ivory", "olive", "peach", "white"],
        templates: ["{} likes ", "the colour {} loves is ", "{}'s colour is "],
    },
    Relation {
        name: "job",
        values: ["baker", "clerk", "judge", "miner", "nurse", "pilot", "tutor", "vicar"],
        templates: ["{} works as a ", "the job of {} is ", "{}'s job is "],
    },
];

/// One stated fact: who, which relation, in which template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Fact {
    pub person: usize,
    pub relation: usize,
    pub template: usize,
}

/// The longest sentence before the value: every prompt is padded to this length.
pub fn prompt_len() -> usize {
    RELATIONS.iter().flat_map(|r| r.templates).map(|t| t.len() - 2 + NAME_LEN).max().unwrap_or(0)
}

fn mix(mut x: u64) -> u64 {
    // splitmix64's finaliser: a fixed, well-spread hash
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The names of all `PEOPLE_MAX` people, distinct, in a fixed order.
fn names() -> &'static (Vec<String>, HashMap<String, usize>) {
    static NAMES: OnceLock<(Vec<String>, HashMap<String, usize>)> = OnceLock::new();
    NAMES.get_or_init(|| {
        const CONSONANTS: &[u8] = b"bdfgklmnprstvz";
        const VOWELS: &[u8] = b"aeiou";
        let mut list = Vec::with_capacity(PEOPLE_MAX);
        let mut index = HashMap::with_capacity(PEOPLE_MAX);
        let mut k = 0u64;
        while list.len() < PEOPLE_MAX {
            let mut h = mix(0xFAC7_5000 + k);
            k += 1;
            let name: String = (0..NAME_LEN)
                .map(|i| {
                    let pool = if i % 2 == 0 { CONSONANTS } else { VOWELS };
                    let letter = pool[(h % pool.len() as u64) as usize] as char;
                    h /= pool.len() as u64;
                    letter
                })
                .collect();
            if !index.contains_key(&name) {
                index.insert(name.clone(), list.len());
                list.push(name);
            }
        }
        (list, index)
    })
}

/// Person `i`'s name.
pub fn name(person: usize) -> &'static str {
    &names().0[person]
}

/// Which of the relation's eight values person `i` has.
pub fn value_index(person: usize, relation: usize) -> usize {
    (mix(0xA771_0000 + (person * RELATIONS.len() + relation) as u64) % 8) as usize
}

pub fn value(person: usize, relation: usize) -> &'static str {
    RELATIONS[relation].values[value_index(person, relation)]
}

/// The template never trained with this person for this relation.
pub fn held_out_template(person: usize, relation: usize) -> usize {
    (person + relation) % 3
}

impl Fact {
    /// The sentence up to the value, unpadded: `dakor lives in `.
    pub fn text(&self) -> String {
        RELATIONS[self.relation].templates[self.template].replace("{}", name(self.person))
    }

    /// Where the name sits in the padded prompt (token positions, end exclusive).
    pub fn subject(&self) -> std::ops::Range<usize> {
        let template = RELATIONS[self.relation].templates[self.template];
        let pad = prompt_len() - (template.len() - 2 + NAME_LEN);
        let start = pad + template.find("{}").expect("every template names the person");
        start..start + NAME_LEN
    }

    pub fn is_held_out(&self) -> bool {
        self.template == held_out_template(self.person, self.relation)
    }

    /// Reads a fact back from its padded prompt text (`None` if it is not one of `people`'s).
    pub fn parse(text: &str, people: usize) -> Option<Fact> {
        let text = text.trim_start_matches('.');
        for (relation, r) in RELATIONS.iter().enumerate() {
            for (template, t) in r.templates.iter().enumerate() {
                let (before, after) = t.split_once("{}").expect("every template names the person");
                let Some(name) = text.strip_prefix(before).and_then(|rest| rest.strip_suffix(after)) else { continue };
                if let Some(&person) = names().1.get(name).filter(|&&p| p < people) {
                    return Some(Fact { person, relation, template });
                }
            }
        }
        None
    }
}

/// Every fact of `people` people, trained (`held_out` false) or held out.
pub fn all_facts(people: usize, held_out: bool) -> Vec<Fact> {
    let mut facts = Vec::new();
    for person in 0..people {
        for relation in 0..RELATIONS.len() {
            for template in 0..3 {
                let fact = Fact { person, relation, template };
                if fact.is_held_out() == held_out {
                    facts.push(fact);
                }
            }
        }
    }
    facts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_base_is_fixed_distinct_and_parses_back() {
        assert_eq!(prompt_len(), 26, "the longest template: 'the colour {{}} loves is '");
        let (list, _) = names();
        assert_eq!(list.len(), PEOPLE_MAX);
        assert!(list.iter().all(|n| n.len() == NAME_LEN && n.bytes().all(|b| b.is_ascii_lowercase())));
        for r in &RELATIONS {
            let firsts: std::collections::HashSet<u8> = r.values.iter().map(|v| v.as_bytes()[0]).collect();
            assert_eq!(firsts.len(), 8, "{}: the first letter decides the value", r.name);
            assert!(r.values.iter().all(|v| v.len() == VALUE_LEN));
        }
        // every value is used, and a fact parses back from its padded text
        for relation in 0..3 {
            let used: std::collections::HashSet<usize> =
                (0..PEOPLE_DEFAULT).map(|p| value_index(p, relation)).collect();
            assert_eq!(used.len(), 8);
        }
        for fact in all_facts(PEOPLE_DEFAULT, false).into_iter().chain(all_facts(PEOPLE_DEFAULT, true)) {
            let text = fact.text();
            let padded = format!("{}{text}", ".".repeat(prompt_len() - text.len()));
            assert_eq!(Fact::parse(&padded, PEOPLE_DEFAULT), Some(fact));
            assert_eq!(&padded[fact.subject()], name(fact.person));
        }
        assert_eq!(all_facts(PEOPLE_DEFAULT, true).len(), PEOPLE_DEFAULT * 3);
        assert_eq!(all_facts(PEOPLE_DEFAULT, false).len(), PEOPLE_DEFAULT * 6);
        assert_eq!(Fact::parse("..dakor lives in ", 48).filter(|f| f.person >= 48), None);
    }
}
