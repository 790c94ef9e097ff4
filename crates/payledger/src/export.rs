//! `payledger export`: every event as one flat row ([`ExportRow`]) in an
//! NDJSON or a Parquet file, optionally only one project's and only those
//! recorded in `[--from, --to)`. It reads beside a running server (a
//! RocksDB secondary instance) and writes `PATH.partial` first, renamed to
//! `PATH` only once complete, so a reader never sees half a file.
//!
//! Parquet: one row group per [`PARQUET_ROW_GROUP_ROWS`] rows, plain
//! pages without compression, `recorded_at` as a UTC timestamp in
//! milliseconds, texts as UTF-8 strings and `payload` as JSON.

use crate::cli::{ExportArgs, ExportFormat};
use crate::progress::Progress;
use anyhow::Context;
use parquet::data_type::{ByteArray, ByteArrayType, Int32Type, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use payledger_domain::time::parse_timestamp;
use payledger_domain::{EventEnvelope, Timestamp};
use payledger_store::{EventStore, StoreError};
use payledger_wire::export::ExportRow;
use std::io::Write;
use std::sync::Arc;

/// Rows per Parquet row group.
pub const PARQUET_ROW_GROUP_ROWS: usize = 100_000;

/// The Parquet schema of an export (the columns of [`ExportRow`]).
const PARQUET_SCHEMA: &str = "
message payledger_event {
  required binary project (UTF8);
  required binary aggregate_type (UTF8);
  required binary aggregate_id (UTF8);
  required int64 version;
  required binary event_id (UTF8);
  required binary event_type (UTF8);
  required int64 recorded_at (TIMESTAMP(MILLIS,true));
  required binary actor (UTF8);
  optional binary correlation_id (UTF8);
  optional binary idempotency_key (UTF8);
  required int32 partition;
  required int64 partition_sequence;
  optional int64 amount_cent;
  optional binary amount_currency (UTF8);
  optional int32 amount_fraction_digits;
  optional binary transaction_id (UTF8);
  optional binary transaction_type (UTF8);
  optional binary transaction_state (UTF8);
  required binary payload (JSON);
}";

pub fn run(args: &ExportArgs) -> anyhow::Result<()> {
    let from = moment(args.from.as_deref(), "--from")?;
    let to = moment(args.to.as_deref(), "--to")?;
    let (store, _scratch) = crate::verify::open_reader(&args.data)?;
    let opener = crate::verify::Opener::new(&store, &args.master.path(&args.data))?;
    let total: u64 = store.log_heads()?.iter().sum();
    let partial = args.out.with_extension(match args.out.extension() {
        Some(ext) => format!("{}.partial", ext.to_string_lossy()),
        None => "partial".to_owned(),
    });
    let file =
        std::fs::File::create(&partial).with_context(|| format!("create {}", partial.display()))?;
    let mut sink: Box<dyn Sink> = match args.format {
        ExportFormat::Ndjson => Box::new(Ndjson(std::io::BufWriter::new(file))),
        ExportFormat::Parquet => Box::new(Parquet::new(file)?),
    };
    let keep = |event: &EventEnvelope| {
        args.project
            .as_deref()
            .is_none_or(|p| event.meta.project.as_str() == p)
            && from.is_none_or(|from| event.meta.recorded_at >= from)
            && to.is_none_or(|to| event.meta.recorded_at < to)
    };
    let mut progress = Progress::new("export", total);
    let (mut rows, mut done) = (0u64, 0u64);
    store.each_stream(&mut |_, events, read| -> Result<(), ExportError> {
        done = read;
        progress.update(read);
        opener.open(events)?;
        for event in events.iter().filter(|e| keep(e)) {
            sink.push(ExportRow::of(event))?;
            rows += 1;
        }
        Ok(())
    })?;
    sink.finish()?;
    progress.finish(done);
    std::fs::rename(&partial, &args.out)
        .with_context(|| format!("rename {} to {}", partial.display(), args.out.display()))?;
    println!(
        "exported {rows} of {done} events to {} in {:.1} s ({:.0} rows/s)",
        args.out.display(),
        progress.elapsed().as_secs_f64(),
        rows as f64 / progress.elapsed().as_secs_f64().max(1e-9)
    );
    Ok(())
}

fn moment(text: Option<&str>, flag: &str) -> anyhow::Result<Option<Timestamp>> {
    text.map(|text| {
        parse_timestamp(text).with_context(|| {
            format!(
                "{flag}: expected an ISO 8601 date-time such as 2026-12-06T00:00:00Z, got '{text}'"
            )
        })
    })
    .transpose()
}

/// Why an export stopped.
#[derive(Debug, thiserror::Error)]
enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("writing the export: {0}")]
    Write(#[from] anyhow::Error),
}

/// Where rows go.
trait Sink {
    fn push(&mut self, row: ExportRow) -> anyhow::Result<()>;
    fn finish(self: Box<Self>) -> anyhow::Result<()>;
}

struct Ndjson<W: Write>(W);

