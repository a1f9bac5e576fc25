//! The safetensors format, read and written by hand: an 8-byte little-endian header length
//! N, N bytes of JSON (`{"name": {"dtype", "shape", "data_offsets": [begin, end]}, …,
//! "__metadata__": {…}}`), then the raw tensor bytes. Written here rather than through the
//! `safetensors` crate so every defect of a user's file gets a sentence that names the file,
//! the tensor and the fix.
//!
//! Files are read into our own memory, never mapped: a mapped file that another program
//! truncates or rewrites in place (`cp other/model.safetensors run/`) would kill the process
//! with SIGBUS the next time a vanished page is touched. Reading checks that the file did
//! not change while it was read (size and modification time before and after), so a torn
//! read is an error, not silently mixed weights.

use crate::error::{shorten, Error, Result};
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::fs::File;
use std::io::{Read, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dtype {
    F32,
    F64,
    F16,
    BF16,
    I64,
    I32,
    U32,
    U8,
    Bool,
    Other,
}

impl Dtype {
    fn parse(s: &str) -> Dtype {
        match s {
            "F32" => Dtype::F32,
            "F64" => Dtype::F64,
            "F16" => Dtype::F16,
            "BF16" => Dtype::BF16,
            "I64" => Dtype::I64,
            "I32" => Dtype::I32,
            "U32" => Dtype::U32,
            "U8" => Dtype::U8,
            "BOOL" => Dtype::Bool,
            _ => Dtype::Other,
        }
    }

    pub fn size(self) -> usize {
        match self {
            Dtype::F64 | Dtype::I64 => 8,
            Dtype::F32 | Dtype::I32 | Dtype::U32 => 4,
            Dtype::F16 | Dtype::BF16 => 2,
            Dtype::U8 | Dtype::Bool | Dtype::Other => 1,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Dtype::F32 => "F32",
            Dtype::F64 => "F64",
            Dtype::F16 => "F16",
            Dtype::BF16 => "BF16",
            Dtype::I64 => "I64",
            Dtype::I32 => "I32",
            Dtype::U32 => "U32",
            Dtype::U8 => "U8",
            Dtype::Bool => "BOOL",
            Dtype::Other => "an unsupported dtype",
        }
    }
}

/// Where one tensor lives in the file.
#[derive(Clone, Debug)]
pub struct TensorInfo {
    pub dtype: Dtype,
    pub shape: Vec<usize>,
    /// Byte range from the start of the file.
    pub start: usize,
    pub end: usize,
}

/// What the header says: every tensor's place, and `__metadata__`.
pub struct Header {
    pub tensors: BTreeMap<String, TensorInfo>,
    /// The header's `__metadata__` (string → string), empty when absent.
    pub metadata: BTreeMap<String, String>,
}

/// What identifies one version of a file: a file rewritten in place or replaced by a rename
/// changes at least one of these.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FileStamp {
    pub inode: u64,
    pub len: u64,
    pub modified_ns: i128,
}

impl FileStamp {
    pub fn of_metadata(meta: &std::fs::Metadata) -> FileStamp {
        FileStamp {
            inode: meta.ino(),
            len: meta.len(),
            modified_ns: meta.mtime() as i128 * 1_000_000_000 + meta.mtime_nsec() as i128,
        }
    }

    /// The stamp of the file at `path` now (`None` if it cannot be read).
    pub fn of_path(path: &Path) -> Option<FileStamp> {
        std::fs::metadata(path).ok().map(|m| FileStamp::of_metadata(&m))
    }
}

/// A safetensors file opened for reading: its header, parsed and checked, and the open file
/// to read tensors from (see [`read_tensor_into`](Self::read_tensor_into)).
pub struct SafetensorsReader {
    pub path: PathBuf,
    pub header: Header,
    file: File,
    stamp: FileStamp,
}

