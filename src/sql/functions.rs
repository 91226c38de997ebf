//! How library functions are written in SQL: one base table for the forms both dialects
//! share, and per-dialect tables that override it, or say explicitly that a dialect cannot
//! lower a function (so a missing entry is an oversight a test finds, never a decision).

use crate::check::ir::Ty;

/// How a function is lowered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lowering {
    /// `{0}`, `{1}` … are the arguments, `{*}` all of them.
    Sql(&'static str),
    /// This dialect cannot: a compile error (E0501). The text says why, for maintainers.
    Unsupported(&'static str),
}

/// A function-table entry.
pub struct FnTemplate {
    pub name: &'static str,
    /// Only for this many arguments (None: any).
    pub arity: Option<usize>,
    /// Only when the result has this type (None: any).
    pub ret: Option<Ty>,
    pub lowering: Lowering,
}

impl FnTemplate {
    fn fits(&self, name: &str, arity: usize, ret: Ty) -> bool {
        self.name == name && self.arity.is_none_or(|n| n == arity) && self.ret.is_none_or(|r| r == ret)
    }
}

/// `f!(name, arity, result type, template)`: an entry with SQL text.
#[macro_export]
#[doc(hidden)]
macro_rules! fn_template {
    ($name:literal, $arity:expr, $ret:expr, $t:literal) => {
        $crate::sql::functions::FnTemplate {
            name: $name,
            arity: $arity,
            ret: $ret,
            lowering: $crate::sql::functions::Lowering::Sql($t),
        }
    };
}

/// `unsupported!(name, why)`: the dialect cannot lower `name` at all.
#[macro_export]
#[doc(hidden)]
macro_rules! fn_unsupported {
    ($name:literal, $why:literal) => {
        $crate::sql::functions::FnTemplate {
            name: $name,
            arity: None,
            ret: None,
            lowering: $crate::sql::functions::Lowering::Unsupported($why),
        }
    };
}

use crate::fn_template as f;

/// The forms both dialects write the same way.
pub static BASE: &[FnTemplate] = &[
    f!("count", Some(0), None, "COUNT(*)"),
    f!("count", Some(1), None, "COUNT({0})"),
    f!("count_distinct", Some(1), None, "COUNT(DISTINCT {0})"),
    f!("min", Some(1), None, "MIN({0})"),
    f!("max", Some(1), None, "MAX({0})"),
    f!("lower", Some(1), None, "lower({0})"),
    f!("upper", Some(1), None, "upper({0})"),
    f!("trim", Some(1), None, "trim({0})"),
    // `||` on both: null if any part is null (PostgreSQL's concat() would skip nulls).
    f!("concat", Some(2), None, "({0} || {1})"),
    f!("concat", Some(3), None, "({0} || {1} || {2})"),
    f!("concat", Some(4), None, "({0} || {1} || {2} || {3})"),
    f!("coalesce", None, None, "COALESCE({*})"),
    f!("abs", Some(1), None, "abs({0})"),
];

/// Window functions and the aggregates a window computes, as both dialects write them;
/// `{over}` is the window.
pub static BASE_WINDOW: &[FnTemplate] = &[
    f!("row_number", Some(0), None, "row_number() OVER {over}"),
    f!("rank", Some(0), None, "rank() OVER {over}"),
    f!("dense_rank", Some(0), None, "dense_rank() OVER {over}"),
    f!("lag", Some(1), None, "lag({0}) OVER {over}"),
    f!("lag", Some(2), None, "lag({0}, {1}) OVER {over}"),
    f!("lead", Some(1), None, "lead({0}) OVER {over}"),
    f!("lead", Some(2), None, "lead({0}, {1}) OVER {over}"),
    f!("first", Some(1), None, "first_value({0}) OVER {over}"),
    f!("last", Some(1), None, "last_value({0}) OVER {over}"),
    f!("count", Some(0), None, "COUNT(*) OVER {over}"),
    f!("count", Some(1), None, "COUNT({0}) OVER {over}"),
    f!("sum", Some(1), None, "SUM({0}) OVER {over}"),
    f!("avg", Some(1), None, "AVG({0}) OVER {over}"),
    f!("min", Some(1), None, "MIN({0}) OVER {over}"),
    f!("max", Some(1), None, "MAX({0}) OVER {over}"),
];

/// The entry for `name` with `arity` arguments and result type `ret`: the dialect's own
/// first (an override, or its word that it cannot), else the base table's.
pub fn lookup(overrides: &'static [FnTemplate], name: &str, arity: usize, ret: Ty) -> Option<&'static FnTemplate> {
    lookup_in(overrides, BASE, name, arity, ret)
}

/// [`lookup`] over another base table (the window functions').
pub fn lookup_in(
    overrides: &'static [FnTemplate],
    base: &'static [FnTemplate],
    name: &str,
    arity: usize,
    ret: Ty,
) -> Option<&'static FnTemplate> {
    let own = overrides.iter().find(|f| f.fits(name, arity, ret));
    own.or_else(|| base.iter().find(|f| f.fits(name, arity, ret)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::functions::FUNCTIONS as SIGNATURES;

    const TYPES: [Ty; 6] = [Ty::Int, Ty::Float, Ty::Text, Ty::Bool, Ty::Timestamp, Ty::Null];

    /// Every argument list of up to `n` arguments over `TYPES`.
    fn arg_lists(n: usize) -> Vec<Vec<Ty>> {
        let mut out = vec![Vec::new()];
        let mut last = vec![Vec::new()];
        for _ in 0..n {
            last = last.iter().flat_map(|l| TYPES.iter().map(move |t| [l.clone(), vec![*t]].concat())).collect();
            out.extend(last.clone());
        }
        out
    }

    /// Every function × dialect × argument list the checker accepts has an entry: SQL, or
    /// the dialect's explicit word that it cannot; window functions and the aggregates a
    /// window computes in the window tables, the rest in the plain ones.
    #[test]
    fn every_function_has_an_entry_on_every_dialect() {
        use crate::check::functions::{Kind, WINDOWED};
        let lists = arg_lists(4);
        for sig in SIGNATURES {
            let mut accepted = 0;
            for args in &lists {
                let Ok(ret) = (sig.ret)(args) else { continue };
                accepted += 1;
                for d in crate::sql::all_dialects() {
                    if sig.kind != Kind::Window {
                        assert!(
                            lookup(d.functions(), sig.name, args.len(), ret).is_some(),
                            "{}({args:?}) -> {ret:?} has no entry on {}: add SQL or fn_unsupported!",
                            sig.name,
                            d.name()
                        );
                    }
                    if sig.kind == Kind::Window || WINDOWED.contains(&sig.name) {
                        assert!(
                            lookup_in(d.window_functions(), BASE_WINDOW, sig.name, args.len(), ret).is_some(),
                            "{}({args:?}) -> {ret:?} has no window entry on {}",
                            sig.name,
                            d.name()
                        );
                    }
                }
            }
            assert!(accepted > 0, "{} accepts no argument list up to 4", sig.name);
        }
    }

    /// No table names a function the checker does not know, and no override repeats the base.
    #[test]
    fn every_entry_is_a_known_function_and_overrides_differ_from_the_base() {
        let tables = crate::sql::all_dialects().map(|d| (d.name(), d.functions()));
        let windows = crate::sql::all_dialects().map(|d| (d.name(), d.window_functions()));
        for (name, table) in tables.iter().chain(&windows).copied().chain([("base", BASE), ("window", BASE_WINDOW)]) {
            for e in table {
                assert!(SIGNATURES.iter().any(|s| s.name == e.name), "{name}: unknown function {}", e.name);
            }
        }
        for (name, table, base) in
            tables.iter().map(|(n, t)| (n, t, BASE)).chain(windows.iter().map(|(n, t)| (n, t, BASE_WINDOW)))
        {
            for e in *table {
                let same = base
                    .iter()
                    .any(|b| b.name == e.name && b.arity == e.arity && b.ret == e.ret && b.lowering == e.lowering);
                assert!(!same, "{name}: {} repeats the base entry", e.name);
            }
        }
    }

    #[test]
    fn an_explicit_unsupported_entry_wins_over_the_base() {
        static OWN: &[FnTemplate] = &[crate::fn_unsupported!("lower", "test")];
        assert_eq!(lookup(OWN, "lower", 1, Ty::Text).map(|f| f.lowering), Some(Lowering::Unsupported("test")));
        assert_eq!(lookup(&[], "lower", 1, Ty::Text).map(|f| f.lowering), Some(Lowering::Sql("lower({0})")));
    }
}
