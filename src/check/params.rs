//! Parameters: `$name` typed by its first use and checked against every other use and
//! against the report's declarations.

use super::*;

impl Checker<'_> {
    pub(super) fn param(&mut self, name: &str, span: &Span) -> TExpr {
        self.params_seen_at.push(span.clone());
        let idx = match self.params.iter().position(|p| p.name == name) {
            Some(i) => i,
            None => {
                let ty = self.declared.get(name).copied().unwrap_or(Ty::Null);
                self.params.push(ParamInfo { name: name.to_string(), ty, first_use: span.clone() });
                self.params.len() - 1
            }
        };
        TExpr { e: IrExpr::Param(idx + 1), ty: self.params[idx].ty }
    }

    /// Records that parameter `idx` (1-based) is used as `ty`; false if that contradicts.
    pub(super) fn unify_param(&mut self, idx: usize, ty: Ty, span: &Span) -> bool {
        let p = &mut self.params[idx - 1];
        if p.ty == Ty::Null {
            p.ty = ty;
            true
        } else if p.ty == ty || (p.ty.is_numeric() && ty.is_numeric() && ty != Ty::Null) {
            true
        } else {
            let d = Diagnostic::new(
                "E0304",
                span.clone(),
                format!("`${}` is used as {} here but is {}", p.name, ty.name(), p.ty.name()),
            )
            .hint("a parameter has one type everywhere it is used");
            self.err(d);
            false
        }
    }
}