impl SafetensorsReader {
    /// Opens `path` and reads and checks its header (not its data).
    pub fn open(path: &Path) -> Result<Self> {
        let mut file = File::open(path).map_err(|e| Error::reading(path, e))?;
        let meta = file.metadata().map_err(|e| Error::reading(path, e))?;
        if meta.is_dir() {
            return Err(Error::input(format!(
                "{} is a directory, not a safetensors file; name the .safetensors file inside it",
                path.display()
            )));
        }
        let stamp = FileStamp::of_metadata(&meta);
        let invalid = |why: String| Error::input(format!("{} is not a valid safetensors file: {why}", path.display()));
        let len = meta.len();
        let mut length_bytes = [0u8; 8];
        if len >= 8 {
            file.read_exact(&mut length_bytes).map_err(|e| changed_or(path, e))?;
        }
        let header_len = header_length(len, &length_bytes).map_err(invalid)?;
        let mut header_bytes = vec![0u8; header_len as usize];
        file.read_exact(&mut header_bytes).map_err(|e| changed_or(path, e))?;
        let data_start = 8 + header_len;
        let header = parse_header(&header_bytes, data_start as usize, (len - data_start) as usize).map_err(invalid)?;
        Ok(SafetensorsReader { path: path.to_path_buf(), header, file, stamp })
    }

    /// The version of the file that was opened.
    pub fn stamp(&self) -> FileStamp {
        self.stamp
    }

    /// Reads tensor bytes `info.start..info.end` into `out` (which must be that long).
    pub fn read_bytes_into(&self, info: &TensorInfo, out: &mut [u8]) -> Result<()> {
        debug_assert_eq!(out.len(), info.end - info.start);
        self.file.read_exact_at(out, info.start as u64).map_err(|e| changed_or(&self.path, e))
    }

    /// Reads a float32 tensor straight into `out` (its element count long).
    pub fn read_f32_into(&self, info: &TensorInfo, out: &mut [f32]) -> Result<()> {
        // SAFETY: any byte pattern is a valid f32, and the slice covers exactly `out`.
        let bytes = unsafe { std::slice::from_raw_parts_mut(out.as_mut_ptr() as *mut u8, out.len() * 4) };
        self.read_bytes_into(info, bytes)?;
        if cfg!(target_endian = "big") {
            out.iter_mut().for_each(|v| *v = f32::from_bits(u32::from_le(v.to_bits())));
        }
        Ok(())
    }

    /// Fails if the file changed since it was opened (another program wrote it meanwhile),
    /// so what was read may mix two versions.
    pub fn check_unchanged(&self) -> Result<()> {
        let now = self.file.metadata().map(|m| FileStamp::of_metadata(&m)).ok();
        if now != Some(self.stamp) {
            return Err(changed_while_reading(&self.path));
        }
        Ok(())
    }

    /// Reads the whole data section into memory.
    pub fn into_file(self) -> Result<SafetensorsFile> {
        let len = self.stamp.len as usize;
        let mut bytes = Vec::new();
        bytes.try_reserve_exact(len).map_err(|_| {
            Error::failure(format!("{} is {len} bytes, more than this machine can hold in memory", self.path.display()))
        })?;
        bytes.resize(len, 0);
        self.file.read_exact_at(&mut bytes, 0).map_err(|e| changed_or(&self.path, e))?;
        self.check_unchanged()?;
        let Header { tensors, metadata } = self.header;
        Ok(SafetensorsFile { path: self.path, bytes, tensors, metadata })
    }
}

/// The header's length, from the file's first 8 bytes, checked against the file's length.
fn header_length(file_len: u64, first_bytes: &[u8]) -> std::result::Result<u64, String> {
    let Some(first) = first_bytes.get(..8).filter(|_| file_len >= 8) else {
        return Err(format!(
            "it is {file_len} bytes long, too short to hold the 8-byte header length (the file is truncated)"
        ));
    };
    let header_len = u64::from_le_bytes(first.try_into().expect("8 bytes"));
    if header_len > file_len - 8 {
        return Err(format!(
            "its header claims {header_len} bytes but only {} follow (the file is truncated or not safetensors)",
            file_len - 8
        ));
    }
    if header_len > MAX_HEADER_BYTES {
        return Err(format!(
            "its header claims {header_len} bytes, more than the {MAX_HEADER_BYTES} a real file needs"
        ));
    }
    Ok(header_len)
}

