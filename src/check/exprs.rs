//! Expressions: types inferred and checked, operators, function calls.

use super::*;

impl Checker<'_> {
    pub(super) fn expect_bool(&mut self, e: &Expr, st: &State, what: &str) -> TExpr {
        let t = self.expr(e, st, Mode::Plain);
        if !matches!(t.ty, Ty::Bool | Ty::Null) {
            self.err(
                Diagnostic::new(
                    "E0310",
                    e.span.clone(),
                    format!("the {what} must be true or false, not {}", t.ty.name()),
                )
                .hint("compare it with something, e.g. `x == …`"),
            );
        }
        t
    }

    /// If `t` is a parameter of unknown type, gives it type `other`.
    pub(super) fn infer(&mut self, t: &mut TExpr, other: Ty, span: &Span) {
        if let IrExpr::Param(i) = t.e {
            if other != Ty::Null {
                self.unify_param(i, other, span);
                t.ty = self.params[i - 1].ty;
            }
        }
    }

    /// Deep expressions recurse once per level (within the parser's bounds): the stack grows
    /// on demand rather than overflow a small one (a 2 MiB worker thread, a debug build).
    pub(super) fn expr(&mut self, e: &Expr, st: &State, mode: Mode) -> TExpr {
        use crate::sql::{STACK_CHECK_EVERY, STACK_GROWTH, STACK_RED_ZONE};
        let depth = self.depth;
        self.depth += 1;
        let t = if depth > 0 && depth.is_multiple_of(STACK_CHECK_EVERY) {
            stacker::maybe_grow(STACK_RED_ZONE, STACK_GROWTH, || self.expr_here(e, st, mode))
        } else {
            self.expr_here(e, st, mode)
        };
        self.depth = depth;
        t
    }

    fn expr_here(&mut self, e: &Expr, st: &State, mode: Mode) -> TExpr {
        match &e.kind {
            ExprKind::Lit(l) => {
                let ty = match l {
                    Lit::Int(_) => Ty::Int,
                    Lit::Float(_) => Ty::Float,
                    Lit::Text(_) => Ty::Text,
                    Lit::Bool(_) => Ty::Bool,
                    Lit::Null => Ty::Null,
                    Lit::Timestamp(_) => Ty::Timestamp,
                    Lit::Duration(_) => Ty::Duration,
                };
                TExpr { e: IrExpr::Lit(l.clone()), ty }
            }
            ExprKind::Param(name) => self.param(name, &e.span),
            ExprKind::Path(segs) => {
                if let Mode::Aggregate { inside: false } = mode {
                    let t = self.resolve(segs, &e.span, st);
                    if !is_aggregate(&t) && t.ty != Ty::Null {
                        self.err(
                            Diagnostic::new(
                                "E0302",
                                e.span.clone(),
                                "a column in `aggregate` must be inside an aggregate function",
                            )
                            .hint("wrap it, e.g. `max(…)` or `count_distinct(…)`, or add it to `group`"),
                        );
                    }
                    return t;
                }
                self.resolve(segs, &e.span, st)
            }
            ExprKind::Not(x) => {
                let t = self.expr(x, st, mode);
                self.want(&t, Ty::Bool, &x.span, "`not`");
                TExpr { e: IrExpr::Not(Box::new(t)), ty: Ty::Bool }
            }
            ExprKind::Neg(x) => {
                let t = self.expr(x, st, mode);
                if !t.ty.is_numeric() {
                    self.type_err(&x.span, format!("cannot negate {}", t.ty.name()));
                }
                let ty = t.ty;
                TExpr { e: IrExpr::Neg(Box::new(t)), ty }
            }
            ExprKind::Cast { expr, ty } => {
                let t = self.expr(expr, st, mode);
                let ty = Ty::from_name(*ty);
                if t.ty == Ty::Json {
                    self.type_err(
                        &expr.span,
                        "cast a field of the JSON column, e.g. `payload.duration as float`".into(),
                    );
                }
                TExpr { e: IrExpr::Cast { expr: Box::new(t), ty }, ty }
            }
            ExprKind::IsNull { expr, negated } => {
                let t = self.expr(expr, st, mode);
                TExpr { e: IrExpr::IsNull { expr: Box::new(t), negated: *negated }, ty: Ty::Bool }
            }
            ExprKind::InList { expr, list, negated } => {
                let mut t = self.expr(expr, st, mode);
                let mut items = Vec::new();
                for x in list {
                    let mut i = self.expr(x, st, mode);
                    self.infer(&mut i, t.ty, &x.span);
                    self.infer(&mut t, i.ty, &expr.span);
                    if !i.ty.compatible(t.ty) {
                        self.type_err(&x.span, format!("cannot compare {} with {}", t.ty.name(), i.ty.name()));
                    }
                    items.push(i);
                }
                TExpr { e: IrExpr::InList { expr: Box::new(t), list: items, negated: *negated }, ty: Ty::Bool }
            }
            ExprKind::InParam { expr, param, negated } => {
                let t = self.expr(expr, st, mode);
                if !matches!(t.ty, Ty::Text | Ty::Null) {
                    self.type_err(&expr.span, format!("`in $list` needs text on the left, not {}", t.ty.name()));
                }
                let p = self.param(param, &e.span);
                let IrExpr::Param(i) = p.e else { unreachable!("param") };
                self.unify_param(i, Ty::List, &e.span);
                TExpr { e: IrExpr::InParam { expr: Box::new(t), param: i, negated: *negated }, ty: Ty::Bool }
            }
            ExprKind::Case { whens, otherwise } => self.case(whens, otherwise.as_deref(), st, mode),
            ExprKind::Binary { op, lhs, rhs } => self.binary(*op, lhs, rhs, st, mode, &e.span),
            ExprKind::Call { name, args } => self.call(name, args, st, mode, &e.span),
        }
    }

    /// A literal `regexp` pattern in the form both databases read alike (`check::regex`), or
    /// E0314 saying what one of them would read otherwise.
    fn portable_pattern(&mut self, targs: &mut [TExpr], args: &[Expr]) {
        let (Some(TExpr { e: IrExpr::Lit(Lit::Text(p)), .. }), Some(src)) = (targs.get_mut(1), args.get(1)) else {
            return;
        };
        match super::regex::portable(p) {
            Ok(written) => *p = written,
            Err(why) => self.err(
                Diagnostic::new("E0314", src.span.clone(), format!("this pattern is not portable: {why}")).hint(
                    "use literals, `.`, `[…]`, `^ $ | ( ) (?: )`, `* + ? {m,n}`, `\\d \\w \\s`, a leading `(?i)`",
                ),
            ),
        }
    }

    /// `percentile(e, p)`: `p` is a number from 0 to 1 written in the query (both databases
    /// need it fixed for the whole group).
    fn fraction(&mut self, targs: &mut [TExpr], args: &[Expr], span: &Span) {
        let p = match targs.get(1).map(|t| &t.e) {
            Some(IrExpr::Lit(Lit::Float(f))) => Some(*f),
            Some(IrExpr::Lit(Lit::Int(i))) => Some(*i as f64),
            _ => None,
        };
        if let (Some(p), Some(t)) = (p, targs.get_mut(1)) {
            // Written as a float on both databases (`percentile(x, 1)` included).
            *t = TExpr { e: IrExpr::Lit(Lit::Float(p)), ty: Ty::Float };
        }
        if !p.is_some_and(|p| (0.0..=1.0).contains(&p)) {
            let at = args.get(1).map(|a| a.span.clone()).unwrap_or(span.clone());
            self.err(
                Diagnostic::new("E0312", at, "`percentile` needs a fraction from 0 to 1 written in the query")
                    .hint("e.g. `percentile(duration_s, 0.95)` for the 95th percentile"),
            );
        }
    }

    /// A window function, or an aggregate over the `window` stage's window: arguments are
    /// plain expressions of the row.
    fn window_call(&mut self, sig: &'static functions::Sig, args: &[Expr], st: &State, span: &Span) -> TExpr {
        let targs: Vec<TExpr> = args.iter().map(|a| self.expr(a, st, Mode::Plain)).collect();
        let mut ty = self.result_type(sig, &targs, span);
        if matches!(sig.name, "lag" | "lead")
            && targs.len() == 2
            && !matches!(targs[1].e, IrExpr::Lit(Lit::Int(n)) if n >= 0)
        {
            self.err(
                Diagnostic::new("E0312", args[1].span.clone(), format!("`{}` takes a whole number of rows", sig.name))
                    .hint(format!("e.g. `{}(n, 2)`: two rows away", sig.name)),
            );
            ty = Ty::Null;
        }
        let over = Box::new(self.window.clone().expect("a window stage sets its window"));
        TExpr { e: IrExpr::Window { name: sig.name, args: targs, over, span: span.clone() }, ty }
    }

    /// `case`: conditions are bool; the values share one type (int and float make float, null
    /// fits any), which a parameter among them takes too.
    #[inline(never)]
    fn case(&mut self, whens: &[(Expr, Expr)], otherwise: Option<&Expr>, st: &State, mode: Mode) -> TExpr {
        let mut conds = Vec::with_capacity(whens.len());
        for (c, _) in whens {
            let t = self.expr(c, st, mode);
            self.want(&t, Ty::Bool, &c.span, "`when`");
            conds.push(t);
        }
        let sources: Vec<&Expr> = whens.iter().map(|(_, v)| v).chain(otherwise).collect();
        let mut values: Vec<TExpr> = sources.iter().map(|v| self.expr(v, st, mode)).collect();
        let mut ty = Ty::Null;
        for (v, src) in values.iter().zip(&sources) {
            match (ty, v.ty) {
                (_, Ty::Null) => {}
                (Ty::Null, t) => ty = t,
                (a, b) if a == b => {}
                (a, b) if a.is_numeric() && b.is_numeric() => ty = Ty::Float,
                (a, b) => {
                    self.err(
                        Diagnostic::new(
                            "E0313",
                            src.span.clone(),
                            format!(
                                "the values of a `case` must have one type: this is {}, an earlier one {}",
                                b.name(),
                                a.name()
                            ),
                        )
                        .hint("cast them to one type, e.g. `… as text`"),
                    );
                }
            }
        }
        for (v, src) in values.iter_mut().zip(&sources) {
            self.infer(v, ty, &src.span);
            // Both databases give the same type for every row: SQLite would keep an int as
            // an int in a float column.
            if ty == Ty::Float && v.ty == Ty::Int {
                *v = TExpr { e: IrExpr::Cast { expr: Box::new(v.clone()), ty: Ty::Float }, ty: Ty::Float };
            }
        }
        let otherwise = otherwise.map(|_| Box::new(values.pop().expect("else value")));
        TExpr { e: IrExpr::Case { whens: conds.into_iter().zip(values).collect(), otherwise }, ty }
    }

    pub(super) fn want(&mut self, t: &TExpr, ty: Ty, span: &Span, ctx: &str) {
        if let IrExpr::Param(i) = t.e {
            self.unify_param(i, ty, span);
        } else if t.ty != ty && t.ty != Ty::Null {
            self.type_err(span, format!("{ctx} needs {}, not {}", ty.name(), t.ty.name()));
        }
    }

    pub(super) fn type_err(&mut self, span: &Span, msg: String) {
        self.err(Diagnostic::new("E0310", span.clone(), msg));
    }

    pub(super) fn binary(&mut self, op: BinOp, l: &Expr, r: &Expr, st: &State, mode: Mode, span: &Span) -> TExpr {
        let mut a = self.expr(l, st, mode);
        let mut b = self.expr(r, st, mode);
        if matches!(op, BinOp::Add | BinOp::Sub) && (a.ty == Ty::Duration || b.ty == Ty::Duration) {
            // `$since - 1d`: a parameter shifted by a duration is a timestamp.
            if b.ty == Ty::Duration {
                self.infer(&mut a, Ty::Timestamp, &l.span);
            } else {
                self.infer(&mut b, Ty::Timestamp, &r.span);
            }
        } else {
            self.infer(&mut a, b.ty, &l.span);
            self.infer(&mut b, a.ty, &r.span);
        }
        let mk = |ty| TExpr { e: IrExpr::Binary { op, lhs: Box::new(a.clone()), rhs: Box::new(b.clone()) }, ty };
        match op {
            BinOp::And | BinOp::Or => {
                self.want(&a, Ty::Bool, &l.span, &format!("`{}`", op.symbol()));
                self.want(&b, Ty::Bool, &r.span, &format!("`{}`", op.symbol()));
                mk(Ty::Bool)
            }
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                if !a.ty.compatible(b.ty) {
                    let mut d = Diagnostic::new(
                        "E0310",
                        span.clone(),
                        format!("cannot compare {} with {}", a.ty.name(), b.ty.name()),
                    );
                    if matches!((a.ty, b.ty), (Ty::Timestamp, Ty::Text) | (Ty::Text, Ty::Timestamp)) {
                        d = d.hint("write timestamps as @2025-09-22 or @2025-09-22T13:45:00Z");
                    }
                    self.err(d);
                }
                mk(Ty::Bool)
            }
            BinOp::Like => {
                self.want(&a, Ty::Text, &l.span, "`like`");
                self.want(&b, Ty::Text, &r.span, "`like`");
                mk(Ty::Bool)
            }
            BinOp::Coalesce => {
                if !a.ty.compatible(b.ty) {
                    self.type_err(
                        span,
                        format!("`??` needs both sides of one type, not {} and {}", a.ty.name(), b.ty.name()),
                    );
                }
                mk(if a.ty == Ty::Null { b.ty } else { a.ty })
            }
            BinOp::Add | BinOp::Sub if a.ty == Ty::Timestamp || b.ty == Ty::Timestamp => {
                let (ts, dur) = if a.ty == Ty::Timestamp { (a.clone(), b.clone()) } else { (b.clone(), a.clone()) };
                if dur.ty == Ty::Timestamp {
                    self.err(
                        Diagnostic::new("E0310", span.clone(), "cannot subtract timestamps")
                            .hint("use seconds_between(start, end)"),
                    );
                } else if dur.ty != Ty::Duration {
                    self.err(
                        Diagnostic::new("E0310", span.clone(), format!("cannot add {} to a timestamp", dur.ty.name()))
                            .hint("add a duration such as 7d, 24h, 90m or 30s"),
                    );
                } else if op == BinOp::Sub && b.ty == Ty::Timestamp {
                    self.type_err(span, "cannot subtract a timestamp from a duration".into());
                }
                TExpr {
                    e: IrExpr::TsShift { ts: Box::new(ts), secs: Box::new(dur), negative: op == BinOp::Sub },
                    ty: Ty::Timestamp,
                }
            }
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Mod => {
                for (t, s) in [(&a, &l.span), (&b, &r.span)] {
                    if !t.ty.is_numeric() {
                        self.type_err(s, format!("`{}` needs numbers, not {}", op.symbol(), t.ty.name()));
                    }
                }
                mk(if a.ty == Ty::Float || b.ty == Ty::Float { Ty::Float } else { Ty::Int })
            }
        }
    }

    pub(super) fn call(&mut self, name: &Spanned<String>, args: &[Expr], st: &State, mode: Mode, span: &Span) -> TExpr {
        let bad = TExpr { e: IrExpr::Lit(Lit::Null), ty: Ty::Null };
        match name.node.as_str() {
            "bucket" => {
                let unit = match args.get(1).map(|a| &a.kind) {
                    Some(ExprKind::Path(p)) if p.len() == 1 => match &p[0].node {
                        Seg::Key(k) if k == "hour" => Some(Unit::Hour),
                        Seg::Key(k) if k == "day" => Some(Unit::Day),
                        Seg::Key(k) if k == "week" => Some(Unit::Week),
                        Seg::Key(k) if k == "month" => Some(Unit::Month),
                        _ => None,
                    },
                    _ => None,
                };
                let (Some(ts), Some(unit), 2) = (args.first(), unit, args.len()) else {
                    self.err(
                        Diagnostic::new("E0312", span.clone(), "bucket takes a timestamp and a unit")
                            .hint("bucket(ts, hour|day|week|month)"),
                    );
                    return bad;
                };
                let t = self.expr(ts, st, mode);
                self.want(&t, Ty::Timestamp, &ts.span, "bucket");
                return TExpr { e: IrExpr::Bucket { ts: Box::new(t), unit }, ty: Ty::Timestamp };
            }
            "has" => {
                let t = match args {
                    [a] => self.expr(a, st, Mode::Plain),
                    _ => bad.clone(),
                };
                let IrExpr::JsonText { base, path } = t.e else {
                    self.err(
                        Diagnostic::new("E0312", span.clone(), "has takes one JSON field")
                            .hint("e.g. has(payload.client.hassh)"),
                    );
                    return bad;
                };
                return TExpr { e: IrExpr::JsonHas { base, path }, ty: Ty::Bool };
            }
            _ => {}
        }
        let Some(sig) = functions::lookup(&name.node) else {
            let all = functions::FUNCTIONS.iter().map(|f| f.name).chain(functions::SPECIAL.iter().copied());
            let near = near_names(&name.node, all);
            let mut d = Diagnostic::new("E0209", name.span.clone(), format!("unknown function `{}`", name.node));
            if let Some(n) = near.first() {
                d = d.hint(format!("did you mean `{n}`?"));
            }
            self.err(d);
            return bad;
        };
        if mode == Mode::Window && (sig.kind == Kind::Window || functions::WINDOWED.contains(&sig.name)) {
            return self.window_call(sig, args, st, span);
        }
        if sig.kind == Kind::Window {
            self.err(
                Diagnostic::new(
                    "E0315",
                    name.span.clone(),
                    format!("`{}` is a window function: it goes in a `window` stage", name.node),
                )
                .hint(format!("e.g. `window by sensor sort n desc derive r = {}(…)`", name.node)),
            );
            return bad;
        }
        if mode == Mode::Window && sig.kind == Kind::Aggregate {
            self.err(
                Diagnostic::new(
                    "E0316",
                    name.span.clone(),
                    format!("`{}` cannot be computed over a window", name.node),
                )
                .hint(format!("over a window: {}, and the window functions", functions::WINDOWED.join(", "))),
            );
            return bad;
        }
        let agg = sig.kind == Kind::Aggregate;
        let inner_mode = match (mode, agg) {
            (Mode::Aggregate { inside: false }, true) => Mode::Aggregate { inside: true },
            (Mode::Aggregate { inside: true }, true) => {
                self.err(Diagnostic::new(
                    "E0303",
                    name.span.clone(),
                    format!("aggregate `{}` inside another aggregate", name.node),
                ));
                mode
            }
            (Mode::Plain, true) => {
                self.err(
                    Diagnostic::new(
                        "E0300",
                        name.span.clone(),
                        format!("aggregate function `{}` outside `aggregate`", name.node),
                    )
                    .hint("aggregates go in `group … aggregate …` or `aggregate …`"),
                );
                Mode::Plain
            }
            (m, false) => m,
            (Mode::Window, true) => unreachable!("window aggregates return above"),
        };
        let mut targs: Vec<TExpr> = args.iter().map(|a| self.expr(a, st, inner_mode)).collect();
        if sig.name == "regexp" {
            self.portable_pattern(&mut targs, args);
        }
        if sig.name == "percentile" {
            self.fraction(&mut targs, args, span);
        }
        let ty = self.result_type(sig, &targs, span);
        TExpr { e: IrExpr::Func { name: sig.name, args: targs, span: span.clone() }, ty }
    }

    /// What `sig` gives for these arguments, or E0312 with its usage (and null).
    fn result_type(&mut self, sig: &functions::Sig, targs: &[TExpr], span: &Span) -> Ty {
        let tys: Vec<Ty> = targs.iter().map(|t| t.ty).collect();
        match (sig.ret)(&tys) {
            Ok(t) => t,
            Err(msg) => {
                self.err(
                    Diagnostic::new("E0312", span.clone(), format!("`{}` {msg}", sig.name))
                        .hint(format!("usage: {}", sig.usage)),
                );
                Ty::Null
            }
        }
    }
}
