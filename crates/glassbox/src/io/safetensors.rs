//! The safetensors format, read and written by hand: an 8-byte little-endian header length
//! N, N bytes of JSON (`{"name": {"dtype", "shape", "data_offsets": [begin, end]}, …,
//! "__metadata__": {…}}`), then the raw tensor bytes. Written here rather than through the
//! `safetensors` crate so every defect of a user's file gets a sentence that names the file,
//! the tensor and the fix, and so that float32 tensors can be used in place from a mmap.

use crate::error::{Error, Result};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::io::Write;
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

/// A safetensors file opened through mmap; nothing is copied until asked.
pub struct SafetensorsFile {
    pub path: PathBuf,
    pub map: memmap2::Mmap,
    pub tensors: BTreeMap<String, TensorInfo>,
    /// The header's `__metadata__` (string → string), empty when absent.
    pub metadata: BTreeMap<String, String>,
}

impl SafetensorsFile {
    pub fn open(path: &Path) -> Result<Self> {
        let file = std::fs::File::open(path).map_err(|e| Error::reading(path, e))?;
        // SAFETY: the mapping is read-only; like every mmap user we rely on nobody truncating
        // the file underneath us while it is mapped.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| Error::reading(path, e))?;
        let (tensors, metadata) = parse_header(&map)
            .map_err(|why| Error::input(format!("{} is not a valid safetensors file: {why}", path.display())))?;
        Ok(SafetensorsFile { path: path.to_path_buf(), map, tensors, metadata })
    }

    pub fn bytes(&self, info: &TensorInfo) -> &[u8] {
        &self.map[info.start..info.end]
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

/// Reads and checks the header: every tensor's byte range lies in the file, matches its
/// dtype and shape, and the ranges do not overlap. Also returns `__metadata__`.
#[allow(clippy::type_complexity)]
fn parse_header(file: &[u8]) -> std::result::Result<(BTreeMap<String, TensorInfo>, BTreeMap<String, String>), String> {
    if file.len() < 8 {
        return Err(format!(
            "it is {} bytes long, too short to hold the 8-byte header length (the file is truncated)",
            file.len()
        ));
    }
    let header_len = u64::from_le_bytes(file[..8].try_into().unwrap());
    if header_len > (file.len() - 8) as u64 {
        return Err(format!(
            "its header claims {header_len} bytes but only {} follow (the file is truncated or not safetensors)",
            file.len() - 8
        ));
    }
    let data_start = 8 + header_len as usize;
    let header: Map<String, Value> =
        serde_json::from_slice(&file[8..data_start]).map_err(|e| format!("its header is not valid JSON ({e})"))?;
    let data_len = file.len() - data_start;
    let mut tensors = BTreeMap::new();
    let mut metadata = BTreeMap::new();
    for (name, entry) in header {
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
        let dtype = entry.get("dtype").and_then(Value::as_str).ok_or_else(|| format!("tensor {name} has no dtype"))?;
        let dtype = Dtype::parse(dtype);
        let shape: Vec<usize> = entry
            .get("shape")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(|d| d.as_u64().map(|d| d as usize)).collect())
            .ok_or_else(|| format!("tensor {name} has no valid shape"))?;
        let offsets: Vec<usize> = entry
            .get("data_offsets")
            .and_then(Value::as_array)
            .and_then(|a| a.iter().map(|d| d.as_u64().map(|d| d as usize)).collect())
            .filter(|v: &Vec<usize>| v.len() == 2)
            .ok_or_else(|| format!("tensor {name} has no valid data_offsets"))?;
        let (begin, end) = (offsets[0], offsets[1]);
        if begin > end || end > data_len {
            return Err(format!(
                "tensor {name} claims bytes {begin}..{end} but the data section has {data_len} bytes (the file is truncated)"
            ));
        }
        let elements = shape
            .iter()
            .try_fold(1usize, |a, &d| a.checked_mul(d))
            .ok_or_else(|| format!("tensor {name} has an impossible shape"))?;
        if dtype != Dtype::Other && elements.checked_mul(dtype.size()) != Some(end - begin) {
            return Err(format!("tensor {name} has shape {shape:?} of {} but {} bytes", dtype.name(), end - begin));
        }
        tensors.insert(name, TensorInfo { dtype, shape, start: data_start + begin, end: data_start + end });
    }
    Ok((tensors, metadata))
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