/// The largest header we accept: GPT-2 XL's is about 30 KB; 100 MB is room for any model.
const MAX_HEADER_BYTES: u64 = 100 << 20;

fn changed_while_reading(path: &Path) -> Error {
    Error::failure(format!(
        "{} changed while it was being read (is a training run or a copy writing it?); wait until it is written and try again",
        path.display()
    ))
}

/// A read that hit the end of the file early: the file shrank after its header was read.
fn changed_or(path: &Path, err: std::io::Error) -> Error {
    if err.kind() == std::io::ErrorKind::UnexpectedEof {
        changed_while_reading(path)
    } else {
        Error::reading(path, err)
    }
}

/// A safetensors file read whole into memory.
pub struct SafetensorsFile {
    pub path: PathBuf,
    bytes: Vec<u8>,
    pub tensors: BTreeMap<String, TensorInfo>,
    /// The header's `__metadata__` (string → string), empty when absent.
    pub metadata: BTreeMap<String, String>,
}

impl SafetensorsFile {
    pub fn open(path: &Path) -> Result<Self> {
        SafetensorsReader::open(path)?.into_file()
    }

    /// Parses a whole safetensors file held in memory; `path` is what messages call it.
    pub fn from_bytes(path: &Path, bytes: Vec<u8>) -> Result<Self> {
        let invalid = |why: String| Error::input(format!("{} is not a valid safetensors file: {why}", path.display()));
        let header_len = header_length(bytes.len() as u64, bytes.get(..8).unwrap_or(&[])).map_err(invalid)?;
        let data_start = 8 + header_len as usize;
        let Header { tensors, metadata } =
            parse_header(&bytes[8..data_start], data_start, bytes.len() - data_start).map_err(invalid)?;
        Ok(SafetensorsFile { path: path.to_path_buf(), bytes, tensors, metadata })
    }

    pub fn bytes(&self, info: &TensorInfo) -> &[u8] {
        &self.bytes[info.start..info.end]
    }

    /// A tensor converted to f32 (from F32, F64, I64, I32 or U32), with its shape.
    pub fn read_f32(&self, name: &str) -> Result<(Vec<f32>, Vec<usize>)> {
        let info = self
            .tensors
            .get(name)
            .ok_or_else(|| Error::input(format!("{} has no tensor named {name}", self.path.display())))?;
        let bytes = self.bytes(info);
        let values = match info.dtype {
            Dtype::F32 => bytes.chunks_exact(4).map(|b| f32::from_le_bytes(b.try_into().unwrap())).collect(),
            Dtype::F64 => bytes.chunks_exact(8).map(|b| f64::from_le_bytes(b.try_into().unwrap()) as f32).collect(),
            Dtype::I64 => bytes.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f32).collect(),
            Dtype::I32 => bytes.chunks_exact(4).map(|b| i32::from_le_bytes(b.try_into().unwrap()) as f32).collect(),
            Dtype::U32 => bytes.chunks_exact(4).map(|b| u32::from_le_bytes(b.try_into().unwrap()) as f32).collect(),
            other => {
                return Err(Error::input(format!(
                    "{}: tensor {name} has dtype {}, which glassbox cannot read; convert it to F32",
                    self.path.display(),
                    other.name()
                )))
            }
        };
        Ok((values, info.shape.clone()))
    }

    /// An integer tensor (I64, I32 or U32) as i64, with its shape.
    pub fn read_i64(&self, name: &str) -> Result<(Vec<i64>, Vec<usize>)> {
        let info = self
            .tensors
            .get(name)
            .ok_or_else(|| Error::input(format!("{} has no tensor named {name}", self.path.display())))?;
        let bytes = self.bytes(info);
        let values = match info.dtype {
            Dtype::I64 => bytes.chunks_exact(8).map(|b| i64::from_le_bytes(b.try_into().unwrap())).collect(),
            Dtype::I32 => bytes.chunks_exact(4).map(|b| i32::from_le_bytes(b.try_into().unwrap()) as i64).collect(),
            Dtype::U32 => bytes.chunks_exact(4).map(|b| u32::from_le_bytes(b.try_into().unwrap()) as i64).collect(),
            other => {
                return Err(Error::input(format!(
                    "{}: tensor {name} has dtype {}, expected an integer tensor",
                    self.path.display(),
                    other.name()
                )))
            }
        };
        Ok((values, info.shape.clone()))
    }
}

