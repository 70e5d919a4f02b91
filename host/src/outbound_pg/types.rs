//! Conversions between Postgres values and `spin:postgres@4.0.0` values, exactly as Spin
//! makes them (`crates/factor-outbound-pg/src/types.rs` in Spin 3.6.3 through 4.1; the tests
//! in `tests/host/postgres.rs` hold the host to every row of this table).
//!
//! **Parameters** become the Rust types Spin binds them as, and tokio-postgres checks each
//! against the type Postgres infers for its placeholder, so a kind is accepted only where
//! Spin accepts it: `str` binds as `String` (`text`, `varchar`, `char(n)`, `name`, `citext`:
//! a placeholder Postgres types as `uuid`, `date`, `int8`... is refused, cast it in the SQL
//! with `$1::text::uuid` or send the matching kind), `int8` as `i8` (`"char"` only), `int16`
//! / `int32` / `int64` as `int2` / `int4` / `int8` only (no widening), `datetime` as a
//! `timestamp` (not `timestamptz`), `timestamp` as a `timestamptz`, `uuid`, `jsonb` (`json`
//! or `jsonb`), `decimal` (`numeric`), the ranges and arrays of their own element type,
//! `interval`; `db-null` takes any type. A refused bind is `query-failed(text(..))` naming
//! `WrongType`, as on Spin; a value that does not convert at all (a bad uuid) is
//! `bad-parameter` from `query` and `value-conversion-failed` from `execute`.
//!
//! **Rows** are read by column type as Spin reads them: booleans, integers, floats, text
//! (`text`, `varchar`, `char(n)`), `bytea`, `date`, `time`, `timestamp`, `uuid`, `jsonb`,
//! `numeric`, the int4/int8/num ranges, int4/int8/numeric/text arrays and `interval`; NULL is
//! `db-null`; any other type (`json`, `name`, `"char"`, `inet`, `citext`...) is `unsupported`
//! with its binary wire bytes. A `timestamptz` column is an error, even when NULL (Spin
//! reads it as a zone-less date-time, which tokio-postgres refuses): select
//! `col AT TIME ZONE 'UTC'` or `col::text`. Columns are named from the first row, so an
//! empty result has none, and a result over [`MAX_RESULT_BYTES`] is an error.

use std::error::Error as StdError;

use bytes::{BufMut, BytesMut};
use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime, Timelike};
use rust_decimal::Decimal;
use tokio_postgres::types::{FromSql, IsNull, Kind, ToSql, Type};
use tokio_postgres::{Column, Row};

use super::bindings::spin::postgres::postgres::{
    Column as WitColumn, DbDataType, DbError, DbValue, Interval, ParameterValue, QueryError,
    RangeBoundKind, RowSet,
};

type BoxError = Box<dyn StdError + Sync + Send>;

/// A boxed parameter.
pub type Param = Box<dyn ToSql + Send + Sync>;

/// Borrowed view of parameters, as tokio-postgres takes them.
pub fn param_refs(params: &[Param]) -> Vec<&(dyn ToSql + Sync)> {
    params
        .iter()
        .map(|p| p.as_ref() as &(dyn ToSql + Sync))
        .collect()
}

/// Maps a tokio-postgres error to the WIT error, keeping a database error's fields.
pub fn query_error(e: &tokio_postgres::Error) -> QueryError {
    let as_text = format!("{e:?}");
    match e.as_db_error() {
        Some(db) => {
            let mut extras = Vec::new();
            let mut push = |k: &str, v: Option<&str>| {
                if let Some(v) = v {
                    extras.push((k.to_owned(), v.to_owned()));
                }
            };
            push("column", db.column());
            push("constraint", db.constraint());
            push("routine", db.routine());
            push("hint", db.hint());
            push("table", db.table());
            push("datatype", db.datatype());
            push("schema", db.schema());
            push("file", db.file());
            push("line", db.line().map(|l| l.to_string()).as_deref());
            push("where_", db.where_());
            QueryError::DbError(DbError {
                as_text,
                severity: db.severity().to_owned(),
                code: db.code().code().to_owned(),
                message: db.message().to_owned(),
                detail: db.detail().map(str::to_owned),
                extras,
            })
        }
        None => QueryError::Text(as_text),
    }
}

// ---- parameters ----------------------------------------------------------------

