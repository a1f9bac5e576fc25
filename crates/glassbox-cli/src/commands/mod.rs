//! One file per subcommand.

pub mod bench;
pub mod generate;
pub mod tokenize;
pub mod tokenizer;
