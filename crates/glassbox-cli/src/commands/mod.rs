//! One file per subcommand.

pub mod bench;
pub mod bench_trace;
pub mod bench_train;
pub mod convert;
pub mod demo;
pub mod explain;
pub mod generate;
pub mod heads;
pub mod lens;
pub mod serve;
pub mod space;
pub mod tokenize;
pub mod tokenizer;
pub mod trace;
pub mod train;