/// SQL NULL of whatever type the server expects.
#[derive(Debug)]
struct Null;

impl ToSql for Null {
    fn to_sql(&self, _: &Type, _: &mut BytesMut) -> Result<IsNull, BoxError> {
        Ok(IsNull::Yes)
    }
    fn accepts(_: &Type) -> bool {
        true
    }
    tokio_postgres::types::to_sql_checked!();
}

/// `interval` in its binary form: microseconds, days, months.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct PgInterval {
    micros: i64,
    days: i32,
    months: i32,
}

impl ToSql for PgInterval {
    fn to_sql(&self, _: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        out.put_i64(self.micros);
        out.put_i32(self.days);
        out.put_i32(self.months);
        Ok(IsNull::No)
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }
    tokio_postgres::types::to_sql_checked!();
}

impl<'a> FromSql<'a> for PgInterval {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        if raw.len() != 16 {
            return Err("invalid interval length".into());
        }
        Ok(PgInterval {
            micros: i64::from_be_bytes(raw[0..8].try_into()?),
            days: i32::from_be_bytes(raw[8..12].try_into()?),
            months: i32::from_be_bytes(raw[12..16].try_into()?),
        })
    }
    fn accepts(ty: &Type) -> bool {
        *ty == Type::INTERVAL
    }
}

const RANGE_EMPTY: u8 = 0x01;
const RANGE_LB_INC: u8 = 0x02;
const RANGE_UB_INC: u8 = 0x04;
const RANGE_LB_INF: u8 = 0x08;
const RANGE_UB_INF: u8 = 0x10;

/// A range in Postgres's binary form; `None` bounds are unbounded. An empty range
/// reads as two `None`s, as in Spin.
#[derive(Debug, Clone, PartialEq)]
struct PgRange<T> {
    lower: Option<(T, RangeBoundKind)>,
    upper: Option<(T, RangeBoundKind)>,
}

fn range_elem(ty: &Type) -> Option<&Type> {
    match ty.kind() {
        Kind::Range(e) => Some(e),
        _ => None,
    }
}

impl<T: ToSql> ToSql for PgRange<T> {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        let elem = range_elem(ty).ok_or("not a range type")?;
        let mut flags = 0u8;
        match &self.lower {
            None => flags |= RANGE_LB_INF,
            Some((_, RangeBoundKind::Inclusive)) => flags |= RANGE_LB_INC,
            Some(_) => {}
        }
        match &self.upper {
            None => flags |= RANGE_UB_INF,
            Some((_, RangeBoundKind::Inclusive)) => flags |= RANGE_UB_INC,
            Some(_) => {}
        }
        out.put_u8(flags);
        for (v, _) in [&self.lower, &self.upper].into_iter().flatten() {
            let len_at = out.len();
            out.put_i32(0);
            match v.to_sql(elem, out)? {
                IsNull::Yes => return Err("range bounds cannot be NULL".into()),
                IsNull::No => {
                    let len = (out.len() - len_at - 4) as i32;
                    out[len_at..len_at + 4].copy_from_slice(&len.to_be_bytes());
                }
            }
        }
        Ok(IsNull::No)
    }
    fn accepts(ty: &Type) -> bool {
        range_elem(ty).is_some_and(T::accepts)
    }
    tokio_postgres::types::to_sql_checked!();
}

impl<'a, T: FromSql<'a>> FromSql<'a> for PgRange<T> {
    fn from_sql(ty: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        let elem = range_elem(ty).ok_or("not a range type")?;
        let (&flags, mut rest) = raw.split_first().ok_or("empty range value")?;
        if flags & RANGE_EMPTY != 0 {
            return Ok(PgRange {
                lower: None,
                upper: None,
            });
        }
        let mut bound = |inf: u8, inc: u8| -> Result<Option<(T, RangeBoundKind)>, BoxError> {
            if flags & inf != 0 {
                return Ok(None);
            }
            if rest.len() < 4 {
                return Err("truncated range value".into());
            }
            let len = i32::from_be_bytes(rest[..4].try_into()?) as usize;
            let body = rest.get(4..4 + len).ok_or("truncated range value")?;
            rest = &rest[4 + len..];
            let kind = if flags & inc != 0 {
                RangeBoundKind::Inclusive
            } else {
                RangeBoundKind::Exclusive
            };
            Ok(Some((T::from_sql(elem, body)?, kind)))
        };
        let lower = bound(RANGE_LB_INF, RANGE_LB_INC)?;
        let upper = bound(RANGE_UB_INF, RANGE_UB_INC)?;
        Ok(PgRange { lower, upper })
    }
    fn accepts(ty: &Type) -> bool {
        range_elem(ty).is_some_and(T::accepts)
    }
}

