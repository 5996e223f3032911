//! What a document asks for, read without running it: how deeply its text nests, which
//! operation it runs, how many selections its fragments expand to, and its root fields.
//! Each function builds nothing in proportion to its input and never recurses.

use std::collections::{HashMap, HashSet};

use async_graphql::{
    Name, Positioned, ServerResult,
    parser::types::{
        DocumentOperations, ExecutableDocument, OperationDefinition, Selection, SelectionSet,
    },
};

use super::refusal;
use crate::error::codes;

/// Whether `[`, `{` and `(` nest more than `max` deep in `query`, outside strings and
/// comments. It reads bytes, builds nothing and never recurses.
///
/// It must never count less than the parser nests, so where it is unsure it counts: a
/// string ends at its closing quote or at a line break (a string with a line break does
/// not parse anyway), and a backslash escapes the next character only when that is not a
/// line break.
pub fn nesting_exceeds(query: &str, max: usize) -> bool {
    let bytes = query.as_bytes();
    let mut depth = 0usize;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'#' => {
                while i < bytes.len() && !matches!(bytes[i], b'\n' | b'\r') {
                    i += 1;
                }
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                // A block string: it ends at the next `"""` that is not escaped as `\"""`.
                i += 3;
                while i < bytes.len() {
                    if bytes[i..].starts_with(b"\\\"\"\"") {
                        i += 4;
                    } else if bytes[i..].starts_with(b"\"\"\"") {
                        i += 3;
                        break;
                    } else {
                        i += 1;
                    }
                }
                continue;
            }
            b'"' => {
                i += 1;
                while i < bytes.len() {
                    match bytes[i] {
                        b'"' => break,
                        b'\n' | b'\r' => {
                            i -= 1;
                            break;
                        }
                        b'\\' if !matches!(bytes.get(i + 1), Some(b'\n' | b'\r') | None) => i += 2,
                        _ => i += 1,
                    }
                }
            }
            b'{' | b'[' | b'(' => {
                depth += 1;
                if depth > max {
                    return true;
                }
            }
            b'}' | b']' | b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
        i += 1;
    }
    false
}

/// The operation `name` selects in `document`, as the GraphQL spec's GetOperation picks it:
/// without a name, the only operation; with one, the operation of that name, which an
/// anonymous operation never is.
pub(super) fn operation<'a>(
    document: &'a ExecutableDocument,
    name: Option<&str>,
) -> ServerResult<&'a OperationDefinition> {
    let found = match (&document.operations, name) {
        (DocumentOperations::Single(operation), None) => Some(&operation.node),
        (DocumentOperations::Single(_), Some(_)) => None,
        (DocumentOperations::Multiple(operations), Some(name)) => {
            operations.get(name).map(|operation| &operation.node)
        }
        (DocumentOperations::Multiple(operations), None) if operations.len() == 1 => {
            operations.values().next().map(|operation| &operation.node)
        }
        (DocumentOperations::Multiple(_), None) => {
            return Err(refusal(
                codes::MALFORMED_REQUEST,
                "the document has several operations: name one in operationName".to_owned(),
            ));
        }
    };
    found.ok_or_else(|| {
        refusal(
            codes::MALFORMED_REQUEST,
            format!(
                "the document has no operation named {:?}",
                name.unwrap_or("")
            ),
        )
    })
}

/// Why a document's fragments cannot be expanded.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Expansion {
    /// They expand to more selections than the limit.
    TooLarge,
    /// A fragment spreads itself, which would expand forever.
    Cycle,
}

