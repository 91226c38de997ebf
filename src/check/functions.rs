//! The function library's signatures. How each is written in SQL lives in the dialects'
//! function tables (`sql/functions.rs` and each dialect's overrides); a test requires an entry,
//! SQL or an explicit "unsupported", for every signature on every dialect.

use super::ir::Ty;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Scalar,
    Aggregate,
    /// Only in a `window` stage: a value from the row's place in its window.
    Window,
}

/// The aggregates a `window` stage computes over its window (running totals and the like).
pub const WINDOWED: &[&str] = &["count", "sum", "min", "max", "avg"];

pub struct Sig {
    pub name: &'static str,
    pub kind: Kind,
    /// Human form for hints: `substr(text, int[, int])`.
    pub usage: &'static str,
    pub ret: fn(&[Ty]) -> Result<Ty, String>,
}

fn want(args: &[Ty], n: std::ops::RangeInclusive<usize>) -> Result<(), String> {
    if n.contains(&args.len()) {
        Ok(())
    } else if n.start() == n.end() {
        Err(format!("takes {} argument(s), got {}", n.start(), args.len()))
    } else {
        Err(format!("takes {} to {} arguments, got {}", n.start(), n.end(), args.len()))
    }
}

fn is(t: Ty, want: Ty) -> bool {
    t == want || t == Ty::Null || (want == Ty::Float && t == Ty::Int)
}

fn arg(args: &[Ty], i: usize, t: Ty) -> Result<(), String> {
    if is(args[i], t) {
        Ok(())
    } else {
        Err(format!("argument {} must be {}, not {}", i + 1, t.name(), args[i].name()))
    }
}

macro_rules! sig {
    ($name:literal, $kind:ident, $usage:literal, |$a:ident| $body:expr) => {
        Sig { name: $name, kind: Kind::$kind, usage: $usage, ret: |$a: &[Ty]| -> Result<Ty, String> { $body } }
    };
}

