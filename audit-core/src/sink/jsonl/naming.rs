//! File names of the JSONL sink: `audit_YYYY-MM-DD.jsonl`, `audit_YYYY-MM-DD.N.jsonl`,
//! optionally followed by `.gz` or `.zst` once compressed.

use std::path::{Path, PathBuf};

use time::Date;

/// One audit file found in the directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuditFile {
    pub path: PathBuf,
    pub date: Date,
    pub index: u32,
    /// `None` for a plain `.jsonl`, else the compression suffix (`gz`, `zst`).
    pub compressed: Option<String>,
}

/// The plain file name for `date` and rotation `index` (0 has no index in its name).
pub(crate) fn file_name(date: Date, index: u32) -> String {
    let (y, m, d) = (date.year(), u8::from(date.month()), date.day());
    if index == 0 {
        format!("audit_{y:04}-{m:02}-{d:02}.jsonl")
    } else {
        format!("audit_{y:04}-{m:02}-{d:02}.{index}.jsonl")
    }
}

/// Parses a file name written by [`file_name`], possibly with a compression suffix.
pub(crate) fn parse(dir: &Path, name: &str) -> Option<AuditFile> {
    let rest = name.strip_prefix("audit_")?;
    let (stem, compressed) = if let Some(stem) = rest.strip_suffix(".jsonl") {
        (stem, None)
    } else if let Some((stem, suffix)) = rest.rsplit_once(".jsonl.") {
        if !matches!(suffix, "gz" | "zst") {
            return None;
        }
        (stem, Some(suffix.to_owned()))
    } else {
        return None;
    };
    let (date_text, index) = match stem.split_once('.') {
        Some((date, index)) => (date, index.parse().ok().filter(|i| *i > 0)?),
        None => (stem, 0),
    };
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = Date::parse(date_text, format).ok()?;
    Some(AuditFile {
        path: dir.join(name),
        date,
        index,
        compressed,
    })
}

/// Every audit file in `dir`, oldest first (by date, then index).
pub(crate) fn scan(dir: &Path) -> std::io::Result<Vec<AuditFile>> {
    let mut files = Vec::new();
    for dirent in std::fs::read_dir(dir)? {
        let dirent = dirent?;
        if let Some(file) = dirent
            .file_name()
            .to_str()
            .and_then(|name| parse(dir, name))
        {
            files.push(file);
        }
    }
    files.sort_by(|a, b| (a.date, a.index, &a.compressed).cmp(&(b.date, b.index, &b.compressed)));
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn names_round_trip() {
        let dir = Path::new("/logs");
        assert_eq!(
            file_name(date!(2026 - 02 - 07), 0),
            "audit_2026-02-07.jsonl"
        );
        assert_eq!(
            file_name(date!(2026 - 02 - 07), 3),
            "audit_2026-02-07.3.jsonl"
        );
        let f = parse(dir, "audit_2026-02-07.3.jsonl.zst").unwrap();
        assert_eq!(
            (f.date, f.index, f.compressed.as_deref()),
            (date!(2026 - 02 - 07), 3, Some("zst"))
        );
        let f = parse(dir, "audit_2026-02-07.jsonl").unwrap();
        assert_eq!((f.index, f.compressed), (0, None));
        for bad in [
            "audit_2026-02-07.jsonl.tmp",
            "audit_2026-13-07.jsonl",
            "audit_2026-02-07.0.jsonl",
            "other.jsonl",
            "audit_2026-02-07.x.jsonl",
            "audit_2026-02-07.jsonl.bz2",
        ] {
            assert_eq!(parse(dir, bad), None, "{bad}");
        }
    }
}
