//! Which sort keys can never be null. For those the dialect may leave out `NULLS LAST`, so
//! an index on the column can give the order (PostgreSQL walks a `ts` index backwards for
//! `ts DESC`, not for `ts DESC NULLS LAST`; SQLite likewise for `ASC`). Conservative: a
//! column of a catalog table marked NOT NULL (read through subqueries, views, `let`s and
//! unions), `count()`, or a literal; any column of a left-joined table may be null.

use super::*;

impl Checker<'_> {
    pub(super) fn never_null(&self, e: &TExpr, sel: &Select) -> bool {
        match &e.e {
            IrExpr::Lit(l) => !matches!(l, Lit::Null),
            IrExpr::Func { name, .. } => matches!(*name, "count" | "count_distinct"),
            IrExpr::Col { rel, name } => {
                if sel.joins.iter().any(|j| j.left && j.item.alias() == rel) {
                    return false;
                }
                let item =
                    std::iter::once(&sel.from).chain(sel.joins.iter().map(|j| &j.item)).find(|i| i.alias() == rel);
                item.is_some_and(|i| self.column_never_null(i, name))
            }
            _ => false,
        }
    }

    fn column_never_null(&self, item: &FromItem, col: &str) -> bool {
        let through =
            |sel: &Select| sel.columns.iter().find(|(n, _)| n == col).is_some_and(|(_, e)| self.never_null(e, sel));
        match item {
            FromItem::Sub { select, .. } => through(select),
            FromItem::Union { parts, .. } => parts.iter().all(through),
            FromItem::View { name, .. } => {
                self.views.iter().find(|v| v.name == *name).is_some_and(|v| through(&v.select))
            }
            FromItem::Table { name, .. } => match self.ctes.iter().find(|c| c.name == *name) {
                Some(c) => through(&c.select),
                None => catalog::table(name).and_then(|t| t.column(col)).is_some_and(|c| !c.nullable),
            },
        }
    }

    /// A sort key with whether nulls can occur in it.
    pub(super) fn order_item(&mut self, item: &SortItem, st: &State) -> OrderItem {
        let expr = self.expr(&item.expr, st, Mode::Plain);
        let maybe_null = !self.never_null(&expr, &st.sel);
        OrderItem { expr, desc: item.desc, maybe_null }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    /// The final ORDER BY of the query's PostgreSQL SQL.
    fn order_by(q: &str) -> String {
        let c = crate::compile::compile(q, crate::sql::dialect("postgres").unwrap(), &HashMap::new()).unwrap();
        c.sql.lines().rfind(|l| l.trim_start().starts_with("ORDER BY")).unwrap().trim().to_string()
    }

    #[test]
    fn a_never_null_column_sorts_by_direction_alone() {
        assert_eq!(order_by("from downloads | sort ts desc"), r#"ORDER BY "downloads"."ts" DESC"#);
        // Nullable in the catalog: nulls still go last.
        assert_eq!(order_by("from downloads | sort url"), r#"ORDER BY "downloads"."url" COLLATE "C" ASC NULLS LAST"#);
        assert_eq!(
            order_by("from sessions | group src_ip aggregate n = count() | sort n desc"),
            "ORDER BY COUNT(*) DESC"
        );
        assert_eq!(
            order_by("from sessions | group src_ip aggregate last = max(last_event_at) | sort last desc"),
            r#"ORDER BY MAX("sessions"."last_event_at") DESC NULLS LAST"#
        );
    }

    #[test]
    fn never_null_is_read_through_subqueries_and_lets() {
        assert_eq!(order_by("from downloads | take 10 | sort ts"), r#"ORDER BY "_q1"."ts" ASC"#);
        assert_eq!(
            order_by("let d = (from downloads | select ts)\nfrom d | sort ts desc"),
            r#"ORDER BY "d"."ts" DESC"#
        );
    }

    #[test]
    fn a_left_joined_tables_columns_may_be_null() {
        let q = "from sessions as s | left join logins as l on l.sensor == s.sensor and l.session_id == s.session_id | sort l.ts";
        assert_eq!(order_by(q), r#"ORDER BY "l"."ts" ASC NULLS LAST"#);
        let q = "from sessions as s | join logins as l on l.sensor == s.sensor and l.session_id == s.session_id | sort l.ts";
        assert_eq!(order_by(q), r#"ORDER BY "l"."ts" ASC"#);
    }
}