/// How many selections `document`'s operations make once every fragment spread is replaced
/// by its fragment: fields, inline fragments and the spreads themselves, since a walk
/// steps through each (a fan-out of spreads that ends in an unknown fragment selects no
/// field, and still costs a walk every step). Each fragment's count is worked out once,
/// deepest first, without recursion.
pub(super) fn expanded_selections(
    document: &ExecutableDocument,
    limit: u64,
) -> Result<u64, Expansion> {
    // A selection set's own selections (fields, inline fragments and spreads, each a step
    // of every walk, whether or not it ends in a field), and the fragments it spreads.
    fn direct(set: &SelectionSet, spreads: &mut Vec<Name>) -> u64 {
        let mut steps = 0u64;
        let mut pending = vec![set];
        while let Some(set) = pending.pop() {
            for item in &set.items {
                steps += 1;
                match &item.node {
                    Selection::Field(field) => {
                        pending.push(&field.node.selection_set.node);
                    }
                    Selection::InlineFragment(fragment) => {
                        pending.push(&fragment.node.selection_set.node);
                    }
                    Selection::FragmentSpread(spread) => {
                        spreads.push(spread.node.fragment_name.node.clone());
                    }
                }
            }
        }
        steps
    }

    let mut parts: HashMap<&Name, (u64, Vec<Name>)> = HashMap::new();
    for (name, fragment) in &document.fragments {
        let mut spreads = Vec::new();
        let steps = direct(&fragment.node.selection_set.node, &mut spreads);
        parts.insert(name, (steps, spreads));
    }
    // Each fragment's total, worked out depth first with an explicit stack: a fragment is
    // "open" from when its spreads are pushed until its total is known, so meeting an open
    // fragment again means it spreads itself.
    let mut totals: HashMap<&Name, u64> = HashMap::new();
    let mut open: HashSet<&Name> = HashSet::new();
    for start in parts.keys().copied() {
        let mut stack = vec![(start, false)];
        while let Some((name, spreads_pushed)) = stack.pop() {
            if totals.contains_key(name) {
                continue;
            }
            let (steps, spreads) = &parts[name];
            if !spreads_pushed {
                if !open.insert(name) {
                    return Err(Expansion::Cycle);
                }
                stack.push((name, true));
                for spread in spreads {
                    if let Some((key, _)) = parts.get_key_value(spread) {
                        stack.push((*key, false));
                    }
                }
                continue;
            }
            // An unknown fragment adds nothing past its spread; validation refuses it.
            let total = spreads.iter().fold(*steps, |total, spread| {
                total.saturating_add(totals.get(spread).copied().unwrap_or(0))
            });
            if total > limit {
                return Err(Expansion::TooLarge);
            }
            open.remove(name);
            totals.insert(name, total);
        }
    }
    let mut sum = 0u64;
    for (_, operation) in document.operations.iter() {
        let mut spreads = Vec::new();
        sum = sum.saturating_add(direct(&operation.node.selection_set.node, &mut spreads));
        for spread in &spreads {
            sum = sum.saturating_add(totals.get(spread).copied().unwrap_or(0));
        }
    }
    if sum > limit {
        return Err(Expansion::TooLarge);
    }
    Ok(sum)
}

/// The root fields of `set` by response key (alias or name), through inline fragments
/// and fragment spreads, each fragment read once.
pub(super) fn root_fields<'a>(
    document: &'a ExecutableDocument,
    set: &'a SelectionSet,
) -> Vec<&'a str> {
    let mut keys: Vec<&str> = Vec::new();
    let mut seen: HashSet<&Name> = HashSet::new();
    let mut pending = vec![set];
    while let Some(set) = pending.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => {
                    let key = field.node.response_key().node.as_str();
                    if !keys.contains(&key) {
                        keys.push(key);
                    }
                }
                Selection::InlineFragment(fragment) => {
                    pending.push(&fragment.node.selection_set.node);
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    if seen.insert(name)
                        && let Some(fragment) = document.fragments.get(name)
                    {
                        pending.push(&fragment.node.selection_set.node);
                    }
                }
            }
        }
    }
    keys
}

/// A subscription's root selection must be one field, not an introspection one: a
/// subscription is one event stream.
pub(super) fn check_single_root_field(
    document: &ExecutableDocument,
    set: &SelectionSet,
) -> ServerResult<()> {
    match root_fields(document, set).as_slice() {
        [field] if !field.starts_with("__") => Ok(()),
        _ => Err(refusal(
            codes::MALFORMED_REQUEST,
            "a subscription selects exactly one root field, and not an introspection one"
                .to_owned(),
        )),
    }
}

/// Whether a root selection of `document` asks for `__schema` or `__type`.
pub(super) fn asks_for_introspection(document: &ExecutableDocument) -> bool {
    document.operations.iter().any(|(_, operation)| {
        root_fields_named(document, &operation.node.selection_set)
            .any(|name| matches!(name, "__schema" | "__type"))
    })
}

/// The names (not aliases) of the root fields of `set`, through fragments.
pub(super) fn root_fields_named<'a>(
    document: &'a ExecutableDocument,
    set: &'a Positioned<SelectionSet>,
) -> impl Iterator<Item = &'a str> {
    let mut names: Vec<&str> = Vec::new();
    let mut seen: HashSet<&Name> = HashSet::new();
    let mut pending = vec![&set.node];
    while let Some(set) = pending.pop() {
        for item in &set.items {
            match &item.node {
                Selection::Field(field) => names.push(field.node.name.node.as_str()),
                Selection::InlineFragment(fragment) => {
                    pending.push(&fragment.node.selection_set.node);
                }
                Selection::FragmentSpread(spread) => {
                    let name = &spread.node.fragment_name.node;
                    if seen.insert(name)
                        && let Some(fragment) = document.fragments.get(name)
                    {
                        pending.push(&fragment.node.selection_set.node);
                    }
                }
            }
        }
    }
    names.into_iter()
}
