//! Scope: the tables a query starts at, the columns each stage can see, and the names
//! (column paths) resolved against them.

use super::*;

impl Checker<'_> {
    pub(super) fn table_scope(
        &mut self,
        table: &Spanned<String>,
        alias: &Option<Spanned<String>>,
    ) -> Option<(FromItem, Vec<ScopeCol>)> {
        let alias_name = alias.as_ref().map(|a| a.node.clone()).unwrap_or_else(|| table.node.clone());
        let columns_of = |sel: &Select| read_through(&alias_name, &sel.columns, |_| Some(alias_name.clone()));
        if let Some(v) = self.views.iter().find(|v| v.name == table.node) {
            let scope = columns_of(&v.select);
            return Some((FromItem::View { name: v.name.clone(), alias: alias_name }, scope));
        }
        if let Some(c) = self.ctes.iter().find(|c| c.name == table.node) {
            let scope = columns_of(&c.select);
            return Some((FromItem::Table { name: c.name.clone(), alias: alias_name }, scope));
        }
        let Some(t) = catalog::table(&table.node) else {
            let names: Vec<&str> =
                catalog::TABLES.iter().map(|t| t.name).chain(self.ctes.iter().map(|c| c.name.as_str())).collect();
            let near = near_names(&table.node, names.iter().copied());
            let hint = if near.is_empty() {
                format!("tables are: {}", names.join(", "))
            } else {
                format!("did you mean `{}`? tables are: {}", near[0], names.join(", "))
            };
            self.err(
                Diagnostic::new("E0200", table.span.clone(), format!("unknown table `{}`", table.node)).hint(hint),
            );
            return None;
        };
        let scope = t
            .columns
            .iter()
            .map(|c| ScopeCol {
                qual: Some(alias_name.clone()),
                name: c.name.to_string(),
                expr: TExpr { e: IrExpr::Col { rel: alias_name.clone(), name: c.name.to_string() }, ty: col_ty(c.ty) },
            })
            .collect();
        Some((FromItem::Table { name: t.name.to_string(), alias: alias_name }, scope))
    }

    pub(super) fn start_at(&mut self, table: &Spanned<String>, alias: &Option<Spanned<String>>) -> Option<State> {
        let (item, scope) = self.table_scope(table, alias)?;
        Some(State { sel: new_select(item), scope, projected: false })
    }

    /// Closes the SELECT under construction and continues from it as a subquery.
    pub(super) fn wrap(&mut self, mut st: State) -> State {
        self.subqueries += 1;
        let alias = format!("_q{}", self.subqueries);
        let columns = output_of(&st.scope);
        let scope = read_through(&alias, &columns, |i| st.scope[i].qual.clone());
        st.sel.columns = columns;
        State { sel: new_select(FromItem::Sub { select: Box::new(st.sel), alias }), scope, projected: false }
    }

    pub(super) fn define(&mut self, scope: &mut Vec<ScopeCol>, name: &Spanned<String>, e: TExpr) {
        // A new definition shadows an unqualified one of the same name.
        scope.retain(|c| !(c.name == name.node && c.qual.is_none()));
        scope.push(ScopeCol { qual: None, name: name.node.clone(), expr: e });
    }

    pub(super) fn resolve(&mut self, segs: &[Spanned<Seg>], span: &Span, st: &State) -> TExpr {
        let bad = TExpr { e: IrExpr::Lit(Lit::Null), ty: Ty::Null };
        let Seg::Key(first) = &segs[0].node else { return bad };
        // `q.col…` when `q` names a table in scope, else `col…`.
        let (col, rest) = match segs.get(1).map(|s| &s.node) {
            Some(Seg::Key(second)) if st.scope.iter().any(|c| c.qual.as_deref() == Some(first.as_str())) => {
                match st.scope.iter().find(|c| c.qual.as_deref() == Some(first.as_str()) && c.name == *second) {
                    Some(c) => (c.clone(), &segs[2..]),
                    None => {
                        let names: Vec<&str> = st
                            .scope
                            .iter()
                            .filter(|c| c.qual.as_deref() == Some(first.as_str()))
                            .map(|c| c.name.as_str())
                            .collect();
                        let near = near_names(second, names.iter().copied());
                        let mut d = Diagnostic::new(
                            "E0201",
                            segs[1].span.clone(),
                            format!("`{first}` has no column `{second}`"),
                        );
                        if let Some(n) = near.first() {
                            d = d.hint(format!("did you mean `{first}.{n}`?"));
                        }
                        self.err(d);
                        return bad;
                    }
                }
            }
            _ => {
                let mut found: Vec<&ScopeCol> = st.scope.iter().filter(|c| c.name == *first).collect();
                // A name the pipeline defined itself (derive, group, aggregate) wins over a
                // joined table's column of the same name; two tables' columns stay ambiguous.
                if found.len() > 1 && found.iter().filter(|c| c.qual.is_none()).count() == 1 {
                    found.retain(|c| c.qual.is_none());
                }
                match found.len() {
                    0 => {
                        let near = near_names(first, st.scope.iter().map(|c| c.name.as_str()));
                        let mut d = Diagnostic::new("E0201", segs[0].span.clone(), format!("unknown column `{first}`"));
                        d = if self.exists_aliases.iter().any(|a| a == first) {
                            d.hint(format!(
                                "`{first}` was joined with `semi` or `anti`: its columns are seen in its `on` only \
                                 (use a plain `join` to keep them)"
                            ))
                        } else if !near.is_empty() {
                            d.hint(format!(
                                "did you mean {}?",
                                near.iter().map(|n| format!("`{n}`")).collect::<Vec<_>>().join(" or ")
                            ))
                        } else if st.sel.group.is_some() {
                            d.hint("after `group`/`aggregate` only the group keys and aggregates are available")
                        } else {
                            let mut names: Vec<&str> = st.scope.iter().map(|c| c.name.as_str()).collect();
                            names.dedup();
                            d.hint(format!("columns here: {}", names.join(", ")))
                        };
                        self.err(d);
                        return bad;
                    }
                    1 => (found[0].clone(), &segs[1..]),
                    _ => {
                        let quals: Vec<String> = found
                            .iter()
                            .map(|c| format!("`{}.{}`", c.qual.clone().unwrap_or_default(), c.name))
                            .collect();
                        self.err(
                            Diagnostic::new("E0203", segs[0].span.clone(), format!("`{first}` is ambiguous"))
                                .hint(format!("say which: {}", quals.join(" or "))),
                        );
                        return bad;
                    }
                }
            }
        };
        if rest.is_empty() {
            return col.expr;
        }
        if col.expr.ty != Ty::Json {
            self.err(
                Diagnostic::new(
                    "E0205",
                    span.clone(),
                    format!("`{}` is {}, not JSON: it has no fields", col.name, col.expr.ty.name()),
                )
                .hint("only JSON columns such as `payload` have fields"),
            );
            return bad;
        }
        let mut path = Vec::new();
        for s in rest {
            if let Seg::Key(k) = &s.node {
                if k.contains('"') || k.contains('\'') || k.is_empty() {
                    self.err(Diagnostic::new(
                        "E0208",
                        s.span.clone(),
                        "JSON keys with quotes (or empty keys) are not supported",
                    ));
                    return bad;
                }
            }
            path.push(s.node.clone());
        }
        TExpr { e: IrExpr::JsonText { base: Box::new(col.expr), path }, ty: Ty::Text }
    }
}
