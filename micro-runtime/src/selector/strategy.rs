//! [`Strategy`]: the order in which a selection offers its nodes.

/// How a [`Selector`](super::Selector) orders the nodes of one selection.
///
/// Either way a selection yields every node at most once, so retries move on to another node.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum Strategy {
    /// A fresh random order per selection; go-micro's default.
    #[default]
    Random,
    /// The nodes in id order, rotated one further on each selection of the same service.
    ///
    /// go-micro starts at a random node on every `Select` (once per call), so its round robin only
    /// holds across one call's retries; ours holds across calls, deliberately.
    RoundRobin,
}

impl Strategy {
    // Orders `nodes` in place; `turn` is this selection's round-robin counter value.
    pub(crate) fn arrange<T, K: Ord>(self, nodes: &mut [T], id: impl Fn(&T) -> K, turn: usize) {
        match self {
            Strategy::Random => fastrand::shuffle(nodes),
            Strategy::RoundRobin => {
                // Sorting makes the rotation independent of the order the registry returns.
                nodes.sort_by_key(&id);
                if !nodes.is_empty() {
                    nodes.rotate_left(turn % nodes.len());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::registry::Node;

    fn nodes(ids: &[&str]) -> Vec<Node> {
        ids.iter()
            .map(|id| Node {
                id: id.to_string(),
                ..Node::default()
            })
            .collect()
    }

    #[test]
    fn round_robin_rotates_sorted_nodes() {
        let ids = |n: &[Node]| n.iter().map(|n| n.id.clone()).collect::<Vec<_>>();
        let mut list = nodes(&["c", "a", "b"]);
        Strategy::RoundRobin.arrange(&mut list, |n| n.id.clone(), 4);
        assert_eq!(ids(&list), ["b", "c", "a"]);
        let mut empty = nodes(&[]);
        Strategy::RoundRobin.arrange(&mut empty, |n: &Node| n.id.clone(), 7);
        assert!(empty.is_empty());
    }
}
