//! Shared by tests/upstream_*.rs: the transcribed upstream tables, a tally of agreeing and
//! disagreeing cases against a list of known differences, and Go's `sort.Slice` order.

#![allow(dead_code)]

use std::collections::BTreeSet;

use serde_json::Value;

/// One JSON file written by scripts/upstream_tables.py.
pub(crate) struct Tables {
    doc: Value,
}

impl Tables {
    pub(crate) fn parse(text: &str) -> Tables {
        Tables {
            doc: serde_json::from_str(text).expect("upstream tables are valid JSON"),
        }
    }

    /// The literal assigned to `var` (`range` for the ranged-over table) in test function
    /// `func` of upstream file `file`; panics, failing the test, if the file has no such table.
    pub(crate) fn literal(&self, file: &str, func: &str, var: &str) -> &Value {
        self.doc["files"][file][func]
            .as_array()
            .unwrap_or_else(|| panic!("no table for {file} {func}"))
            .iter()
            .find(|l| l["var"] == var)
            .map(|l| &l["value"])
            .unwrap_or_else(|| panic!("no literal {var} in {file} {func}"))
    }

    /// Every (file, test function) the JSON holds a table for.
    pub(crate) fn functions(&self) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (file, funcs) in self.doc["files"].as_object().expect("files") {
            for func in funcs.as_object().expect("functions").keys() {
                out.insert((file.clone(), func.clone()));
            }
        }
        out
    }

    pub(crate) fn commit(&self) -> &str {
        self.doc["commit"].as_str().expect("commit")
    }
}

/// Cases of one upstream file: each agrees with upstream or not.
pub(crate) struct Tally {
    name: String,
    known: Vec<(&'static str, &'static str)>,
    agreed: usize,
    disagreed: Vec<String>,
    seen: BTreeSet<String>,
}

impl Tally {
    /// `known`: (case, why we deliberately differ) pairs.
    pub(crate) fn new(name: &str, known: &[(&'static str, &'static str)]) -> Tally {
        Tally {
            name: name.to_string(),
            known: known.to_vec(),
            agreed: 0,
            disagreed: Vec::new(),
            seen: BTreeSet::new(),
        }
    }

    pub(crate) fn case(&mut self, id: String, agrees: bool) {
        self.seen.insert(id.clone());
        if agrees {
            self.agreed += 1;
        } else {
            self.disagreed.push(id);
        }
    }

    /// Fails on a disagreement not listed as known, and on a known difference that now agrees
    /// or did not run at all (so the list cannot go stale silently).
    pub(crate) fn finish(self) {
        let total = self.agreed + self.disagreed.len();
        eprintln!(
            "{}: {total} cases, {} agree with upstream, {} known differences",
            self.name,
            self.agreed,
            self.disagreed.len()
        );
        assert!(total > 0, "{}: no case ran", self.name);
        let unexpected: Vec<&String> = self
            .disagreed
            .iter()
            .filter(|d| !self.known.iter().any(|(k, _)| k == d))
            .collect();
        let stale: Vec<&str> = self
            .known
            .iter()
            .map(|(k, _)| *k)
            .filter(|k| !self.disagreed.iter().any(|d| d == k))
            .collect();
        assert!(
            unexpected.is_empty() && stale.is_empty(),
            "{}: cases that disagree with upstream: {unexpected:#?}\n\
             listed differences that now agree or did not run: {stale:#?}",
            self.name
        );
    }
}

/// A JSON string value.
pub(crate) fn string(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("expected a string, found {v}"))
        .to_string()
}

pub(crate) fn str_list(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("expected a list, found {v}"))
        .iter()
        .map(string)
        .collect()
}

/// Go's `sort.Slice` (and `sort.SliceStable`) on at most 12 elements: pdqsort then sorts by
/// insertion (sort/zsortfunc.go `insertionSortLessFunc`), which these tables' expected orders
/// depend on, also where `less` is not a strict weak order.
pub(crate) fn go_sort_slice<T>(items: &mut [T], less: impl Fn(&T, &T) -> bool) {
    assert!(
        items.len() <= 12,
        "only Go's insertion-sort range is reproduced"
    );
    for i in 1..items.len() {
        let mut j = i;
        while j > 0 && less(&items[j], &items[j - 1]) {
            items.swap(j, j - 1);
            j -= 1;
        }
    }
}
