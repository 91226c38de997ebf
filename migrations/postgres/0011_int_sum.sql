-- The sum of bigints as a bigint. PostgreSQL's SUM(bigint) accumulates in numeric and returns
-- numeric, which reports cast back: at 10M events that is a quarter of a month's
-- top-commands query. int8pl adds in bigint and fails on overflow ("bigint out of range"),
-- as SQLite's SUM fails on integer overflow; strict with no initial value, it is null over
-- no rows or only nulls, as SUM is. The combine function lets parallel plans use it.
DROP AGGREGATE IF EXISTS cowrieql_sum(bigint);
CREATE AGGREGATE cowrieql_sum(bigint) (
    SFUNC = int8pl,
    STYPE = bigint,
    COMBINEFUNC = int8pl,
    PARALLEL = SAFE
);
