//! `cowrieql_percentile(value, fraction)`: the language's `median` and `percentile` on
//! SQLite, which has no percentile of its own. An aggregate in Rust, registered on every
//! connection the tool opens (sqlx's pool and rusqlite's), computing what PostgreSQL's
//! `percentile_cont(fraction) WITHIN GROUP (ORDER BY value)` does, to the last bit: the
//! values sorted, the position `fraction × (n − 1)`, and between the two values around it
//! `lo + proportion × (hi − lo)` (PostgreSQL's `float8_lerp`). Nulls are skipped; no values
//! give null.

use std::ffi::{c_int, CStr};

use rusqlite::ffi;

pub const NAME: &CStr = c"cowrieql_percentile";

/// PostgreSQL's `percentile_cont` over `values` (sorted here).
pub fn percentile_cont(values: &mut [f64], fraction: f64) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable_by(f64::total_cmp);
    let position = fraction * (values.len() - 1) as f64;
    let (first, second) = (position.floor(), position.ceil());
    let lo = values[first as usize];
    if second <= first {
        return Some(lo);
    }
    let hi = values[second as usize];
    Some(lo + (position - first) * (hi - lo))
}

#[derive(Default)]
struct State {
    values: Vec<f64>,
    fraction: f64,
}

/// The group's state, made on its first row (a pointer in SQLite's aggregate context).
unsafe fn state(ctx: *mut ffi::sqlite3_context, create: bool) -> Option<*mut *mut State> {
    let size = if create { size_of::<*mut State>() as c_int } else { 0 };
    let slot = ffi::sqlite3_aggregate_context(ctx, size) as *mut *mut State;
    if slot.is_null() {
        return None;
    }
    if create && (*slot).is_null() {
        *slot = Box::into_raw(Box::default());
    }
    Some(slot)
}

unsafe extern "C" fn step(ctx: *mut ffi::sqlite3_context, argc: c_int, argv: *mut *mut ffi::sqlite3_value) {
    let Some(slot) = state(ctx, true) else {
        ffi::sqlite3_result_error_nomem(ctx);
        return;
    };
    let st = &mut **slot;
    let args = std::slice::from_raw_parts(argv, argc.max(0) as usize);
    let [value, fraction] = args else { return };
    st.fraction = ffi::sqlite3_value_double(*fraction);
    if ffi::sqlite3_value_type(*value) != ffi::SQLITE_NULL {
        st.values.push(ffi::sqlite3_value_double(*value));
    }
}

unsafe extern "C" fn finish(ctx: *mut ffi::sqlite3_context) {
    let taken = match state(ctx, false) {
        Some(slot) if !(*slot).is_null() => {
            let st = Box::from_raw(*slot);
            *slot = std::ptr::null_mut();
            Some(st)
        }
        _ => None,
    };
    match taken.and_then(|mut st| {
        let f = st.fraction;
        percentile_cont(&mut st.values, f)
    }) {
        Some(v) => ffi::sqlite3_result_double(ctx, v),
        None => ffi::sqlite3_result_null(ctx),
    }
}

/// Registers the aggregate on the connection `db`.
///
/// # Safety
/// `db` is an open connection, used by no other thread during the call.
pub unsafe fn register(db: *mut ffi::sqlite3) -> Result<(), String> {
    let rc = ffi::sqlite3_create_function_v2(
        db,
        NAME.as_ptr(),
        2,
        ffi::SQLITE_UTF8 | ffi::SQLITE_DETERMINISTIC,
        std::ptr::null_mut(),
        None,
        Some(step),
        Some(finish),
        None,
    );
    if rc == ffi::SQLITE_OK {
        Ok(())
    } else {
        Err(format!("registering {}: SQLite error {rc}", NAME.to_string_lossy()))
    }
}

/// Registers the aggregate on a rusqlite connection.
pub fn register_rusqlite(conn: &rusqlite::Connection) -> anyhow::Result<()> {
    // SAFETY: the handle is this open connection's, and `conn` is borrowed for the call.
    unsafe { register(conn.handle()) }.map_err(anyhow::Error::msg)
}

/// Registers the aggregate on a connection of sqlx's pool (its `after_connect`).
pub async fn register_sqlx(conn: &mut sqlx::SqliteConnection) -> Result<(), sqlx::Error> {
    let mut handle = conn.lock_handle().await?;
    // SAFETY: the lock gives this task the connection alone while the function is added.
    unsafe { register(handle.as_raw_handle().as_ptr()) }.map_err(sqlx::Error::Protocol)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interpolates_as_postgres_does() {
        assert_eq!(percentile_cont(&mut [], 0.5), None);
        assert_eq!(percentile_cont(&mut [3.0], 0.95), Some(3.0));
        assert_eq!(percentile_cont(&mut [4.0, 1.0, 2.0, 3.0], 0.5), Some(2.5));
        assert_eq!(percentile_cont(&mut [1.0, 2.0, 3.0], 0.5), Some(2.0));
        assert_eq!(percentile_cont(&mut [0.0, 10.0], 0.95), Some(9.5));
        assert_eq!(percentile_cont(&mut [5.0, 1.0], 0.0), Some(1.0));
        assert_eq!(percentile_cont(&mut [5.0, 1.0], 1.0), Some(5.0));
    }

    #[test]
    fn registered_on_rusqlite_it_skips_nulls_and_groups() {
        let c = rusqlite::Connection::open_in_memory().unwrap();
        register_rusqlite(&c).unwrap();
        let got: Vec<(String, Option<f64>)> = c
            .prepare(
                "WITH t(g, v) AS (VALUES ('a', 1), ('a', 2), ('a', NULL), ('a', 4), ('b', NULL)) \
                 SELECT g, cowrieql_percentile(v, 0.5) FROM t GROUP BY g ORDER BY g",
            )
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(got, vec![("a".into(), Some(2.0)), ("b".into(), None)]);
    }
}