impl<W: Write> Sink for Ndjson<W> {
    fn push(&mut self, row: ExportRow) -> anyhow::Result<()> {
        serde_json::to_writer(&mut self.0, &row.to_json())?;
        self.0.write_all(b"\n")?;
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> anyhow::Result<()> {
        self.0.flush()?;
        Ok(())
    }
}

struct Parquet {
    writer: SerializedFileWriter<std::fs::File>,
    rows: Vec<ExportRow>,
}

impl Parquet {
    fn new(file: std::fs::File) -> anyhow::Result<Self> {
        let schema = Arc::new(parse_message_type(PARQUET_SCHEMA).context("the Parquet schema")?);
        let properties = Arc::new(WriterProperties::builder().build());
        Ok(Self {
            writer: SerializedFileWriter::new(file, schema, properties)?,
            rows: Vec::with_capacity(PARQUET_ROW_GROUP_ROWS),
        })
    }

    /// Writes the buffered rows as one row group, column by column.
    fn flush(&mut self) -> anyhow::Result<()> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let rows = std::mem::take(&mut self.rows);
        let mut group = self.writer.next_row_group()?;
        let mut index = 0;
        while let Some(mut column) = group.next_column()? {
            write_column(&mut column, index, &rows)?;
            column.close()?;
            index += 1;
        }
        group.close()?;
        Ok(())
    }
}

impl Sink for Parquet {
    fn push(&mut self, row: ExportRow) -> anyhow::Result<()> {
        self.rows.push(row);
        if self.rows.len() >= PARQUET_ROW_GROUP_ROWS {
            self.flush()?;
        }
        Ok(())
    }

    fn finish(mut self: Box<Self>) -> anyhow::Result<()> {
        self.flush()?;
        self.writer.close()?;
        Ok(())
    }
}

fn text(value: &str) -> ByteArray {
    ByteArray::from(value.as_bytes().to_vec())
}

/// The values of an optional column and its definition levels.
fn optional<'r, T, V>(
    rows: &'r [ExportRow],
    get: impl Fn(&'r ExportRow) -> Option<T>,
    to: impl Fn(T) -> V,
) -> (Vec<V>, Vec<i16>) {
    let mut values = Vec::new();
    let levels = rows
        .iter()
        .map(|row| match get(row) {
            Some(value) => {
                values.push(to(value));
                1
            }
            None => 0,
        })
        .collect();
    (values, levels)
}

fn write_column(
    column: &mut parquet::file::writer::SerializedColumnWriter<'_>,
    index: usize,
    rows: &[ExportRow],
) -> anyhow::Result<()> {
    let texts = |get: fn(&ExportRow) -> &str| rows.iter().map(|r| text(get(r))).collect::<Vec<_>>();
    let optional_text = |get: fn(&ExportRow) -> Option<&str>| optional(rows, get, text);
    match index {
        0 => bytes(column, &texts(|r| &r.project), None),
        1 => bytes(column, &texts(|r| r.aggregate_type), None),
        2 => bytes(column, &texts(|r| &r.aggregate_id), None),
        3 => int64(
            column,
            &rows.iter().map(|r| r.version).collect::<Vec<_>>(),
            None,
        ),
        4 => bytes(column, &texts(|r| &r.event_id), None),
        5 => bytes(column, &texts(|r| r.event_type), None),
        6 => int64(
            column,
            &rows.iter().map(|r| r.recorded_at_ms).collect::<Vec<_>>(),
            None,
        ),
        7 => bytes(column, &texts(|r| &r.actor), None),
        8 => {
            let (values, levels) = optional_text(|r| r.correlation_id.as_deref());
            bytes(column, &values, Some(&levels))
        }
        9 => {
            let (values, levels) = optional_text(|r| r.idempotency_key.as_deref());
            bytes(column, &values, Some(&levels))
        }
        10 => {
            let values: Vec<i32> = rows.iter().map(|r| r.partition).collect();
            column
                .typed::<Int32Type>()
                .write_batch(&values, None, None)?;
            Ok(())
        }
        11 => int64(
            column,
            &rows
                .iter()
                .map(|r| r.partition_sequence)
                .collect::<Vec<_>>(),
            None,
        ),
        12 => {
            let (values, levels) = optional(rows, |r| r.amount_cent, |v| v);
            int64(column, &values, Some(&levels))
        }
        13 => {
            let (values, levels) = optional_text(|r| r.amount_currency.as_deref());
            bytes(column, &values, Some(&levels))
        }
        14 => {
            let (values, levels) = optional(rows, |r| r.amount_fraction_digits, |v| v);
            column
                .typed::<Int32Type>()
                .write_batch(&values, Some(&levels), None)?;
            Ok(())
        }
        15 => {
            let (values, levels) = optional_text(|r| r.transaction_id.as_deref());
            bytes(column, &values, Some(&levels))
        }
        16 => {
            let (values, levels) = optional_text(|r| r.transaction_type);
            bytes(column, &values, Some(&levels))
        }
        17 => {
            let (values, levels) = optional_text(|r| r.transaction_state);
            bytes(column, &values, Some(&levels))
        }
        18 => bytes(column, &texts(|r| &r.payload), None),
        other => anyhow::bail!("the Parquet schema has no column {other}"),
    }
}

fn bytes(
    column: &mut parquet::file::writer::SerializedColumnWriter<'_>,
    values: &[ByteArray],
    levels: Option<&[i16]>,
) -> anyhow::Result<()> {
    column
        .typed::<ByteArrayType>()
        .write_batch(values, levels, None)?;
    Ok(())
}

fn int64(
    column: &mut parquet::file::writer::SerializedColumnWriter<'_>,
    values: &[i64],
    levels: Option<&[i16]>,
) -> anyhow::Result<()> {
    column
        .typed::<Int64Type>()
        .write_batch(values, levels, None)?;
    Ok(())
}