fn decimal(s: &str) -> Result<Decimal, String> {
    Decimal::from_str_exact(s).map_err(|_| format!("invalid decimal {s}"))
}

fn date(y: i32, m: u8, d: u8) -> Result<NaiveDate, String> {
    NaiveDate::from_ymd_opt(y, m.into(), d.into())
        .ok_or_else(|| format!("invalid date {y}-{m}-{d}"))
}

fn time(h: u8, m: u8, s: u8, ns: u32) -> Result<NaiveTime, String> {
    NaiveTime::from_hms_nano_opt(h.into(), m.into(), s.into(), ns)
        .ok_or_else(|| format!("invalid time {h}:{m}:{s}.{ns}"))
}

/// A WIT range: (lower, upper), each bound optional.
type WitRange<T> = (Option<(T, RangeBoundKind)>, Option<(T, RangeBoundKind)>);

fn map_range<A, B>(
    r: WitRange<A>,
    f: impl Fn(A) -> Result<B, String>,
) -> Result<PgRange<B>, String> {
    let conv = |b: Option<(A, RangeBoundKind)>| -> Result<Option<(B, RangeBoundKind)>, String> {
        b.map(|(v, k)| f(v).map(|v| (v, k))).transpose()
    };
    Ok(PgRange {
        lower: conv(r.0)?,
        upper: conv(r.1)?,
    })
}

/// Converts guest parameters to what Spin binds them as; the error text becomes
/// `bad-parameter` (`query`) or `value-conversion-failed` (`execute`).
pub fn to_sql_params(params: Vec<ParameterValue>) -> Result<Vec<Param>, String> {
    params.into_iter().map(to_sql).collect()
}

fn to_sql(p: ParameterValue) -> Result<Param, String> {
    use ParameterValue as P;
    Ok(match p {
        P::Boolean(v) => Box::new(v),
        P::Int8(v) => Box::new(v),
        P::Int16(v) => Box::new(v),
        P::Int32(v) => Box::new(v),
        P::Int64(v) => Box::new(v),
        P::Floating32(v) => Box::new(v),
        P::Floating64(v) => Box::new(v),
        P::Str(v) => Box::new(v),
        P::Binary(v) => Box::new(v),
        P::Date((y, m, d)) => Box::new(date(y, m, d)?),
        P::Time((h, m, s, ns)) => Box::new(time(h, m, s, ns)?),
        P::Datetime((y, mo, d, h, mi, s, ns)) => {
            Box::new(NaiveDateTime::new(date(y, mo, d)?, time(h, mi, s, ns)?))
        }
        P::Timestamp(secs) => Box::new(
            chrono::DateTime::from_timestamp(secs, 0)
                .ok_or_else(|| format!("invalid timestamp {secs}"))?,
        ),
        P::Uuid(s) => {
            Box::new(uuid::Uuid::parse_str(&s).map_err(|e| format!("invalid uuid {s}: {e}"))?)
        }
        P::Jsonb(bytes) => Box::new(
            serde_json::from_slice::<serde_json::Value>(&bytes)
                .map_err(|e| format!("invalid JSON: {e}"))?,
        ),
        P::Decimal(s) => Box::new(decimal(&s)?),
        P::RangeInt32(r) => Box::new(map_range(r, Ok)?),
        P::RangeInt64(r) => Box::new(map_range(r, Ok)?),
        P::RangeDecimal(r) => Box::new(map_range(r, |s| decimal(&s))?),
        P::ArrayInt32(v) => Box::new(v),
        P::ArrayInt64(v) => Box::new(v),
        P::ArrayDecimal(v) => Box::new(
            v.into_iter()
                .map(|o| o.map(|s| decimal(&s)).transpose())
                .collect::<Result<Vec<_>, _>>()?,
        ),
        P::ArrayStr(v) => Box::new(v),
        P::Interval(i) => Box::new(PgInterval {
            micros: i.micros,
            days: i.days,
            months: i.months,
        }),
        P::DbNull => Box::new(Null),
    })
}