/// The header's top-level entries in file order, duplicates kept (a JSON object read into a
/// map would keep only the last of two entries with the same name).
struct HeaderEntries(Vec<(String, Value)>);

impl<'de> Deserialize<'de> for HeaderEntries {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Self, D::Error> {
        struct EntriesVisitor;
        impl<'de> Visitor<'de> for EntriesVisitor {
            type Value = HeaderEntries;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object of tensors")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<HeaderEntries, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = map.next_entry::<String, Value>()? {
                    entries.push(entry);
                }
                Ok(HeaderEntries(entries))
            }
        }
        deserializer.deserialize_map(EntriesVisitor)
    }
}

/// Reads and checks the header: every tensor is named once, its byte range matches its
/// dtype and shape, and the ranges tile the data section exactly — no overlap, no gap, no
/// trailing bytes (as the format requires). `data_start` is the header's end in the file.
fn parse_header(header: &[u8], data_start: usize, data_len: usize) -> std::result::Result<Header, String> {
    let HeaderEntries(entries) =
        serde_json::from_slice(header).map_err(|e| format!("its header is not valid JSON ({e})"))?;
    let mut tensors = BTreeMap::new();
    let mut metadata = BTreeMap::new();
    for (name, entry) in entries {
        let shown = shorten(&name);
        if name == "__metadata__" {
            if let Some(map) = entry.as_object() {
                for (key, value) in map {
                    if let Some(text) = value.as_str() {
                        metadata.insert(key.clone(), text.to_string());
                    }
                }
            }
            continue;
        }
        let dtype = entry.get("dtype").and_then(Value::as_str).ok_or_else(|| format!("tensor {shown} has no dtype"))?;
        let dtype = Dtype::parse(dtype);
        let shape: Vec<usize> = entry
            .get("shape")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok())).collect())
            .ok_or_else(|| format!("tensor {shown} has no valid shape"))?;
        let offsets: Vec<usize> = entry
            .get("data_offsets")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(|d| d.as_u64().and_then(|d| usize::try_from(d).ok())).collect())
            .filter(|v: &Vec<usize>| v.len() == 2)
            .ok_or_else(|| format!("tensor {shown} has no valid data_offsets"))?;
        let (begin, end) = (offsets[0], offsets[1]);
        if begin > end || end > data_len {
            return Err(format!(
                "tensor {shown} claims bytes {begin}..{end} but the data section has {data_len} bytes (the file is truncated)"
            ));
        }
        let elements = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| format!("tensor {shown} has an impossible shape"))?;
        if dtype != Dtype::Other && elements.checked_mul(dtype.size()) != Some(end - begin) {
            return Err(format!("tensor {shown} has shape {shape:?} of {} but {} bytes", dtype.name(), end - begin));
        }
        let info = TensorInfo { dtype, shape, start: data_start + begin, end: data_start + end };
        if tensors.insert(name, info).is_some() {
            return Err(format!(
                "tensor {shown} is listed twice in the header; a file must name each tensor once (which one is meant?)"
            ));
        }
    }
    let mut ranges: Vec<(&str, usize, usize)> =
        tensors.iter().map(|(name, t)| (name.as_str(), t.start - data_start, t.end - data_start)).collect();
    ranges.sort_by_key(|&(_, begin, end)| (begin, end));
    let mut covered = 0usize;
    let mut previous = "";
    for &(name, begin, end) in &ranges {
        if begin < covered {
            return Err(format!(
                "tensors {} and {} share bytes {begin}..{} of the data; each tensor needs its own bytes",
                shorten(previous),
                shorten(name),
                covered.min(end)
            ));
        }
        if begin > covered {
            return Err(format!(
                "bytes {covered}..{begin} of the data belong to no tensor (before {}); the file is damaged",
                shorten(name)
            ));
        }
        covered = end;
        previous = name;
    }
    if covered != data_len {
        return Err(format!(
            "{} bytes follow the last tensor's data; the file is damaged or was appended to",
            data_len - covered
        ));
    }
    Ok(Header { tensors, metadata })
}