pub static FUNCTIONS: &[Sig] = &[
    sig!("count", Aggregate, "count() or count(expr)", |a| {
        want(a, 0..=1)?;
        Ok(Ty::Int)
    }),
    sig!("count_distinct", Aggregate, "count_distinct(expr[, expr, expr, expr])", |a| {
        want(a, 1..=4)?;
        // Several: distinct combinations, so JSON (whose equality differs between the two
        // databases: jsonb is normalised, SQLite's text is not) is left out.
        if a.len() > 1 && a.contains(&Ty::Json) {
            return Err("a JSON column cannot be one of several: take a field of it, e.g. `payload.url`".into());
        }
        Ok(Ty::Int)
    }),
    sig!("sum", Aggregate, "sum(number)", |a| {
        want(a, 1..=1)?;
        arg(a, 0, Ty::Float)?;
        Ok(if a[0] == Ty::Int { Ty::Int } else { Ty::Float })
    }),
    sig!("avg", Aggregate, "avg(number)", |a| {
        want(a, 1..=1)?;
        arg(a, 0, Ty::Float)?;
        Ok(Ty::Float)
    }),
    sig!("min", Aggregate, "min(expr)", |a| {
        want(a, 1..=1)?;
        Ok(a[0])
    }),
    sig!("max", Aggregate, "max(expr)", |a| {
        want(a, 1..=1)?;
        Ok(a[0])
    }),
    sig!("string_agg", Aggregate, "string_agg(text, separator[, order])", |a| {
        want(a, 2..=3)?;
        arg(a, 0, Ty::Text)?;
        arg(a, 1, Ty::Text)?;
        if a.get(2) == Some(&Ty::Json) {
            return Err("cannot order by a JSON column: take a field of it".into());
        }
        Ok(Ty::Text)
    }),
    sig!("median", Aggregate, "median(number)", |a| {
        want(a, 1..=1)?;
        arg(a, 0, Ty::Float)?;
        Ok(Ty::Float)
    }),
    sig!("percentile", Aggregate, "percentile(number, fraction)", |a| {
        want(a, 2..=2)?;
        arg(a, 0, Ty::Float)?;
        arg(a, 1, Ty::Float)?;
        Ok(Ty::Float)
    }),
    sig!("row_number", Window, "row_number()", |a| {
        want(a, 0..=0)?;
        Ok(Ty::Int)
    }),
    sig!("rank", Window, "rank()", |a| {
        want(a, 0..=0)?;
        Ok(Ty::Int)
    }),
    sig!("dense_rank", Window, "dense_rank()", |a| {
        want(a, 0..=0)?;
        Ok(Ty::Int)
    }),
    sig!("lag", Window, "lag(expr[, rows])", |a| {
        want(a, 1..=2)?;
        if a.len() == 2 {
            arg(a, 1, Ty::Int)?;
        }
        Ok(a[0])
    }),
    sig!("lead", Window, "lead(expr[, rows])", |a| {
        want(a, 1..=2)?;
        if a.len() == 2 {
            arg(a, 1, Ty::Int)?;
        }
        Ok(a[0])
    }),
    sig!("first", Window, "first(expr)", |a| {
        want(a, 1..=1)?;
        Ok(a[0])
    }),
    sig!("last", Window, "last(expr)", |a| {
        want(a, 1..=1)?;
        Ok(a[0])
    }),
    sig!("lower", Scalar, "lower(text)", |a| {
        want(a, 1..=1)?;
        arg(a, 0, Ty::Text)?;
        Ok(Ty::Text)
    }),
    sig!("upper", Scalar, "upper(text)", |a| {
        want(a, 1..=1)?;
        arg(a, 0, Ty::Text)?;
        Ok(Ty::Text)
    }),
    sig!("trim", Scalar, "trim(text)", |a| {
        want(a, 1..=1)?;
        arg(a, 0, Ty::Text)?;
        Ok(Ty::Text)
    }),
    sig!("length", Scalar, "length(text)", |a| {
        want(a, 1..=1)?;
        arg(a, 0, Ty::Text)?;
        Ok(Ty::Int)
    }),
    sig!("substr", Scalar, "substr(text, start[, length])", |a| {
        want(a, 2..=3)?;
        arg(a, 0, Ty::Text)?;
        arg(a, 1, Ty::Int)?;
        if a.len() == 3 {
            arg(a, 2, Ty::Int)?;
        }
        Ok(Ty::Text)
    }),
    sig!("contains", Scalar, "contains(text, part)", |a| {
        want(a, 2..=2)?;
        arg(a, 0, Ty::Text)?;
        arg(a, 1, Ty::Text)?;
        Ok(Ty::Bool)
    }),
    sig!("starts_with", Scalar, "starts_with(text, prefix)", |a| {
        want(a, 2..=2)?;
        arg(a, 0, Ty::Text)?;
        arg(a, 1, Ty::Text)?;
        Ok(Ty::Bool)
    }),
    sig!("concat", Scalar, "concat(text, text[, text[, text]]) (null if any part is null)", |a| {
        want(a, 2..=4)?;
        for i in 0..a.len() {
            arg(a, i, Ty::Text)?;
        }
        Ok(Ty::Text)
    }),
    sig!("regexp", Scalar, "regexp(text, pattern)", |a| {
        want(a, 2..=2)?;
        arg(a, 0, Ty::Text)?;
        arg(a, 1, Ty::Text)?;
        Ok(Ty::Bool)
    }),
    sig!("coalesce", Scalar, "coalesce(a, b, …)", |a| {
        if a.len() < 2 {
            return Err(format!("takes at least 2 arguments, got {}", a.len()));
        }
        let t = a.iter().copied().find(|t| *t != Ty::Null).unwrap_or(Ty::Null);
        if a.iter().all(|x| x.compatible(t)) {
            Ok(t)
        } else {
            Err("all arguments must have the same type".into())
        }
    }),
    sig!("round", Scalar, "round(number[, digits])", |a| {
        want(a, 1..=2)?;
        arg(a, 0, Ty::Float)?;
        if a.len() == 2 {
            arg(a, 1, Ty::Int)?;
        }
        Ok(Ty::Float)
    }),
    sig!("abs", Scalar, "abs(number)", |a| {
        want(a, 1..=1)?;
        arg(a, 0, Ty::Float)?;
        Ok(a[0])
    }),
    sig!("now", Scalar, "now()", |a| {
        want(a, 0..=0)?;
        Ok(Ty::Timestamp)
    }),
    sig!("date", Scalar, "date(timestamp)", |a| {
        want(a, 1..=1)?;
        arg(a, 0, Ty::Timestamp)?;
        Ok(Ty::Text)
    }),
    sig!("hour", Scalar, "hour(timestamp)", |a| {
        want(a, 1..=1)?;
        arg(a, 0, Ty::Timestamp)?;
        Ok(Ty::Int)
    }),
    sig!("weekday", Scalar, "weekday(timestamp) (1 = Monday … 7 = Sunday)", |a| {
        want(a, 1..=1)?;
        arg(a, 0, Ty::Timestamp)?;
        Ok(Ty::Int)
    }),
    sig!("seconds_between", Scalar, "seconds_between(start, end)", |a| {
        want(a, 2..=2)?;
        arg(a, 0, Ty::Timestamp)?;
        arg(a, 1, Ty::Timestamp)?;
        Ok(Ty::Float)
    }),
];

pub fn lookup(name: &str) -> Option<&'static Sig> {
    FUNCTIONS.iter().find(|f| f.name == name)
}

/// Functions the checker handles itself because their arguments are not plain values.
pub const SPECIAL: &[&str] = &["bucket", "has"];