// ---- rows ----------------------------------------------------------------------

/// Any value, as its binary wire bytes.
struct RawBytes(Vec<u8>);

impl<'a> FromSql<'a> for RawBytes {
    fn from_sql(_: &Type, raw: &'a [u8]) -> Result<Self, BoxError> {
        Ok(RawBytes(raw.to_vec()))
    }
    fn accepts(_: &Type) -> bool {
        true
    }
}

/// The column type as Spin names it (`convert_data_type`).
fn data_type(ty: &Type) -> DbDataType {
    match *ty {
        Type::BOOL => DbDataType::Boolean,
        Type::BYTEA => DbDataType::Binary,
        Type::FLOAT4 => DbDataType::Floating32,
        Type::FLOAT8 => DbDataType::Floating64,
        Type::INT2 => DbDataType::Int16,
        Type::INT4 => DbDataType::Int32,
        Type::INT8 => DbDataType::Int64,
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => DbDataType::Str,
        Type::TIMESTAMP | Type::TIMESTAMPTZ => DbDataType::Datetime,
        Type::DATE => DbDataType::Date,
        Type::TIME => DbDataType::Time,
        Type::UUID => DbDataType::Uuid,
        Type::JSONB => DbDataType::Jsonb,
        Type::NUMERIC => DbDataType::Decimal,
        Type::INT4_RANGE => DbDataType::RangeInt32,
        Type::INT8_RANGE => DbDataType::RangeInt64,
        Type::NUM_RANGE => DbDataType::RangeDecimal,
        Type::INT4_ARRAY => DbDataType::ArrayInt32,
        Type::INT8_ARRAY => DbDataType::ArrayInt64,
        Type::NUMERIC_ARRAY => DbDataType::ArrayDecimal,
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => DbDataType::ArrayStr,
        Type::INTERVAL => DbDataType::Interval,
        ref other => DbDataType::Other(other.name().to_owned()),
    }
}

fn get<'a, T: FromSql<'a>>(row: &'a Row, i: usize) -> Result<Option<T>, tokio_postgres::Error> {
    row.try_get::<_, Option<T>>(i)
}

fn datetime(dt: NaiveDateTime) -> DbValue {
    DbValue::Datetime((
        dt.year(),
        dt.month() as u8,
        dt.day() as u8,
        dt.hour() as u8,
        dt.minute() as u8,
        dt.second() as u8,
        dt.nanosecond(),
    ))
}

fn range_out<A, B>(r: PgRange<A>, f: impl Fn(A) -> B) -> WitRange<B> {
    (
        r.lower.map(|(v, k)| (f(v), k)),
        r.upper.map(|(v, k)| (f(v), k)),
    )
}

