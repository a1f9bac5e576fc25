//! Tokenization: text ↔ ids. (Being written: byte-level BPE and characters.)
