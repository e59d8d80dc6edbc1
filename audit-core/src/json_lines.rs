//! A batch's entries as JSON lines in one buffer: serialised once, by the chain's numbering
//! half (which leaves the hashes blank for the hashing half to fill in) or by a sink, and
//! written as they are by the sinks that write lines.

/// The JSON lines of a batch, serialised once by the pipeline (see [`Sink::write_lines`](crate::Sink::write_lines)).
///
/// ```
/// use audit_core::JsonLines;
///
/// let lines = JsonLines::default();
/// assert!(lines.is_empty());
/// assert_eq!(lines.as_bytes(), b"");
/// ```
#[derive(Debug, Default, Clone)]
pub struct JsonLines {
    bytes: Vec<u8>,
    ends: Vec<usize>,
}

impl JsonLines {
    /// The lines of `batch`, serialised as the pipeline serialises them: for sinks' tests and
    /// benchmarks that call [`Sink::write_lines`](crate::Sink::write_lines)(crate::Sink::write_lines) directly.
    pub fn of(batch: &[crate::AuditEntry]) -> Self {
        let mut lines = JsonLines::default();
        for entry in batch {
            entry.write_canonical(&mut lines.bytes);
            lines.bytes.push(b'\n');
            lines.end_line();
        }
        lines
    }

    /// Every line, each with its `\n`, back to back.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Line `i` with its `\n`.
    pub fn line(&self, i: usize) -> Option<&[u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.bytes.get(start..end)
    }

    pub(crate) fn line_mut(&mut self, i: usize) -> Option<&mut [u8]> {
        let end = *self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        self.bytes.get_mut(start..end)
    }

    /// How many lines.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether there is no line.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Takes the bytes (every line, back to back), leaving no lines: for a sink that writes
    /// them as they are, without copying. [`Self::recycle`] hands a spare buffer back.
    pub fn take(&mut self) -> Vec<u8> {
        self.ends.clear();
        std::mem::take(&mut self.bytes)
    }

    /// Gives an empty buffer whose allocation the next batch's lines may reuse.
    pub fn recycle(&mut self, mut buffer: Vec<u8>) {
        if self.bytes.capacity() < buffer.capacity() {
            buffer.clear();
            self.bytes = buffer;
            self.ends.clear();
        }
    }

    pub(crate) fn clear(&mut self) {
        self.bytes.clear();
        self.ends.clear();
    }

    /// The buffer to append the next line to; [`Self::end_line`] marks where it ends.
    pub(crate) fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    pub(crate) fn end_line(&mut self) {
        self.ends.push(self.bytes.len());
    }
}