/// One value, read as Spin reads it (`convert_entry`): the Rust type per column type decides
/// what tokio-postgres accepts, so a `timestamptz` (read as a zone-less date-time) fails here
/// exactly as it fails there.
fn value(row: &Row, i: usize, ty: &Type) -> Result<DbValue, tokio_postgres::Error> {
    macro_rules! read {
        ($t:ty, $f:expr) => {
            match get::<$t>(row, i)? {
                Some(v) => $f(v),
                None => DbValue::DbNull,
            }
        };
    }
    Ok(match *ty {
        Type::BOOL => read!(bool, DbValue::Boolean),
        Type::BYTEA => read!(Vec<u8>, DbValue::Binary),
        Type::FLOAT4 => read!(f32, DbValue::Floating32),
        Type::FLOAT8 => read!(f64, DbValue::Floating64),
        Type::INT2 => read!(i16, DbValue::Int16),
        Type::INT4 => read!(i32, DbValue::Int32),
        Type::INT8 => read!(i64, DbValue::Int64),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR => read!(String, DbValue::Str),
        Type::TIMESTAMP | Type::TIMESTAMPTZ => read!(NaiveDateTime, datetime),
        Type::DATE => read!(NaiveDate, |d: NaiveDate| DbValue::Date((
            d.year(),
            d.month() as u8,
            d.day() as u8
        ))),
        Type::TIME => read!(NaiveTime, |t: NaiveTime| DbValue::Time((
            t.hour() as u8,
            t.minute() as u8,
            t.second() as u8,
            t.nanosecond()
        ))),
        Type::UUID => read!(uuid::Uuid, |u: uuid::Uuid| DbValue::Uuid(
            u.hyphenated().to_string()
        )),
        Type::JSONB => read!(serde_json::Value, |v: serde_json::Value| DbValue::Jsonb(
            serde_json::to_vec(&v).unwrap_or_default()
        )),
        Type::NUMERIC => read!(Decimal, |d: Decimal| DbValue::Decimal(d.to_string())),
        Type::INT4_RANGE => read!(PgRange<i32>, |r| DbValue::RangeInt32(range_out(r, |v| v))),
        Type::INT8_RANGE => read!(PgRange<i64>, |r| DbValue::RangeInt64(range_out(r, |v| v))),
        Type::NUM_RANGE => read!(PgRange<Decimal>, |r| DbValue::RangeDecimal(range_out(
            r,
            |d: Decimal| d.to_string()
        ))),
        Type::INT4_ARRAY => read!(Vec<Option<i32>>, DbValue::ArrayInt32),
        Type::INT8_ARRAY => read!(Vec<Option<i64>>, DbValue::ArrayInt64),
        Type::NUMERIC_ARRAY => read!(Vec<Option<Decimal>>, |v: Vec<Option<Decimal>>| {
            DbValue::ArrayDecimal(v.into_iter().map(|d| d.map(|d| d.to_string())).collect())
        }),
        Type::TEXT_ARRAY | Type::VARCHAR_ARRAY | Type::BPCHAR_ARRAY => {
            read!(Vec<Option<String>>, DbValue::ArrayStr)
        }
        Type::INTERVAL => read!(PgInterval, |iv: PgInterval| DbValue::Interval(Interval {
            micros: iv.micros,
            days: iv.days,
            months: iv.months,
        })),
        _ => read!(RawBytes, |r: RawBytes| DbValue::Unsupported(r.0)),
    })
}

/// The most a query result may hold, counted as Spin counts it (`MAX_HOST_BUFFERED_BYTES`).
pub const MAX_RESULT_BYTES: usize = 128 << 20;

/// What Spin counts for one value (`DbValue::memory_size`).
fn memory_size(v: &DbValue) -> usize {
    let base = std::mem::size_of::<DbValue>();
    base + match v {
        DbValue::ArrayInt32(a) => a.len() * std::mem::size_of::<Option<i32>>(),
        DbValue::ArrayInt64(a) => a.len() * std::mem::size_of::<Option<i64>>(),
        DbValue::ArrayDecimal(a) | DbValue::ArrayStr(a) => a
            .iter()
            .map(|s| std::mem::size_of::<Option<String>>() + s.as_ref().map_or(0, String::len))
            .sum(),
        DbValue::Str(s) | DbValue::Uuid(s) | DbValue::Decimal(s) => s.len(),
        DbValue::Jsonb(b) | DbValue::Binary(b) | DbValue::Unsupported(b) => b.len(),
        _ => 0,
    }
}

/// Converts a result as Spin does: columns named from the first row (none when there is no
/// row); a value that cannot be read, or a result over [`MAX_RESULT_BYTES`], is
/// `query-failed(text(..))` (the text returned here).
pub fn row_set(rows: &[Row]) -> Result<RowSet, String> {
    let columns: &[Column] = rows.first().map_or(&[], |r| r.columns());
    let columns_out = columns
        .iter()
        .map(|c| WitColumn {
            name: c.name().to_owned(),
            data_type: data_type(c.type_()),
        })
        .collect();
    let mut bytes = std::mem::size_of::<RowSet>();
    let mut out = Vec::with_capacity(rows.len());
    for row in rows {
        let mut values = Vec::with_capacity(columns.len());
        for (i, c) in columns.iter().enumerate() {
            let v = value(row, i, c.type_()).map_err(|e| format!("{e:?}"))?;
            bytes += memory_size(&v);
            values.push(v);
        }
        if bytes > MAX_RESULT_BYTES {
            return Err(format!(
                "query result exceeds limit of {MAX_RESULT_BYTES} bytes"
            ));
        }
        out.push(values);
    }
    Ok(RowSet {
        columns: columns_out,
        rows: out,
    })
}
