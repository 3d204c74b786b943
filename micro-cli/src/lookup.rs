//! Near matches for a name that is not there: "did you mean".

/// The message for an unknown `what` (service, endpoint) `name` among `known`, naming the near
/// matches, or listing what there is when nothing is near.
pub fn unknown<'a>(
    what: &str,
    name: &str,
    known: impl IntoIterator<Item = &'a str>,
    place: &str,
) -> String {
    let mut known: Vec<&str> = known.into_iter().collect();
    known.sort_unstable();
    known.dedup();
    let near = near(name, &known);
    if !near.is_empty() {
        return format!(
            "{what} {name:?} not found in the {place}; did you mean {}?",
            near.join(" or ")
        );
    }
    if known.is_empty() {
        return format!("{what} {name:?} not found in the {place}, which has none");
    }
    format!(
        "{what} {name:?} not found in the {place}; it has: {}",
        known.join(", ")
    )
}

/// The names close to `name`: a small edit distance for their length (a swap of two neighbours
/// counts once), or the same letters in another case.
pub fn near<'a>(name: &str, known: &[&'a str]) -> Vec<&'a str> {
    let wanted = name.to_ascii_lowercase();
    known
        .iter()
        .copied()
        .filter(|candidate| {
            let candidate = candidate.to_ascii_lowercase();
            let allowed = (candidate.len().max(wanted.len()) / 3).max(1);
            strsim::osa_distance(&candidate, &wanted) <= allowed
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_and_case_are_near() {
        let known = ["greeter", "orders", "Greeter.Hello"];
        assert_eq!(near("gretter", &known), ["greeter"]);
        assert_eq!(near("nmae", &["name", "tags"]), ["name"]);
        assert_eq!(near("greeter.hello", &known), ["Greeter.Hello"]);
        assert!(near("payments", &known).is_empty());
    }

    #[test]
    fn the_message_lists_what_there_is_when_nothing_is_near() {
        let text = unknown(
            "service",
            "payments",
            ["orders", "greeter"],
            "etcd registry",
        );
        assert!(text.contains("it has: greeter, orders"), "{text}");
        let text = unknown("service", "gretter", ["greeter"], "etcd registry");
        assert!(text.contains("did you mean greeter?"), "{text}");
    }
}
