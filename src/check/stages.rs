//! The stages: a pipeline walked stage by stage, each extending the SELECT under
//! construction or wrapping it as a subquery first; grouping and its rules.

use super::*;

impl Checker<'_> {
    pub(super) fn pipeline(&mut self, q: &Query) -> Option<Plan> {
        for l in &q.lets {
            self.define_let(l);
        }
        let st = self.run(&q.stages, None)?;
        if !q.lets.is_empty() {
            if let Some(v) = self.views.first() {
                let at = q.stages.iter().find(|s| matches!(&s.node, Stage::Materialize(n) if n.node == v.name));
                self.err(
                    Diagnostic::new(
                        "E0405",
                        at.map(|s| s.span.clone()).unwrap_or(0..0),
                        "`materialize` in a query with `let`",
                    )
                    .hint("a materialized view is built on its own: move the `let` pipelines into it, or drop `materialize`"),
                );
            }
        }
        let columns = output_of(&st.scope);
        let output = columns.iter().map(|(n, e)| (n.clone(), e.ty)).collect();
        let mut main = st.sel;
        main.columns = columns;
        Some(Plan {
            views: std::mem::take(&mut self.views),
            ctes: std::mem::take(&mut self.ctes),
            main,
            params: self.params.clone(),
            output,
        })
    }

    /// Checks a pipeline's stages from its `from`; `nested` names the construct holding it
    /// (`let`, `append`), where `materialize` cannot go.
    pub(super) fn run(&mut self, stages: &[Spanned<Stage>], nested: Option<&str>) -> Option<State> {
        let mut stages = stages.iter();
        let first = stages.next()?;
        let Stage::From { table, alias } = &first.node else {
            self.err(
                Diagnostic::new(
                    "E0002",
                    first.span.clone(),
                    format!("a query starts with `from`, not `{}`", first.node.keyword()),
                )
                .hint("start with `from <table>`, e.g. `from sessions`"),
            );
            return None;
        };
        let mut st = self.start_at(table, alias)?;
        for s in stages {
            if let (Some(what), Stage::Materialize(_)) = (nested, &s.node) {
                self.err(
                    Diagnostic::new("E0405", s.span.clone(), format!("`materialize` inside `{what}`"))
                        .hint("only the main pipeline can materialize a view"),
                );
                continue;
            }
            st = self.stage(st, s)?;
        }
        Some(st)
    }

    /// `let name = (…)`: checked once, read as a table by the stages after it.
    fn define_let(&mut self, l: &Let) {
        if catalog::table(&l.name.node).is_some() || self.ctes.iter().any(|c| c.name == l.name.node) {
            self.err(
                Diagnostic::new("E0403", l.name.span.clone(), format!("`{}` is already a table or `let`", l.name.node))
                    .hint("give the pipeline another name"),
            );
            return;
        }
        if l.stages.is_empty() {
            return;
        }
        let saved = std::mem::take(&mut self.exists_aliases);
        let st = self.run(&l.stages, Some("let"));
        self.exists_aliases = saved;
        if let Some(st) = st {
            let mut select = st.sel;
            select.columns = output_of(&st.scope);
            self.ctes.push(Cte { name: l.name.node.clone(), select });
        }
    }

    /// `append`: the other pipeline's rows after these; the columns must agree in name,
    /// order and type.
    fn append(&mut self, st: State, src: &Source, span: &Span) -> Option<State> {
        let saved = std::mem::take(&mut self.exists_aliases);
        let other = match src {
            Source::Name(n) => self.start_at(n, &None),
            Source::Pipeline(stages) => self.run(stages, Some("append")),
        };
        self.exists_aliases = saved;
        let other = other?;
        let mine = output_of(&st.scope);
        let theirs = output_of(&other.scope);
        let names = |cols: &[(String, TExpr)]| cols.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>().join(", ");
        if mine.len() != theirs.len() || mine.iter().zip(&theirs).any(|((a, _), (b, _))| a != b) {
            self.err(Diagnostic::new("E0318", span.clone(), "`append` needs the same columns on both sides").hint(
                format!(
                    "these rows have: {}; the appended: {}; `select` the same names in the same order",
                    names(&mine),
                    names(&theirs)
                ),
            ));
            return Some(st);
        }
        for ((n, a), (_, b)) in mine.iter().zip(&theirs) {
            if a.ty != b.ty && a.ty != Ty::Null && b.ty != Ty::Null {
                self.err(
                    Diagnostic::new(
                        "E0318",
                        span.clone(),
                        format!("column `{n}` is {} here and {} in the appended rows", a.ty.name(), b.ty.name()),
                    )
                    .hint(format!("cast one side, e.g. `{n} = {n} as {}`", a.ty.name())),
                );
                return Some(st);
            }
        }
        self.subqueries += 1;
        let alias = format!("_q{}", self.subqueries);
        let mut scope = read_through(&alias, &mine, |i| st.scope[i].qual.clone());
        // A column null on the left takes the appended rows' type.
        for (c, (_, t)) in scope.iter_mut().zip(&theirs) {
            if c.expr.ty == Ty::Null {
                c.expr.ty = t.ty;
            }
        }
        let mut left = st.sel;
        left.columns = mine;
        let mut right = other.sel;
        right.columns = theirs;
        Some(State { sel: new_select(FromItem::Union { parts: vec![left, right], alias }), scope, projected: false })
    }

    /// `window`: the values are computed over the rows so far, which later stages read as
    /// columns (a window function cannot be filtered or grouped in the SELECT computing it).
    fn window(
        &mut self,
        mut st: State,
        by: &[Expr],
        sort: &[SortItem],
        rows: &Option<Spanned<Frame>>,
        items: &[Assign],
    ) -> State {
        if st.sel.group.is_some() || st.sel.limit.is_some() || !st.sel.order.is_empty() {
            st = self.wrap(st);
        }
        let partition = by.iter().map(|e| self.expr(e, &st, Mode::Plain)).collect();
        let order = sort.iter().map(|i| self.order_item(i, &st)).collect();
        if let Some(f) = rows {
            if let (Some(a), Some(b)) = (f.node.start, f.node.end) {
                if a > b {
                    self.err(
                        Diagnostic::new(
                            "E0317",
                            f.span.clone(),
                            format!("the frame `rows {a}..{b}` ends before it starts"),
                        )
                        .hint("write the earlier row first, e.g. `rows -2..0` (two rows before, through this one)"),
                    );
                }
            }
        }
        let saved = self.window.replace(Over { partition, order, frame: rows.as_ref().map(|f| f.node) });
        for a in items {
            let e = self.expr(&a.expr, &st, Mode::Window);
            self.define(&mut st.scope, &a.name, e);
        }
        self.window = saved;
        self.wrap(st)
    }

    pub(super) fn stage(&mut self, mut st: State, s: &Spanned<Stage>) -> Option<State> {
        // After `distinct`, a filter or a limit applies to its rows as they are; anything that
        // changes the columns or orders by an expression reads them as a subquery.
        if st.sel.distinct && !matches!(s.node, Stage::Where(_) | Stage::Take(_)) {
            st = self.wrap(st);
        }
        match &s.node {
            Stage::Distinct => {
                if st.sel.limit.is_some() || !st.sel.order.is_empty() {
                    st = self.wrap(st);
                }
                st.sel.distinct = true;
            }
            Stage::From { .. } => {
                self.err(
                    Diagnostic::new("E0003", s.span.clone(), "a second `from` in one query")
                        .hint("use `join <table> on …` to combine tables"),
                );
                return Some(st);
            }
            Stage::Join { left, exists, table, alias, on } => {
                if st.sel.group.is_some() || st.sel.limit.is_some() || !st.sel.order.is_empty() || st.projected {
                    st = self.wrap(st);
                }
                let (item, cols) = self.table_scope(table, alias)?;
                let alias_name = item.alias().to_string();
                if st.scope.iter().any(|c| c.qual.as_deref() == Some(alias_name.as_str())) {
                    let span = alias.as_ref().map(|a| a.span.clone()).unwrap_or(table.span.clone());
                    self.err(
                        Diagnostic::new("E0206", span, format!("`{alias_name}` is already used in this query"))
                            .hint(format!("give it another name: `join {} as x on …`", table.node)),
                    );
                    return Some(st);
                }
                if let Some(semi) = *exists {
                    // The joined table's columns are seen by `on` only: a correlated subquery.
                    let inner = State {
                        sel: new_select(item.clone()),
                        scope: st.scope.iter().cloned().chain(cols).collect(),
                        projected: false,
                    };
                    let on = self.expect_bool(on, &inner, "join condition");
                    self.exists_aliases.push(alias_name);
                    let e = IrExpr::Exists { from: Box::new(item), on: Box::new(on), negated: !semi };
                    st.sel.filter.push(TExpr { e, ty: Ty::Bool });
                    return Some(st);
                }
                st.scope.extend(cols);
                let on = self.expect_bool(on, &st, "join condition");
                st.sel.joins.push(Join { left: *left, item, on });
            }
            Stage::Where(e) => {
                if st.sel.limit.is_some() {
                    st = self.wrap(st);
                }
                let cond = self.expect_bool(e, &st, "`where` condition");
                if st.sel.group.is_some() {
                    st.sel.having.push(cond);
                } else {
                    st.sel.filter.push(cond);
                }
            }
            Stage::Derive(items) => {
                if st.sel.limit.is_some() {
                    st = self.wrap(st);
                }
                for a in items {
                    let e = self.expr(&a.expr, &st, Mode::Plain);
                    self.define(&mut st.scope, &a.name, e);
                }
            }
            Stage::Group { keys, aggregates } => {
                st = self.group(st, keys, aggregates.as_deref().unwrap_or(&[]), s);
            }
            Stage::Aggregate(items) => {
                st = self.group(st, &[], items, s);
            }
            Stage::Select(items) => {
                if st.sel.limit.is_some() {
                    st = self.wrap(st);
                }
                let mut scope = Vec::new();
                for it in items {
                    let e = self.expr(&it.expr, &st, Mode::Plain);
                    let (qual, name) = match (&it.name, &it.expr.kind) {
                        (Some(n), _) => (None, n.clone()),
                        (None, ExprKind::Path(segs)) => {
                            let Some(Seg::Key(last)) = segs.last().map(|s| &s.node) else {
                                self.err(
                                    Diagnostic::new("E0204", it.expr.span.clone(), "this column needs a name")
                                        .hint("write `name = …`"),
                                );
                                continue;
                            };
                            let qual = (segs.len() == 2).then(|| match &segs[0].node {
                                Seg::Key(k) => k.clone(),
                                Seg::Index(_) => String::new(),
                            });
                            (qual, Spanned { node: last.clone(), span: it.expr.span.clone() })
                        }
                        (None, _) => {
                            self.err(
                                Diagnostic::new("E0204", it.expr.span.clone(), "this column needs a name")
                                    .hint("write `name = …` for anything that is not a plain column"),
                            );
                            continue;
                        }
                    };
                    if scope.iter().any(|c: &ScopeCol| c.name == name.node) {
                        self.err(
                            Diagnostic::new(
                                "E0207",
                                name.span.clone(),
                                format!("column `{}` is selected twice", name.node),
                            )
                            .hint("give one of them another name: `other = …`"),
                        );
                        continue;
                    }
                    scope.push(ScopeCol { qual, name: name.node, expr: e });
                }
                st.scope = scope;
                st.projected = true;
            }
            Stage::Sort(items) => {
                if st.sel.limit.is_some() {
                    st = self.wrap(st);
                }
                st.sel.order = items.iter().map(|i| self.order_item(i, &st)).collect();
            }
            Stage::Take(e) => {
                if st.sel.limit.is_some() {
                    st = self.wrap(st);
                }
                let n = self.expr(e, &st, Mode::Plain);
                let ok = match &n.e {
                    IrExpr::Lit(Lit::Int(_)) => true,
                    IrExpr::Param(i) => self.unify_param(*i, Ty::Int, &e.span),
                    _ => false,
                };
                if !ok {
                    self.err(
                        Diagnostic::new("E0311", e.span.clone(), "`take` needs a whole number")
                            .hint("e.g. `take 10` or `take $top`"),
                    );
                }
                st.sel.limit = Some(n);
            }
            Stage::Window { by, sort, rows, items } => {
                st = self.window(st, by, sort, rows, items);
            }
            Stage::Append(src) => {
                st = self.append(st, src, &s.span)?;
            }
            Stage::Materialize(name) => {
                for span in std::mem::take(&mut self.params_seen_at) {
                    self.err(Diagnostic::new("E0401", span, "a parameter before `materialize`").hint(
                        "a materialized view is shared by every run: move parameter filters after `materialize`",
                    ));
                }
                let Some(keys) = st.sel.group.as_ref().map(|_| {
                    st.scope.iter().filter(|c| !is_aggregate(&c.expr)).map(|c| c.name.clone()).collect::<Vec<_>>()
                }) else {
                    self.err(
                        Diagnostic::new("E0402", name.span.clone(), "`materialize` needs a `group` stage before it")
                            .hint("a materialized view needs a unique key to refresh concurrently: its group keys"),
                    );
                    return Some(st);
                };
                if catalog::table(&name.node).is_some() || self.views.iter().any(|v| v.name == name.node) {
                    self.err(Diagnostic::new(
                        "E0403",
                        name.span.clone(),
                        format!("`{}` is already a table or view", name.node),
                    ));
                    return Some(st);
                }
                let columns = output_of(&st.scope);
                let mut sel = st.sel;
                sel.columns = columns.clone();
                self.views.push(View { name: name.node.clone(), select: sel, keys });
                let alias = name.node.clone();
                let scope = read_through(&alias, &columns, |_| Some(alias.clone()));
                st = State {
                    sel: new_select(FromItem::View { name: name.node.clone(), alias }),
                    scope,
                    projected: false,
                };
            }
        }
        Some(st)
    }

    pub(super) fn group(&mut self, mut st: State, keys: &[Item], aggs: &[Assign], s: &Spanned<Stage>) -> State {
        if st.sel.group.is_some() || st.sel.limit.is_some() || !st.sel.order.is_empty() {
            st = self.wrap(st);
        }
        let mut scope = Vec::new();
        let mut key_exprs = Vec::new();
        for k in keys {
            let e = self.expr(&k.expr, &st, Mode::Plain);
            let name = match (&k.name, &k.expr.kind) {
                (Some(n), _) => n.node.clone(),
                (None, ExprKind::Path(segs)) if matches!(segs.last().map(|x| &x.node), Some(Seg::Key(_))) => {
                    let Some(Seg::Key(k)) = segs.last().map(|x| &x.node) else { unreachable!() };
                    k.clone()
                }
                _ => {
                    self.err(
                        Diagnostic::new("E0204", k.expr.span.clone(), "this group key needs a name")
                            .hint("write `name = …`, e.g. `group day = bucket(ts, day)`"),
                    );
                    continue;
                }
            };
            let qual = match &k.expr.kind {
                ExprKind::Path(segs) if segs.len() == 2 && k.name.is_none() => match &segs[0].node {
                    Seg::Key(q) => Some(q.clone()),
                    Seg::Index(_) => None,
                },
                _ => None,
            };
            key_exprs.push(e.clone());
            scope.push(ScopeCol { qual, name, expr: e });
        }
        for a in aggs {
            let before = self.diags.len();
            let e = self.expr(&a.expr, &st, Mode::Aggregate { inside: false });
            if self.diags.len() == before && !is_aggregate(&e) && !matches!(e.e, IrExpr::Lit(_)) {
                self.err(
                    Diagnostic::new("E0301", a.expr.span.clone(), format!("`{}` is not an aggregate", a.name.node))
                        .hint("use count(), sum(…), min(…), max(…), avg(…), count_distinct(…) or string_agg(…)"),
                );
            }
            self.define(&mut scope, &a.name, e);
        }
        if keys.is_empty() && aggs.is_empty() {
            self.err(
                Diagnostic::new("E0306", s.span.clone(), "nothing to aggregate")
                    .hint("e.g. `aggregate total = count()`"),
            );
        }
        st.sel.group = Some(key_exprs);
        st.scope = scope;
        st
    }
}
