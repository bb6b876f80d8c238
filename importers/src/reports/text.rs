//! Reading the text of a report export: a file, gunzipped when `.gz`, and its CSV records
//! with their line numbers.

/// Opens a text file, gunzipping `.gz`, buffered.
pub(crate) fn open_text(path: &std::path::Path) -> crate::error::Result<Box<dyn std::io::Read>> {
    let file = std::fs::File::open(path).map_err(|_| crate::error::Error::NotFound {
        path: path.display().to_string(),
    })?;
    Ok(if path.extension().is_some_and(|e| e == "gz") {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    } else {
        Box::new(std::io::BufReader::with_capacity(1 << 20, file))
    })
}

/// Reads the next CSV record into `record`: `None` at the end, else its line, or the line and
/// why it cannot be read (the reader goes on with the next one).
pub(crate) fn next_record<R: std::io::Read>(
    reader: &mut ::csv::Reader<R>,
    record: &mut ::csv::StringRecord,
) -> Option<std::result::Result<u64, (u64, String)>> {
    let line = reader.position().line();
    match reader.read_record(record) {
        Ok(false) => None,
        Ok(true) => Some(Ok(record.position().map_or(line, |p| p.line()))),
        Err(e) => Some(Err((
            e.position().map_or(line, |p| p.line()),
            format!("unreadable CSV row: {e}"),
        ))),
    }
}