/// Writes float32 tensors (name, shape, values) as a safetensors file, atomically.
/// Names are written in the order given; the header is padded to 8 bytes.
pub fn write_f32(
    path: &Path,
    tensors: &[(String, Vec<usize>, &[f32])],
    metadata: &BTreeMap<String, String>,
) -> Result<()> {
    super::write_atomic(path, |w: &mut dyn Write| write_f32_to(w, tensors, metadata))
}

/// The bytes of [`write_f32`]'s file, into any writer (for callers that choose how the
/// file is written, e.g. through their own atomic writer).
pub fn write_f32_to(
    w: &mut dyn Write,
    tensors: &[(String, Vec<usize>, &[f32])],
    metadata: &BTreeMap<String, String>,
) -> std::io::Result<()> {
    let mut header = Map::new();
    if !metadata.is_empty() {
        header.insert("__metadata__".into(), serde_json::to_value(metadata).expect("strings"));
    }
    let mut offset = 0usize;
    for (name, shape, values) in tensors {
        debug_assert_eq!(shape.iter().product::<usize>(), values.len(), "{name}");
        let bytes = values.len() * 4;
        header.insert(
            name.clone(),
            serde_json::json!({"dtype": "F32", "shape": shape, "data_offsets": [offset, offset + bytes]}),
        );
        offset += bytes;
    }
    let mut header_bytes = serde_json::to_vec(&Value::Object(header)).expect("json");
    while !(8 + header_bytes.len()).is_multiple_of(8) {
        header_bytes.push(b' ');
    }
    w.write_all(&(header_bytes.len() as u64).to_le_bytes())?;
    w.write_all(&header_bytes)?;
    for (_, _, values) in tensors {
        let mut buffer = Vec::with_capacity(values.len() * 4);
        for v in values.iter() {
            buffer.extend_from_slice(&v.to_le_bytes());
        }
        w.write_all(&buffer)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_files_read_back_and_defects_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.safetensors");
        let a = [1.0f32, 2.0, 3.0, 4.0, 5.0, 6.0];
        write_f32(&path, &[("a".into(), vec![2, 3], &a)], &BTreeMap::new()).unwrap();
        let file = SafetensorsFile::open(&path).unwrap();
        assert_eq!(file.read_f32("a").unwrap(), (a.to_vec(), vec![2, 3]));
        assert!(file.metadata.is_empty());
        let metadata = BTreeMap::from([("step".to_string(), "12".to_string())]);
        write_f32(&path, &[("a".into(), vec![2, 3], &a)], &metadata).unwrap();
        assert_eq!(SafetensorsFile::open(&path).unwrap().metadata, metadata);
        // truncated data
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        let err = SafetensorsFile::open(&path).err().unwrap().to_string();
        assert!(err.contains("truncated") && err.contains("tensor a"), "{err}");
        // header length past the end of the file
        let mut bad = bytes.clone();
        bad[..8].copy_from_slice(&(1u64 << 40).to_le_bytes());
        std::fs::write(&path, &bad).unwrap();
        let err = SafetensorsFile::open(&path).err().unwrap().to_string();
        assert!(err.contains("header claims"), "{err}");
        std::fs::write(&path, b"abc").unwrap();
        assert!(SafetensorsFile::open(&path).err().unwrap().to_string().contains("too short"));
    }
}
